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
use arc_models::install::convert_ct2_to_ggml;
use arc_models::pool::InferencePool;
use arc_models::whisper::{WhisperOptions, WhisperStt, TINY_EN_CT2_DIR, TINY_EN_GGML_FILE};
use arc_testkit::utterance::espeak;
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const UTTERANCE: &str = "Please call me back when you get home tonight, and bring some bread.";

/// Where `arc-agent models fetch` installed the models (the same rule).
fn models_dir() -> PathBuf {
    arc_models::manifest::default_models_dir()
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

fn bench_stt(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let path = model_path(&tmp);
    let audio: Arc<[f32]> = espeak(UTTERANCE).voice("en-us").samples_16k().into();
    let audio_s = audio.len() as f64 / 16_000.0;
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());

    // The default set-up: a pool slot per core, one thread per decode (ggml's
    // spinning threads degrade badly when the cores are shared, one is robust).
    let before = rss_bytes();
    let stt = WhisperStt::load(&path, WhisperOptions::default(), InferencePool::per_core())
        .unwrap_or_else(|e| panic!("{e}"));
    let loaded = rss_bytes();
    // Every core on one decode: the best latency on an idle machine.
    let options = WhisperOptions {
        threads_per_job: Some(cores),
        ..WhisperOptions::default()
    };
    let stt_all_cores =
        WhisperStt::load(&path, options, InferencePool::new(1)).unwrap_or_else(|e| panic!("{e}"));

    let transcribe = |stt: &WhisperStt, kind| {
        rt.block_on(stt.transcribe(audio.clone(), kind, CancellationToken::new()))
            .unwrap_or_else(|e| panic!("transcribe: {e}"))
    };
    let first = transcribe(&stt, TranscribeKind::Final);
    println!(
        "utterance: {audio_s:.2} s of espeak speech -> {:?} (confidence {:.2})",
        first.text, first.confidence
    );

    let mut group = c.benchmark_group("stt");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("whisper_tiny_en_final_4s_1_thread", |b| {
        b.iter(|| transcribe(&stt, TranscribeKind::Final));
    });
    group.finish();

    // The real-time factor (decode time / audio duration), measured directly.
    let runs = 5;
    for (label, engine, kind) in [
        ("final, 1 thread", &stt, TranscribeKind::Final),
        ("partial, 1 thread", &stt, TranscribeKind::Partial),
        ("final, all cores", &stt_all_cores, TranscribeKind::Final),
    ] {
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                transcribe(engine, kind);
                t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[runs / 2];
        println!(
            "stt real-time factor ({label}): {:.3} (median {:.0} ms per {audio_s:.2} s utterance, best {:.0} ms)",
            median / audio_s,
            median * 1000.0,
            times[0] * 1000.0
        );
    }
    let after = rss_bytes();
    println!(
        "rss: {:.1} MiB before load, +{:.1} MiB for the model and its first state, \
         +{:.1} MiB more after all the decodes above (a second engine included)",
        mib(before),
        mib(loaded.saturating_sub(before)),
        mib(after.saturating_sub(loaded))
    );
    println!(
        "on {cores} cores; {} whisper states alive in the default engine",
        stt.states_alive()
    );
}

criterion_group!(benches, bench_stt);
criterion_main!(benches);
