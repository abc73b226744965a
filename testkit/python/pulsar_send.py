#!/usr/bin/env python3
"""Send messages with the official Python client (pulsar-client): one JSON
line per message on stdin, {"topic", "key", "properties", "payload"} (the
payload is sent as its UTF-8 text as given). The tests use it to deliver
events a second time and to send poison messages, as another producer would."""
import json
import sys

import pulsar


def main() -> int:
    url = sys.argv[1]
    client = pulsar.Client(url, operation_timeout_seconds=10,
                           logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    producers = {}
    sent = 0
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        m = json.loads(line)
        topic = m["topic"]
        if topic not in producers:
            producers[topic] = client.create_producer(topic, batching_enabled=False)
        kwargs = {"properties": m.get("properties") or {}}
        if m.get("key"):
            kwargs["partition_key"] = m["key"]
        producers[topic].send(m["payload"].encode("utf-8"), **kwargs)
        sent += 1
    for p in producers.values():
        p.flush()
        p.close()
    client.close()
    print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
