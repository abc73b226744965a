//! Piper TTS and Silero VAD costs on this machine, with the real models
//! (`arc-agent models fetch`; a missing model fails the bench with that fix):
//!
//! - `tts/two_sentence_reply`: whole synthesis of a short two-sentence reply;
//!   its real-time factor (synthesis time / audio time) is printed first.
//! - `tts/first_chunk`: time until the first audio chunk of that reply arrives
//!   (what a caller waits before hearing anything); the rest is cancelled.
//! - `vad/frame_20ms`: cost of one 20 ms frame through a Silero stream
//!   (a 512-sample model window every 1.6 frames, through the pool).

use arc_actors::audio::{AudioFrame, FRAME_SAMPLES_16K, STT_SAMPLE_RATE};
use arc_actors::engine::{CancellationToken, TtsEngine, VadEngine};
use arc_actors::pcm16::Pcm16Frame;
use arc_models::piper::PiperTts;
use arc_models::pool::InferencePool;
use arc_testkit::speech;
use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const REPLY: &str = "Sure, your table for two is booked for seven tonight. \
                     Is there anything else I can help you with?";

/// Synthesizes `text`; returns (time to first chunk, total time, audio ms).
async fn synth(tts: &PiperTts, text: &str, stop_after_first: bool) -> (Duration, Duration, u64) {
    let (tx, mut rx) = mpsc::channel::<Pcm16Frame>(1024);
    let cancel = CancellationToken::new();
    let start = Instant::now();
    let consumer = {
        let cancel = cancel.clone();
        async move {
            let mut first = None;
            let mut ms = 0;
            while let Some(c) = rx.recv().await {
                first.get_or_insert_with(|| start.elapsed());
                ms += c.duration_ms();
                if stop_after_first {
                    cancel.cancel();
                }
            }
            (first.unwrap_or_default(), ms)
        }
    };
    let (_, (first, ms)) = tokio::join!(tts.synthesize(text, tx, cancel.clone()), consumer);
    (first, start.elapsed(), ms)
}

fn bench_tts(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tts = Arc::new(speech::piper(InferencePool::per_core()));
    let (first, total, ms) = rt.block_on(synth(&tts, REPLY, false));
    println!(
        "tts: {ms} ms of audio in {total:?}: RTF {:.3}, first chunk after {first:?}",
        total.as_secs_f64() * 1000.0 / ms as f64
    );
    let mut group = c.benchmark_group("tts");
    group.sample_size(10);
    group.bench_function("two_sentence_reply", |b| {
        b.to_async(&rt).iter(|| synth(&tts, REPLY, false))
    });
    group.bench_function("first_chunk", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let tts = tts.clone();
            async move {
                let mut sum = Duration::ZERO;
                for _ in 0..iters {
                    sum += synth(&tts, REPLY, true).await.0;
                }
                sum
            }
        })
    });
    group.finish();
}

fn bench_vad(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let vad = speech::silero(InferencePool::per_core());
    // The model's cost does not depend on the content: a voiced-like tone will do.
    let tone: Vec<f32> = (0..STT_SAMPLE_RATE as usize)
        .map(|i| {
            let t = i as f32 / STT_SAMPLE_RATE as f32;
            0.3 * (2.0 * std::f32::consts::PI * 180.0 * t).sin()
                + 0.05 * (2.0 * std::f32::consts::PI * 2_300.0 * t).sin()
        })
        .collect();
    let frames: Vec<AudioFrame> = tone
        .chunks_exact(FRAME_SAMPLES_16K)
        .map(|c| AudioFrame::new(STT_SAMPLE_RATE, c.to_vec()))
        .collect();
    let mut group = c.benchmark_group("vad");
    group.sample_size(10);
    group.bench_function("frame_20ms", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let mut stream = vad.stream();
            let frames = frames.clone();
            async move {
                let start = Instant::now();
                for i in 0..iters as usize {
                    let _ = stream.push(&frames[i % frames.len()]).await;
                }
                start.elapsed()
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_tts, bench_vad);
criterion_main!(benches);
