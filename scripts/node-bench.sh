#!/usr/bin/env bash
# The node's own figures (issue 16; on demand, not in CI), one run:
#  1. start → ready: `arc-agent serve` (synthetic engines: models excluded)
#     from exec to /readyz answering 200, five times;
#  2. the hot loop with both brokers down vs up: loadgen (1,000 real-time
#     sessions, 3 turns, starts spread over 5 s) with NATS and Pulsar
#     unreachable, then reachable, alternating, three of each;
#  3. mirror throughput: loadgen with audio as fast as the node takes it
#     (2,000 sessions, 5 turns), both brokers up: events/s and drops.
# PROFILE=release (default) or dev. OUT (default target/node-bench) gets the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-target/node-bench}
mkdir -p "$OUT"
. scripts/lib/bench-node.sh
pport=$port
UP=(ARC__PULSAR__URL="pulsar://127.0.0.1:$pport" ARC__NATS__URL="nats://127.0.0.1:4222")
DOWN=(ARC__PULSAR__URL="pulsar://127.0.0.1:$(free_port)" ARC__NATS__URL="nats://127.0.0.1:$(free_port)")

echo "== start → ready (synthetic engines, both brokers up)"
for i in 1 2 3 4 5; do
  port=$(free_port)
  rm -rf "$work/data"
  t0=$(date +%s%N)
  env "${UP[@]}" ARC__HTTP__LISTEN="127.0.0.1:$port" ARC__NODE__DATA_DIR="$work/data" RUST_LOG=warn \
    "$bin" serve >"$OUT/serve-$i.log" 2>&1 &
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; do sleep 0.002; done
  t1=$(date +%s%N)
  echo "start $i: $(((t1 - t0) / 1000000)) ms to /readyz 200"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

echo "== hot loop: both brokers down vs up (1000 sessions, real time, starts over 5 s)"
for round in 1 2 3; do
  for state in down up; do
    rm -rf "$work/data"
    if [ $state = down ]; then vars=("${DOWN[@]}"); else vars=("${UP[@]}"); fi
    env "${vars[@]}" ARC__NODE__DATA_DIR="$work/data" RUST_LOG=error \
      "$bin" loadgen --sessions 1000 --turns 3 --realtime --stagger 5000 >"$OUT/loop-$state-$round.txt" 2>/dev/null
    echo "brokers $state, round $round: $(grep -E 'voice-to-voice' "$OUT/loop-$state-$round.txt" | sed 's/ *(synthetic.*//') | $(grep -E '^events' "$OUT/loop-$state-$round.txt")"
  done
done

echo "== mirror throughput: audio as fast as accepted, 2000 sessions x 5 turns, both brokers up"
rm -rf "$work/data"
env "${UP[@]}" ARC__NODE__DATA_DIR="$work/data" RUST_LOG=error \
  "$bin" loadgen --sessions 2000 --turns 5 >"$OUT/throughput.txt" 2>/dev/null
cat "$OUT/throughput.txt"
