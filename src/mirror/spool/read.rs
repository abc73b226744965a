//! Reading records back from the segments, in order, from the read position
//! (`scan`); damage found after open is skipped as recovery does.

use super::error::{io_err, SpoolError};
use super::frame::{read_frame, Frame, SpoolRecord};
use super::segment::{Pos, SegReader, READ_BUF};
use super::Spool;
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use tracing::warn;

impl Spool {
    /// Reads the record at `scan` and advances past it; `None` at the end of
    /// the log. Corruption found here (data damaged after `open`) is skipped
    /// like during recovery.
    pub(super) fn read_next(&mut self) -> Result<Option<(u64, SpoolRecord)>, SpoolError> {
        loop {
            let i = match self.seg_index(self.scan.seg) {
                Some(i) => i,
                None => {
                    // The segment is gone; continue with the next one.
                    let next = self
                        .segments
                        .iter()
                        .find(|s| s.first_seq > self.scan.seg)
                        .map(|s| s.first_seq);
                    match next {
                        Some(seg) => {
                            self.scan = Pos::start_of(seg);
                            continue;
                        }
                        None => return Ok(None),
                    }
                }
            };
            let is_active = i + 1 == self.segments.len();
            if is_active {
                self.flush_pending()?;
            }
            let seg = &self.segments[i];
            if self.scan.off >= seg.valid_len {
                if is_active {
                    return Ok(None);
                }
                self.scan = Pos::start_of(self.segments[i + 1].first_seq);
                continue;
            }
            let remaining = seg.valid_len - self.scan.off;
            let expected = seg.first_seq + self.scan.idx;

            let reader = match self.reader.take() {
                Some(r) if r.seg == seg.first_seq => r,
                _ => {
                    let f = File::open(&seg.path).map_err(io_err(&seg.path))?;
                    SegReader {
                        seg: seg.first_seq,
                        pos: 0,
                        inner: BufReader::with_capacity(READ_BUF, f),
                    }
                }
            };
            let mut reader = reader;
            if reader.pos != self.scan.off {
                reader
                    .inner
                    .seek(SeekFrom::Start(self.scan.off))
                    .map_err(io_err(&seg.path))?;
                reader.pos = self.scan.off;
            }
            let mut buf = std::mem::take(&mut self.read_buf);
            let frame = read_frame(&mut reader.inner, remaining, &mut buf);
            self.read_buf = buf;
            let reason = match frame.map_err(io_err(&seg.path))? {
                Frame::Record { seq, rec, len } if seq == expected => {
                    reader.pos += len;
                    self.reader = Some(reader);
                    self.scan.off += len;
                    self.scan.idx += 1;
                    return Ok(Some((seq, rec)));
                }
                Frame::Record { seq, .. } => {
                    format!("sequence {seq} where {expected} was expected")
                }
                Frame::End => "unexpected end of segment".to_string(),
                Frame::Bad(reason) => reason,
            };
            // `reader` is dropped: its position is no longer meaningful.
            self.skip_rest_of_segment(i, reason)?;
        }
    }

    fn skip_rest_of_segment(&mut self, i: usize, reason: String) -> Result<(), SpoolError> {
        let is_active = i + 1 == self.segments.len();
        let off = self.scan.off;
        let idx = self.scan.idx;
        let seg = &mut self.segments[i];
        let lost_records = seg.count.saturating_sub(idx);
        warn!(
            file = %seg.path.display(),
            offset = off,
            lost_bytes = seg.file_len.saturating_sub(off),
            lost_records,
            reason = %reason,
            "spool: corrupt record while reading, skipping the rest of the segment"
        );
        seg.valid_len = off;
        seg.count = idx;
        seg.last_seq = (idx > 0).then(|| seg.first_seq + idx - 1);
        self.depth = self.depth.saturating_sub(lost_records);
        if is_active {
            // New appends must not land behind the corrupt bytes.
            self.active_broken = true;
            self.roll()?;
        }
        Ok(())
    }
}
