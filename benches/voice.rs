//! The real models on this machine (2 cores), through the same code the node runs:
//!
//! - `llm/first_token`, `llm/first_sentence`: the local brain (llama.cpp's
//!   server, SmolLM2-135M Q4_1, supervised as the node does), a spoken-style
//!   question with the seed's max_tokens 150 / temperature 0.7; tokens/s printed.
//! - `voice_to_voice/endpoint_to_first_audio`: a whole session with Silero VAD,
//!   whisper tiny.en, the local brain and piper: from the moment the VAD ends
//!   the user's turn to the first agent audio at the transport (the seed's
//!   `total_latency_ms`). The user's real end of speech is `engines.vad.silence_ms`
//!   earlier (printed).
//! - memory: RSS of the loaded models, and added per connected session.
//!
//! Needs the models and the llama.cpp runtime (`arc-agent models fetch`, run by scripts/setup.sh).

use arc_actors::engine::{CancellationToken, LlmEngine, LlmRequest};
use arc_actors::events::Event;
use arc_actors::sentence::SentenceSplitter;
use arc_actors::session::{EndReason, SessionNotice};
use arc_agent::config::Config;
use arc_agent::procinfo;
use arc_agent::LocalEngines;
use arc_models::llm::openai::OpenAiLlm;
use arc_testkit::llm;
use arc_testkit::utterance::espeak;
use arc_testkit::InProcessNode;
use criterion::{Criterion, SamplingMode};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn question() -> LlmRequest {
    llm::question("Hi, what should I cook for dinner tonight?", "")
}

/// (first token, first sentence, tokens, total) of one streamed answer.
async fn ask(llm: &OpenAiLlm) -> (Duration, Duration, u64, Duration) {
    let (tx, mut rx) = mpsc::channel(256);
    let t = Instant::now();
    let run = llm.stream(question(), tx, CancellationToken::new());
    let read = async {
        let mut first = None;
        let mut sentence = None;
        let mut splitter = SentenceSplitter::new();
        while let Some(p) = rx.recv().await {
            first.get_or_insert_with(|| t.elapsed());
            if sentence.is_none() && !splitter.push(&p).is_empty() {
                sentence = Some(t.elapsed());
            }
        }
        (first, sentence)
    };
    let (usage, (first, sentence)) = tokio::join!(run, read);
    let total = t.elapsed();
    let tokens = usage.map(|u| u.completion_tokens).unwrap_or(0);
    (
        first.unwrap_or(total),
        sentence.unwrap_or(total),
        tokens,
        total,
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Each iteration is a whole answer (seconds): one per sample.
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();

    // --- the local brain alone -------------------------------------------
    {
        let server = rt.block_on(llm::llama_server());
        let llm = llm::smollm2(server.base_url());
        let mut g = c.benchmark_group("llm");
        g.sampling_mode(SamplingMode::Flat);
        type Stage = fn(&(Duration, Duration, u64, Duration)) -> Duration;
        let stages: [(&str, Stage); 2] = [("first_token", |a| a.0), ("first_sentence", |a| a.1)];
        for (name, stage) in stages {
            g.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut sum = Duration::ZERO;
                        for _ in 0..iters {
                            sum += stage(&ask(&llm).await);
                        }
                        sum
                    })
                })
            });
        }
        g.finish();
        let (mut tokens, mut gen_time) = (0u64, Duration::ZERO);
        for _ in 0..5 {
            let (first, _, n, total) = rt.block_on(ask(&llm));
            tokens += n.saturating_sub(1);
            gen_time += total.saturating_sub(first);
        }
        println!(
            "llm/tokens_per_second: {:.1} (decode, after the first token; 5 answers, {tokens} tokens)",
            tokens as f64 / gen_time.as_secs_f64().max(1e-9)
        );
        rt.block_on(server.shutdown());
    }

    // --- voice to voice with every real engine -----------------------------
    let mut cfg = Config::load(None).expect("config");
    cfg.engines.profile = arc_agent::config::EngineProfile::Local;
    // The fixed silence rule, so end of speech is the endpoint + silence_ms
    // (the turn model's figures: the turn_taking bench, both rules side by side).
    cfg.engines.turn.enabled = false;
    let rss_before = procinfo::sample().rss_bytes;
    let engines = rt
        .block_on(LocalEngines::load(&cfg))
        .expect("models (run scripts/setup.sh)");
    let rss_models = procinfo::sample().rss_bytes;
    let mut node = rt.block_on(
        InProcessNode::builder()
            .provider(Arc::new(engines))
            .service("arc-bench")
            .max_sessions(10_000)
            .sink_capacity(1 << 16)
            .start(),
    );
    let frames = espeak("Hi, what should I cook for dinner tonight?").frames();
    let silence_ms = cfg.engines.vad.silence_ms;
    // ARC_BENCH_REALTIME=0 pushes the audio as fast as the session takes it.
    let realtime = std::env::var("ARC_BENCH_REALTIME").map_or(true, |v| v != "0");
    let mut v2v = Vec::new();
    let mut stages: Vec<(u64, u64, u64)> = Vec::new();
    let mut g = c.benchmark_group("voice_to_voice");
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("endpoint_to_first_audio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut sum = Duration::ZERO;
                for _ in 0..iters {
                    // A new conversation each time: every sample is a first turn.
                    let (session, out) = node
                        .recorded_session(cfg.session_config())
                        .await
                        .expect("session");
                    let before = out.turns_done();
                    // In real time, as a microphone sends it: the endpoint
                    // comes `silence_ms` after the last word, not at once.
                    let silence = (0..(silence_ms / 20 + 20))
                        .map(|_| arc_actors::audio::AudioFrame::new(16_000, vec![0.0; 320]));
                    let start = tokio::time::Instant::now();
                    for (i, f) in frames.iter().cloned().chain(silence).enumerate() {
                        if realtime {
                            tokio::time::sleep_until(start + Duration::from_millis(20 * i as u64))
                                .await;
                        }
                        session.push_audio_wait(f).await;
                    }
                    // The record comes once the reply has been played: a
                    // long reply takes its own length in real time.
                    let deadline = Instant::now() + Duration::from_secs(90);
                    while out.turns_done() <= before && Instant::now() < deadline {
                        out.wait_for(Duration::from_millis(200), |n| {
                            matches!(n, SessionNotice::AgentTurnDone { .. })
                        })
                        .await;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    // The turn's conversation-v1 carries endpoint → first audio.
                    let deadline = Instant::now() + Duration::from_secs(5);
                    let ms = loop {
                        if let Some(ev) = node.events.try_recv() {
                            if let Event::Conversation(c) = &*ev {
                                let p = &c.performance;
                                stages.push((p.stt_latency_ms, p.llm_latency_ms, p.tts_latency_ms));
                                break Some(p.total_latency_ms);
                            }
                            continue;
                        }
                        if Instant::now() > deadline {
                            break None;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    };
                    if ms.is_none() {
                        // Say why, so a missing record is never just a number.
                        eprintln!(
                            "voice_to_voice: no conversation record; turns done {}, heard {:?}, said {:?}",
                            out.turns_done() - before,
                            out.heard(),
                            out.sentences()
                        );
                    }
                    session.end(EndReason::UserLeft);
                    let _ = session.wait().await;
                    let ms = ms.unwrap_or(90_000);
                    v2v.push(ms);
                    sum += Duration::from_millis(ms);
                }
                sum
            })
        })
    });
    g.finish();
    v2v.sort_unstable();
    let pct = |p: f64| v2v[((v2v.len() - 1) as f64 * p) as usize];
    println!(
        "voice_to_voice: endpoint → first audio p50 {} ms, p95 {} ms over {} turns; \
         + {silence_ms} ms of endpointing silence = end of speech → first audio p50 {} ms",
        pct(0.5),
        pct(0.95),
        v2v.len(),
        pct(0.5) + silence_ms
    );

    println!("voice_to_voice samples (ms, sorted): {v2v:?}");
    println!("voice_to_voice stages per turn (stt, llm, tts first chunk ms): {stages:?}");
    let med = |mut v: Vec<u64>| {
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    println!(
        "voice_to_voice stages (p50): stt {} ms, llm whole reply {} ms, tts first chunk {} ms",
        med(stages.iter().map(|s| s.0).collect()),
        med(stages.iter().map(|s| s.1).collect()),
        med(stages.iter().map(|s| s.2).collect()),
    );

    // --- memory --------------------------------------------------------------
    let rss_one = procinfo::sample().rss_bytes;
    let extra: Vec<_> = (0..100)
        .map(|_| {
            rt.block_on(node.recorded_session(cfg.session_config()))
                .expect("session")
                .0
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let rss_101 = procinfo::sample().rss_bytes;
    println!(
        "memory: models loaded {:.0} MB (VAD + whisper + piper in process; the model server is a child), \
         {:.1} KB per connected session (100 idle sessions added)",
        (rss_models.saturating_sub(rss_before)) as f64 / 1048576.0,
        (rss_101.saturating_sub(rss_one)) as f64 / 1024.0 / 100.0
    );
    for s in extra.iter() {
        s.end(EndReason::UserLeft);
    }
    for s in extra {
        let _ = rt.block_on(s.wait());
    }
    c.final_summary();
}
