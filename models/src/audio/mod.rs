//! Audio utilities shared by the engines and the transports: WAV in and out,
//! sample-rate conversion, and cutting audio into the 20 ms, 16 kHz frames the
//! VAD and STT consume.
//!
//! Decoding takes untrusted bytes (uploads, files from disk, transport
//! payloads), so it never panics and every error says what was wrong with the
//! input. The RIFF chunks are walked here first (to name bad input precisely,
//! and to tolerate common quirks such as junk chunks, odd-sized chunks and the
//! `0xFFFFFFFF` length streaming writers leave behind); `hound` then decodes a
//! clean `fmt`+`data` view of the file without copying the audio.
//!
//! One idea per file; callers use the re-exports below (`arc_models::audio::X`):
//! - `error`: [`AudioError`], shared by every file here.
//! - `riff`: walking the RIFF chunks and naming what is wrong with bad input
//!   (private to this folder).
//! - `wav`: [`decode_wav`] / [`read_wav`] into [`DecodedAudio`], and
//!   [`encode_wav_pcm16`] / [`write_wav`]; uses `riff`.
//! - `resample`: [`resample()`] for a whole clip, [`StreamResampler`] for a
//!   stream cut into pieces.
//! - `frames`: [`to_stt_frames`], the 20 ms 16 kHz frames; uses `wav` and
//!   `resample`.
//! - `levels`: [`rms`] and [`peak`].
//!
//! Files only import from files listed above them (and `error`), never back.

mod error;
mod frames;
mod levels;
mod resample;
mod riff;
mod wav;

pub use error::AudioError;
pub use frames::to_stt_frames;
pub use levels::{peak, rms};
pub use resample::{resample, StreamResampler, MAX_RESAMPLE_OUTPUT, MAX_RESAMPLE_RATE};
pub use wav::{decode_wav, encode_wav_pcm16, read_wav, write_wav, DecodedAudio};

#[cfg(test)]
mod tests;
