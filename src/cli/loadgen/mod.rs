//! The load generator: many scripted sessions in one node process, through the
//! real supervision tree, sink and mirrors (engines are the zero-cost
//! synthetic ones, so what is measured is ARC's own overhead).
//!
//! - mod.rs: the run (sessions started together, or spread with `--stagger`;
//!   for `--duration` each user hangs up after `--turns` and calls again);
//! - baseline.rs: the node's memory before its first session;
//! - latencies.rs: the turns' latencies, counted per millisecond;
//! - report.rs: what a run reports at its end;
//! - samples.rs: the run over time (`--csv`), which the soak plots;
//! - busy.rs: the CPU while every caller was in its call.

mod baseline;
mod busy;
mod latencies;
mod report;
mod samples;

pub use busy::BusyWhileAllTalk;
pub use report::{BaselineReport, LoadReport};
pub use samples::HEADER as CSV_HEADER;

use crate::app::App;
use crate::config::Config;
use crate::node::NodeContext;
use crate::ops::procinfo;
use arc_actors::events::Event;
use arc_actors::node::SessionSpec;
use arc_actors::session::{EndReason, SessionHandle};
use arc_actors::sink::{MirrorFilter, MirrorInput};
use arc_actors::synthetic::{run_script_paced, CallerOutput};
use samples::{CsvOut, Progress};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    pub sessions: usize,
    pub turns: usize,
    /// Users speak at microphone pace (20 ms frames every 20 ms).
    pub realtime: bool,
    /// Users start talking spread evenly over this window (zero: all in the
    /// same instant, the synchronized burst: the worst case).
    pub stagger: Duration,
    /// Keep going this long: each user hangs up after `turns` turns and
    /// calls again at once, so `sessions` stay live (a soak). None: one call
    /// of `turns` turns each.
    pub duration: Option<Duration>,
    /// Write a row of the run's vital signs every `sample_every` here.
    pub csv: Option<PathBuf>,
    pub sample_every: Duration,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            sessions: 100,
            turns: 3,
            realtime: false,
            stagger: Duration::ZERO,
            duration: None,
            csv: None,
            sample_every: Duration::from_secs(10),
        }
    }
}

/// Why a load run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Start(#[from] crate::app::AppError),
    #[error("loadgen --csv {}: {source}", path.display())]
    Csv {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Starts call `call` of user `i`: the session, what its caller hears, and
/// the lines the caller says (which the session's synthetic STT hears). None
/// when the node refuses it.
async fn start_call(
    ctx: &NodeContext,
    i: usize,
    call: usize,
    turns: usize,
    realtime: bool,
) -> Option<(SessionHandle, Arc<CallerOutput>, Vec<String>)> {
    let mut config = ctx.cfg.session_config();
    config.user_id = format!("load-user-{i}");
    config.room_name = format!("load-room-{i}-{call}");
    // Playout at real time only when the users speak at real time too.
    config.barge_in.paced_playout = realtime;
    let script: Vec<String> = (0..turns)
        .map(|t| format!("load test question number {t} from user {i}"))
        .collect();
    let output = Arc::new(CallerOutput::default());
    // The synthetic STT of the session hears the script from the book (a
    // fresh session id: no other lines wait under it).
    let session_id = config.session_id.clone();
    ctx.scripts.write(session_id.clone(), script.clone());
    let spec = SessionSpec {
        config,
        output: output.clone(),
    };
    let handle = ctx.node.start_session(spec).await;
    ctx.scripts.take(&session_id);
    Some((handle.ok()?, output, script))
}

/// Run `sessions` concurrent sessions of `turns` turns each (for
/// `duration`, call after call). With `realtime`, each user speaks at
/// microphone pace (20 ms frames every 20 ms); without it, as fast as the
/// node takes audio.
pub async fn run(mut cfg: Config, opts: LoadOptions) -> Result<LoadReport, LoadError> {
    let LoadOptions {
        sessions,
        turns,
        realtime,
        stagger,
        duration,
        ref csv,
        sample_every,
    } = opts;
    let csv_out = match csv {
        Some(path) => Some(CsvOut::create(path).map_err(|source| LoadError::Csv {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    cfg.http.listen = "127.0.0.1:0".into();
    cfg.node.max_sessions = cfg.node.max_sessions.max(sessions);
    let (tap, mut rx) = MirrorInput::new("loadgen", MirrorFilter::Pulsar, 1 << 20);
    let app = App::start_with_taps(cfg, vec![tap]).await?;
    let progress = Arc::new(Progress::default());
    let calls_ended = Arc::new(busy::CallsEnded::default());
    let collector = {
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut latencies = latencies::LatencyCounts::default();
            while let Some(ev) = rx.recv().await {
                if let Event::Conversation(c) = &*ev {
                    latencies.record(c.performance.total_latency_ms);
                    progress.turn(c.performance.total_latency_ms);
                }
            }
            latencies
        })
    };
    let settled = baseline::settle(|| app.brokers_connected()).await;
    if !settled.brokers_connected {
        tracing::warn!(
            waited_ms = settled.waited.as_millis() as u64,
            "a broker mirror is not connected: the run starts without it"
        );
    }
    let baseline = settled.rss_bytes;
    let cpu_before = procinfo::sample().cpu_seconds;
    let machine_before = procinfo::machine_cpu_seconds();
    let gaps_before = arc_actors::playout_gaps::playout_gaps().all();
    let started = Instant::now();
    let (stop_sampling, stopped) = tokio::sync::watch::channel(false);
    let sampler = csv_out.map(|out| {
        tokio::spawn(samples::sample_until(
            out,
            sample_every,
            started,
            progress.clone(),
            app.ctx.node.clone(),
            app.ctx.sink.stats().clone(),
            stopped,
        ))
    });
    let until = duration.map(|d| started + d);
    let mut tasks = Vec::with_capacity(sessions);
    let barrier = Arc::new(tokio::sync::Barrier::new(sessions + 1));
    // The load generator's own part of each session (a caller task) is
    // counted in the node's memory per session: it holds one shared context
    // and awaits the session's start in a box of its own, so that what it
    // holds while the user talks is only the script being played.
    let ctx = Arc::new(app.ctx.clone());
    for i in 0..sessions {
        let ctx = ctx.clone();
        let barrier = barrier.clone();
        let progress = progress.clone();
        let calls_ended = calls_ended.clone();
        // This user's start within the window (evenly spread).
        let offset = stagger.mul_f64(i as f64 / sessions.max(1) as f64);
        tasks.push(tokio::spawn(async move {
            let mut answered = 0;
            for call in 0.. {
                let started = Box::pin(start_call(&ctx, i, call, turns, realtime)).await;
                if call == 0 {
                    barrier.wait().await;
                    tokio::time::sleep(offset).await;
                }
                let Some((handle, output, script)) = started else {
                    break;
                };
                progress.sessions_started.fetch_add(1, Ordering::Relaxed);
                answered += run_script_paced(
                    &handle,
                    &*output,
                    &script,
                    Duration::from_secs(60),
                    realtime,
                )
                .await;
                handle.end(EndReason::UserLeft);
                handle.wait().await;
                calls_ended.one_more();
                match until {
                    Some(t) if Instant::now() < t => continue,
                    _ => break,
                }
            }
            answered
        }));
    }
    // All sessions exist now: this is the memory of `sessions` live sessions.
    barrier.wait().await;
    let live = procinfo::sample().rss_bytes;
    let all_talking = {
        let calls_ended = calls_ended.clone();
        tokio::spawn(async move { busy::while_all_talk(stagger, &calls_ended).await })
    };
    let mut completed = 0;
    for t in tasks {
        completed += t.await.unwrap_or(0);
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = procinfo::sample().cpu_seconds - cpu_before;
    let machine = procinfo::machine_cpu_seconds();
    // Every call has ended, so the window has (or there was none).
    let busy_while_all_talk = all_talking.await.ok().flatten();
    let _ = stop_sampling.send(true);
    if let Some(s) = sampler {
        let _ = s.await;
    }
    let events = app.ctx.sink.stats().accepted();
    let dropped = app.ctx.sink.stats().dropped();
    let mirror_dropped = report::mirror_drops(&app.ctx.metrics.render_for_test());
    let sessions_run = progress.sessions_started.load(Ordering::Relaxed) as usize;
    app.shutdown("loadgen finished").await;
    let hwm = procinfo::peak_rss_bytes().max(live);
    let lat = collector.await.unwrap_or_default();
    let per_session_kb =
        |bytes: u64| bytes.saturating_sub(baseline) as f64 / 1024.0 / sessions.max(1) as f64;
    Ok(LoadReport {
        sessions,
        realtime,
        stagger_ms: stagger.as_millis() as u64,
        turns_planned: sessions_run.max(sessions) * turns,
        turns_completed: completed,
        wall_seconds: wall,
        p50_ms: lat.percentile(50.0),
        p95_ms: lat.percentile(95.0),
        p99_ms: lat.percentile(99.0),
        max_ms: lat.max(),
        rss_baseline_mb: baseline as f64 / 1048576.0,
        baseline: report::BaselineReport {
            anon_mb: settled.parts.anon as f64 / 1048576.0,
            file_mb: settled.parts.file as f64 / 1048576.0,
            shmem_mb: settled.parts.shmem as f64 / 1048576.0,
            brokers_connected: settled.brokers_connected,
            waited_ms: settled.waited.as_millis() as u64,
        },
        rss_live_mb: live as f64 / 1048576.0,
        rss_per_session_kb: per_session_kb(live),
        rss_peak_mb: hwm as f64 / 1048576.0,
        rss_peak_per_session_kb: per_session_kb(hwm),
        cpu_cores: if wall > 0.0 { cpu / wall } else { 0.0 },
        machine_cores_busy: machine.cores_busy_since(&machine_before),
        machine_cores: machine.cores,
        busy_while_all_talk,
        events,
        sink_dropped: dropped,
        mirror_dropped,
        speech_gaps: report::speech_gaps(&gaps_before),
    })
}
