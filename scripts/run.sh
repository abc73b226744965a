#!/usr/bin/env bash
# Set up and run the main job on the embedded default (config/default.toml),
# with no external service: one spoken conversation on local models.
#
#   bash scripts/run.sh                      # espeak-ng asks a question; ARC answers
#   bash scripts/run.sh my-question.wav      # your own WAV (any rate, mono/stereo)
#   bash scripts/run.sh serve [--config f]   # run the node (HTTP, mirrors) instead
#
# The answer is written to ./answer.wav; the transcript, the reply and the
# timings of each stage are printed. Without NATS or Pulsar the node says so
# once and goes on (Pulsar events wait in the disk spool under ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = "serve" ]; then
  shift
  exec cargo run --locked --bin arc-agent -- serve "$@"
fi
question=${1:-}
if [ -z "$question" ]; then
  mkdir -p data
  question=data/question.wav
  espeak-ng -s 150 -w "$question" "Hello there. What is the capital of France?"
fi
exec cargo run --locked --bin arc-agent -- converse --in "$question" --out "${ANSWER:-answer.wav}"
