#!/usr/bin/env python3
"""Read Pulsar topics with the official Python client (pulsar-client) and print
one JSON line per message: topic (the partition it came from), key, properties
and the payload. Used by the integration tests: the Rust `pulsar` consumer
cannot read from pulsar-lite (see shared/FACTS.md), and an independent client
is a better witness anyway."""
import argparse
import json
import sys
import time
import uuid

import pulsar

from pulsar_client import connect


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--topic", action="append", required=True)
    ap.add_argument("--expect", type=int, default=0, help="stop after this many messages (0: read until timeout)")
    ap.add_argument("--timeout", type=float, default=15.0)
    ap.add_argument("--linger", type=float, default=1.0, help="keep reading this long after --expect is reached (to catch duplicates)")
    ap.add_argument("--match", default="", help="only count messages whose payload contains this string")
    args = ap.parse_args()

    client = connect(args.url)
    consumer = client.subscribe(
        args.topic,
        subscription_name="test-reader-" + uuid.uuid4().hex,
        initial_position=pulsar.InitialPosition.Earliest,
        consumer_type=pulsar.ConsumerType.Exclusive,
    )
    deadline = time.time() + args.timeout
    matched = 0
    reached_at = None
    while time.time() < deadline:
        if reached_at is not None and time.time() > reached_at + args.linger:
            break
        try:
            msg = consumer.receive(timeout_millis=200)
        except Exception as e:  # pulsar.Timeout
            if "Timeout" in type(e).__name__ or "Timeout" in str(e):
                continue
            raise
        consumer.acknowledge(msg)
        data = msg.data().decode("utf-8", "replace")
        if args.match and args.match not in data:
            continue
        try:
            payload = json.loads(data)
        except ValueError:
            payload = data
        print(json.dumps({
            "topic": msg.topic_name(),
            "key": msg.partition_key(),
            "properties": msg.properties(),
            "payload": payload,
        }), flush=True)
        matched += 1
        if args.expect and matched >= args.expect and reached_at is None:
            reached_at = time.time()
    consumer.close()
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
