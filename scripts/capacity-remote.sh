#!/usr/bin/env bash
# The capacity bench (benches/capacity.rs) with the brain off the node, as a
# node is deployed (issue 16; on demand, not in CI): an OpenAI-compatible
# server (`arc-agent llm-server`, the same SmolLM2-135M and sampling as the
# local brain) pinned to one core, the node (Silero, Smart Turn, whisper,
# piper) pinned to the other, `engines.llm.brain = "openai"` pointing at it.
# Compare with `cargo bench --profile dev --bench capacity` (both on both
# cores, the brain a child of the node).
#   bash scripts/capacity-remote.sh
#   ARC_BENCH_TALKERS=1,2 ARC_BENCH_TURNS=2 bash scripts/capacity-remote.sh
# Needs the models (`arc-agent models fetch`) and two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/free-port.sh

[ "$(nproc)" -ge 2 ] || { echo "capacity-remote: needs two cores" >&2; exit 2; }
models=${ARC_MODELS_DIR:-$HOME/.cache/arc/models}
gguf=$(ls "$models"/smollm2-135m-instruct/*.gguf 2>/dev/null | head -n 1)
[ -n "$gguf" ] || { echo "capacity-remote: no model in $models/smollm2-135m-instruct (run: arc-agent models fetch)" >&2; exit 2; }
slots=${ARC_BENCH_SLOTS:-2}

cargo build --locked --bin arc-agent
cargo bench --locked --profile dev --bench capacity --no-run
bin=${CARGO_TARGET_DIR:-target}/debug/arc-agent

port=$(free_port)
log=$(mktemp)
# One core for the brain: one thread a slot (two slots share it, as the
# local brain's slots share the node's two cores).
taskset -c 1 "$bin" llm-server --model "$gguf" --port "$port" --parallel "$slots" --threads 1 \
  --min-p 0.5 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  kill -0 $server 2>/dev/null || { echo "capacity-remote: the server died:" >&2; tail -n 20 "$log" >&2; exit 1; }
  sleep 0.2
done
echo "capacity-remote: brain on core 1 at 127.0.0.1:$port ($slots slots), node on core 0"

ARC__ENGINES__LLM__BRAIN=openai \
  ARC__ENGINES__LLM__BASE_URL="http://127.0.0.1:$port/v1" \
  ARC__ENGINES__LLM__API_MODEL=smollm2-135m-instruct \
  taskset -c 0 cargo bench --locked --profile dev --bench capacity
