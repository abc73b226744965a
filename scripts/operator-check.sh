#!/usr/bin/env bash
# Check the operator files with promtool (Debian package `prometheus`, which
# scripts/setup.sh installs):
#   - config/prometheus.yml is a valid Prometheus config (and its rule file loads)
#   - config/alerts.yml is valid alerting rules
#   - config/alerts_test.yml: the rule unit tests pass
# The dashboard's queries are checked against a live node and a real Prometheus
# by `cargo test --test operator_files`.
set -euo pipefail
cd "$(dirname "$0")/.."

PROMTOOL=${PROMTOOL:-promtool}
if ! command -v "$PROMTOOL" >/dev/null 2>&1; then
  echo "operator-check: promtool not found: run scripts/setup.sh (apt-get install prometheus)" >&2
  exit 1
fi

"$PROMTOOL" --version 2>&1 | head -1
"$PROMTOOL" check config config/prometheus.yml
"$PROMTOOL" check rules config/alerts.yml
"$PROMTOOL" test rules config/alerts_test.yml
echo "operator-check: ok"
