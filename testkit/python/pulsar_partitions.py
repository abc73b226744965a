#!/usr/bin/env python3
"""Print the partitions a broker reports for each topic (one JSON line each)."""
import json
import sys

import pulsar

from pulsar_client import connect

client = connect(sys.argv[1])
for topic in sys.argv[2:]:
    print(json.dumps({"topic": topic, "partitions": client.get_topic_partitions(topic)}), flush=True)
client.close()
