#!/usr/bin/env python3
"""Send messages with the official Python client (pulsar-client): one JSON
line per message on stdin, {"topic", "key", "properties", "payload"} (the
payload is sent as its UTF-8 text as given). The tests use it to deliver
events a second time and to send poison messages, as another producer would.
An optional second argument batches: up to that many messages per broker
entry (as the node's producer does), sent asynchronously."""
import json
import sys

import pulsar

from pulsar_client import connect


def main() -> int:
    url = sys.argv[1]
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    client = connect(url)
    producers = {}
    sent = 0
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        m = json.loads(line)
        topic = m["topic"]
        if topic not in producers:
            if batch > 1:
                producers[topic] = client.create_producer(
                    topic, batching_enabled=True, batching_max_messages=batch,
                    batching_max_publish_delay_ms=50, block_if_queue_full=True,
                    max_pending_messages=5000)
            else:
                producers[topic] = client.create_producer(topic, batching_enabled=False)
        kwargs = {"properties": m.get("properties") or {}}
        if m.get("key"):
            kwargs["partition_key"] = m["key"]
        if batch > 1:
            producers[topic].send_async(m["payload"].encode("utf-8"), None, **kwargs)
        else:
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
