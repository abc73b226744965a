#!/usr/bin/env bash
# The soak (issue 16; on demand, not in CI): 1,000 synthetic sessions for 10
# minutes in one node, both brokers on (the machine's NATS and a pulsar-lite
# of its own), each user hanging up after 3 turns and calling again. Writes
# the node's vital signs every 10 s to a CSV (RSS, open descriptors, threads,
# tokio tasks, live sessions, turns, the interval's latency percentiles) and
# plots them (flat lines are the goal).
#   bash scripts/soak.sh                 # 1000 sessions, 600 s
#   SESSIONS=200 SECONDS_=60 bash scripts/soak.sh
#   OUT=benches/plots bash scripts/soak.sh   # where soak.csv and soak.png go
# PROFILE=release (default) builds arc-agent in release; PROFILE=dev uses the
# tests' build.
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${SESSIONS:-1000}
DURATION=${SECONDS_:-600}
OUT=${OUT:-target/soak}
mkdir -p "$OUT"

t0=$SECONDS
. scripts/lib/bench-node.sh
echo "soak: build $((SECONDS - t0)) s"

echo "soak: $SESSIONS sessions for $DURATION s (NATS 127.0.0.1:4222, pulsar-lite :$port)"
ARC__PULSAR__URL="pulsar://127.0.0.1:$port" ARC__NODE__DATA_DIR="$work/data" RUST_LOG=${RUST_LOG:-warn} \
  "$bin" loadgen --sessions "$SESSIONS" --turns 3 --realtime --stagger 20000 \
  --duration "$DURATION" --csv "$OUT/soak.csv" --sample-every 10 | tee "$OUT/soak.txt"
python3 scripts/soak-plot.py "$OUT/soak.csv" "$OUT/soak.png"
echo "soak: $OUT/soak.csv, $OUT/soak.png, $OUT/soak.txt"
