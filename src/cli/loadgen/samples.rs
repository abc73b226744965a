//! The load run over time (`--csv`): every interval one row of the node's
//! resident memory, open descriptors, threads, live tokio tasks, live
//! sessions, turns answered and the interval's latency percentiles, and
//! what jemalloc says of the heap (what the code holds against the pages it
//! keeps resident: the allocator's own share of the RSS). The soak
//! (`scripts/soak.sh`) plots it: flat lines are what a node that runs for
//! weeks needs.

use super::latencies::LatencyCounts;
use crate::ops::procinfo;
use parking_lot::Mutex;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The CSV's header; one [`Row`] per line below it.
pub const HEADER: &str = "elapsed_s,rss_mb,open_fds,threads,tokio_tasks,live_sessions,sessions_started,turns_answered,turns_in_interval,p50_ms,p95_ms,p99_ms,max_ms,sink_dropped,heap_allocated_mb,heap_resident_mb";

/// What the run's tasks report as they go, shared with the sampler.
#[derive(Debug, Default)]
pub(super) struct Progress {
    /// Voice-to-voice of the turns answered since the last row.
    latencies: Mutex<LatencyCounts>,
    pub(super) sessions_started: AtomicU64,
    pub(super) turns_answered: AtomicU64,
}

impl Progress {
    pub(super) fn turn(&self, latency_ms: u64) {
        self.latencies.lock().record(latency_ms);
        self.turns_answered.fetch_add(1, Ordering::Relaxed);
    }

    fn take_interval(&self) -> LatencyCounts {
        std::mem::take(&mut *self.latencies.lock())
    }
}

/// One line of the CSV.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Row {
    pub(super) elapsed_s: f64,
    pub(super) rss_mb: f64,
    pub(super) open_fds: u64,
    pub(super) threads: u64,
    pub(super) tokio_tasks: usize,
    pub(super) live_sessions: usize,
    pub(super) sessions_started: u64,
    pub(super) turns_answered: u64,
    pub(super) turns_in_interval: u64,
    pub(super) p50_ms: u64,
    pub(super) p95_ms: u64,
    pub(super) p99_ms: u64,
    pub(super) max_ms: u64,
    pub(super) sink_dropped: u64,
    /// jemalloc's `stats.allocated` and `stats.resident` (0 where the
    /// process does not allocate with jemalloc: tests).
    pub(super) heap_allocated_mb: f64,
    pub(super) heap_resident_mb: f64,
}

impl Row {
    /// A reading now: the process from /proc, the runtime's live tasks, and
    /// what `progress` gathered since the last row.
    pub(super) fn take(
        started: Instant,
        progress: &Progress,
        live_sessions: usize,
        sink_dropped: u64,
    ) -> Row {
        let proc = procinfo::sample();
        let lat = progress.take_interval();
        let heap = crate::ops::allocator::stats().unwrap_or_default();
        let mb = |b: u64| b as f64 / 1048576.0;
        Row {
            elapsed_s: started.elapsed().as_secs_f64(),
            rss_mb: mb(proc.rss_bytes),
            open_fds: proc.open_fds,
            threads: proc.threads,
            tokio_tasks: tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
            live_sessions,
            sessions_started: progress.sessions_started.load(Ordering::Relaxed),
            turns_answered: progress.turns_answered.load(Ordering::Relaxed),
            turns_in_interval: lat.len(),
            p50_ms: lat.percentile(50.0),
            p95_ms: lat.percentile(95.0),
            p99_ms: lat.percentile(99.0),
            max_ms: lat.max(),
            sink_dropped,
            heap_allocated_mb: mb(heap.allocated as u64),
            heap_resident_mb: mb(heap.resident as u64),
        }
    }

    pub(super) fn csv(&self) -> String {
        format!(
            "{:.1},{:.1},{},{},{},{},{},{},{},{},{},{},{},{},{:.1},{:.1}",
            self.elapsed_s,
            self.rss_mb,
            self.open_fds,
            self.threads,
            self.tokio_tasks,
            self.live_sessions,
            self.sessions_started,
            self.turns_answered,
            self.turns_in_interval,
            self.p50_ms,
            self.p95_ms,
            self.p99_ms,
            self.max_ms,
            self.sink_dropped,
            self.heap_allocated_mb,
            self.heap_resident_mb
        )
    }
}

/// The CSV file, written a row at a time (a soak stopped early keeps what
/// it measured).
pub(super) struct CsvOut {
    file: std::fs::File,
}

impl CsvOut {
    pub(super) fn create(path: &Path) -> std::io::Result<CsvOut> {
        let mut file = std::fs::File::create(path)?;
        writeln!(file, "{HEADER}")?;
        Ok(CsvOut { file })
    }

    pub(super) fn write(&mut self, row: &Row) -> std::io::Result<()> {
        writeln!(self.file, "{}", row.csv())?;
        self.file.flush()
    }
}

/// Samples until `stop` fires; each row goes to `out` and stderr.
pub(super) async fn sample_until(
    mut out: CsvOut,
    every: std::time::Duration,
    started: Instant,
    progress: Arc<Progress>,
    node: arc_actors::node::NodeHandle,
    sink: Arc<arc_actors::sink::QueueStats>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let row = Row::take(started, &progress, node.active_sessions(), sink.dropped());
        eprintln!("loadgen: {}", row.csv());
        if let Err(e) = out.write(&row) {
            tracing::warn!(error = %e, "loadgen: the CSV could not be written; sampling stops");
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_row_has_every_column_and_the_interval_starts_afresh() {
        let p = Progress::default();
        let (_keep, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(rx);
        for ms in [5, 1, 9] {
            p.turn(ms);
        }
        let row = Row::take(Instant::now(), &p, 3, 0);
        assert_eq!(row.csv().split(',').count(), HEADER.split(',').count());
        assert_eq!((row.turns_in_interval, row.max_ms, row.p50_ms), (3, 9, 5));
        assert!(row.rss_mb > 0.0 && row.open_fds > 0 && row.tokio_tasks >= 1);
        let next = Row::take(Instant::now(), &p, 3, 0);
        assert_eq!((next.turns_in_interval, next.turns_answered), (0, 3));
        task.abort();
    }
}
