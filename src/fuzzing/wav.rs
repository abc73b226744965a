//! The `wav` target: WAV bytes through the reader.

use arc_models::audio::{decode_wav, encode_wav_pcm16};

/// A WAV file through the reader `converse` and the file transport use.
///
/// Promises: a refusal is an error; what is read is mono samples in [-1, 1]
/// at a non-zero rate, and writing them as 16-bit PCM reads back the same
/// within 16-bit quantization.
pub fn wav(data: &[u8]) {
    let Ok(audio) = decode_wav(data) else {
        return;
    };
    assert!(audio.sample_rate > 0 && audio.channels > 0 && !audio.samples.is_empty());
    assert!(
        audio.samples.iter().all(|s| (-1.0..=1.0).contains(s)),
        "a sample outside [-1, 1]"
    );
    assert_eq!(
        audio.duration_ms,
        audio.samples.len() as u64 * 1000 / u64::from(audio.sample_rate)
    );
    let written = encode_wav_pcm16(&audio.samples, audio.sample_rate);
    let back = decode_wav(&written).expect("a WAV we wrote reads back");
    assert_eq!(
        (back.sample_rate, back.channels, back.samples.len()),
        (audio.sample_rate, 1, audio.samples.len())
    );
    for (a, b) in audio.samples.iter().zip(&back.samples) {
        assert!((a - b).abs() <= 2.0 / 32768.0, "{a} written, {b} read");
    }
}
