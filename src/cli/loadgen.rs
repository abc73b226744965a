//! The load generator: many scripted sessions in one node process, through the
//! real supervision tree, sink and mirrors (engines are the zero-cost
//! synthetic ones, so what is measured is ARC's own overhead).

use crate::app::App;
use crate::config::Config;
use crate::ops::procinfo;
use arc_actors::events::Event;
use arc_actors::node::SessionSpec;
use arc_actors::session::emit::percentile;
use arc_actors::session::EndReason;
use arc_actors::sink::{MirrorFilter, MirrorInput};
use arc_actors::synthetic::{run_script_paced, CallerOutput};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadOptions {
    pub sessions: usize,
    pub turns: usize,
    /// Users speak at microphone pace (20 ms frames every 20 ms).
    pub realtime: bool,
    /// Users start talking spread evenly over this window (zero: all in the
    /// same instant, the synchronized burst: the worst case).
    pub stagger: Duration,
}

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
    /// Resident memory once every session exists (before they talk).
    pub rss_live_mb: f64,
    pub rss_per_session_kb: f64,
    /// The kernel's peak resident memory of the run (VmHWM).
    pub rss_peak_mb: f64,
    pub rss_peak_per_session_kb: f64,
    /// CPU time over wall time: cores kept busy on average.
    pub cpu_cores: f64,
    pub events: u64,
    pub sink_dropped: u64,
    /// Events each mirror dropped (queue full, broker away, spool full).
    pub mirror_dropped: Vec<(String, u64)>,
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
            "cpu                  {:.2} cores busy on average",
            self.cpu_cores
        )?;
        let mirrors: Vec<String> = self
            .mirror_dropped
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect();
        write!(
            f,
            "events               {} emitted, {} dropped by the sink; dropped by the mirrors: {}",
            self.events,
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
fn mirror_drops(scrape: &str) -> Vec<(String, u64)> {
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

/// Run `sessions` concurrent sessions of `turns` turns each. With
/// `realtime`, each user speaks at microphone pace (20 ms frames every 20 ms);
/// without it, as fast as the node takes audio.
pub async fn run(mut cfg: Config, opts: LoadOptions) -> Result<LoadReport, crate::app::AppError> {
    let LoadOptions {
        sessions,
        turns,
        realtime,
        stagger,
    } = opts;
    cfg.http.listen = "127.0.0.1:0".into();
    cfg.node.max_sessions = cfg.node.max_sessions.max(sessions);
    let (tap, mut rx) = MirrorInput::new("loadgen", MirrorFilter::Pulsar, 1 << 20);
    let app = App::start_with_taps(cfg, vec![tap]).await?;
    let collector = tokio::spawn(async move {
        let mut latencies = Vec::new();
        while let Some(ev) = rx.recv().await {
            if let Event::Conversation(c) = &*ev {
                latencies.push(c.performance.total_latency_ms);
            }
        }
        latencies
    });
    let baseline = procinfo::sample().rss_bytes;
    let cpu_before = procinfo::sample().cpu_seconds;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(sessions);
    let barrier = Arc::new(tokio::sync::Barrier::new(sessions + 1));
    for i in 0..sessions {
        let mut config = app.ctx.cfg.session_config();
        config.user_id = format!("load-user-{i}");
        config.room_name = format!("load-room-{i}");
        // Playout at real time only when the users speak at real time too.
        config.barge_in.paced_playout = realtime;
        let script: Vec<String> = (0..turns)
            .map(|t| format!("load test question number {t} from user {i}"))
            .collect();
        let output = Arc::new(CallerOutput::default());
        let node = app.ctx.node.clone();
        let scripts = app.ctx.scripts.clone();
        let barrier = barrier.clone();
        // This user's start within the window (evenly spread).
        let offset = stagger.mul_f64(i as f64 / sessions.max(1) as f64);
        tasks.push(tokio::spawn(async move {
            // The synthetic STT of the session hears the script from the book
            // (a fresh session id: no other lines wait under it).
            let session_id = config.session_id.clone();
            scripts.write(session_id.clone(), script.clone());
            let spec = SessionSpec {
                config,
                output: output.clone(),
            };
            let handle = node.start_session(spec).await;
            scripts.take(&session_id);
            barrier.wait().await;
            let Ok(handle) = handle else { return 0 };
            tokio::time::sleep(offset).await;
            let n = run_script_paced(
                &handle,
                &*output,
                &script,
                Duration::from_secs(60),
                realtime,
            )
            .await;
            handle.end(EndReason::UserLeft);
            handle.wait().await;
            n
        }));
    }
    // All sessions exist now: this is the memory of `sessions` live sessions.
    barrier.wait().await;
    let live = procinfo::sample().rss_bytes;
    let mut completed = 0;
    for t in tasks {
        completed += t.await.unwrap_or(0);
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = procinfo::sample().cpu_seconds - cpu_before;
    let events = app.ctx.sink.stats().accepted();
    let dropped = app.ctx.sink.stats().dropped();
    let mirror_dropped = mirror_drops(&app.ctx.metrics.render_for_test());
    app.shutdown("loadgen finished").await;
    let hwm = procinfo::peak_rss_bytes().max(live);
    let mut lat = collector.await.unwrap_or_default();
    lat.sort_unstable();
    let per_session_kb =
        |bytes: u64| bytes.saturating_sub(baseline) as f64 / 1024.0 / sessions.max(1) as f64;
    Ok(LoadReport {
        sessions,
        realtime,
        stagger_ms: stagger.as_millis() as u64,
        turns_planned: sessions * turns,
        turns_completed: completed,
        wall_seconds: wall,
        p50_ms: percentile(&lat, 50.0),
        p95_ms: percentile(&lat, 95.0),
        p99_ms: percentile(&lat, 99.0),
        max_ms: lat.last().copied().unwrap_or(0),
        rss_baseline_mb: baseline as f64 / 1048576.0,
        rss_live_mb: live as f64 / 1048576.0,
        rss_per_session_kb: per_session_kb(live),
        rss_peak_mb: hwm as f64 / 1048576.0,
        rss_peak_per_session_kb: per_session_kb(hwm),
        cpu_cores: if wall > 0.0 { cpu / wall } else { 0.0 },
        events,
        sink_dropped: dropped,
        mirror_dropped,
    })
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
