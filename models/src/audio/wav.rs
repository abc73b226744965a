//! WAV in and out: [`decode_wav`] / [`read_wav`] (any rate, channel count and
//! common sample format, mixed down to mono) and [`encode_wav_pcm16`] /
//! [`write_wav`] (16-bit PCM mono).

use super::error::AudioError;
use super::riff::{
    canonical_header, hound_header_error, hound_sample_error, scan_riff, UNKNOWN_LEN,
    WAVE_FORMAT_PCM,
};
use std::io::{Cursor, Read};
use std::path::Path;

/// A decoded WAV: mono samples plus what the file said about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAudio {
    pub sample_rate: u32,
    /// Channels in the file; `samples` is already mixed down to mono.
    pub channels: u16,
    /// Mono (channels averaged), in [-1.0, 1.0].
    pub samples: Vec<f32>,
    pub duration_ms: u64,
    /// NaN/inf samples (float WAVs) replaced by 0: counted because they mean a
    /// broken producer upstream, not silence.
    pub non_finite_replaced: usize,
    /// Float samples outside [-1.0, 1.0] that were clamped (integer formats
    /// cannot exceed the range).
    pub clamped: usize,
}

impl DecodedAudio {
    /// Mono frames (one sample per channel group) in the audio.
    pub fn frames(&self) -> usize {
        self.samples.len()
    }
}

/// Decodes a WAV held in memory: any sample rate and channel count, 8/16/24/32-bit
/// integer or 32-bit float samples, mixed down to mono in [-1, 1].
///
/// Input is untrusted: nothing here panics, and each [`AudioError`] names the
/// problem (not a WAV, truncated header or data, missing chunk, unsupported
/// encoding, zero channels or rate, no samples).
pub fn decode_wav(bytes: &[u8]) -> Result<DecodedAudio, AudioError> {
    let layout = scan_riff(bytes)?;
    let fmt = layout.fmt;
    let block = usize::from(fmt.block_align);

    // A declared length that is not a whole number of frames is rounded down
    // (a stray trailing byte is common and harmless); the streaming placeholder
    // means "everything that is there".
    let declared = if layout.data_declared == UNKNOWN_LEN {
        layout.data_available
    } else {
        layout.data_declared as usize
    };
    let data_len = declared - declared % block;
    if data_len == 0 {
        return Err(AudioError::Empty);
    }
    let data_len_u32 = u32::try_from(data_len).map_err(|_| AudioError::Malformed {
        detail: format!("data chunk of {data_len} bytes does not fit a WAV length field"),
    })?;
    let audio = bytes
        .get(layout.data_offset..layout.data_offset + layout.data_available)
        .unwrap_or(&[]);

    let header = canonical_header(&layout, data_len_u32)?;
    let mut reader = hound::WavReader::new(Cursor::new(header).chain(audio))
        .map_err(|e| hound_header_error(e, &fmt))?;
    let spec = reader.spec();
    if spec.channels == 0 {
        return Err(AudioError::ZeroChannels);
    }
    if spec.sample_rate == 0 {
        return Err(AudioError::ZeroSampleRate);
    }
    let channels = usize::from(spec.channels);
    let bytes_per_sample = block / channels;
    match (spec.sample_format, bytes_per_sample, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 1, 8)
        | (hound::SampleFormat::Int, 2, 16)
        | (hound::SampleFormat::Int, 3, 24)
        | (hound::SampleFormat::Int, 4, 24)
        | (hound::SampleFormat::Int, 4, 32)
        | (hound::SampleFormat::Float, 4, 32) => {}
        (format, bytes, bits) => {
            let kind = match format {
                hound::SampleFormat::Int => "integer",
                hound::SampleFormat::Float => "float",
            };
            return Err(AudioError::Unsupported {
                detail: format!("{bits}-bit {kind} samples in {bytes}-byte containers"),
            });
        }
    }

    let expected_samples = reader.len() as usize;
    let expected_frames = (expected_samples / channels) as u64;
    // Capacity from the bytes actually present, never from the header alone: a
    // lying header must not trigger a multi-gigabyte allocation.
    let present_frames = audio.len() / block;
    let mut mix = Mixdown::new(
        channels,
        expected_frames.min(present_frames as u64) as usize,
    );
    let truncated = |got: usize| AudioError::Truncated {
        expected_frames,
        got_frames: (got / channels) as u64,
    };

    let mut got = 0usize;
    match spec.sample_format {
        hound::SampleFormat::Int => {
            let scale = 1.0 / f64::from(1u32 << (spec.bits_per_sample - 1));
            for s in reader.samples::<i32>() {
                let v = s.map_err(|e| hound_sample_error(e, || truncated(got)))?;
                mix.push(f64::from(v) * scale);
                got += 1;
            }
        }
        hound::SampleFormat::Float => {
            for s in reader.samples::<f32>() {
                let v = s.map_err(|e| hound_sample_error(e, || truncated(got)))?;
                mix.push_float(v);
                got += 1;
            }
        }
    }
    // hound yields exactly len() items today; a short count is still a truncation.
    if got < expected_samples || !got.is_multiple_of(channels) {
        return Err(truncated(got));
    }

    let samples = mix.samples;
    let duration_ms = samples.len() as u64 * 1000 / u64::from(spec.sample_rate);
    Ok(DecodedAudio {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        samples,
        duration_ms,
        non_finite_replaced: mix.non_finite,
        clamped: mix.clamped,
    })
}

/// Reads and decodes a WAV file (see [`decode_wav`]); the file is read whole,
/// which is fine for the utterance-sized files this is used for.
pub fn read_wav(path: impl AsRef<Path>) -> Result<DecodedAudio, AudioError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| AudioError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    decode_wav(&bytes)
}

/// Averages interleaved samples into mono frames, sanitising floats on the way.
struct Mixdown {
    channels: usize,
    acc: f64,
    in_frame: usize,
    samples: Vec<f32>,
    non_finite: usize,
    clamped: usize,
}

impl Mixdown {
    fn new(channels: usize, capacity: usize) -> Self {
        Self {
            channels,
            acc: 0.0,
            in_frame: 0,
            samples: Vec::with_capacity(capacity),
            non_finite: 0,
            clamped: 0,
        }
    }

    fn push(&mut self, v: f64) {
        self.acc += v;
        self.in_frame += 1;
        if self.in_frame == self.channels {
            let mean = (self.acc / self.channels as f64).clamp(-1.0, 1.0);
            self.samples.push(mean as f32);
            self.acc = 0.0;
            self.in_frame = 0;
        }
    }

    fn push_float(&mut self, v: f32) {
        let v = if !v.is_finite() {
            self.non_finite += 1;
            0.0
        } else if !(-1.0..=1.0).contains(&v) {
            self.clamped += 1;
            v.clamp(-1.0, 1.0)
        } else {
            v
        };
        self.push(f64::from(v));
    }
}

/// Encodes mono samples as a 16-bit PCM WAV. Samples are clamped to [-1, 1]
/// and NaN becomes 0, so any input gives a valid file. Audio too long for the
/// 32-bit size fields (over ~2^31 samples) gets the `0xFFFFFFFF` "read to the
/// end" sizes streaming writers use, which [`decode_wav`] accepts.
pub fn encode_wav_pcm16(samples: &[f32], sample_rate: u32) -> Vec<u8> {
    let data_len = samples
        .len()
        .checked_mul(2)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n <= u32::MAX - 36);
    let (riff_len, data_len) = match data_len {
        Some(n) => (36 + n, n),
        None => (UNKNOWN_LEN, UNKNOWN_LEN),
    };
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&riff_len.to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&WAVE_FORMAT_PCM.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // channels
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&sample_rate.saturating_mul(2).to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        let v = if s.is_nan() { 0.0 } else { s.clamp(-1.0, 1.0) };
        out.extend_from_slice(&((v * 32767.0).round() as i16).to_le_bytes());
    }
    out
}

/// Writes mono samples to `path` as a 16-bit PCM WAV (see [`encode_wav_pcm16`]).
pub fn write_wav(
    path: impl AsRef<Path>,
    samples: &[f32],
    sample_rate: u32,
) -> Result<(), AudioError> {
    let path = path.as_ref();
    std::fs::write(path, encode_wav_pcm16(samples, sample_rate)).map_err(|source| AudioError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })
}
