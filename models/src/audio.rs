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

use arc_actors::audio::{AudioFrame, FRAME_SAMPLES_16K, STT_SAMPLE_RATE};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler, WindowFunction};
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

/// Highest sample rate [`resample`] accepts. Bounds the FFT sizes (and so the
/// memory) a pair of odd rates can ask for; real audio tops out at 384 kHz.
pub const MAX_RESAMPLE_RATE: u32 = 768_000;

/// Most samples [`resample`] will produce in one call (about 6 hours at
/// 48 kHz), so a wild rate ratio fails cleanly instead of exhausting memory.
pub const MAX_RESAMPLE_OUTPUT: usize = 1 << 30;

/// Frames per chunk for the FFT resampler. With one FFT per chunk this gives
/// blocks of roughly 1k samples: a sharp anti-aliasing filter at small cost.
const RESAMPLE_CHUNK: usize = 1024;

/// The streaming-writer placeholder for "length unknown, read to the end".
const UNKNOWN_LEN: u32 = u32::MAX;

const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

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

/// What the `fmt ` chunk says, kept raw so errors can quote it.
#[derive(Debug, Clone, Copy)]
struct FmtInfo {
    tag: u16,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    bits: u16,
    /// For WAVE_FORMAT_EXTENSIBLE: valid bits and the sub-format's tag.
    extensible: Option<(u16, u16)>,
    /// The first 40 bytes of an extensible fmt body (hound re-reads them).
    ext_body: [u8; 40],
}

/// Where the parts hound needs sit in the file.
#[derive(Debug)]
struct RiffLayout {
    fmt: FmtInfo,
    data_offset: usize,
    data_declared: u32,
    /// Bytes of the data chunk actually present (≤ declared unless streaming).
    data_available: usize,
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Walks the RIFF chunks to find `fmt ` and `data`, checking what hound would
/// only report vaguely (or not tolerate): wrong magic, unsupported encodings,
/// zero channels or rate, missing chunks, headers cut short.
fn scan_riff(bytes: &[u8]) -> Result<RiffLayout, AudioError> {
    let magic = bytes.get(0..4).unwrap_or(bytes);
    match magic {
        b"RIFF" => {}
        b"RIFX" => {
            return Err(AudioError::Unsupported {
                detail: "big-endian RIFX WAV".into(),
            })
        }
        b"RF64" | b"BW64" => {
            return Err(AudioError::Unsupported {
                detail: "RF64/BW64 (64-bit WAV for files over 4 GiB)".into(),
            })
        }
        _ => {
            return Err(AudioError::NotWav {
                reason: describe_not_riff(bytes),
            })
        }
    }
    match bytes.get(8..12) {
        Some(b"WAVE") => {}
        Some(kind) => {
            return Err(AudioError::NotWav {
                reason: format!("a RIFF file of type {} (expected \"WAVE\")", show_tag(kind)),
            })
        }
        None => {
            return Err(AudioError::TruncatedHeader {
                detail: format!(
                    "the file is only {} bytes; a WAV header needs at least 44",
                    bytes.len()
                ),
            })
        }
    }

    let mut fmt: Option<FmtInfo> = None;
    let mut data: Option<(usize, u32, usize)> = None;
    let mut pos = 12usize;
    while fmt.is_none() || data.is_none() {
        let id = pos.checked_add(4).and_then(|end| bytes.get(pos..end));
        let (Some(id), Some(size)) = (id, pos.checked_add(4).and_then(|at| le_u32(bytes, at)))
        else {
            if pos < bytes.len() {
                return Err(AudioError::TruncatedHeader {
                    detail: format!(
                        "the file ends inside a chunk header at byte {pos} ({} bytes in all)",
                        bytes.len()
                    ),
                });
            }
            break;
        };
        let body = pos + 8;
        let remaining = bytes.len() - body;
        let size_us = size as usize;
        match id {
            b"fmt " => {
                if size_us > remaining {
                    return Err(AudioError::TruncatedHeader {
                        detail: format!(
                            "the fmt chunk at byte {pos} declares {size} bytes but only {remaining} remain"
                        ),
                    });
                }
                fmt = Some(parse_fmt(&bytes[body..body + size_us])?);
            }
            b"data" => {
                data = Some((body, size, size_us.min(remaining)));
                if size_us >= remaining {
                    // The audio runs to the end of the file (or is cut short):
                    // no further chunk can follow.
                    break;
                }
            }
            other => {
                if size_us > remaining {
                    return Err(AudioError::TruncatedHeader {
                        detail: format!(
                            "chunk {} at byte {pos} declares {size} bytes but only {remaining} remain, \
                             and no audio was found before it",
                            show_tag(other)
                        ),
                    });
                }
            }
        }
        pos = next_chunk(bytes, body, size_us);
    }

    let Some(fmt) = fmt else {
        return Err(AudioError::MissingChunk {
            chunk: "fmt ",
            detail: if data.is_some() {
                "the audio data comes without a format description".into()
            } else {
                format!("no format description in {} bytes", bytes.len())
            },
        });
    };
    let Some((data_offset, data_declared, data_available)) = data else {
        return Err(AudioError::MissingChunk {
            chunk: "data",
            detail: format!(
                "the file ({} bytes) has a header but no audio: header-only, or cut off before the audio",
                bytes.len()
            ),
        });
    };
    Ok(RiffLayout {
        fmt,
        data_offset,
        data_declared,
        data_available,
    })
}

/// Chunks are padded to even sizes, but some writers forget the pad byte:
/// take the padded position only when a chunk id plausibly starts there.
fn next_chunk(bytes: &[u8], body: usize, size: usize) -> usize {
    let end = body.saturating_add(size);
    if size.is_multiple_of(2) {
        return end;
    }
    let looks_like_id = |at: usize| matches!(bytes.get(at..at.saturating_add(4)), Some(id) if id.iter().all(|c| c.is_ascii_graphic() || *c == b' '));
    if !looks_like_id(end.saturating_add(1)) && looks_like_id(end) {
        end
    } else {
        end.saturating_add(1)
    }
}

fn parse_fmt(body: &[u8]) -> Result<FmtInfo, AudioError> {
    let short = || AudioError::Malformed {
        detail: format!(
            "the fmt chunk is {} bytes; it needs at least 16",
            body.len()
        ),
    };
    let tag = le_u16(body, 0).ok_or_else(short)?;
    let channels = le_u16(body, 2).ok_or_else(short)?;
    let sample_rate = le_u32(body, 4).ok_or_else(short)?;
    let block_align = le_u16(body, 12).ok_or_else(short)?;
    let bits = le_u16(body, 14).ok_or_else(short)?;
    if channels == 0 {
        return Err(AudioError::ZeroChannels);
    }
    if sample_rate == 0 {
        return Err(AudioError::ZeroSampleRate);
    }
    let mut ext_body = [0u8; 40];
    let mut extensible = None;
    match tag {
        WAVE_FORMAT_PCM => {
            if !matches!(bits, 8 | 16 | 24 | 32) {
                return Err(AudioError::Unsupported {
                    detail: format!("{bits}-bit integer samples"),
                });
            }
        }
        WAVE_FORMAT_IEEE_FLOAT => {
            if bits != 32 {
                return Err(AudioError::Unsupported {
                    detail: format!("{bits}-bit float samples"),
                });
            }
        }
        WAVE_FORMAT_EXTENSIBLE => {
            let ext = body.get(..40).ok_or_else(|| AudioError::Malformed {
                detail: format!(
                    "WAVE_FORMAT_EXTENSIBLE fmt chunk is {} bytes; it needs 40",
                    body.len()
                ),
            })?;
            ext_body.copy_from_slice(ext);
            let valid_bits = le_u16(body, 18).unwrap_or(0);
            let sub_tag = le_u16(body, 24).unwrap_or(0);
            if sub_tag != WAVE_FORMAT_PCM && sub_tag != WAVE_FORMAT_IEEE_FLOAT {
                return Err(AudioError::Unsupported {
                    detail: format!("extensible sub-format {}", describe_tag(sub_tag)),
                });
            }
            if sub_tag == WAVE_FORMAT_IEEE_FLOAT && bits != 32 {
                return Err(AudioError::Unsupported {
                    detail: format!("{bits}-bit float samples"),
                });
            }
            extensible = Some((valid_bits, sub_tag));
        }
        other => {
            return Err(AudioError::Unsupported {
                detail: format!("format tag {}", describe_tag(other)),
            })
        }
    }
    if block_align == 0 || !block_align.is_multiple_of(channels) {
        return Err(AudioError::Malformed {
            detail: format!(
                "block align {block_align} is not a positive multiple of the {channels} channels"
            ),
        });
    }
    Ok(FmtInfo {
        tag,
        channels,
        sample_rate,
        block_align,
        bits,
        extensible,
        ext_body,
    })
}

/// A minimal, consistent RIFF header (`fmt ` then `data`) for hound to read in
/// front of the untouched audio bytes. Recomputing the redundant byte-rate
/// field accepts files whose writers got it wrong.
fn canonical_header(layout: &RiffLayout, data_len: u32) -> Result<Vec<u8>, AudioError> {
    let f = &layout.fmt;
    let byte_rate = u32::from(f.block_align)
        .checked_mul(f.sample_rate)
        .ok_or_else(|| AudioError::Malformed {
            detail: format!(
                "{} Hz with {}-byte frames overflows the byte-rate field",
                f.sample_rate, f.block_align
            ),
        })?;
    let mut fmt_body = Vec::with_capacity(40);
    fmt_body.extend_from_slice(&f.tag.to_le_bytes());
    fmt_body.extend_from_slice(&f.channels.to_le_bytes());
    fmt_body.extend_from_slice(&f.sample_rate.to_le_bytes());
    fmt_body.extend_from_slice(&byte_rate.to_le_bytes());
    fmt_body.extend_from_slice(&f.block_align.to_le_bytes());
    fmt_body.extend_from_slice(&f.bits.to_le_bytes());
    if f.extensible.is_some() {
        fmt_body.extend_from_slice(&22u16.to_le_bytes());
        fmt_body.extend_from_slice(&f.ext_body[18..40]);
    }
    let riff_len = (4 + 8 + fmt_body.len() as u32 + 8).saturating_add(data_len);
    let mut h = Vec::with_capacity(20 + fmt_body.len() + 8);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&riff_len.to_le_bytes());
    h.extend_from_slice(b"WAVE");
    h.extend_from_slice(b"fmt ");
    h.extend_from_slice(&(fmt_body.len() as u32).to_le_bytes());
    h.extend_from_slice(&fmt_body);
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    Ok(h)
}

fn hound_header_error(e: hound::Error, fmt: &FmtInfo) -> AudioError {
    match e {
        hound::Error::Unsupported | hound::Error::TooWide => AudioError::Unsupported {
            detail: format!(
                "format tag {}, {} bits per sample",
                describe_tag(fmt.tag),
                fmt.bits
            ),
        },
        hound::Error::IoError(io) => AudioError::TruncatedHeader {
            detail: io.to_string(),
        },
        other => AudioError::Malformed {
            detail: other.to_string(),
        },
    }
}

fn hound_sample_error(e: hound::Error, truncated: impl FnOnce() -> AudioError) -> AudioError {
    match e {
        // The reader is in memory and cannot fail, so any I/O error means the
        // bytes ran out (hound reports that as ErrorKind::Other, not UnexpectedEof).
        hound::Error::IoError(_) => truncated(),
        hound::Error::Unsupported | hound::Error::TooWide | hound::Error::InvalidSampleFormat => {
            AudioError::Unsupported {
                detail: e.to_string(),
            }
        }
        other => AudioError::Malformed {
            detail: other.to_string(),
        },
    }
}

fn describe_tag(tag: u16) -> String {
    let name = match tag {
        0x0001 => "PCM",
        0x0002 => "Microsoft ADPCM",
        0x0003 => "IEEE float",
        0x0006 => "A-law",
        0x0007 => "mu-law",
        0x0011 => "IMA ADPCM",
        0x0031 => "GSM 6.10",
        0x0050 => "MPEG",
        0x0055 => "MP3",
        0x00FF => "AAC",
        0xFFFE => "extensible",
        _ => "unknown",
    };
    format!("0x{tag:04X} ({name})")
}

/// Prints a 4-byte tag as text when it is printable, hex otherwise.
fn show_tag(tag: &[u8]) -> String {
    if !tag.is_empty() && tag.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        format!("{:?}", String::from_utf8_lossy(tag))
    } else {
        let hex: Vec<String> = tag.iter().map(|b| format!("{b:02X}")).collect();
        format!("[{}]", hex.join(" "))
    }
}

fn describe_not_riff(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "the input is empty (0 bytes)".into();
    }
    let head = &bytes[..bytes.len().min(4)];
    let hint = if bytes.starts_with(b"ID3") || bytes.starts_with(&[0xFF, 0xFB]) {
        " (looks like MP3)"
    } else if bytes.starts_with(b"OggS") {
        " (looks like Ogg)"
    } else if bytes.starts_with(b"fLaC") {
        " (looks like FLAC)"
    } else if bytes.get(4..8) == Some(b"ftyp") {
        " (looks like MP4/M4A)"
    } else if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        " (looks like WebM/Matroska)"
    } else if head
        .iter()
        .all(|c| c.is_ascii_graphic() || c.is_ascii_whitespace())
    {
        " (looks like text)"
    } else {
        ""
    };
    format!("starts with {} instead of \"RIFF\"{hint}", show_tag(head))
}

/// Converts `samples` from `from_hz` to `to_hz` with rubato's synchronous FFT
/// resampler (band-limited, BlackmanHarris2 anti-aliasing window).
///
/// The output has `round(len * to_hz / from_hz)` samples and is aligned with
/// the input (the resampler's delay is trimmed); the last partial chunk is
/// zero-padded internally. Equal rates return a copy. NaN/inf become 0 first,
/// since one of them would otherwise smear across a whole FFT block.
///
/// One call converts one whole clip; a live stream cut into pieces needs a
/// stateful resampler instead, or each piece gets its own edge effects.
pub fn resample(samples: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, AudioError> {
    let err = |reason: String| AudioError::Resample {
        from_hz,
        to_hz,
        reason,
    };
    if from_hz == 0 || to_hz == 0 {
        return Err(err("sample rates must be above 0 Hz".into()));
    }
    if from_hz > MAX_RESAMPLE_RATE || to_hz > MAX_RESAMPLE_RATE {
        return Err(err(format!(
            "sample rates above {MAX_RESAMPLE_RATE} Hz are not supported"
        )));
    }
    let clean: Vec<f32> = samples
        .iter()
        .map(|s| if s.is_finite() { *s } else { 0.0 })
        .collect();
    if from_hz == to_hz || clean.is_empty() {
        return Ok(clean);
    }
    let len = clean.len();
    let out_len = resampled_len(len, from_hz, to_hz);
    if out_len > MAX_RESAMPLE_OUTPUT {
        return Err(err(format!(
            "{len} samples would become {out_len}, over the limit of {MAX_RESAMPLE_OUTPUT}"
        )));
    }

    let mut resampler = Fft::<f32>::new_custom(
        from_hz as usize,
        to_hz as usize,
        RESAMPLE_CHUNK,
        1,
        1,
        WindowFunction::BlackmanHarris2,
        FixedSync::Both,
    )
    .map_err(|e| err(e.to_string()))?;
    let input = InterleavedSlice::new(&clean[..], 1, len).map_err(|e| err(e.to_string()))?;
    let output = resampler
        .process_all(&input, len, None)
        .map_err(|e| err(e.to_string()))?;
    let mut out = output.take_data();
    // rubato returns ceil(len * ratio); the contract here is round().
    out.resize(out_len, 0.0);
    Ok(out)
}

/// A resampler fed piece by piece that behaves like one pass over the whole
/// stream: its delay is trimmed from the start, and `finish` flushes the tail
/// so the output has `round(input * to / from)` samples. For streams cut into
/// pieces (TTS sentences, a browser's microphone packets, 48 kHz LiveKit room
/// audio), where [`resample`] per piece would add edge effects at every join.
pub struct StreamResampler {
    fft: Option<Fft<f32>>,
    from: u32,
    to: u32,
    input: Vec<f32>,
    /// Output samples still to drop (the resampler's delay).
    skip: usize,
    fed: u64,
    pub(crate) produced: u64,
    block: Vec<f32>,
}

impl StreamResampler {
    pub fn new(from: u32, to: u32) -> Result<Self, String> {
        Self::with_chunk(from, to, RESAMPLE_CHUNK)
    }

    /// Like [`StreamResampler::new`] with `chunk` input frames per block:
    /// smaller blocks give output sooner (live audio), larger ones a sharper filter.
    pub fn with_chunk(from: u32, to: u32, chunk: usize) -> Result<Self, String> {
        let fft = if from == to {
            None
        } else {
            Some(
                Fft::<f32>::new_custom(
                    from as usize,
                    to as usize,
                    chunk.max(1),
                    1,
                    1,
                    WindowFunction::BlackmanHarris2,
                    FixedSync::Both,
                )
                .map_err(|e| format!("resampler {from} Hz -> {to} Hz: {e}"))?,
            )
        };
        let skip = fft.as_ref().map_or(0, |f| f.output_delay());
        Ok(Self {
            fft,
            from,
            to,
            input: Vec::new(),
            skip,
            fed: 0,
            produced: 0,
            block: Vec::new(),
        })
    }

    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<(), String> {
        self.fed += samples.len() as u64;
        let Some(fft) = self.fft.as_mut() else {
            out.extend_from_slice(samples);
            self.produced += samples.len() as u64;
            return Ok(());
        };
        self.input.extend_from_slice(samples);
        let need = fft.input_frames_next();
        let mut used = 0;
        while self.input.len() - used >= need {
            let block = &self.input[used..used + need];
            Self::process(fft, block, None, &mut self.block)?;
            used += need;
            Self::emit(&self.block, &mut self.skip, &mut self.produced, None, out);
        }
        self.input.drain(..used);
        Ok(())
    }

    /// Flushes what the resampler still holds; the stream is over after this.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), String> {
        let target = self.target_len();
        let Some(fft) = self.fft.as_mut() else {
            return Ok(());
        };
        let need = fft.input_frames_next();
        // The delay plus one partial block is flushed after a bounded number of blocks.
        let max_blocks = fft.output_delay() / fft.output_frames_next().max(1) + 3;
        for _ in 0..max_blocks {
            if self.produced >= target {
                break;
            }
            let partial = self.input.len().min(need);
            let mut block = std::mem::take(&mut self.input);
            block.resize(need, 0.0);
            let indexing = Indexing {
                partial_len: Some(partial),
                ..Indexing::default()
            };
            Self::process(fft, &block, Some(&indexing), &mut self.block)?;
            Self::emit(
                &self.block,
                &mut self.skip,
                &mut self.produced,
                Some(target),
                out,
            );
        }
        Ok(())
    }

    /// Output still owed by [`StreamResampler::finish`] (the delay and the last block).
    pub fn has_tail(&self) -> bool {
        self.produced < self.target_len()
    }

    pub(crate) fn target_len(&self) -> u64 {
        let num = u128::from(self.fed) * u128::from(self.to);
        let from = u128::from(self.from);
        u64::try_from((2 * num + from) / (2 * from)).unwrap_or(u64::MAX)
    }

    fn process(
        fft: &mut Fft<f32>,
        block: &[f32],
        indexing: Option<&Indexing>,
        out: &mut Vec<f32>,
    ) -> Result<(), String> {
        let n_out = fft.output_frames_next();
        out.clear();
        out.resize(n_out, 0.0);
        let input = InterleavedSlice::new(block, 1, block.len()).map_err(|e| e.to_string())?;
        let mut output =
            InterleavedSlice::new_mut(&mut out[..], 1, n_out).map_err(|e| e.to_string())?;
        let (_, written) = fft
            .process_into_buffer(&input, &mut output, indexing)
            .map_err(|e| e.to_string())?;
        out.truncate(written);
        Ok(())
    }

    fn emit(
        block: &[f32],
        skip: &mut usize,
        produced: &mut u64,
        limit: Option<u64>,
        out: &mut Vec<f32>,
    ) {
        let dropped = (*skip).min(block.len());
        *skip -= dropped;
        let mut rest = &block[dropped..];
        if let Some(limit) = limit {
            let room = usize::try_from(limit.saturating_sub(*produced)).unwrap_or(usize::MAX);
            rest = &rest[..rest.len().min(room)];
        }
        out.extend(rest.iter().map(|s| s.clamp(-1.0, 1.0)));
        *produced += rest.len() as u64;
    }
}

/// `round(len * to / from)` without overflow.
fn resampled_len(len: usize, from_hz: u32, to_hz: u32) -> usize {
    let num = len as u128 * u128::from(to_hz);
    let from = u128::from(from_hz);
    let n = (2 * num + from) / (2 * from);
    usize::try_from(n).unwrap_or(usize::MAX)
}

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

/// Root mean square (0 for no samples): a cheap loudness measure for levels
/// and silence checks. Accumulates in f64 so long clips stay accurate.
pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|s| f64::from(*s) * f64::from(*s)).sum();
    (sum / samples.len() as f64).sqrt() as f32
}

/// Largest absolute sample (0 for no samples; NaN ignored): detects clipping.
pub fn peak(samples: &[f32]) -> f32 {
    samples
        .iter()
        .filter(|s| !s.is_nan())
        .fold(0.0f32, |m, s| m.max(s.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn sine(freq: f64, rate: u32, n: usize, amp: f64) -> Vec<f32> {
        (0..n)
            .map(|i| (amp * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as f32)
            .collect()
    }

    /// A WAV written by hound itself, so the decoder is checked against an
    /// independent writer. `frames` holds one Vec per frame (one value per channel).
    fn hound_wav<S: hound::Sample + Copy>(
        spec: hound::WavSpec,
        frames: impl IntoIterator<Item = Vec<S>>,
    ) -> Vec<u8> {
        let mut cur = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut cur, spec).unwrap();
            for frame in frames {
                for s in frame {
                    w.write_sample(s).unwrap();
                }
            }
            w.finalize().unwrap();
        }
        cur.into_inner()
    }

    fn spec(channels: u16, rate: u32, bits: u16, float: bool) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        }
    }

    /// A canonical 44-byte header with arbitrary fields, for malformed inputs.
    fn raw_header(tag: u16, channels: u16, rate: u32, bits: u16, data_len: u32) -> Vec<u8> {
        let block = channels.wrapping_mul(bits / 8);
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&(36u32.wrapping_add(data_len)).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&tag.to_le_bytes());
        h.extend_from_slice(&channels.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&(rate.wrapping_mul(u32::from(block))).to_le_bytes());
        h.extend_from_slice(&block.to_le_bytes());
        h.extend_from_slice(&bits.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data_len.to_le_bytes());
        h
    }

    /// Normalised correlation of `a` and `b`, skipping `edge` samples at both ends.
    fn correlation(a: &[f32], b: &[f32], edge: usize) -> f64 {
        let n = a.len().min(b.len());
        let (a, b) = (&a[edge..n - edge], &b[edge..n - edge]);
        let dot: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum();
        let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        dot / (na * nb)
    }

    fn zero_crossings(s: &[f32]) -> usize {
        s.windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count()
    }

    #[test]
    fn round_trip_encode_decode() {
        let src = sine(440.0, 16_000, 16_000, 0.8);
        let bytes = encode_wav_pcm16(&src, 16_000);
        assert_eq!(bytes.len(), 44 + 2 * src.len());
        let d = decode_wav(&bytes).unwrap();
        assert_eq!((d.sample_rate, d.channels), (16_000, 1));
        assert_eq!(d.samples.len(), src.len());
        assert_eq!(d.duration_ms, 1000);
        let max_err = src
            .iter()
            .zip(&d.samples)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_err < 1.5 / 32768.0, "max error {max_err}");
        assert_eq!((d.non_finite_replaced, d.clamped), (0, 0));
    }

    #[test]
    fn encoded_wav_is_readable_by_hound_and_clamped() {
        let bytes = encode_wav_pcm16(&[2.0, -2.0, f32::NAN, 0.5, f32::INFINITY], 8_000);
        let mut r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!(r.spec(), spec(1, 8_000, 16, false));
        let s: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
        assert_eq!(s, vec![32767, -32767, 0, 16384, 32767]);
    }

    #[test]
    fn write_and_read_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tone.wav");
        let src = sine(1000.0, 24_000, 2_400, 0.5);
        write_wav(&path, &src, 24_000).unwrap();
        let d = read_wav(&path).unwrap();
        assert_eq!(d.sample_rate, 24_000);
        assert_eq!(d.duration_ms, 100);
        assert!((peak(&d.samples) - 0.5).abs() < 1e-3);

        let missing = dir.path().join("missing.wav");
        let e = read_wav(&missing).unwrap_err();
        assert!(matches!(e, AudioError::Io { .. }), "{e:?}");
        assert!(e.to_string().contains("missing.wav"), "{e}");
    }

    #[test]
    fn stereo_48k_mixes_down_by_averaging() {
        // Left is a tone, right is silence: the mix is half the tone.
        let tone = sine(1000.0, 48_000, 48_000, 0.8);
        let bytes = hound_wav(
            spec(2, 48_000, 16, false),
            tone.iter().map(|s| vec![(s * 32767.0) as i16, 0]),
        );
        let d = decode_wav(&bytes).unwrap();
        assert_eq!((d.sample_rate, d.channels), (48_000, 2));
        assert_eq!(d.samples.len(), 48_000);
        assert_eq!(d.duration_ms, 1000);
        assert!(
            (peak(&d.samples) - 0.4).abs() < 1e-3,
            "{}",
            peak(&d.samples)
        );

        // Opposite channels cancel.
        let bytes = hound_wav(
            spec(2, 48_000, 16, false),
            (0..480).map(|_| vec![8192i16, -8192]),
        );
        let d = decode_wav(&bytes).unwrap();
        assert_eq!(d.samples.len(), 480);
        assert_eq!(peak(&d.samples), 0.0);
    }

    #[test]
    fn mono_22050_keeps_length_and_amplitude() {
        let n = 22_050 / 2; // 500 ms
        let bytes = hound_wav(spec(1, 22_050, 16, false), (0..n).map(|_| vec![16384i16]));
        let d = decode_wav(&bytes).unwrap();
        assert_eq!(d.sample_rate, 22_050);
        assert_eq!(d.samples.len(), n);
        assert_eq!(d.duration_ms, 500);
        assert!(d.samples.iter().all(|s| (*s - 0.5).abs() < 1e-6));
    }

    #[test]
    fn eight_bit_unsigned_decodes_centred() {
        // hound stores i8 as unsigned offset-128 bytes, as 8-bit WAV requires.
        let bytes = hound_wav(
            spec(1, 8_000, 8, false),
            [64i8, -64, 0, 127, -128].into_iter().map(|s| vec![s]),
        );
        let d = decode_wav(&bytes).unwrap();
        assert_eq!(d.samples, vec![0.5, -0.5, 0.0, 127.0 / 128.0, -1.0]);
    }

    #[test]
    fn twenty_four_bit_and_three_channels_extensible() {
        // Three channels or more than 16 bits make hound write WAVE_FORMAT_EXTENSIBLE.
        let half = 1 << 22; // 0.5 at 24 bits
        let bytes = hound_wav(
            spec(3, 44_100, 24, false),
            (0..4410).map(|_| vec![half, half, -half]),
        );
        let d = decode_wav(&bytes).unwrap();
        assert_eq!((d.sample_rate, d.channels), (44_100, 3));
        assert_eq!(d.samples.len(), 4410);
        assert_eq!(d.duration_ms, 100);
        let want = 0.5 / 3.0;
        assert!(d
            .samples
            .iter()
            .all(|s| (f64::from(*s) - want).abs() < 1e-6));
    }

    #[test]
    fn thirty_two_bit_int() {
        let bytes = hound_wav(
            spec(1, 16_000, 32, false),
            [i32::MIN, 0, 1 << 30].into_iter().map(|s| vec![s]),
        );
        let d = decode_wav(&bytes).unwrap();
        assert_eq!(d.samples, vec![-1.0, 0.0, 0.5]);
    }

    #[test]
    fn float_samples_are_clamped_and_non_finite_replaced() {
        let vals = [
            0.25f32,
            -0.75,
            1.5,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -3.0,
        ];
        let bytes = hound_wav(spec(1, 16_000, 32, true), vals.iter().map(|s| vec![*s]));
        let d = decode_wav(&bytes).unwrap();
        assert_eq!(d.samples, vec![0.25, -0.75, 1.0, 0.0, 0.0, 0.0, -1.0]);
        assert_eq!(d.non_finite_replaced, 3);
        assert_eq!(d.clamped, 2);

        // Stereo float at 48 kHz: a NaN in one channel counts once and mixes as 0.
        let bytes = hound_wav(
            spec(2, 48_000, 32, true),
            (0..960).map(|i| vec![if i == 10 { f32::NAN } else { 0.5 }, 0.5]),
        );
        let d = decode_wav(&bytes).unwrap();
        assert_eq!(d.samples.len(), 960);
        assert_eq!(d.duration_ms, 20);
        assert_eq!(d.non_finite_replaced, 1);
        assert_eq!(d.samples[10], 0.25);
        assert_eq!(d.samples[11], 0.5);
    }

    #[test]
    fn truncated_file_reports_expected_and_present_frames() {
        let bytes = encode_wav_pcm16(&sine(300.0, 16_000, 1000, 0.5), 16_000);
        let half = &bytes[..bytes.len() / 2];
        let e = decode_wav(half).unwrap_err();
        match &e {
            AudioError::Truncated {
                expected_frames,
                got_frames,
            } => {
                assert_eq!(*expected_frames, 1000);
                assert_eq!(*got_frames, ((bytes.len() / 2 - 44) / 2) as u64);
            }
            other => panic!("wanted Truncated, got {other:?}"),
        }
        let msg = e.to_string();
        assert!(msg.contains("truncated") && msg.contains("1000"), "{msg}");

        // Cut mid-sample (odd length): still a truncation, not a format error.
        let e = decode_wav(&bytes[..101]).unwrap_err();
        assert!(
            matches!(e, AudioError::Truncated { got_frames: 28, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn header_only_file_is_truncated_with_zero_frames() {
        let bytes = encode_wav_pcm16(&[0.1; 500], 16_000);
        let e = decode_wav(&bytes[..44]).unwrap_err();
        assert!(
            matches!(
                e,
                AudioError::Truncated {
                    expected_frames: 500,
                    got_frames: 0
                }
            ),
            "{e:?}"
        );
        // Header cut before the data chunk: no audio at all.
        let e = decode_wav(&bytes[..36]).unwrap_err();
        assert!(
            matches!(e, AudioError::MissingChunk { chunk: "data", .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("no audio"), "{e}");
        // Cut inside the fmt chunk.
        let e = decode_wav(&bytes[..30]).unwrap_err();
        assert!(matches!(e, AudioError::TruncatedHeader { .. }), "{e:?}");
        // Cut inside the RIFF header itself.
        let e = decode_wav(&bytes[..10]).unwrap_err();
        assert!(matches!(e, AudioError::TruncatedHeader { .. }), "{e:?}");
        assert!(e.to_string().contains("10 bytes"), "{e}");
    }

    #[test]
    fn zero_length_data_chunk_is_empty() {
        let e = decode_wav(&raw_header(1, 1, 16_000, 16, 0)).unwrap_err();
        assert!(matches!(e, AudioError::Empty), "{e:?}");
        assert!(e.to_string().contains("zero samples"), "{e}");
        // Same with a chunk after the empty data chunk.
        let mut b = raw_header(1, 1, 16_000, 16, 0);
        b.extend_from_slice(b"LIST\x04\x00\x00\x00INFO");
        assert!(matches!(decode_wav(&b), Err(AudioError::Empty)));
        // encode_wav_pcm16 of nothing makes such a file.
        assert!(matches!(
            decode_wav(&encode_wav_pcm16(&[], 16_000)),
            Err(AudioError::Empty)
        ));
    }

    #[test]
    fn garbage_is_not_a_wav() {
        let e = decode_wav(b"hello, this is certainly not audio").unwrap_err();
        assert!(matches!(e, AudioError::NotWav { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("RIFF") && msg.contains("hell"), "{msg}");

        let e = decode_wav(&[]).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = decode_wav(b"ID3\x04\x00\x00\x00\x00\x00\x00").unwrap_err();
        assert!(e.to_string().contains("MP3"), "{e}");
        let e = decode_wav(&[0x00, 0x9F, 0xFF, 0x01, 0x02]).unwrap_err();
        assert!(e.to_string().contains("00 9F FF 01"), "{e}");
        let e = decode_wav(b"RIFF\x04\x00\x00\x00AVI LIST").unwrap_err();
        assert!(matches!(e, AudioError::NotWav { .. }), "{e:?}");
        assert!(e.to_string().contains("AVI"), "{e}");
    }

    #[test]
    fn zero_channels_and_zero_rate_are_named() {
        let mut b = raw_header(1, 0, 16_000, 16, 4);
        b.extend_from_slice(&[0; 4]);
        assert!(matches!(decode_wav(&b), Err(AudioError::ZeroChannels)));
        let mut b = raw_header(1, 1, 0, 16, 4);
        b.extend_from_slice(&[0; 4]);
        let e = decode_wav(&b).unwrap_err();
        assert!(matches!(e, AudioError::ZeroSampleRate), "{e:?}");
        assert!(e.to_string().contains("0 Hz"));
    }

    #[test]
    fn unsupported_formats_say_which() {
        let mut alaw = raw_header(6, 1, 8_000, 8, 4);
        alaw.extend_from_slice(&[0xD5; 4]);
        let e = decode_wav(&alaw).unwrap_err();
        assert!(matches!(e, AudioError::Unsupported { .. }), "{e:?}");
        assert!(e.to_string().contains("A-law"), "{e}");

        let mut f64wav = raw_header(3, 1, 8_000, 64, 8);
        f64wav.extend_from_slice(&[0; 8]);
        let e = decode_wav(&f64wav).unwrap_err();
        assert!(e.to_string().contains("64-bit float"), "{e}");

        let mut rifx = encode_wav_pcm16(&[0.0; 4], 8_000);
        rifx[3] = b'X';
        let e = decode_wav(&rifx).unwrap_err();
        assert!(matches!(e, AudioError::Unsupported { .. }), "{e:?}");
        assert!(e.to_string().contains("big-endian"), "{e}");
    }

    #[test]
    fn tolerates_streaming_lengths_junk_chunks_and_bad_byte_rate() {
        let src = [0.5f32; 100];
        // Streaming writers leave 0xFFFFFFFF as the data length.
        let mut b = encode_wav_pcm16(&src, 16_000);
        b[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        b.push(0x7F); // half a sample at the end is ignored
        let d = decode_wav(&b).unwrap();
        assert_eq!(d.samples.len(), 100);

        // An odd-sized LIST chunk (with its pad byte) between fmt and data,
        // and a wrong byte-rate field.
        let good = encode_wav_pcm16(&src, 16_000);
        let mut b = good[..36].to_vec();
        b[28..32].copy_from_slice(&1234u32.to_le_bytes());
        b.extend_from_slice(b"LIST\x05\x00\x00\x00abcde\x00");
        b.extend_from_slice(&good[36..]);
        let d = decode_wav(&b).unwrap();
        assert_eq!(d.samples.len(), 100);
        assert!((d.samples[0] - 0.5).abs() < 1e-4);

        // The same chunk without its pad byte (a common writer bug).
        let mut b = good[..36].to_vec();
        b.extend_from_slice(b"LIST\x05\x00\x00\x00abcde");
        b.extend_from_slice(&good[36..]);
        assert_eq!(decode_wav(&b).unwrap().samples.len(), 100);
    }

    /// Tiny deterministic PRNG (xorshift) so the no-panic checks need no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn never_panics_on_hostile_input() {
        let valid = [
            encode_wav_pcm16(&sine(500.0, 8_000, 40, 0.9), 8_000),
            hound_wav(spec(3, 44_100, 24, false), (0..10).map(|i| vec![i, -i, 0])),
            hound_wav(
                spec(2, 48_000, 32, true),
                (0..10).map(|_| vec![0.1f32, f32::NAN]),
            ),
        ];
        for v in &valid {
            // Every prefix.
            for cut in 0..v.len() {
                let _ = decode_wav(&v[..cut]);
            }
            // Byte flips and extreme values in the header.
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
            for _ in 0..3000 {
                let mut m = v.clone();
                for _ in 0..(1 + rng.next() % 4) {
                    let at = (rng.next() % 72) as usize % m.len();
                    m[at] = match rng.next() % 3 {
                        0 => 0x00,
                        1 => 0xFF,
                        _ => rng.next() as u8,
                    };
                }
                if let Ok(d) = decode_wav(&m) {
                    assert!(d.samples.iter().all(|s| (-1.0..=1.0).contains(s)));
                    assert!(d.sample_rate > 0 && d.channels > 0 && !d.samples.is_empty());
                }
            }
        }
        // Pure noise behind a RIFF/WAVE magic.
        let mut rng = Rng(42);
        for len in 0..400 {
            let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if len >= 12 {
                b[..4].copy_from_slice(b"RIFF");
                b[8..12].copy_from_slice(b"WAVE");
            }
            let _ = decode_wav(&b);
        }
    }

    #[test]
    fn resample_48k_to_16k_keeps_a_1khz_tone() {
        let src = sine(1000.0, 48_000, 48_000, 0.5);
        let out = resample(&src, 48_000, 16_000).unwrap();
        assert_eq!(out.len(), 16_000);
        let want = sine(1000.0, 16_000, 16_000, 0.5);
        let c = correlation(&out, &want, 200);
        assert!(c > 0.999, "correlation {c}");
        let zc = zero_crossings(&out[200..out.len() - 200]);
        let want_zc = zero_crossings(&want[200..want.len() - 200]);
        assert!(zc.abs_diff(want_zc) <= 2, "{zc} vs {want_zc}");
        assert!((rms(&out[200..15_800]) - 0.5 / 2f32.sqrt()).abs() < 0.01);
    }

    #[test]
    fn resample_16k_to_24k_keeps_a_1khz_tone() {
        let src = sine(1000.0, 16_000, 16_000, 0.5);
        let out = resample(&src, 16_000, 24_000).unwrap();
        assert_eq!(out.len(), 24_000);
        let want = sine(1000.0, 24_000, 24_000, 0.5);
        let c = correlation(&out, &want, 200);
        assert!(c > 0.999, "correlation {c}");
        let zc = zero_crossings(&out[200..out.len() - 200]);
        let want_zc = zero_crossings(&want[200..want.len() - 200]);
        assert!(zc.abs_diff(want_zc) <= 2, "{zc} vs {want_zc}");
    }

    #[test]
    fn downsampling_filters_out_what_would_alias() {
        // 10 kHz cannot exist at 16 kHz (Nyquist 8 kHz); without a filter it
        // would fold back to 6 kHz at full level.
        let src = sine(10_000.0, 48_000, 48_000, 0.5);
        let out = resample(&src, 48_000, 16_000).unwrap();
        let r = rms(&out[200..out.len() - 200]);
        assert!(r < 0.001, "aliased energy rms {r}");
        // 7 kHz is inside the 16 kHz band and must survive.
        let src = sine(7_000.0, 48_000, 48_000, 0.5);
        let out = resample(&src, 48_000, 16_000).unwrap();
        let r = rms(&out[200..out.len() - 200]);
        assert!((r - 0.5 / 2f32.sqrt()).abs() < 0.02, "7 kHz rms {r}");
    }

    #[test]
    fn resample_every_common_pair_both_ways() {
        let rates = [8_000u32, 16_000, 22_050, 24_000, 44_100, 48_000];
        for &from in &rates {
            // An odd length, not a multiple of any chunk size.
            let n = (from as usize / 3) + 7;
            let src = sine(300.0, from, n, 0.6);
            for &to in &rates {
                let out = resample(&src, from, to).unwrap();
                let want_len = ((n as f64) * f64::from(to) / f64::from(from)).round() as usize;
                assert_eq!(out.len(), want_len, "{from} -> {to}");
                let want = sine(300.0, to, out.len(), 0.6);
                let edge = (to / 100) as usize;
                let c = correlation(&out, &want, edge);
                assert!(c > 0.99, "{from} -> {to}: correlation {c}");
            }
        }
    }

    #[test]
    fn resample_edge_cases() {
        let x = [0.1f32, -0.2, f32::NAN, 0.4];
        assert_eq!(
            resample(&x, 16_000, 16_000).unwrap(),
            vec![0.1, -0.2, 0.0, 0.4]
        );
        assert!(resample(&[], 48_000, 16_000).unwrap().is_empty());
        assert_eq!(resample(&[0.3], 48_000, 16_000).unwrap().len(), 0); // round(1/3)
        assert_eq!(resample(&[0.3; 7], 8_000, 44_100).unwrap().len(), 39); // round(38.5875)
        assert_eq!(resample(&[0.3; 2], 48_000, 16_000).unwrap().len(), 1); // round(0.667)
        for (from, to) in [(0, 16_000), (16_000, 0), (16_000, 10_000_000)] {
            let e = resample(&x, from, to).unwrap_err();
            assert!(matches!(e, AudioError::Resample { .. }), "{e:?}");
            assert!(
                e.to_string().contains(&format!("{from} Hz -> {to} Hz")),
                "{e}"
            );
        }
        // Coprime rates still work.
        assert_eq!(resample(&[0.0; 1000], 44_101, 16_000).unwrap().len(), 363);
    }

    #[test]
    fn stt_frames_are_20ms_at_16k() {
        // 1 s of stereo 48 kHz: exactly 50 frames.
        let bytes = hound_wav(
            spec(2, 48_000, 16, false),
            sine(1000.0, 48_000, 48_000, 0.5)
                .iter()
                .map(|s| vec![(s * 32767.0) as i16; 2]),
        );
        let d = decode_wav(&bytes).unwrap();
        let frames = to_stt_frames(&d).unwrap();
        assert_eq!(frames.len(), 50);
        assert!(frames
            .iter()
            .all(|f| f.sample_rate == STT_SAMPLE_RATE && f.samples.len() == FRAME_SAMPLES_16K));
        assert!(frames.iter().all(|f| f.duration_ms() == 20));

        // 1010 ms at 22.05 kHz: ceil(1010 / 20) = 51 frames, the last zero-padded.
        let n = 22_271; // 1010.02 ms
        let d = decode_wav(&hound_wav(
            spec(1, 22_050, 16, false),
            (0..n).map(|_| vec![8192i16]),
        ))
        .unwrap();
        assert_eq!(d.duration_ms, 1010);
        let frames = to_stt_frames(&d).unwrap();
        assert_eq!(frames.len(), (d.duration_ms as usize).div_ceil(20));
        let last = &frames[50].samples;
        assert_eq!(last.len(), 320);
        assert!(last[200..].iter().all(|s| *s == 0.0));
        assert!((last[100] - 0.25).abs() < 0.01, "{}", last[100]);

        // 30 ms at 8 kHz: 2 frames.
        let d = decode_wav(&encode_wav_pcm16(&[0.1; 240], 8_000)).unwrap();
        assert_eq!(to_stt_frames(&d).unwrap().len(), 2);

        let mut empty = d.clone();
        empty.samples.clear();
        assert!(matches!(to_stt_frames(&empty), Err(AudioError::Empty)));
        let mut no_rate = d;
        no_rate.sample_rate = 0;
        assert!(matches!(
            to_stt_frames(&no_rate),
            Err(AudioError::ZeroSampleRate)
        ));
    }

    #[test]
    fn rms_and_peak() {
        assert_eq!(rms(&[]), 0.0);
        assert_eq!(peak(&[]), 0.0);
        assert!((rms(&[0.5, -0.5, 0.5, -0.5]) - 0.5).abs() < 1e-7);
        assert!((rms(&sine(100.0, 8_000, 8_000, 1.0)) - 0.5f32.sqrt()).abs() < 1e-4);
        assert_eq!(peak(&[0.1, -0.9, f32::NAN, 0.3]), 0.9);
    }

    /// Not a benchmark: a smoke check that converting a minute of audio stays
    /// cheap even in a debug build (it prints the time for a human to read).
    #[test]
    fn resampling_a_minute_is_quick() {
        let src = sine(440.0, 48_000, 48_000 * 60, 0.5);
        let t = std::time::Instant::now();
        let out = resample(&src, 48_000, 16_000).unwrap();
        let took = t.elapsed();
        eprintln!("resampled 60 s 48k -> 16k in {took:?}");
        assert_eq!(out.len(), 16_000 * 60);
        assert!(took.as_secs() < 20, "took {took:?}");
    }

    #[test]
    fn stream_resampler_is_seamless_across_pieces() {
        let from = 22_050;
        let to = 24_000;
        let tone: Vec<f32> = (0..from as usize)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / from as f32).sin() * 0.5)
            .collect();
        let mut r = StreamResampler::new(from, to).unwrap();
        let mut out = Vec::new();
        // Uneven pieces, as sentences come.
        for piece in tone.chunks(3001) {
            r.push(piece, &mut out).unwrap();
        }
        r.finish(&mut out).unwrap();
        // Same as resampling the whole clip in one go: no seams at the pieces.
        let whole = resample(&tone, from, to).unwrap();
        assert_eq!(out.len(), whole.len());
        let worst = out
            .iter()
            .zip(&whole)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 1e-4,
            "worst difference from one-pass resampling {worst}"
        );
    }
}
