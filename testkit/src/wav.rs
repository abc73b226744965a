//! WAV files of tests into what the engines take: 16 kHz samples, 20 ms frames.

use arc_actors::audio::AudioFrame;
use arc_models::audio::{decode_wav, read_wav, resample, to_stt_frames};
use std::path::Path;

/// A WAV file as 16 kHz mono, through the crate's own decoder and resampler.
pub fn load_16k(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let audio = decode_wav(&bytes).unwrap_or_else(|e| panic!("decode {}: {e}", path.display()));
    resample(&audio.samples, audio.sample_rate, 16_000)
        .unwrap_or_else(|e| panic!("resample {}: {e}", path.display()))
}

/// A WAV file as the 20 ms, 16 kHz frames a session takes.
pub fn frames_of(path: &Path) -> Vec<AudioFrame> {
    let audio = read_wav(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    to_stt_frames(&audio).unwrap_or_else(|e| panic!("frames of {}: {e}", path.display()))
}
