//! Whisper STT against the real tiny.en model: the CTranslate2 model from
//! `arc-agent models fetch` is converted to ggml here (so the converter's
//! output is what gets loaded), then speech synthesised by `espeak-ng`, at
//! several sample rates and channel counts, is decoded, resampled and
//! transcribed. No fakes: a missing model fails the tests, with the fix.
//!
//! One model is shared by every test in this file (loading is the slow part).

use arc_actors::engine::{CancellationToken, EngineError, SttEngine, TranscribeKind, Transcript};
use arc_models::audio::decode_wav;
use arc_models::install::{convert_ct2_to_ggml, ConvertSummary};
use arc_models::pool::InferencePool;
use arc_models::wer::{corpus_wer, word_error_rate};
use arc_models::whisper::{WhisperOptions, WhisperStt, TINY_EN_CT2_DIR};
use arc_testkit::speech::SENTENCES;
use arc_testkit::utterance::{espeak, Espeak};
use arc_testkit::wav::load_16k;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// (sample rate, channels) variants. Sentence `i` is transcribed at variants
/// `i`, `i + 2` and `i + 4` (mod 6): every rate for every sentence, mono and
/// stereo alternating, each variant used equally often.
const VARIANTS: &[(u32, u32)] = &[
    (16_000, 1),
    (22_050, 1),
    (48_000, 1),
    (16_000, 2),
    (22_050, 2),
    (48_000, 2),
];

struct Shared {
    stt: Arc<WhisperStt>,
    summary: ConvertSummary,
    convert_time: Duration,
    load_time: Duration,
}

/// The model, converted and loaded once; every test fails with the reason
/// (and the command to fix it) when that is impossible.
fn shared() -> &'static Shared {
    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
    match SHARED.get_or_init(load_shared) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn load_shared() -> Result<Shared, String> {
    let (stt, summary, convert_time, load_time) =
        convert_and_load(InferencePool::new(2), WhisperOptions::default())?;
    Ok(Shared {
        stt: Arc::new(stt),
        summary,
        convert_time,
        load_time,
    })
}

/// Converts the fetched CT2 model into a temporary directory and loads it
/// (whisper.cpp reads the whole file at load, so the directory can go then).
fn convert_and_load(
    pool: Arc<InferencePool>,
    options: WhisperOptions,
) -> Result<(WhisperStt, ConvertSummary, Duration, Duration), String> {
    let src = arc_models::manifest::default_models_dir().join(TINY_EN_CT2_DIR);
    for file in ["model.bin", "vocabulary.txt"] {
        if !src.join(file).is_file() {
            return Err(format!(
                "the whisper model is not installed ({} is missing); run: arc-agent models fetch",
                src.join(file).display()
            ));
        }
    }
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let out = tmp.path().join("ggml-tiny.en.bin");
    let t = Instant::now();
    let summary = convert_ct2_to_ggml(&src, &out).map_err(|e| format!("conversion failed: {e}"))?;
    let convert_time = t.elapsed();
    let t = Instant::now();
    let stt = WhisperStt::load(&out, options, pool)
        .map_err(|e| format!("the converted model does not load: {e}"))?;
    Ok((stt, summary, convert_time, t.elapsed()))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (apt packages espeak-ng and sox are needed)")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `text` as espeak-ng says it here (22.05 kHz mono, en-us).
fn speak(text: &str) -> Espeak {
    espeak(text).voice("en-us")
}

/// `src` converted by sox to `rate` Hz and `channels` channels.
fn sox(src: &Path, rate: u32, channels: u32, dst: &Path) {
    run(Command::new("sox")
        .arg(src)
        .args([
            "-r",
            &rate.to_string(),
            "-c",
            &channels.to_string(),
            "-b",
            "16",
        ])
        .arg(dst));
}

/// Each sentence as 16 kHz mono (from espeak's own 22.05 kHz output).
fn sentences_16k() -> Vec<Vec<f32>> {
    SENTENCES.iter().map(|s| speak(s).samples_16k()).collect()
}

async fn transcribe(samples: Vec<f32>, kind: TranscribeKind) -> (Transcript, Duration) {
    let t = Instant::now();
    let out = shared()
        .stt
        .transcribe(samples.into(), kind, CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("transcribe failed: {e}"));
    (out, t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converter_output_loads_with_the_right_shape() {
    let s = shared();
    let hp = s.summary.hparams;
    println!(
        "converted in {:?} ({} bytes, {} tensors, {} tokens), loaded in {:?}",
        s.convert_time, s.summary.bytes, s.summary.tensors, s.summary.tokens, s.load_time
    );
    assert_eq!(
        (
            hp.n_vocab,
            hp.n_audio_ctx,
            hp.n_audio_state,
            hp.n_audio_head,
            hp.n_audio_layer
        ),
        (51864, 1500, 384, 6, 4)
    );
    assert_eq!(
        (
            hp.n_text_ctx,
            hp.n_text_state,
            hp.n_text_head,
            hp.n_text_layer,
            hp.n_mels
        ),
        (448, 384, 6, 4, 80)
    );
    assert_eq!(s.summary.tokens, 50_256);
    assert_eq!(s.summary.ftype, 1);
    assert_eq!(s.summary.tensors, 11 + 15 * 4 + 24 * 4);
    assert_eq!(s.stt.model(), "whisper-tiny.en");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn espeak_sentences_at_every_rate_and_layout_transcribe_accurately() {
    let stt = shared().stt.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for (i, sentence) in SENTENCES.iter().enumerate() {
        let base = dir.path().join(format!("s{i}.wav"));
        speak(sentence).wav(&base);
        for k in [0, 2, 4] {
            let (rate, channels) = VARIANTS[(i + k) % VARIANTS.len()];
            let wav = dir.path().join(format!("s{i}_{rate}_{channels}.wav"));
            sox(&base, rate, channels, &wav);
            let decoded = decode_wav(&std::fs::read(&wav).unwrap()).unwrap();
            assert_eq!(
                (decoded.sample_rate, u32::from(decoded.channels)),
                (rate, channels)
            );
            let samples = load_16k(&wav);
            inputs.push((i, rate, channels, samples));
        }
    }
    // Two at a time (the pool's two slots, sharing its two whisper states), so
    // each time below is one decode on one core, not time spent queueing.
    let mut results = Vec::new();
    for pair in inputs.chunks(2) {
        let jobs: Vec<_> = pair
            .iter()
            .cloned()
            .map(|(i, rate, channels, samples)| {
                let stt = stt.clone();
                tokio::spawn(async move {
                    let audio_s = samples.len() as f64 / 16_000.0;
                    let t = Instant::now();
                    let out = stt
                        .transcribe(
                            samples.into(),
                            TranscribeKind::Final,
                            CancellationToken::new(),
                        )
                        .await;
                    (i, rate, channels, audio_s, t.elapsed(), out)
                })
            })
            .collect();
        for job in jobs {
            results.push(job.await.unwrap());
        }
    }
    let mut pairs = Vec::new();
    let mut decode_total = Duration::ZERO;
    let mut audio_total = 0.0;
    println!(
        "{:<4} {:>6} {:>3} {:>6} {:>8} {:>5}  text",
        "sent", "rate", "ch", "audio", "decode", "wer"
    );
    for (i, rate, channels, audio_s, took, out) in results {
        let out = out.unwrap_or_else(|e| panic!("sentence {i} at {rate} Hz x{channels}: {e}"));
        let wer = word_error_rate(SENTENCES[i], &out.text);
        println!(
            "{i:<4} {rate:>6} {channels:>3} {audio_s:>5.2}s {:>7.0}ms {:>4.0}%  {:?} (confidence {:.2})",
            took.as_secs_f64() * 1000.0,
            wer * 100.0,
            out.text,
            out.confidence
        );
        assert!(
            (0.0..=1.0).contains(&out.confidence),
            "confidence {}",
            out.confidence
        );
        decode_total += took;
        audio_total += audio_s;
        pairs.push((SENTENCES[i].to_string(), out.text));
    }
    let overall = corpus_wer(&pairs);
    println!(
        "corpus WER {:.1}% over {} transcriptions; {:.1}s of audio, mean decode {:.0} ms (real-time factor {:.2}, 1 thread each, 2 at a time)",
        overall * 100.0,
        pairs.len(),
        audio_total,
        decode_total.as_secs_f64() * 1000.0 / pairs.len() as f64,
        decode_total.as_secs_f64() / audio_total
    );
    assert!(
        overall <= 0.20,
        "corpus WER {:.1}% is above 20%",
        overall * 100.0
    );
    assert!(
        stt.states_alive() <= 2,
        "{} whisper states for a pool of 2",
        stt.states_alive()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_transcripts_work_too() {
    let samples = speak(SENTENCES[1]).samples_16k();
    let (out, took) = transcribe(samples, TranscribeKind::Partial).await;
    println!("partial in {took:?}: {:?}", out.text);
    assert!(
        word_error_rate(SENTENCES[1], &out.text) <= 0.2,
        "{:?}",
        out.text
    );
    assert!(out.confidence > 0.0 && out.confidence <= 1.0);
    // How sure it is of the last word, which the end of turn weighs.
    let last = out
        .last_word_confidence
        .unwrap_or_else(|| panic!("the last word's confidence of {:?}", out.text));
    assert!(last > 0.0 && last <= 1.0, "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_and_tiny_inputs_give_an_empty_transcript() {
    for (what, samples) in [
        ("2 s of zeros", vec![0.0f32; 32_000]),
        (
            "2 s of very faint noise",
            (0..32_000)
                .map(|i| ((i * 7919) % 200) as f32 * 1e-6 - 1e-4)
                .collect(),
        ),
        ("no samples", Vec::new()),
        (
            "50 ms of a tone",
            (0..800).map(|i| (i as f32 * 0.1).sin() * 0.5).collect(),
        ),
    ] {
        let (out, _) = transcribe(samples, TranscribeKind::Final).await;
        assert_eq!(out.text, "", "{what}");
        assert_eq!(out.confidence, 0.0, "{what}");
        assert_eq!(out.last_word_confidence, None, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nan_samples_do_not_panic() {
    let (out, _) = transcribe(vec![f32::NAN; 16_000], TranscribeKind::Final).await;
    assert_eq!(out.text, "");
    let mut samples = speak(SENTENCES[4]).samples_16k();
    for s in samples.iter_mut().step_by(97) {
        *s = f32::NAN;
    }
    samples[10] = f32::INFINITY;
    samples[20] = f32::NEG_INFINITY;
    let (out, _) = transcribe(samples, TranscribeKind::Final).await;
    println!("with NaN sprinkled: {:?}", out.text);
    assert!(out.confidence.is_finite());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_token_is_cancelled() {
    let cancel = CancellationToken::new();
    cancel.cancel();
    let r = shared()
        .stt
        .transcribe(vec![0.1f32; 32_000].into(), TranscribeKind::Final, cancel)
        .await;
    assert_eq!(r, Err(EngineError::Cancelled));
}

/// 60 s of continuous speech: cut into ≤30 s windows, decoded and joined;
/// then the same decode cancelled early, which must stop it long before its
/// end and leave the engine working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_seconds_of_speech_transcribe_and_cancel_early() {
    // An engine of its own (one slot, one state, one thread), so its timings
    // are not queueing behind the other tests' jobs.
    let options = WhisperOptions {
        threads_per_job: Some(1),
        ..WhisperOptions::default()
    };
    let (stt, ..) =
        convert_and_load(InferencePool::new(1), options).unwrap_or_else(|e| panic!("{e}"));
    let sentences = sentences_16k();
    let gap = vec![0.0f32; 16_000 * 3 / 10];
    let (mut audio, mut reference) = (Vec::new(), Vec::new());
    let mut i = 0;
    while audio.len() < 60 * 16_000 {
        audio.extend_from_slice(&sentences[i % SENTENCES.len()]);
        audio.extend_from_slice(&gap);
        reference.push(SENTENCES[i % SENTENCES.len()]);
        i += 1;
    }
    let audio: Arc<[f32]> = audio.into();
    let secs = audio.len() as f64 / 16_000.0;

    let t = Instant::now();
    let out = stt
        .transcribe(
            audio.clone(),
            TranscribeKind::Final,
            CancellationToken::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("60 s decode failed: {e}"));
    let full = t.elapsed();
    let wer = word_error_rate(&reference.join(" "), &out.text);
    println!(
        "{secs:.1}s of speech ({i} sentences) in {full:?}: WER {:.1}%\n{}",
        wer * 100.0,
        out.text
    );
    assert!(!out.text.is_empty());
    assert!(wer <= 0.25, "WER {:.1}% on the long recording", wer * 100.0);

    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.cancel();
    });
    let t = Instant::now();
    let r = stt.transcribe(audio, TranscribeKind::Final, cancel).await;
    let cancelled = t.elapsed();
    println!("the same decode cancelled at 300 ms returned after {cancelled:?}");
    assert_eq!(r, Err(EngineError::Cancelled));
    // whisper.cpp checks the abort hook after the encoder and at each decoder
    // step, and we check between windows: what remains is the first window's
    // encoder pass (about half the work of two full 30 s windows, at worst).
    assert!(
        cancelled.as_secs_f64() < full.as_secs_f64() * 0.75,
        "cancelled decode took {cancelled:?}, the whole one {full:?}"
    );

    let after = stt
        .transcribe(
            speak(SENTENCES[5]).samples_16k().into(),
            TranscribeKind::Final,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        word_error_rate(SENTENCES[5], &after.text),
        0.0,
        "{:?}",
        after.text
    );
    assert_eq!(
        stt.states_alive(),
        1,
        "the aborted state is reused, not replaced"
    );
}
