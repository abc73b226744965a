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

#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    pub sessions: usize,
    pub realtime: bool,
    pub turns_planned: usize,
    pub turns_completed: usize,
    pub wall_seconds: f64,
    pub p50_ms: u64,
    pub p95_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
    pub rss_baseline_mb: f64,
    pub rss_peak_mb: f64,
    pub rss_per_session_kb: f64,
    pub events: u64,
    pub sink_dropped: u64,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sessions             {} ({})",
            self.sessions,
            if self.realtime {
                "users speak in real time"
            } else {
                "audio pushed as fast as accepted"
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
            "memory               baseline {:.1} MB, peak {:.1} MB, {:.1} KB per live session",
            self.rss_baseline_mb, self.rss_peak_mb, self.rss_per_session_kb
        )?;
        write!(
            f,
            "events               {} emitted, {} dropped by the sink",
            self.events, self.sink_dropped
        )
    }
}

/// Run `sessions` concurrent sessions of `turns` turns each. With
/// `realtime`, each user speaks at microphone pace (20 ms frames every 20 ms);
/// without it, as fast as the node takes audio.
pub async fn run(
    mut cfg: Config,
    sessions: usize,
    turns: usize,
    realtime: bool,
) -> Result<LoadReport, crate::app::AppError> {
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
    let started = Instant::now();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(baseline));
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
    peak.fetch_max(live, std::sync::atomic::Ordering::Relaxed);
    let mut completed = 0;
    for t in tasks {
        completed += t.await.unwrap_or(0);
    }
    let wall = started.elapsed().as_secs_f64();
    let events = app.ctx.sink.stats().accepted();
    let dropped = app.ctx.sink.stats().dropped();
    app.shutdown("loadgen finished").await;
    let mut lat = collector.await.unwrap_or_default();
    lat.sort_unstable();
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    Ok(LoadReport {
        sessions,
        realtime,
        turns_planned: sessions * turns,
        turns_completed: completed,
        wall_seconds: wall,
        p50_ms: percentile(&lat, 50.0),
        p95_ms: percentile(&lat, 95.0),
        p99_ms: percentile(&lat, 99.0),
        max_ms: lat.last().copied().unwrap_or(0),
        rss_baseline_mb: baseline as f64 / 1048576.0,
        rss_peak_mb: peak as f64 / 1048576.0,
        rss_per_session_kb: (live.saturating_sub(baseline)) as f64
            / 1024.0
            / sessions.max(1) as f64,
        events,
        sink_dropped: dropped,
    })
}
