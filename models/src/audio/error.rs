//! [`AudioError`]: why audio could not be decoded, converted or written.

use std::io;
use std::path::PathBuf;

/// Why audio could not be decoded, converted or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// The bytes are not a RIFF/WAVE file at all.
    #[error("not a WAV file: {reason}")]
    NotWav { reason: String },
    /// The file ends inside its header (before the audio starts).
    #[error("truncated WAV header: {detail}")]
    TruncatedHeader { detail: String },
    /// The header promises more audio than the file holds.
    #[error(
        "truncated WAV data: the header promises {expected_frames} frames \
         but only {got_frames} are present (was the file cut off while being written or copied?)"
    )]
    Truncated {
        expected_frames: u64,
        got_frames: u64,
    },
    /// A chunk the decoder needs (`fmt ` or `data`) is absent.
    #[error("WAV has no {chunk:?} chunk: {detail}")]
    MissingChunk { chunk: &'static str, detail: String },
    /// A well-formed WAV in an encoding this crate does not decode.
    #[error(
        "unsupported WAV format: {detail} (supported: 8/16/24/32-bit integer PCM and 32-bit float)"
    )]
    Unsupported { detail: String },
    /// The WAV structure is inconsistent.
    #[error("malformed WAV: {detail}")]
    Malformed { detail: String },
    #[error("WAV header says the audio has 0 channels")]
    ZeroChannels,
    #[error("sample rate is 0 Hz")]
    ZeroSampleRate,
    /// Nothing to work on: zero samples.
    #[error("no audio: zero samples (an empty WAV data chunk, or an empty buffer)")]
    Empty,
    #[error("cannot resample {from_hz} Hz -> {to_hz} Hz: {reason}")]
    Resample {
        from_hz: u32,
        to_hz: u32,
        reason: String,
    },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}
