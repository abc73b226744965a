//! Opus for the wire: 20 ms mono frames in, packets out, and back.
//!
//! Audio crosses the network as Opus (a 20 ms frame of 24 kHz speech is
//! ~80 bytes at 32 kbit/s instead of 960 bytes of PCM16). Frames are fixed at
//! 20 ms, the unit the transports and the VAD already use; anything else is a
//! caller bug and is refused with the sizes involved rather than padded.

use opus::{Application, Bitrate, Channels};

/// Frame length the codec is run at.
pub const FRAME_MS: u32 = 20;
/// Default bit rate: clear wideband speech, a few kB/s.
pub const DEFAULT_BITRATE: i32 = 32_000;
/// Room for one encoded packet (the format's own maximum is 1275 bytes per frame).
const MAX_PACKET_BYTES: usize = 1500;
/// The longest packet Opus can hold (120 ms), bounding decode buffers.
const MAX_PACKET_MS: u32 = 120;
const RATES: [u32; 5] = [8_000, 12_000, 16_000, 24_000, 48_000];

/// Why a frame could not be encoded or a packet decoded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum OpusError {
    #[error("Opus supports 8000, 12000, 16000, 24000 or 48000 Hz, not {0} Hz")]
    UnsupportedRate(u32),
    #[error("only mono Opus is supported here, not {0} channels")]
    UnsupportedChannels(u16),
    #[error(
        "wrong frame size: {got} samples, expected {expected} ({FRAME_MS} ms at {sample_rate} Hz)"
    )]
    WrongFrameSize {
        got: usize,
        expected: usize,
        sample_rate: u32,
    },
    #[error("bad Opus packet ({len} bytes): {reason}")]
    BadPacket { len: usize, reason: String },
    #[error("invalid bit rate {0} bit/s (Opus takes 500..=512000)")]
    BadBitrate(i32),
    #[error("Opus {action} failed: {reason}")]
    Codec {
        action: &'static str,
        reason: String,
    },
}

fn check_format(sample_rate: u32, channels: u16) -> Result<usize, OpusError> {
    if !RATES.contains(&sample_rate) {
        return Err(OpusError::UnsupportedRate(sample_rate));
    }
    if channels != 1 {
        return Err(OpusError::UnsupportedChannels(channels));
    }
    Ok((sample_rate * FRAME_MS / 1000) as usize)
}

fn codec(action: &'static str) -> impl Fn(opus::Error) -> OpusError {
    move |e| OpusError::Codec {
        action,
        reason: e.to_string(),
    }
}

/// Encodes 20 ms mono frames of f32 samples into Opus packets.
pub struct OpusEncoder {
    inner: opus::Encoder,
    sample_rate: u32,
    frame_samples: usize,
    scratch: Vec<f32>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("sample_rate", &self.sample_rate)
            .finish()
    }
}

impl OpusEncoder {
    /// A speech-tuned (VoIP) encoder at [`DEFAULT_BITRATE`].
    pub fn new(sample_rate: u32, channels: u16) -> Result<Self, OpusError> {
        let frame_samples = check_format(sample_rate, channels)?;
        let mut inner = opus::Encoder::new(sample_rate, Channels::Mono, Application::Voip)
            .map_err(codec("encoder creation"))?;
        inner
            .set_bitrate(Bitrate::Bits(DEFAULT_BITRATE))
            .map_err(codec("set bit rate"))?;
        Ok(Self {
            inner,
            sample_rate,
            frame_samples,
            scratch: Vec::with_capacity(frame_samples),
        })
    }

    /// Changes the target bit rate (bits per second).
    pub fn set_bitrate(&mut self, bits_per_second: i32) -> Result<(), OpusError> {
        if !(500..=512_000).contains(&bits_per_second) {
            return Err(OpusError::BadBitrate(bits_per_second));
        }
        self.inner
            .set_bitrate(Bitrate::Bits(bits_per_second))
            .map_err(codec("set bit rate"))
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Samples in the one frame size [`OpusEncoder::encode`] takes.
    pub fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    /// The codec's delay in samples: decoded audio lags the input by this much.
    pub fn lookahead(&mut self) -> Result<usize, OpusError> {
        self.inner
            .get_lookahead()
            .map(|n| n.max(0) as usize)
            .map_err(codec("get lookahead"))
    }

    /// Encodes one 20 ms frame. NaN/inf become 0 and samples are clamped to
    /// [-1, 1], so a broken producer cannot make the codec misbehave.
    pub fn encode(&mut self, frame: &[f32]) -> Result<Vec<u8>, OpusError> {
        if frame.len() != self.frame_samples {
            return Err(OpusError::WrongFrameSize {
                got: frame.len(),
                expected: self.frame_samples,
                sample_rate: self.sample_rate,
            });
        }
        self.scratch.clear();
        self.scratch.extend(frame.iter().map(|s| {
            if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        }));
        self.inner
            .encode_vec_float(&self.scratch, MAX_PACKET_BYTES)
            .map_err(codec("encode"))
    }
}

/// Decodes Opus packets back into mono f32 samples.
pub struct OpusDecoder {
    inner: opus::Decoder,
    sample_rate: u32,
    frame_samples: usize,
    buf: Vec<f32>,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("sample_rate", &self.sample_rate)
            .finish()
    }
}

impl OpusDecoder {
    pub fn new(sample_rate: u32, channels: u16) -> Result<Self, OpusError> {
        let frame_samples = check_format(sample_rate, channels)?;
        let inner =
            opus::Decoder::new(sample_rate, Channels::Mono).map_err(codec("decoder creation"))?;
        Ok(Self {
            inner,
            sample_rate,
            frame_samples,
            buf: vec![0.0; (sample_rate * MAX_PACKET_MS / 1000) as usize],
        })
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Decodes one packet (from the network: anything may arrive, so a bad
    /// packet is an error, never a panic).
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<f32>, OpusError> {
        let bad = |reason: String| OpusError::BadPacket {
            len: packet.len(),
            reason,
        };
        if packet.is_empty() {
            return Err(bad(
                "empty packet (use decode_lost for a missing one)".into()
            ));
        }
        let n = self
            .inner
            .decode_float(packet, &mut self.buf, false)
            .map_err(|e| bad(e.to_string()))?;
        Ok(self.buf[..n.min(self.buf.len())].to_vec())
    }

    /// Conceals one lost 20 ms packet (the decoder extrapolates from what it had).
    pub fn decode_lost(&mut self) -> Result<Vec<f32>, OpusError> {
        let n = self
            .inner
            .decode_float(&[], &mut self.buf[..self.frame_samples], false)
            .map_err(codec("conceal a lost packet"))?;
        Ok(self.buf[..n.min(self.frame_samples)].to_vec())
    }
}
