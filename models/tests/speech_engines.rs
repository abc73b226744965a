//! Silero VAD, Piper TTS and Opus against the real models from
//! `arc-agent models fetch`. No fakes: a missing model fails the tests, with
//! the command that fixes it. Test speech is made by `espeak-ng` (VAD) or by
//! Piper itself (round trips).
//!
//! The models are loaded once and shared by every test in this file.

use arc_actors::audio::{AudioFrame, FRAME_SAMPLES_16K, STT_SAMPLE_RATE};
use arc_actors::engine::{CancellationToken, EngineError, TtsEngine, VadEngine, VadEvent};
use arc_models::audio::{resample, rms};
use arc_models::opus::{OpusDecoder, OpusEncoder, OpusError};
use arc_models::piper::{split_text, PiperOptions, PiperTts, TtsLoadError};
use arc_models::pool::InferencePool;
use arc_models::silero::{SileroOptions, SileroVad, VadLoadError};
use arc_testkit::speech;
use arc_testkit::synthesis::synthesize;
use arc_testkit::utterance::espeak;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, OnceCell};

/// How far a reported boundary may be from the true one.
const BOUNDARY_TOLERANCE_MS: i64 = 150;

fn pool() -> Arc<InferencePool> {
    static POOL: std::sync::OnceLock<Arc<InferencePool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| InferencePool::new(2)).clone()
}

/// The model in `cell`, loaded by `load` (off the runtime) on first use.
async fn loaded_once<T: Send + Sync + 'static>(
    cell: &'static OnceCell<Arc<T>>,
    name: &str,
    load: fn() -> T,
) -> Arc<T> {
    cell.get_or_init(|| async {
        let t = Instant::now();
        let model = tokio::task::spawn_blocking(load).await.expect("load task");
        println!("{name}: loaded in {:?}", t.elapsed());
        Arc::new(model)
    })
    .await
    .clone()
}

async fn vad() -> Arc<SileroVad> {
    static VAD: OnceCell<Arc<SileroVad>> = OnceCell::const_new();
    loaded_once(&VAD, "silero", || speech::silero(pool())).await
}

async fn tts() -> Arc<PiperTts> {
    static TTS: OnceCell<Arc<PiperTts>> = OnceCell::const_new();
    loaded_once(&TTS, "piper", || speech::piper(pool())).await
}

/// Deterministic faint noise (about -60 dBFS), so "silence" is not digital zero.
fn noise(n: usize, seed: &mut u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((*seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.002
        })
        .collect()
}

/// Speech from espeak-ng, at 16 kHz.
fn espeak_16k(text: &str) -> Vec<f32> {
    espeak(text).voice("en-us").speed(160).samples_16k()
}

/// First and last sample of the speech in a clip: 5 ms blocks whose RMS is
/// within 35 dB of the loudest block (espeak and piper pad with near-silence).
fn speech_extent(samples: &[f32], rate: u32) -> (usize, usize) {
    let block = rate as usize / 200;
    let levels: Vec<f32> = samples.chunks(block).map(rms).collect();
    let loudest = levels.iter().copied().fold(0.0f32, f32::max);
    let floor = loudest * 10f32.powf(-35.0 / 20.0);
    let first = levels.iter().position(|l| *l > floor).unwrap_or(0);
    let last = levels.iter().rposition(|l| *l > floor).unwrap_or(0);
    (first * block, ((last + 1) * block).min(samples.len()))
}

fn to_frames(samples: &[f32]) -> Vec<AudioFrame> {
    samples
        .chunks(FRAME_SAMPLES_16K)
        .map(|c| {
            let mut v = c.to_vec();
            v.resize(FRAME_SAMPLES_16K, 0.0);
            AudioFrame::new(STT_SAMPLE_RATE, v)
        })
        .collect()
}

async fn run_vad(vad: &SileroVad, samples: &[f32]) -> Vec<VadEvent> {
    let mut stream = vad.stream();
    let mut events = Vec::new();
    for frame in to_frames(samples) {
        if let Some(ev) = stream.push(&frame).await.expect("vad push") {
            events.push(ev);
        }
    }
    events
}

fn ms(samples: usize, rate: u32) -> i64 {
    (samples as u64 * 1000 / u64::from(rate)) as i64
}

/// Checks events are start/end pairs matching `truth` (ms) within tolerance;
/// returns the worst error.
fn check_boundaries(events: &[VadEvent], truth: &[(i64, i64)]) -> i64 {
    assert_eq!(
        events.len(),
        truth.len() * 2,
        "expected {} utterances, got events {events:?} (truth {truth:?})",
        truth.len()
    );
    let mut worst = 0;
    for (pair, (start, end)) in events.chunks(2).zip(truth) {
        let (VadEvent::SpeechStart { at_ms: s }, VadEvent::SpeechEnd { at_ms: e }) =
            (pair[0], pair[1])
        else {
            panic!("events are not start/end pairs: {events:?}");
        };
        let (ds, de) = (s as i64 - start, e as i64 - end);
        println!("  utterance {start}..{end} ms: start error {ds:+} ms, end error {de:+} ms");
        assert!(
            ds.abs() <= BOUNDARY_TOLERANCE_MS && de.abs() <= BOUNDARY_TOLERANCE_MS,
            "boundary {s}..{e} ms too far from the speech at {start}..{end} ms"
        );
        worst = worst.max(ds.abs()).max(de.abs());
    }
    worst
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vad_finds_each_utterance_within_150_ms() {
    let vad = vad().await;
    let utterances = [
        "The quick brown fox jumps over the lazy dog.",
        "Please call me back when you get home tonight.",
        "What time does the train leave for the city?",
    ];
    let rate = STT_SAMPLE_RATE;
    let mut seed = 7;
    let mut signal = noise(rate as usize * 7 / 10, &mut seed);
    let mut truth = Vec::new();
    for text in utterances {
        let clip = espeak_16k(text);
        let (a, b) = speech_extent(&clip, rate);
        let offset = signal.len();
        truth.push((ms(offset + a, rate), ms(offset + b, rate)));
        signal.extend(
            clip.iter()
                .zip(noise(clip.len(), &mut seed))
                .map(|(s, n)| s + n),
        );
        signal.extend(noise(rate as usize, &mut seed)); // 1 s between utterances
    }
    let events = run_vad(&vad, &signal).await;
    println!("silero on espeak speech: {events:?}");
    let worst = check_boundaries(&events, &truth);
    println!("silero: worst boundary error {worst} ms (tolerance {BOUNDARY_TOLERANCE_MS} ms)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vad_stays_quiet_through_minutes_of_silence() {
    let vad = vad().await;
    let mut seed = 11;
    let mut stream = vad.stream();
    let minutes = 3;
    let frames = minutes * 60 * 50;
    let t = Instant::now();
    for _ in 0..frames {
        let frame = AudioFrame::new(STT_SAMPLE_RATE, noise(FRAME_SAMPLES_16K, &mut seed));
        assert_eq!(stream.push(&frame).await.expect("push"), None);
    }
    // Digital silence and NaN (a broken source) are silence too, not errors.
    for samples in [
        vec![0.0; FRAME_SAMPLES_16K],
        vec![f32::NAN; FRAME_SAMPLES_16K],
    ] {
        for _ in 0..50 {
            let frame = AudioFrame::new(STT_SAMPLE_RATE, samples.clone());
            assert_eq!(stream.push(&frame).await.expect("push"), None);
        }
    }
    let took = t.elapsed();
    println!(
        "silero: {minutes} min of silence, no events, {:.1} us per 20 ms frame",
        took.as_secs_f64() * 1e6 / frames as f64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vad_rejects_frames_not_at_16_khz() {
    let vad = vad().await;
    let mut stream = vad.stream();
    let err = stream
        .push(&AudioFrame::new(8_000, vec![0.0; 160]))
        .await
        .expect_err("8 kHz must be refused");
    match &err {
        EngineError::BadInput { message, .. } => {
            assert!(
                message.contains("8000"),
                "message names the rate: {message}"
            )
        }
        other => panic!("expected BadInput, got {other:?}"),
    }
    // The stream is still usable afterwards.
    let ok = stream
        .push(&AudioFrame::new(
            STT_SAMPLE_RATE,
            vec![0.0; FRAME_SAMPLES_16K],
        ))
        .await;
    assert_eq!(ok, Ok(None));
}

#[test]
fn vad_load_errors_name_the_file_and_the_fix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("silero_vad.onnx");
    let err = SileroVad::load(&missing, SileroOptions::default(), pool()).expect_err("missing");
    assert!(matches!(err, VadLoadError::Missing { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("silero_vad.onnx") && msg.contains("arc-agent models fetch"),
        "{msg}"
    );

    std::fs::write(&missing, b"this is not an onnx model").expect("write");
    let err = SileroVad::load(&missing, SileroOptions::default(), pool()).expect_err("corrupt");
    assert!(matches!(err, VadLoadError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("arc-agent models fetch"), "{err}");

    let bad = SileroOptions {
        threshold: 0.3,
        neg_threshold: 0.5,
        ..SileroOptions::default()
    };
    let err = SileroVad::load(&missing, bad, pool()).expect_err("bad options");
    assert!(matches!(err, VadLoadError::BadOptions(_)), "{err}");
}

#[test]
fn piper_load_errors_name_the_file_and_the_fix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = dir.path().join("voice.onnx");
    let config = dir.path().join("voice.onnx.json");
    let err =
        PiperTts::load(&model, &config, PiperOptions::default(), pool()).expect_err("missing");
    assert!(matches!(err, TtsLoadError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("arc-agent models fetch"), "{err}");

    std::fs::write(&config, b"{ not json").expect("write");
    let err =
        PiperTts::load(&model, &config, PiperOptions::default(), pool()).expect_err("bad json");
    assert!(matches!(err, TtsLoadError::BadConfig { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tts_speaks_a_sentence_at_24_khz() {
    let tts = tts().await;
    assert_eq!(tts.model(), "piper");
    assert_eq!(tts.voice_id(), "en_US-joe-medium");
    assert_eq!(tts.sample_rate(), 24_000);
    let text = "Hello, this is a test of the Piper voice.";
    let s = synthesize(&*tts, text, 256).await;
    let outcome = s.result.as_ref().expect("synthesis");
    assert!(s.chunks.iter().all(|c| c.sample_rate == 24_000));
    assert!(s
        .chunks
        .iter()
        .all(|c| c.samples.len() <= 24_000 * 160 / 1000));
    let audio = s.samples();
    let audio_ms = ms(audio.len(), 24_000);
    assert!(
        (audio_ms - outcome.audio_ms as i64).abs() <= s.chunks.len() as i64,
        "outcome says {} ms, chunks hold {audio_ms} ms",
        outcome.audio_ms
    );
    assert!(
        (1_200..=6_000).contains(&audio_ms),
        "{audio_ms} ms is implausible for {text:?}"
    );
    let level = rms(&audio);
    assert!(level > 0.02, "audio is (nearly) silent: rms {level}");
    assert!(audio.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
    println!(
        "piper: {audio_ms} ms of audio in {:?} (RTF {:.3}), rms {level:.3}, {} chunks",
        s.took,
        s.took.as_secs_f64() * 1000.0 / audio_ms as f64,
        s.chunks.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tts_sends_the_first_chunk_before_the_text_is_done() {
    let tts = tts().await;
    let text = "Sure, I can help with that. Your table for two is booked for seven \
                o'clock tonight. You will get a confirmation message in a minute. \
                Is there anything else I can do for you?";
    let s = synthesize(&*tts, text, 1024).await;
    let outcome = s.result.as_ref().expect("synthesis");
    let first = s.arrivals[0];
    let after_first = s.arrivals.iter().filter(|t| **t > first).count();
    println!(
        "piper: first chunk after {first:?}, all {} ms of audio after {:?} (RTF {:.3}), {} chunks",
        outcome.audio_ms,
        s.took,
        s.took.as_secs_f64() * 1000.0 / outcome.audio_ms as f64,
        s.chunks.len()
    );
    assert!(
        first.as_secs_f64() < 0.6 * s.took.as_secs_f64(),
        "first chunk at {first:?} of {:?}: not streamed",
        s.took
    );
    assert!(
        after_first >= 5,
        "only {after_first} chunks came after the first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tts_cancel_stops_within_one_chunk() {
    let tts = tts().await;
    let text = "This reply is long on purpose. It goes on for several sentences. \
                Nobody will hear the end of it. Because the user barges in. \
                And the reply must stop at once.";
    let (tx, mut rx) = mpsc::channel(1);
    let cancel = CancellationToken::new();
    let task = {
        let (tts, cancel, text) = (tts.clone(), cancel.clone(), text.to_string());
        tokio::spawn(async move { tts.synthesize(&text, tx, cancel).await })
    };
    let first = rx.recv().await.expect("a first chunk");
    assert!(!first.is_empty());
    let cancelled_at = Instant::now();
    cancel.cancel();
    let mut after = 0;
    while rx.recv().await.is_some() {
        after += 1;
    }
    let result = task.await.expect("task");
    println!(
        "piper: cancel -> {after} chunk(s) after it, returned in {:?}",
        cancelled_at.elapsed()
    );
    assert!(after <= 1, "{after} chunks arrived after the cancel");
    assert_eq!(result, Err(EngineError::Cancelled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tts_handles_5000_characters_in_bounded_clauses() {
    let tts = tts().await;
    let prose = "The committee met on Tuesday, and after a long discussion about the \
                 budget, the schedule and the staffing plan, it agreed to meet again. "
        .repeat(40);
    let prose: String = prose.chars().take(5_000).collect();
    let no_spaces = "abcdefghij".repeat(500);
    for (name, text) in [("prose", prose), ("no spaces", no_spaces)] {
        let max = tts.options().max_clause_chars;
        let pieces = split_text(&text, max);
        assert!(pieces.iter().all(|p| p.chars().count() <= max));
        // Let it run for a while (the whole text is minutes of audio), then stop it.
        let (tx, mut rx) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let task = {
            let (tts, cancel, text) = (tts.clone(), cancel.clone(), text.clone());
            tokio::spawn(async move { tts.synthesize(&text, tx, cancel).await })
        };
        let t = Instant::now();
        let mut audio_ms = 0;
        while let Some(c) = rx.recv().await {
            audio_ms += c.duration_ms();
            if audio_ms >= 3_000 {
                cancel.cancel();
            }
        }
        let result = task.await.expect("synthesis task must not panic");
        println!(
            "piper: 5000-char {name}: {} pieces, first 3 s of audio in {:?}",
            pieces.len(),
            t.elapsed()
        );
        assert_eq!(result, Err(EngineError::Cancelled));
        assert!(audio_ms >= 3_000, "{name}: only {audio_ms} ms of audio");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tts_empty_text_is_zero_ms() {
    let tts = tts().await;
    for text in ["", "   \n\t "] {
        let s = synthesize(&*tts, text, 8).await;
        assert_eq!(s.result.expect("empty text is fine").audio_ms, 0);
        assert!(s.chunks.is_empty());
    }
}

/// Best alignment of `b` against `a` within `max_lag` samples (b lags a).
fn best_lag(a: &[f32], b: &[f32], max_lag: usize) -> (usize, f64) {
    (0..max_lag)
        .map(|lag| (lag, correlation(a, &b[lag.min(b.len())..])))
        .fold((0, f64::MIN), |best, c| if c.1 > best.1 { c } else { best })
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..n {
        let (x, y) = (f64::from(a[i]), f64::from(b[i]));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    ab / (aa.sqrt() * bb.sqrt())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opus_round_trip_keeps_piper_speech() {
    let tts = tts().await;
    let s = synthesize(&*tts, "The weather is nice and warm today.", 256).await;
    s.result.as_ref().expect("synthesis");
    let speech = s.samples();
    let rate = 24_000;
    let mut enc = OpusEncoder::new(rate, 1).expect("encoder");
    let mut dec = OpusDecoder::new(rate, 1).expect("decoder");
    let frame = enc.frame_samples();
    assert_eq!(frame, 480);
    let lookahead = enc.lookahead().expect("lookahead");
    let mut decoded = Vec::new();
    let mut bytes = 0;
    for chunk in speech.chunks(frame) {
        let mut f = chunk.to_vec();
        f.resize(frame, 0.0);
        let packet = enc.encode(&f).expect("encode");
        bytes += packet.len();
        decoded.extend(dec.decode(&packet).expect("decode"));
    }
    let (lag, corr) = best_lag(&speech, &decoded, 2 * lookahead + 480);
    let aligned = &decoded[lag..];
    let n = speech.len().min(aligned.len());
    let (rms_in, rms_out) = (rms(&speech[..n]), rms(&aligned[..n]));
    let kbps = bytes as f64 * 8.0 / (speech.len() as f64 / f64::from(rate)) / 1000.0;
    println!(
        "opus: lookahead {lookahead}, best lag {lag} samples, correlation {corr:.3}, \
         rms {rms_in:.4} -> {rms_out:.4}, {kbps:.1} kbit/s"
    );
    assert!(
        corr > 0.9,
        "correlation {corr:.3} after aligning by {lag} samples"
    );
    assert!(
        (rms_out / rms_in - 1.0).abs() < 0.2,
        "rms changed from {rms_in} to {rms_out}"
    );

    // Misuse is an error naming what was wrong, never a panic.
    assert_eq!(
        enc.encode(&vec![0.0; 100]),
        Err(OpusError::WrongFrameSize {
            got: 100,
            expected: 480,
            sample_rate: 24_000
        })
    );
    assert!(matches!(dec.decode(&[]), Err(OpusError::BadPacket { .. })));
    assert!(matches!(
        dec.decode(&[0xff, 0xff, 0xff]),
        Err(OpusError::BadPacket { .. })
    ));
    assert_eq!(dec.decode_lost().expect("concealment").len(), 480);
    assert_eq!(
        OpusEncoder::new(44_100, 1).err(),
        Some(OpusError::UnsupportedRate(44_100))
    );
    assert_eq!(
        OpusDecoder::new(48_000, 2).err(),
        Some(OpusError::UnsupportedChannels(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piper_speech_is_found_by_silero() {
    let (tts, vad) = tokio::join!(tts(), vad());
    let s = synthesize(&*tts, "Can you help me find my keys?", 256).await;
    s.result.as_ref().expect("synthesis");
    let speech = resample(&s.samples(), tts.sample_rate(), STT_SAMPLE_RATE).expect("resample");
    let (a, b) = speech_extent(&speech, STT_SAMPLE_RATE);
    let mut seed = 3;
    let lead = STT_SAMPLE_RATE as usize / 2;
    let mut signal = noise(lead, &mut seed);
    signal.extend(&speech);
    signal.extend(noise(STT_SAMPLE_RATE as usize, &mut seed));
    let events = run_vad(&vad, &signal).await;
    println!("silero on piper speech: {events:?}");
    let truth = [(ms(lead + a, STT_SAMPLE_RATE), ms(lead + b, STT_SAMPLE_RATE))];
    check_boundaries(&events, &truth);
}
