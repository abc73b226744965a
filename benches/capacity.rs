//! How many conversations one node carries with the real models (issue 16):
//! 1, 2, 4 and 8 callers talking at once to one node with Silero VAD, the
//! turn model, whisper tiny.en, the local brain (llama.cpp's server,
//! SmolLM2-135M) and piper, every caller at microphone pace (a 20 ms frame
//! every 20 ms, silence between its questions), each asking its questions
//! one after another and waiting for the whole answer to be played before
//! the next. The measure is what a caller feels: from its last word to the
//! first agent audio of the answer (voice to voice), per turn; the goal is
//! p95 under 1.5 s. Also what a caller hears inside the answers: the
//! silences of 20 ms or more where the agent's speech stopped mid-reply
//! (`arc_playout_gap_seconds`), by cause.
//!
//!   cargo bench --profile dev --bench capacity
//!   ARC_BENCH_TALKERS=1,2 ARC_BENCH_TURNS=2 cargo bench --profile dev --bench capacity
//!
//! Callers start 700 ms apart (people do not all stop talking in the same
//! 20 ms). Needs the models and the llama.cpp runtime (`arc-agent models fetch`).

use arc_actors::audio::AudioFrame;
use arc_actors::events::Event;
use arc_actors::pcm16::Pcm16Frame;
use arc_actors::playout_gaps::playout_gaps;
use arc_actors::session::{AudioOutput, EndReason, SessionNotice};
use arc_actors::sink::EventSink;
use arc_agent::config::Config;
use arc_agent::procinfo;
use arc_agent::LocalEngines;
use arc_testkit::utterance::espeak;
use arc_testkit::InProcessNode;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const QUESTIONS: [&str; 4] = [
    "Hi, what should I cook for dinner tonight?",
    "Can you tell me when the store opens tomorrow?",
    "I would like to book a table for two people.",
    "What is the weather like this weekend?",
];

/// One caller's ear: when each turn's first audio came, when it ended, and
/// which turns were answered with the brain's fallback (a timeout).
#[derive(Default)]
struct Ear {
    fallback: String,
    first_audio: Mutex<HashMap<u64, Instant>>,
    done: Mutex<Vec<(u64, Instant)>>,
    fell_back: Mutex<Vec<u64>>,
}

impl AudioOutput for Ear {
    fn play(&self, turn: u64, _frame: Pcm16Frame) {
        self.first_audio
            .lock()
            .entry(turn)
            .or_insert_with(Instant::now);
    }
    fn flush(&self) {}
    fn notice(&self, notice: SessionNotice) {
        match notice {
            SessionNotice::AgentTurnDone { turn, .. } => {
                self.done.lock().push((turn, Instant::now()));
            }
            SessionNotice::AgentSentence { turn, text } if text == self.fallback => {
                self.fell_back.lock().push(turn);
            }
            _ => {}
        }
    }
}

/// The index just past the question's last loud frame (its end of speech).
fn speech_end(frames: &[AudioFrame]) -> usize {
    frames
        .iter()
        .rposition(|f| {
            let e = f.samples.iter().map(|s| s * s).sum::<f32>() / f.samples.len().max(1) as f32;
            e.sqrt() > 0.01
        })
        .map_or(frames.len(), |i| i + 1)
}

struct Turn {
    /// End of speech → first agent audio.
    voice_to_voice: Option<Duration>,
    /// Answered with the fallback (the LLM did not answer in time).
    fallback: bool,
}

/// One caller: `turns` questions, each followed by silence until the answer
/// has been played and one more second.
async fn caller(
    node: Arc<InProcessNode>,
    cfg: arc_actors::session::SessionConfig,
    questions: Arc<Vec<Vec<AudioFrame>>>,
    first: usize,
    turns: usize,
) -> Vec<Turn> {
    let ear = Arc::new(Ear {
        fallback: cfg.brain.fallback_text.clone(),
        ..Default::default()
    });
    let session = node
        .start_session(cfg, ear.clone())
        .await
        .expect("session starts");
    let silence = || AudioFrame::new(16_000, vec![0.0; 320]);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut out = Vec::new();
    for t in 0..turns {
        let q = &questions[(first + t) % questions.len()];
        let end = speech_end(q);
        let mut spoke_at = None;
        for (i, f) in q.iter().enumerate() {
            tick.tick().await;
            session.push_audio_wait(f.clone()).await;
            if i + 1 == end {
                spoke_at = Some(Instant::now());
            }
        }
        let spoke_at = spoke_at.unwrap_or_else(Instant::now);
        // The microphone goes on (silence) until the answer was played.
        let done_before = ear.done.lock().len();
        let deadline = Instant::now() + Duration::from_secs(60);
        while ear.done.lock().len() == done_before && Instant::now() < deadline {
            tick.tick().await;
            session.push_audio_wait(silence()).await;
        }
        let turn = ear.done.lock().get(done_before).map(|d| d.0);
        let voice_to_voice = turn
            .and_then(|turn| ear.first_audio.lock().get(&turn).copied())
            .map(|at| at.saturating_duration_since(spoke_at));
        let fallback = turn.is_some_and(|t| ear.fell_back.lock().contains(&t));
        out.push(Turn {
            voice_to_voice,
            fallback,
        });
        for _ in 0..50 {
            tick.tick().await;
            session.push_audio_wait(silence()).await;
        }
    }
    session.end(EndReason::UserLeft);
    let _ = session.wait().await;
    out
}

fn main() {
    // RUST_LOG=warn,arc_actors::session::stt=debug shows each turn's verdict.
    if std::env::var_os("RUST_LOG").is_some() {
        arc_testkit::init_logs();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let talkers: Vec<usize> = std::env::var("ARC_BENCH_TALKERS")
        .unwrap_or_else(|_| "1,2,4,8".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let turns: usize = std::env::var("ARC_BENCH_TURNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let mut cfg = Config::load(None).expect("config");
    cfg.engines.profile = arc_agent::config::EngineProfile::Local;
    let engines = rt
        .block_on(LocalEngines::load(&cfg))
        .expect("models (run scripts/setup.sh)");
    let mut node = rt.block_on(
        InProcessNode::builder()
            .provider(Arc::new(engines))
            .service("arc-bench")
            .max_sessions(100)
            .sink_capacity(1 << 16)
            .start(),
    );
    // Each turn's record: where its time went (endpoint → transcript, the
    // LLM, the TTS's first chunk).
    let stages: Arc<Mutex<Vec<(u64, u64, u64)>>> = Arc::default();
    {
        let (_, none) = EventSink::new(1);
        let mut events = std::mem::replace(&mut node.events, none);
        let stages = stages.clone();
        rt.spawn(async move {
            while let Some(ev) = events.recv().await {
                if let Event::Conversation(c) = &*ev {
                    let p = &c.performance;
                    stages
                        .lock()
                        .push((p.stt_latency_ms, p.llm_latency_ms, p.tts_latency_ms));
                }
            }
        });
    }
    let node = Arc::new(node);
    let questions: Arc<Vec<Vec<AudioFrame>>> = Arc::new(
        QUESTIONS
            .iter()
            .map(|q| espeak(q).speed(160).frames())
            .collect(),
    );
    // Warm-up: the first answer loads what the models load lazily.
    rt.block_on(caller(
        node.clone(),
        cfg.session_config(),
        questions.clone(),
        0,
        1,
    ));

    println!(
        "capacity: talkers, turns answered / asked, end of speech → first agent audio p50 / p95 / max (ms), CPU cores busy (this process; the whole machine)"
    );
    for &n in &talkers {
        stages.lock().clear();
        let gaps_before = playout_gaps().all();
        let cpu_before = procinfo::sample().cpu_seconds;
        // The whole machine: the node and its llama.cpp server child together.
        let machine_before = procinfo::machine_cpu_seconds();
        let started = Instant::now();
        let results: Vec<Turn> = rt.block_on(async {
            let mut tasks = Vec::new();
            for i in 0..n {
                let (node, cfg, questions) =
                    (node.clone(), cfg.session_config(), questions.clone());
                tasks.push(tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(700 * i as u64)).await;
                    caller(node, cfg, questions, i, turns).await
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.expect("caller"));
            }
            all
        });
        let secs = started.elapsed().as_secs_f64();
        let cores = (procinfo::sample().cpu_seconds - cpu_before) / secs;
        let machine =
            (procinfo::machine_cpu_seconds().busy_seconds - machine_before.busy_seconds) / secs;
        let mut v2v: Vec<u64> = results
            .iter()
            .filter_map(|t| t.voice_to_voice.map(|d| d.as_millis() as u64))
            .collect();
        v2v.sort_unstable();
        let pct = |p: f64| {
            v2v.get(((v2v.len().max(1) - 1) as f64 * p).round() as usize)
                .copied()
                .unwrap_or(0)
        };
        let fallbacks = results.iter().filter(|t| t.fallback).count();
        println!(
            "capacity/{n}_talkers: {} / {} answered ({fallbacks} with the fallback: the LLM timed out); voice to voice p50 {} ms, p95 {} ms, max {} ms; cores busy: node {cores:.2}, machine {machine:.2} (with the LLM server); samples {v2v:?}",
            v2v.len(),
            n * turns,
            pct(0.5),
            pct(0.95),
            v2v.last().copied().unwrap_or(0),
        );
        let gaps: Vec<String> = playout_gaps()
            .all()
            .iter()
            .zip(&gaps_before)
            .map(|((cause, now), (_, then))| {
                let run = now.since(then);
                format!(
                    "{} {} ({} over 100 ms, {:.1} s in all)",
                    cause.label(),
                    run.count,
                    run.count_above(0.1),
                    run.sum
                )
            })
            .collect();
        println!(
            "capacity/{n}_talkers silences of 20 ms or more inside the agent's replies: {}",
            gaps.join(", ")
        );
        let stages = std::mem::take(&mut *stages.lock());
        let med = |mut v: Vec<u64>| {
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or(0)
        };
        println!(
            "capacity/{n}_talkers stages (p50): endpoint → transcript {} ms, LLM {} ms, TTS first chunk {} ms",
            med(stages.iter().map(|s| s.0).collect()),
            med(stages.iter().map(|s| s.1).collect()),
            med(stages.iter().map(|s| s.2).collect()),
        );
    }
}
