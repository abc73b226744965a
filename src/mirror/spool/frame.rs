//! One record on disk: `u32 LE body_len | u32 LE crc32(body) | body`, the body
//! being `u64 seq | u64 event_time_ms | u16 len + topic | u8 flags
//! [+ u16 len + key if flags & 1] [+ u16 len + subject if flags & 2] |
//! u16 len + message_id | u32 len + payload` (all little endian). Flags 0 and
//! 1 are the format before `subject` existed, so an older spool still reads
//! (a binary from before reads flags 2 and 3 as damage: flush the spool
//! before going back to one). Encoding checks the field sizes; decoding
//! reports damage (short frame, CRC mismatch, bad body) as [`Frame::Bad`]
//! rather than an error.

use super::error::SpoolError;
use std::io::{self, Read};

/// Frame header: `u32 body_len | u32 crc32(body)`.
pub(super) const FRAME_HEADER: usize = 8;
/// Fixed part of a body: seq(8) + event_time(8) + topic len(2) + key flag(1)
/// + message_id len(2) + payload len(4).
const MIN_BODY: usize = 25;

/// One event waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpoolRecord {
    pub topic: String,
    pub key: Option<String>,
    /// The NATS subject of an event on the realtime topic (a message property).
    pub subject: Option<String>,
    pub message_id: String,
    pub event_time_ms: u64,
    pub payload: Vec<u8>,
}

/// What [`read_frame`] found.
pub(super) enum Frame {
    /// No bytes left.
    End,
    /// Damaged bytes, and why.
    Bad(String),
    Record {
        seq: u64,
        rec: SpoolRecord,
        /// Bytes of the whole frame.
        len: u64,
    },
}

pub(super) fn body_len(rec: &SpoolRecord) -> Result<usize, SpoolError> {
    fn check(field: &'static str, len: usize, max: usize) -> Result<usize, SpoolError> {
        if len > max {
            Err(SpoolError::RecordTooLarge { field, len, max })
        } else {
            Ok(len)
        }
    }
    let u16max = u16::MAX as usize;
    let mut len = MIN_BODY;
    len += check("topic", rec.topic.len(), u16max)?;
    len += check("message_id", rec.message_id.len(), u16max)?;
    if let Some(key) = &rec.key {
        len += 2 + check("key", key.len(), u16max)?;
    }
    if let Some(subject) = &rec.subject {
        len += 2 + check("subject", subject.len(), u16max)?;
    }
    let max_payload = u32::MAX as usize - len;
    len += check("payload", rec.payload.len(), max_payload)?;
    Ok(len)
}

/// Appends one framed record; `body_len` comes from [`body_len`].
pub(super) fn encode_frame(seq: u64, rec: &SpoolRecord, body_len: usize, out: &mut Vec<u8>) {
    out.reserve(FRAME_HEADER + body_len);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    let crc_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let body_at = out.len();
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&rec.event_time_ms.to_le_bytes());
    out.extend_from_slice(&(rec.topic.len() as u16).to_le_bytes());
    out.extend_from_slice(rec.topic.as_bytes());
    out.push(u8::from(rec.key.is_some()) | (u8::from(rec.subject.is_some()) << 1));
    for s in [&rec.key, &rec.subject].into_iter().flatten() {
        out.extend_from_slice(&(s.len() as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(&(rec.message_id.len() as u16).to_le_bytes());
    out.extend_from_slice(rec.message_id.as_bytes());
    out.extend_from_slice(&(rec.payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&rec.payload);
    debug_assert_eq!(out.len() - body_at, body_len);
    let crc = crc32fast::hash(&out[body_at..]);
    out[crc_at..body_at].copy_from_slice(&crc.to_le_bytes());
}

struct Decoder<'a> {
    buf: &'a [u8],
}

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.buf.len() < n {
            return Err(format!("record body truncated in {what}"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
    fn string(&mut self, what: &str) -> Result<String, String> {
        let len = self.u16(what)? as usize;
        let b = self.take(len, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
    }
}

fn decode_body(body: &[u8]) -> Result<(u64, SpoolRecord), String> {
    let mut d = Decoder { buf: body };
    let seq = d.u64("seq")?;
    let event_time_ms = d.u64("event_time_ms")?;
    let topic = d.string("topic")?;
    let flags = d.u8("flags")?;
    if flags > 3 {
        return Err(format!("invalid flags {flags}"));
    }
    let key = if flags & 1 != 0 {
        Some(d.string("key")?)
    } else {
        None
    };
    let subject = if flags & 2 != 0 {
        Some(d.string("subject")?)
    } else {
        None
    };
    let message_id = d.string("message_id")?;
    let len = d.u32("payload")? as usize;
    let payload = d.take(len, "payload")?.to_vec();
    if !d.buf.is_empty() {
        return Err(format!("{} trailing bytes in record body", d.buf.len()));
    }
    let rec = SpoolRecord {
        topic,
        key,
        subject,
        message_id,
        event_time_ms,
        payload,
    };
    Ok((seq, rec))
}

/// Reads one frame from `r`, which has `remaining` valid bytes left. Damage
/// is reported as `Frame::Bad`; only real I/O failures are errors.
pub(super) fn read_frame<R: Read>(
    r: &mut R,
    remaining: u64,
    buf: &mut Vec<u8>,
) -> io::Result<Frame> {
    fn eof_is_bad(res: io::Result<()>, what: &str) -> io::Result<Option<Frame>> {
        match res {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Some(Frame::Bad(format!(
                "unexpected end of file in {what}"
            )))),
            Err(e) => Err(e),
        }
    }
    if remaining == 0 {
        return Ok(Frame::End);
    }
    if remaining < FRAME_HEADER as u64 {
        return Ok(Frame::Bad(format!(
            "short frame header ({remaining} bytes)"
        )));
    }
    let mut hdr = [0u8; FRAME_HEADER];
    if let Some(bad) = eof_is_bad(r.read_exact(&mut hdr), "frame header")? {
        return Ok(bad);
    }
    let body_len = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as u64;
    let stored_crc = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
    let left = remaining - FRAME_HEADER as u64;
    if body_len > left {
        return Ok(Frame::Bad(format!(
            "frame body of {body_len} bytes but only {left} bytes left"
        )));
    }
    if body_len < MIN_BODY as u64 {
        return Ok(Frame::Bad(format!(
            "frame body of {body_len} bytes is too short"
        )));
    }
    buf.clear();
    buf.resize(body_len as usize, 0);
    if let Some(bad) = eof_is_bad(r.read_exact(buf), "frame body")? {
        return Ok(bad);
    }
    let crc = crc32fast::hash(buf);
    if crc != stored_crc {
        return Ok(Frame::Bad(format!(
            "crc mismatch (stored {stored_crc:08x}, computed {crc:08x})"
        )));
    }
    Ok(match decode_body(buf) {
        Ok((seq, rec)) => Frame::Record {
            seq,
            rec,
            len: FRAME_HEADER as u64 + body_len,
        },
        Err(reason) => Frame::Bad(reason),
    })
}
