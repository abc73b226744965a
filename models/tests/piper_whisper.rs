//! Speech made by piper, heard by whisper: the same known sentences as the
//! espeak-ng test, synthesized by the piper voice at its 24 kHz output rate,
//! resampled to 16 kHz and transcribed; corpus WER ≤ 20 %. Both models are
//! real (`arc-agent models fetch`; a missing one fails with that command).

use arc_actors::engine::{CancellationToken, SttEngine, TranscribeKind, TtsEngine};
use arc_models::audio::resample;
use arc_models::manifest::{default_models_dir, require};
use arc_models::piper::{PiperOptions, PiperTts};
use arc_models::pool::InferencePool;
use arc_models::wer::{corpus_wer, word_error_rate};
use arc_models::whisper::{WhisperOptions, WhisperStt};
use tokio::sync::mpsc;

const SENTENCES: &[&str] = &[
    "The quick brown fox jumps over the lazy dog.",
    "Please call me back when you get home tonight.",
    "I would like to book a table for two people.",
    "What time does the train leave for the city?",
    "The weather is nice and warm today.",
    "Can you help me find my keys?",
    "We need to buy some milk and bread.",
    "Turn off the lights in the kitchen, please.",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piper_speech_is_transcribed_by_whisper() {
    let dir = default_models_dir();
    let file = |model: &str, f: &str| require(&dir, model, f).unwrap_or_else(|e| panic!("{e}"));
    let pool = InferencePool::new(2);
    let tts = PiperTts::load(
        &file("piper-en_US-joe-medium", "en_US-joe-medium.onnx"),
        &file("piper-en_US-joe-medium", "en_US-joe-medium.onnx.json"),
        PiperOptions::default(),
        pool.clone(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let stt = WhisperStt::load(
        &file("whisper-tiny.en", "ggml-tiny.en.bin"),
        WhisperOptions::default(),
        pool,
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let mut pairs = Vec::new();
    for sentence in SENTENCES {
        let (tx, mut rx) = mpsc::channel::<arc_actors::audio::AudioFrame>(64);
        let collect = tokio::spawn(async move {
            let mut pcm = Vec::new();
            let mut rate = 0;
            while let Some(f) = rx.recv().await {
                rate = f.sample_rate;
                pcm.extend_from_slice(&f.samples);
            }
            (pcm, rate)
        });
        tts.synthesize(sentence, tx, CancellationToken::new())
            .await
            .expect("piper speaks");
        let (pcm, rate) = collect.await.unwrap();
        assert_eq!(rate, 24_000, "piper's output is the seed's 24 kHz");
        let pcm16 = resample(&pcm, rate, 16_000).unwrap();
        let heard = stt
            .transcribe(
                pcm16.into(),
                TranscribeKind::Final,
                CancellationToken::new(),
            )
            .await
            .expect("whisper transcribes")
            .text;
        println!(
            "{:.2}  {sentence:?} -> {heard:?}",
            word_error_rate(sentence, &heard)
        );
        pairs.push((sentence.to_string(), heard));
    }
    let wer = corpus_wer(&pairs);
    println!("piper → whisper corpus WER {:.1} %", wer * 100.0);
    assert!(wer <= 0.20, "corpus WER {wer:.3}");
}
