#!/usr/bin/env bash
# Install what ARC builds and tests need. Idempotent, and quick when done:
# each step checks first and installs only what is missing.
#   - protobuf-compiler: the `pulsar` crate generates its protocol with protoc
#   - nats-server: tests that stop a broker start their own
#   - pulsar-lite: a Pulsar-wire-protocol broker for the tests
#   - pulsar-client: the official Python client the tests read topics with
set -euo pipefail

PULSAR_LITE_VERSION=0.2.0
PULSAR_CLIENT_VERSION=3.13.0

need_apt=()
command -v protoc >/dev/null 2>&1 || need_apt+=(protobuf-compiler)
[ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null 2>&1 || need_apt+=(nats-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! python3 - <<PY 2>/dev/null
import importlib.metadata as m, sys
ok = m.version("pulsar-lite") == "$PULSAR_LITE_VERSION" and m.version("pulsar-client") == "$PULSAR_CLIENT_VERSION"
sys.exit(0 if ok else 1)
PY
then
  echo "setup: pip install pulsar-lite==$PULSAR_LITE_VERSION pulsar-client==$PULSAR_CLIENT_VERSION"
  python3 -m pip install -q --disable-pip-version-check \
    "pulsar-lite==$PULSAR_LITE_VERSION" "pulsar-client==$PULSAR_CLIENT_VERSION"
fi

# The shared NATS (with JetStream) the tests use runs at 127.0.0.1:4222 on these
# machines; start one if it is not there (e.g. on a laptop).
if ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
  echo "setup: starting nats-server on 127.0.0.1:4222"
  NATS_BIN=$(command -v nats-server || echo /usr/sbin/nats-server)
  mkdir -p /tmp/arc-nats
  nohup "$NATS_BIN" -a 127.0.0.1 -p 4222 -js -sd /tmp/arc-nats >/tmp/arc-nats.log 2>&1 &
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && break; sleep 0.1; done
fi
echo "setup: ok"
