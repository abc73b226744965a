#!/usr/bin/env python3
"""Print the partitions a broker reports for each topic (one JSON line each)."""
import json
import sys

import pulsar

client = pulsar.Client(sys.argv[1], operation_timeout_seconds=10,
                       logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
for topic in sys.argv[2:]:
    print(json.dumps({"topic": topic, "partitions": client.get_topic_partitions(topic)}), flush=True)
client.close()
