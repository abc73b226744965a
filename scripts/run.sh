#!/usr/bin/env bash
# Set up and run the node on the embedded default (config/default.toml).
# No external service is needed: without NATS or Pulsar it says so once and
# keeps running (Pulsar events wait in the disk spool under ./data).
# Extra arguments go to `arc-agent serve` (e.g. --config my.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec cargo run --locked --bin arc-agent -- serve "$@"
