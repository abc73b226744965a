//! Whisper STT speed: the real-time factor (decode time / audio duration) on a
//! ~4 s espeak-ng utterance, and the memory the model and its decoding states
//! take (RSS growth).
//!
//! Uses `<models_dir>/whisper-tiny.en/ggml-tiny.en.bin` when present, else
//! converts the fetched CTranslate2 model into a temporary directory. Needs the
//! model (`arc-agent models fetch`) and the `espeak-ng` command.
//!
//! Run: `cargo bench -p arc-models --bench stt`

use arc_actors::engine::{CancellationToken, SttEngine, TranscribeKind};
use arc_models::audio::{decode_wav, resample};
use arc_models::pool::InferencePool;
use arc_models::whisper::{
    convert_ct2_to_ggml, WhisperOptions, WhisperStt, TINY_EN_CT2_DIR, TINY_EN_GGML_FILE,
};
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const UTTERANCE: &str = "Please call me back when you get home tonight, and bring some bread.";

fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ARC_MODELS_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/arc/models")
}

/// Resident set size of this process, from /proc (0 where unavailable).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The ggml model: the installed one, or a fresh conversion kept in `tmp`.
fn model_path(tmp: &tempfile::TempDir) -> PathBuf {
    let installed = models_dir().join(TINY_EN_GGML_FILE);
    if installed.is_file() {
        return installed;
    }
    let src = models_dir().join(TINY_EN_CT2_DIR);
    let out = tmp.path().join("ggml-tiny.en.bin");
    if let Err(e) = convert_ct2_to_ggml(&src, &out) {
        panic!("no whisper model ({e}); run: arc-agent models fetch");
    }
    out
}

fn utterance_16k(tmp: &tempfile::TempDir) -> Vec<f32> {
    let wav = tmp.path().join("utterance.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&wav)
        .arg(UTTERANCE)
        .status()
        .unwrap_or_else(|e| panic!("cannot run espeak-ng: {e}"));
    assert!(status.success(), "espeak-ng failed");
    let bytes = std::fs::read(&wav).unwrap_or_else(|e| panic!("read {}: {e}", wav.display()));
    let audio = decode_wav(&bytes).unwrap_or_else(|e| panic!("decode: {e}"));
    resample(&audio.samples, audio.sample_rate, 16_000).unwrap_or_else(|e| panic!("resample: {e}"))
}

fn bench_stt(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let path = model_path(&tmp);
    let audio: Arc<[f32]> = utterance_16k(&tmp).into();
    let audio_s = audio.len() as f64 / 16_000.0;
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());

    // One slot using every core: the latency of a single utterance.
    let before = rss_bytes();
    let options = WhisperOptions {
        threads_per_job: Some(cores),
        ..WhisperOptions::default()
    };
    let stt =
        WhisperStt::load(&path, options, InferencePool::new(1)).unwrap_or_else(|e| panic!("{e}"));
    let loaded = rss_bytes();

    let transcribe = |kind| {
        let audio = audio.clone();
        let stt = &stt;
        async move {
            stt.transcribe(audio, kind, CancellationToken::new())
                .await
                .unwrap_or_else(|e| panic!("transcribe: {e}"))
        }
    };
    let first = rt.block_on(transcribe(TranscribeKind::Final));
    println!(
        "utterance: {audio_s:.2} s of espeak speech -> {:?} (confidence {:.2})",
        first.text, first.confidence
    );

    let mut group = c.benchmark_group("stt");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    for (name, kind) in [
        ("whisper_tiny_en_final_4s", TranscribeKind::Final),
        ("whisper_tiny_en_partial_4s", TranscribeKind::Partial),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| transcribe(kind));
        });
    }
    group.finish();

    // The real-time factor, measured directly as well (criterion reports time).
    let runs = 5;
    let t = Instant::now();
    for _ in 0..runs {
        rt.block_on(transcribe(TranscribeKind::Final));
    }
    let per = t.elapsed().as_secs_f64() / f64::from(runs);
    println!(
        "stt real-time factor: {:.3} ({:.0} ms per {audio_s:.2} s utterance, {cores} threads)",
        per / audio_s,
        per * 1000.0
    );
    let after = rss_bytes();
    println!(
        "rss: {:.1} MiB before load, +{:.1} MiB for the model and its first state, \
         +{:.1} MiB more after all the decodes above (one state, reused)",
        mib(before),
        mib(loaded.saturating_sub(before)),
        mib(after.saturating_sub(loaded))
    );
}

criterion_group!(benches, bench_stt);
criterion_main!(benches);
