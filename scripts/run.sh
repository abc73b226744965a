#!/usr/bin/env bash
# Set up and run the main job on the embedded default (config/default.toml),
# with no external service: one spoken conversation on local models.
#
#   bash scripts/run.sh                      # ARC's own voice asks "Hello there. What is the capital of France?"; ARC answers
#   bash scripts/run.sh "What time is it?"   # your question as text, spoken by ARC's TTS
#   bash scripts/run.sh my-question.wav      # your own WAV (any rate, mono/stereo)
#   bash scripts/run.sh serve [--config f]   # run the node (HTTP, mirrors) instead
#
# The answer is written to ./answer.wav (ANSWER=path to change it; a text
# question is kept beside it as answer.question.wav; VOICE=espeak has
# espeak-ng's own voice ask it instead of piper's). What was heard and the
# reply are printed as they come, then the timings of each stage, where the
# answer is and how to play it. Without NATS or Pulsar the node says so once
# and goes on (Pulsar events wait in the disk spool under ./data).
set -euo pipefail
here=$PWD
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = "serve" ]; then
  shift
  exec cargo run --locked --bin arc-agent -- serve "$@"
fi
answer=$(realpath -m "${ANSWER:-answer.wav}")
converse=(cargo run --locked --bin arc-agent -- converse --out "$answer")
if [ $# -eq 0 ]; then
  set -- "Hello there. What is the capital of France?"
fi
# A WAV: relative to where run.sh was called from.
wav=$1
case "$wav" in /*) ;; *) wav=$here/$wav ;; esac
if [ -f "$wav" ]; then
  if [ $# -gt 1 ]; then
    echo "run.sh: one WAV at a time (got $# arguments)" >&2
    exit 2
  fi
  exec "${converse[@]}" --in "$wav"
fi
case "$1" in
  *.wav | *.WAV)
    echo "run.sh: $1: no such file (give a WAV that exists, or a question as text)" >&2
    exit 1
    ;;
esac
# Anything else is the question, as text.
if [ -n "${VOICE:-}" ]; then
  converse+=(--voice "$VOICE")
fi
exec "${converse[@]}" --text "$*"
