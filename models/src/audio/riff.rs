//! The RIFF chunk walk in front of `hound`: finds `fmt ` and `data`, checks
//! what hound would only report vaguely (or not tolerate), and names what is
//! wrong with bad input. Used by `wav` only.

use super::error::AudioError;

/// The streaming-writer placeholder for "length unknown, read to the end".
pub(super) const UNKNOWN_LEN: u32 = u32::MAX;

pub(super) const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// What the `fmt ` chunk says, kept raw so errors can quote it.
#[derive(Debug, Clone, Copy)]
pub(super) struct FmtInfo {
    tag: u16,
    channels: u16,
    sample_rate: u32,
    pub(super) block_align: u16,
    bits: u16,
    /// For WAVE_FORMAT_EXTENSIBLE: valid bits and the sub-format's tag.
    extensible: Option<(u16, u16)>,
    /// The first 40 bytes of an extensible fmt body (hound re-reads them).
    ext_body: [u8; 40],
}

/// Where the parts hound needs sit in the file.
#[derive(Debug)]
pub(super) struct RiffLayout {
    pub(super) fmt: FmtInfo,
    pub(super) data_offset: usize,
    pub(super) data_declared: u32,
    /// Bytes of the data chunk actually present (≤ declared unless streaming).
    pub(super) data_available: usize,
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
pub(super) fn scan_riff(bytes: &[u8]) -> Result<RiffLayout, AudioError> {
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
pub(super) fn canonical_header(layout: &RiffLayout, data_len: u32) -> Result<Vec<u8>, AudioError> {
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

pub(super) fn hound_header_error(e: hound::Error, fmt: &FmtInfo) -> AudioError {
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

pub(super) fn hound_sample_error(
    e: hound::Error,
    truncated: impl FnOnce() -> AudioError,
) -> AudioError {
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
