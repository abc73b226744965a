#!/usr/bin/env bash
# Set up and run every check: formatting, lints, and all tests (unit tests
# beside the code; integration tests against a real NATS and pulsar-lite).
# Prints how long each step took.
set -euo pipefail
cd "$(dirname "$0")/.."

step() {
  local name=$1; shift
  local t0=$SECONDS
  echo "==> $name"
  "$@"
  echo "<== $name: $((SECONDS - t0)) s"
}

step "setup" bash scripts/setup-test.sh
step "cargo fmt --check" cargo fmt --all -- --check
step "operator files (promtool)" bash scripts/operator-check.sh
step "module graph (no import circle)" python3 scripts/module-graph.py
step "cargo build (tests, benches, binary)" cargo build --workspace --all-targets --locked
step "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
# Licenses, bans and sources of the crate graph (deny.toml); the advisories
# check needs GitHub, which these machines cannot reach.
step "cargo deny" cargo deny --offline check licenses bans sources
# Every test binary runs (--no-fail-fast), so a red run names every failing
# test, and the counts are printed either way.
run_tests() {
  local rc=0
  cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.log || rc=$?
  awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
       END { printf "tests: %d passed, %d failed\n", p, f }' target/test-output.log
  grep -E '^test .* FAILED$' target/test-output.log || true
  return "$rc"
}
step "cargo test" run_tests
# Every fuzz target for a short time (issue 16): unoptimized and without a
# sanitizer, so that its cold build fits CI; `bash scripts/fuzz.sh` alone
# (release, AddressSanitizer, 60 s a target) is the deeper run. Any finding
# fails CI; its input is in fuzz/artifacts/.
fuzz_seconds=${ARC_CI_FUZZ_SECONDS:-20}
step "fuzz (each target $fuzz_seconds s)" env ARC_FUZZ_PROFILE=dev ARC_FUZZ_SANITIZER=none bash scripts/fuzz.sh "$fuzz_seconds"
