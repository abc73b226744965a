"""Plots scripts/scale.sh's table: latency percentiles, memory per session
and the silences inside the agent's replies against concurrent sessions.
Usage: scale-plot.py IN.csv OUT.png"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = list(csv.DictReader(open(sys.argv[1])))
spread = [r for r in rows if r["stagger_ms"] != "0"]
burst = [r for r in rows if r["stagger_ms"] == "0"]
fig, ax = plt.subplots(1, 3, figsize=(16, 4.5))
for label, rs, style in (("starts spread", spread, "-o"), ("burst", burst, "--x")):
    if not rs:
        continue
    n = [int(r["sessions"]) for r in rs]
    for k in ("p50_ms", "p99_ms"):
        ax[0].plot(n, [max(1, int(r[k])) for r in rs], style, label=f"{k[:3]}, {label}")
    ax[1].plot(n, [float(r["peak_kb_per_session"]) for r in rs], style, label=f"at peak RSS, {label}")
    ax[1].plot(n, [float(r["live_kb_per_session"]) for r in rs], style, alpha=0.5, label=f"all started, {label}")
    if all(r.get("gaps_node") for r in rs):
        for k, what in (("gaps_node", "20 ms or more"), ("gaps_node_over_100ms", "over 100 ms")):
            ax[2].plot(n, [max(1, int(r[k])) for r in rs], style, label=f"{what}, {label}")
for a in ax:
    a.set_xscale("log")
    a.set_xlabel("concurrent real-time sessions (2 cores)")
    a.grid(alpha=0.3)
    a.legend()
ax[0].set_yscale("log")
ax[0].set_ylabel("ARC's added voice-to-voice latency (ms, 0 at 1)")
ax[1].set_ylabel("KB per session")
ax[1].axhline(64, color="grey", lw=0.8)
ax[2].set_yscale("log")
ax[2].set_ylabel("reply frames released late by the node, whole run (0 at 1)")
fig.suptitle("ARC load curve: synthetic engines, NATS + Pulsar on")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=80)
print(f"scale-plot: {sys.argv[2]}")
