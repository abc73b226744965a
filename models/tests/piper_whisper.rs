//! Speech made by piper, heard by whisper: the same known sentences as the
//! espeak-ng test, synthesized by the piper voice at its 24 kHz output rate,
//! resampled to 16 kHz and transcribed; corpus WER ≤ 20 %. Both models are
//! real (`arc-agent models fetch`; a missing one fails with that command).

use arc_models::audio::resample;
use arc_models::pool::InferencePool;
use arc_models::wer::{corpus_wer, word_error_rate};
use arc_testkit::speech::{self, SENTENCES};
use arc_testkit::synthesis::synthesize;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piper_speech_is_transcribed_by_whisper() {
    let pool = InferencePool::new(2);
    let tts = speech::piper(pool.clone());
    let stt = speech::whisper(pool);

    let mut pairs = Vec::new();
    for sentence in &SENTENCES[..8] {
        let spoken = synthesize(&tts, sentence, 64).await;
        spoken.result.as_ref().expect("piper speaks");
        let (pcm, rate) = (spoken.samples(), spoken.sample_rate());
        assert_eq!(rate, 24_000, "piper's output is the seed's 24 kHz");
        let pcm16 = resample(&pcm, rate, 16_000).unwrap();
        let heard = speech::hear(&stt, pcm16).await;
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
