"""Plots a loadgen --csv (scripts/soak.sh): memory, descriptors and tasks,
and latency percentiles, over time. Usage: soak-plot.py IN.csv OUT.png"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = list(csv.DictReader(open(sys.argv[1])))
if not rows:
    sys.exit(f"{sys.argv[1]}: no rows")
t = [float(r["elapsed_s"]) for r in rows]
col = lambda k: [float(r[k]) for r in rows]  # noqa: E731

fig, ax = plt.subplots(4, 1, figsize=(9, 11), sharex=True)
ax[0].plot(t, col("rss_mb"), label="RSS (MB)")
ax[0].set_ylabel("MB")
ax[0].set_ylim(bottom=0)
ax[1].plot(t, col("open_fds"), label="open descriptors")
ax[1].plot(t, col("threads"), label="threads")
ax[1].set_ylim(bottom=0)
ax[2].plot(t, col("tokio_tasks"), label="tokio tasks")
ax[2].plot(t, col("live_sessions"), label="live sessions")
ax[2].set_ylim(bottom=0)
for k in ("p50_ms", "p95_ms", "p99_ms"):
    ax[3].plot(t, col(k), label=f"voice-to-voice {k[:3]}")
ax[3].set_ylabel("ms")
ax[3].set_ylim(bottom=0)
ax[3].set_xlabel("seconds")
for a in ax:
    a.legend(loc="upper left")
    a.grid(alpha=0.3)
started = rows[-1]["sessions_started"]
answered = rows[-1]["turns_answered"]
fig.suptitle(
    f"ARC soak: {rows[-1]['live_sessions']} live sessions at the end, "
    f"{started} calls, {answered} turns answered"
)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=80)
print(f"soak-plot: {sys.argv[2]}")
