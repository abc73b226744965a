#!/usr/bin/env bash
# The scale curve (issue 16; on demand, not in CI): `arc-agent loadgen` at
# 100, 1,000, 5,000 and 10,000 concurrent real-time sessions (3 turns each,
# synthetic engines: ARC's own cost), both brokers on (the machine's NATS
# and a pulsar-lite of its own), starts spread over STAGGER ms, then the
# synchronized burst (every session starting in the same instant) apart.
# Writes a table (scale.csv: turns, latency, memory, CPU over the run and
# while every caller was in its call, drops, and the silences inside the
# agent's replies) and a plot (scale.png) to OUT.
#   bash scripts/scale.sh                    # 100 1000 5000 10000
#   SIZES="100 1000" OUT=benches/plots bash scripts/scale.sh
# PROFILE=release (default) builds arc-agent in release; PROFILE=dev uses the
# tests' build. PERF=1 records a CPU profile of the largest run with perf.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-100 1000 5000 10000}
STAGGER=${STAGGER:-10000}
BURST_SIZES=${BURST_SIZES:-1000 5000}
OUT=${OUT:-target/scale}
mkdir -p "$OUT"
. scripts/lib/bench-node.sh

echo "sessions,stagger_ms,turns_done,turns_planned,p50_ms,p95_ms,p99_ms,max_ms,live_kb_per_session,peak_kb_per_session,peak_mb,cpu_cores,events_per_s,sink_dropped,mirror_dropped,gaps_node,gaps_node_over_100ms,gaps_synthesis,gaps_synthesis_over_100ms,machine_cores_busy,all_in_call_s,all_in_call_node_cores,all_in_call_machine_cores,baseline_mb,baseline_anon_mb,baseline_file_mb" >"$OUT/scale.csv"
run() { # sessions stagger
  local n=$1 stagger=$2 log="$OUT/loadgen-$1-$2.txt"
  echo "scale: $n sessions, stagger $stagger ms"
  rm -rf "$work/data"
  local perf=()
  if [ "${PERF:-0}" = 1 ] && [ "$n" = "${SIZES##* }" ] && [ "$stagger" = "$STAGGER" ]; then
    perf=(perf record -F 199 -g -o "$OUT/perf-$n.data" --)
  fi
  ARC__PULSAR__URL="pulsar://127.0.0.1:$port" ARC__NODE__DATA_DIR="$work/data" RUST_LOG=warn \
    "${perf[@]}" "$bin" loadgen --sessions "$n" --turns 3 --realtime --stagger "$stagger" >"$log" 2>"$OUT/loadgen-$n-$stagger.err"
  cat "$log"
  python3 - "$log" "$n" "$stagger" >>"$OUT/scale.csv" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
g = lambda p: re.search(p, t).groups()
done, planned = g(r"turns completed\s+(\d+) / (\d+)")
p50, p95, p99, mx = g(r"p50 (\d+)\s+p95 (\d+)\s+p99 (\d+)\s+max (\d+)")
live_kb, peak_mb, peak_kb = g(r"\(([\d.]+) KB each\); kernel peak \(VmHWM\) ([\d.]+) MB \(([\d.]+) KB")
cpu, = g(r"([\d.]+) cores busy")
# The whole machine's busy cores (the brokers share it; empty from an older binary).
m = re.search(r"the machine ([\d.]+) of its", t)
machine = m.group(1) if m else ""
ev_s, sink = g(r"\(([\d.]+)/s\), (\d+) dropped by the sink")
mirrors = re.search(r"dropped by the mirrors: (.*)", t).group(1).replace(",", ";")
# Silences inside the agent's replies, by cause (empty from a binary without them).
gap = lambda cause: re.search(cause + r" (\d+) \((\d+) over 100 ms\)", t)
gaps = [x for c in ("node", "synthesis") for x in (gap(c).groups() if gap(c) else ("", ""))]
# The CPU while every caller was in its call (empty: no such window, or an older binary).
m = re.search(r"([\d.]+) cores busy while every caller was in its call \(([\d.]+) s.*the machine ([\d.]+) of its", t)
window = [m.group(2), m.group(1), m.group(3)] if m else ["", "", ""]
# What the per-session figures are measured against (the anonymous and file
# parts empty from an older binary).
base, = g(r"baseline ([\d.]+) MB;")
m = re.search(r"memory at baseline\s+anonymous ([\d.]+) MB, file ([\d.]+) MB", t)
parts = [m.group(1), m.group(2)] if m else ["", ""]
print(",".join([sys.argv[2], sys.argv[3], done, planned, p50, p95, p99, mx, live_kb, peak_kb, peak_mb, cpu, ev_s, sink, mirrors] + gaps + [machine] + window + [base] + parts))
PY
}
for n in $SIZES; do run "$n" "$STAGGER"; done
for n in $BURST_SIZES; do run "$n" 0; done
python3 scripts/scale-plot.py "$OUT/scale.csv" "$OUT/scale.png"
column -s, -t <"$OUT/scale.csv"
# What one more session costs at the kernel's peak between two spread runs:
# the run's one-time costs (the allocator's, the code paged in) cancel out.
python3 - "$OUT/scale.csv" "$STAGGER" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["stagger_ms"] == sys.argv[2]]
for a, b in zip(rows, rows[1:]):
    grew = float(b["peak_mb"]) - float(a["peak_mb"])
    n = int(b["sessions"]) - int(a["sessions"])
    print(f"scale: {a['sessions']} -> {b['sessions']} sessions: the kernel's peak grew {grew:.1f} MB, {grew * 1024 / n:.1f} KB a session more")
PY
