#!/usr/bin/env bash
# Fuzz the node's parsers of outside input (fuzz/, cargo-fuzz + libFuzzer) for
# a bounded time, and say what was found:
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default: 60 s, every target)
#   bash scripts/fuzz.sh --install    (only install cargo-fuzz; setup-test.sh runs this)
#
# Builds every target once (AddressSanitizer through RUSTC_BOOTSTRAP=1 on
# stable; ARC_FUZZ_SANITIZER=none to go without; ARC_FUZZ_SKIP_BUILD=1 runs
# what is built; ARC_FUZZ_PROFILE=dev builds unoptimized, which CI does: a
# cold build in a fraction of release's time, fewer executions a second) into
# fuzz/target, then runs
# each for the given seconds over its seeds (fuzz/seeds/<target>, committed)
# and its corpus (fuzz/corpus/<target>, kept between runs, not committed).
# Prints per target: executions, exec/s, coverage (libFuzzer's edges `cov`,
# features `ft`), corpus size and findings; exits 1 when anything was found.
# A finding's input is in fuzz/artifacts/<target>/: fix the code, and copy the
# input to fuzz/seeds/<target>/ so the unit test `fuzzing::tests` replays it.
# What each target checks: src/fuzzing.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.1
TARGETS=(webhook access_token config wav ws_messages spool_segment events_json)

# cargo-fuzz, exact version, built from crates.io once (~1.5 min on 2 cores).
install_cargo_fuzz() {
  if [ "$(cargo fuzz --version 2>/dev/null)" = "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "there"
    return
  fi
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
  echo "installed cargo-fuzz $CARGO_FUZZ_VERSION"
}

if [ "${1:-}" = "--install" ]; then
  install_cargo_fuzz
  exit 0
fi

seconds=${1:-60}
shift || true
[ $# -gt 0 ] && TARGETS=("$@")
sanitizer=${ARC_FUZZ_SANITIZER:-address}
profile=${ARC_FUZZ_PROFILE:-release}
case "$profile" in
  release) profile_flag=(); profile_dir=release ;;
  dev) profile_flag=(--dev); profile_dir=debug ;;
  *) echo "fuzz: ARC_FUZZ_PROFILE must be release or dev, not '$profile'" >&2; exit 2 ;;
esac

echo "fuzz: cargo-fuzz $(install_cargo_fuzz)"
bin_dir=fuzz/target/x86_64-unknown-linux-gnu/$profile_dir
# The spool and config targets write files each run: memory, not disk, when there is some.
scratch_root=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && scratch_root=/dev/shm
scratch=$(mktemp -d "$scratch_root/arc-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

t0=$SECONDS
if [ "${ARC_FUZZ_SKIP_BUILD:-0}" = 1 ]; then
  echo "fuzz: ARC_FUZZ_SKIP_BUILD=1: the targets in $bin_dir as they are"
# RUSTC_BOOTSTRAP: cargo-fuzz passes -Z flags (the sanitizer, sancov) to the stable toolchain.
elif ! RUSTC_BOOTSTRAP=1 cargo fuzz build "${profile_flag[@]}" --sanitizer "$sanitizer" >"$scratch/build.log" 2>&1; then
  echo "fuzz: the build failed; the end of its log:" >&2
  tail -n 40 "$scratch/build.log" | sed 's/^/  | /' >&2
  exit 1
else
  echo "fuzz: build $((SECONDS - t0)) s (profile: $profile, sanitizer: $sanitizer)"
fi

findings_since() {
  find "$1" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) \
    -newer "$2" | wc -l
}
stat() { awk -v k="stat::$1:" '$1 == k { print $2 }' "$2" | tail -n 1; }

found=0
printf 'fuzz: %-14s %7s %11s %7s %6s %7s %6s  %s\n' target seconds executions exec/s cov ft corpus findings
for t in "${TARGETS[@]}"; do
  corpus=fuzz/corpus/$t
  artifacts=fuzz/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  log=$scratch/$t.log
  touch "$scratch/$t.start"
  start=$SECONDS
  rc=0
  TMPDIR=$scratch "$bin_dir/$t" "$corpus" "fuzz/seeds/$t" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
  status=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -n 1 || true)
  field() { sed -nE "s/.* $1: ([0-9]+).*/\1/p" <<<"$status"; }
  findings=$(findings_since "$artifacts" "$scratch/$t.start")
  if [ "$rc" -ne 0 ] || [ "$findings" -gt 0 ]; then
    found=1
    [ "$findings" -gt 0 ] || findings="exit $rc"
  fi
  printf 'fuzz: %-14s %7s %11s %7s %6s %7s %6s  %s\n' "$t" "$((SECONDS - start))" \
    "$(stat number_of_executed_units "$log")" "$(stat average_exec_per_sec "$log")" \
    "$(field cov)" "$(field ft)" "$(field corp)" "$findings"
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $t found something (exit $rc), input in $artifacts/; the end of its log:" >&2
    grep -vE '^#[0-9]+' "$log" | tail -n 40 | sed 's/^/  | /' >&2
  fi
done
exit "$found"
