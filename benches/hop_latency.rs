//! In-process costs of the actor tree, with zero-time synthetic engines so
//! that only ARC's own overhead is measured:
//!
//! - `turn_hop`: the last frame of a user's utterance → the first agent audio
//!   frame at the transport (Transport → Stt → Brain → Tts → Transport:
//!   VAD endpointing, transcript, LLM stream, sentence cut, synthesis,
//!   playback), against a baseline in the same run: the same number of
//!   plain tokio channel hops between tasks.
//! - `session_spawn_stop`: start a session (supervisor + 5 children), end it
//!   and wait until it has stopped (session-metrics and session.ended emitted).

use arc_actors::audio::{AudioFrame, FRAME_SAMPLES_16K, STT_SAMPLE_RATE};
use arc_actors::endpoint::Endpointing;
use arc_actors::node::SessionSpec;
use arc_actors::session::{EndReason, SessionConfig, SessionNotice};
use arc_actors::synthetic::{EnergyVad, SyntheticProvider};
use arc_testkit::{InProcessNode, RecordingOutput};
use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn node() -> InProcessNode {
    let provider = SyntheticProvider {
        vad: EnergyVad {
            threshold: 0.02,
            rules: Endpointing {
                min_speech_ms: 20,
                silence_ms: 20,
            },
        },
        ..Default::default()
    };
    let mut node = InProcessNode::builder()
        .synthetic(provider)
        .service("bench")
        .max_sessions(100_000)
        .sink_capacity(1 << 16)
        .start()
        .await;
    node.drain_in_background();
    node
}

fn frame(level: f32) -> AudioFrame {
    AudioFrame::new(STT_SAMPLE_RATE, vec![level; FRAME_SAMPLES_16K])
}

fn turn_hop(c: &mut Criterion) {
    let rt = runtime();
    let (node, call) = rt.block_on(async {
        let node = node().await;
        let cfg = SessionConfig {
            stt: arc_actors::session::SttConfig {
                partial_interval_ms: 0,
                ..Default::default()
            },
            ..Default::default()
        };
        let script = vec!["hi".to_string(); 1_000_000];
        let call = node.scripted(cfg, script).await.expect("session");
        (node, call)
    });
    let (session, out) = (call.session.clone(), call.out.clone());
    let mut g = c.benchmark_group("turn_hop");
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("actor_tree_voice_loop", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let session = session.clone();
            let out = out.clone();
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    session.push_audio_wait(frame(0.3)).await;
                    session.push_audio_wait(frame(0.3)).await;
                    let first_audio = out.first_audio();
                    tokio::pin!(first_audio);
                    first_audio.as_mut().enable();
                    let t0 = Instant::now();
                    session.push_audio_wait(frame(0.0)).await; // ends the utterance
                    first_audio.await;
                    total += t0.elapsed();
                    // Let the reply finish before the next turn (no barge-in).
                    let turn = out.turns_done() + 1;
                    out.wait_for(Duration::from_secs(5), move |n| {
                        matches!(n, SessionNotice::AgentTurnDone { turn: t, .. } if *t >= turn)
                    })
                    .await;
                }
                total
            }
        })
    });
    // Baseline: 4 hops through plain tokio channels between tasks.
    g.bench_function("baseline_4_channel_hops", |b| {
        let (tx0, mut rx) = tokio::sync::mpsc::channel::<Instant>(16);
        for _ in 0..4 {
            // One task hands each value on to the next channel.
            let (tx, next) = tokio::sync::mpsc::channel::<Instant>(16);
            let mut from = rx;
            rt.spawn(async move {
                while let Some(v) = from.recv().await {
                    let _ = tx.send(v).await;
                }
            });
            rx = next;
        }
        let rx4 = Arc::new(tokio::sync::Mutex::new(rx));
        b.to_async(&rt).iter_custom(|iters| {
            let tx0 = tx0.clone();
            let rx4 = rx4.clone();
            async move {
                let mut rx = rx4.lock().await;
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t0 = Instant::now();
                    let _ = tx0.send(t0).await;
                    let _ = rx.recv().await;
                    total += t0.elapsed();
                }
                total
            }
        })
    });
    g.finish();
    rt.block_on(async {
        session.end(EndReason::UserLeft);
        session.wait().await;
        node.node.stop();
    });
}

fn session_spawn_stop(c: &mut Criterion) {
    let rt = runtime();
    let node = rt.block_on(node()).node;
    let mut g = c.benchmark_group("session");
    g.bench_function("spawn_and_stop", |b| {
        b.to_async(&rt).iter(|| {
            let node = node.clone();
            async move {
                let s = node
                    .start_session(SessionSpec {
                        config: SessionConfig::default(),
                        output: Arc::new(RecordingOutput::default()),
                    })
                    .await
                    .expect("session");
                s.end(EndReason::UserLeft);
                s.wait().await;
            }
        })
    });
    g.finish();
}

criterion_group!(benches, turn_hop, session_spawn_stop);
criterion_main!(benches);
