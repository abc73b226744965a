//! What a load run reports: turns, latency, memory, CPU and drops.

use arc_actors::histogram::HistogramSnapshot;
use arc_actors::playout_gaps::{playout_gaps, GapCause};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    pub sessions: usize,
    pub realtime: bool,
    pub stagger_ms: u64,
    pub turns_planned: usize,
    pub turns_completed: usize,
    pub wall_seconds: f64,
    pub p50_ms: u64,
    pub p95_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
    pub rss_baseline_mb: f64,
    /// What the baseline holds, and when it was read.
    pub baseline: BaselineReport,
    /// Resident memory once every session exists (before they talk).
    pub rss_live_mb: f64,
    pub rss_per_session_kb: f64,
    /// The kernel's peak resident memory of the run (VmHWM).
    pub rss_peak_mb: f64,
    pub rss_peak_per_session_kb: f64,
    /// CPU time over wall time: cores kept busy on average.
    pub cpu_cores: f64,
    /// The same for the whole machine (the brokers of a load run share it),
    /// and its cores.
    pub machine_cores_busy: f64,
    pub machine_cores: u32,
    /// The same while every caller was in its call (none when a call ended
    /// before the last caller started).
    pub busy_while_all_talk: Option<super::BusyWhileAllTalk>,
    pub events: u64,
    pub sink_dropped: u64,
    /// Events each mirror dropped (queue full, broker away, spool full).
    pub mirror_dropped: Vec<(String, u64)>,
    /// Silences inside the agent's speech (paced playout, `--realtime`), by
    /// cause: (cause, how many, how many over 100 ms).
    pub speech_gaps: Vec<(&'static str, u64, u64)>,
}

/// The node's memory before its first session, by kind, read once its
/// brokers had connected and its resident set had stopped moving.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineReport {
    pub anon_mb: f64,
    pub file_mb: f64,
    pub shmem_mb: f64,
    pub brokers_connected: bool,
    /// From the node's start to the reading.
    pub waited_ms: u64,
}

/// The run's silences inside the agent's speech, by cause: those counted
/// since `before` (the process's counters, [`arc_actors::playout_gaps`]).
pub(super) fn speech_gaps(
    before: &[(GapCause, HistogramSnapshot)],
) -> Vec<(&'static str, u64, u64)> {
    playout_gaps()
        .all()
        .iter()
        .zip(before)
        .map(|((cause, now), (_, then))| {
            let run = now.since(then);
            (cause.label(), run.count, run.count_above(0.1))
        })
        .collect()
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sessions             {} ({}; {})",
            self.sessions,
            if self.realtime {
                "users speak in real time"
            } else {
                "audio pushed as fast as accepted"
            },
            if self.stagger_ms == 0 {
                "all start at once".to_string()
            } else {
                format!("starts spread over {} ms", self.stagger_ms)
            }
        )?;
        writeln!(
            f,
            "turns completed      {} / {}",
            self.turns_completed, self.turns_planned
        )?;
        writeln!(f, "wall time            {:.2} s", self.wall_seconds)?;
        writeln!(
            f,
            "voice-to-voice (ms)  p50 {}  p95 {}  p99 {}  max {}  (synthetic engines: orchestration overhead only)",
            self.p50_ms, self.p95_ms, self.p99_ms, self.max_ms
        )?;
        writeln!(
            f,
            "memory               baseline {:.1} MB; sessions live {:.1} MB ({:.1} KB each); kernel peak (VmHWM) {:.1} MB ({:.1} KB per session)",
            self.rss_baseline_mb,
            self.rss_live_mb,
            self.rss_per_session_kb,
            self.rss_peak_mb,
            self.rss_peak_per_session_kb
        )?;
        writeln!(
            f,
            "memory at baseline   anonymous {:.1} MB, file {:.1} MB, shared {:.1} MB; read {} ms after start, {}",
            self.baseline.anon_mb,
            self.baseline.file_mb,
            self.baseline.shmem_mb,
            self.baseline.waited_ms,
            if self.baseline.brokers_connected {
                "brokers connected"
            } else {
                "a broker NOT connected"
            }
        )?;
        writeln!(
            f,
            "cpu                  {:.2} cores busy on average; the machine {:.2} of its {} (brokers and all)",
            self.cpu_cores, self.machine_cores_busy, self.machine_cores
        )?;
        match &self.busy_while_all_talk {
            Some(w) => writeln!(
                f,
                "cpu, all in call     {:.2} cores busy while every caller was in its call ({:.1} s: the last had started, none had hung up); the machine {:.2} of its {}",
                w.node_cores, w.seconds, w.machine_cores, self.machine_cores
            )?,
            None => writeln!(
                f,
                "cpu, all in call     no such window: a call ended before the last caller started"
            )?,
        }
        let gaps: Vec<String> = self
            .speech_gaps
            .iter()
            .map(|(cause, n, long)| format!("{cause} {n} ({long} over 100 ms)"))
            .collect();
        writeln!(
            f,
            "speech gaps          silences of 20 ms or more inside the agent's replies: {}",
            gaps.join(", ")
        )?;
        let mirrors: Vec<String> = self
            .mirror_dropped
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect();
        write!(
            f,
            "events               {} emitted ({:.0}/s), {} dropped by the sink; dropped by the mirrors: {}",
            self.events,
            self.events as f64 / self.wall_seconds.max(1e-9),
            self.sink_dropped,
            if mirrors.is_empty() {
                "none on".to_string()
            } else {
                mirrors.join(", ")
            }
        )
    }
}

/// `arc_mirror_dropped_total` of each mirror, from a scrape.
pub(super) fn mirror_drops(scrape: &str) -> Vec<(String, u64)> {
    scrape
        .lines()
        .filter_map(|l| l.strip_prefix("arc_mirror_dropped_total{"))
        .filter_map(|l| {
            let (labels, value) = l.split_once("} ")?;
            let mirror = labels
                .split(',')
                .find_map(|kv| kv.strip_prefix("mirror=\""))?
                .trim_end_matches('"');
            Some((mirror.to_string(), value.trim().parse::<f64>().ok()? as u64))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_drops_are_read_from_a_scrape() {
        let scrape = "# HELP x\narc_mirror_dropped_total{mirror=\"nats\"} 3\narc_mirror_dropped_total{mirror=\"pulsar\"} 0\narc_other 1\n";
        assert_eq!(
            mirror_drops(scrape),
            vec![("nats".to_string(), 3), ("pulsar".to_string(), 0)]
        );
    }
}
