//! Cutting audio into the 20 ms, 16 kHz frames the VAD and STT consume.

use super::error::AudioError;
use super::resample::resample;
use super::wav::DecodedAudio;
use arc_actors::audio::{AudioFrame, FRAME_SAMPLES_16K, STT_SAMPLE_RATE};

/// Resamples decoded audio to 16 kHz mono and cuts it into 20 ms frames of
/// [`FRAME_SAMPLES_16K`] samples, the unit the VAD and STT actors consume.
/// The last frame is zero-padded, so every frame has the same length.
pub fn to_stt_frames(audio: &DecodedAudio) -> Result<Vec<AudioFrame>, AudioError> {
    if audio.sample_rate == 0 {
        return Err(AudioError::ZeroSampleRate);
    }
    if audio.samples.is_empty() {
        return Err(AudioError::Empty);
    }
    let pcm = resample(&audio.samples, audio.sample_rate, STT_SAMPLE_RATE)?;
    Ok(pcm
        .chunks(FRAME_SAMPLES_16K)
        .map(|chunk| {
            let mut frame = Vec::with_capacity(FRAME_SAMPLES_16K);
            frame.extend_from_slice(chunk);
            frame.resize(FRAME_SAMPLES_16K, 0.0);
            AudioFrame::new(STT_SAMPLE_RATE, frame)
        })
        .collect())
}
