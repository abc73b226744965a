//! The queue API of [`Spool`]: append, flush, sync, peek, commit; and what
//! keeps the files in shape behind it (writing the buffer, rolling to a new
//! segment, deleting delivered ones).

use super::cursor::write_cursor;
use super::error::{io_err, SpoolError};
use super::frame::{body_len, encode_frame, SpoolRecord, FRAME_HEADER};
use super::segment::{create_segment, remove_if_exists, Pos};
use super::{Spool, WRITE_BUF};
use std::fs::File;
use std::io::{self, Write};

/// Rolled segments whose fsync is deferred to the next [`Spool::sync`].
const MAX_UNSYNCED: usize = 32;

impl Spool {
    /// Appends a record and returns its sequence number (monotonic, continues
    /// across restarts). The record is buffered in memory until [`flush`]
    /// (or until 64 KiB are buffered); on error nothing was stored.
    ///
    /// [`flush`]: Spool::flush
    pub(crate) fn append(&mut self, rec: &SpoolRecord) -> Result<u64, SpoolError> {
        let body_len = body_len(rec)?;
        let frame_len = (FRAME_HEADER + body_len) as u64;
        if self.total_bytes + frame_len > self.opts.max_bytes {
            // Committed data in the active segment is only reclaimed once it
            // rolls; do that now rather than refusing forever.
            let active = self.active();
            if active.file_len > 0 && active.last_seq.is_none_or(|l| l <= self.persisted) {
                self.roll()?;
                self.reclaim()?;
            }
            if self.total_bytes + frame_len > self.opts.max_bytes {
                return Err(SpoolError::Full {
                    max_bytes: self.opts.max_bytes,
                });
            }
        }
        let active = self.active();
        if self.active_broken
            || (active.file_len > 0 && active.file_len + frame_len > self.opts.segment_bytes)
        {
            self.roll()?;
        }
        if self.pending.len() >= WRITE_BUF {
            self.flush_pending()?;
        }

        let seq = self.next_seq;
        encode_frame(seq, rec, body_len, &mut self.pending);
        self.next_seq += 1;
        let active = self.segments.back_mut().expect("active segment exists");
        active.file_len += frame_len;
        active.count += 1;
        active.last_seq = Some(seq);
        self.total_bytes += frame_len;
        self.depth += 1;
        Ok(seq)
    }

    /// Hands buffered records to the OS (`write`): after this returns, a
    /// process crash (kill -9) loses nothing. Not power-loss safe; see
    /// [`sync`](Spool::sync).
    pub(crate) fn flush(&mut self) -> Result<(), SpoolError> {
        self.flush_pending()
    }

    /// Flushes, then fsyncs segment data and the directory (file creations,
    /// deletions, cursor rename) for power-loss durability. Meant to be called
    /// periodically by the owner.
    pub(crate) fn sync(&mut self) -> Result<(), SpoolError> {
        self.flush_pending()?;
        while let Some((path, file)) = self.unsynced.last() {
            file.sync_data().map_err(io_err(path))?;
            self.unsynced.pop();
        }
        if self.active_dirty {
            let path = &self.active().path;
            self.active_file.sync_data().map_err(io_err(path))?;
            self.active_dirty = false;
        }
        if self.dir_dirty {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err(&self.dir))?;
            self.dir_dirty = false;
        }
        Ok(())
    }

    /// Returns up to `max` of the oldest uncommitted records in order. Calling
    /// again without a commit returns the same records. Buffered appends are
    /// flushed first so they are visible. Decoded records are kept in a
    /// read-ahead buffer, so repeated peeks do not re-read the files.
    pub(crate) fn peek(&mut self, max: usize) -> Result<Vec<(u64, SpoolRecord)>, SpoolError> {
        while self.ahead.len() < max {
            match self.read_next()? {
                Some(item) => self.ahead.push_back(item),
                None => break,
            }
        }
        Ok(self.ahead.iter().take(max).cloned().collect())
    }

    /// Marks every record with sequence `<= seq` delivered: persists the
    /// cursor atomically (temp file + fsync + rename) and deletes segment
    /// files holding only committed records. Committing an older sequence is
    /// a no-op; a sequence never appended is an error.
    pub(crate) fn commit(&mut self, seq: u64) -> Result<(), SpoolError> {
        let last = self.next_seq - 1;
        if seq > last {
            return Err(SpoolError::CommitBeyondEnd { seq, last });
        }
        if seq > self.committed {
            loop {
                if self.ahead.is_empty() {
                    match self.read_next()? {
                        Some(item) => self.ahead.push_back(item),
                        None => break,
                    }
                }
                match self.ahead.front() {
                    Some((s, _)) if *s <= seq => {
                        self.ahead.pop_front();
                        self.depth = self.depth.saturating_sub(1);
                    }
                    _ => break,
                }
            }
            self.committed = seq;
        }
        if self.committed > self.persisted {
            write_cursor(&self.dir, self.committed)?;
            self.dir_dirty = true;
            self.persisted = self.committed;
        }
        self.reclaim()
    }

    /// Writes all buffered bytes. On a partial failure the bytes that made
    /// it stay accounted for and the rest stays buffered, so a retry
    /// continues exactly where the file ends.
    pub(super) fn flush_pending(&mut self) -> Result<(), SpoolError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut written = 0;
        let res = loop {
            if written == self.pending.len() {
                break Ok(());
            }
            match self.active_file.write(&self.pending[written..]) {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        if written > 0 {
            self.active_dirty = true;
        }
        self.pending.drain(..written);
        if self.pending.is_empty() && self.pending.capacity() > 4 * WRITE_BUF {
            self.pending = Vec::with_capacity(WRITE_BUF);
        }
        let active = self.segments.back_mut().expect("active segment exists");
        active.valid_len += written as u64;
        res.map_err(io_err(&active.path))
    }

    /// Starts a new active segment named after the next sequence.
    pub(super) fn roll(&mut self) -> Result<(), SpoolError> {
        self.flush_pending()?;
        // Bound the open handles kept for `sync` if the owner syncs rarely.
        if self.unsynced.len() >= MAX_UNSYNCED {
            let (path, f) = &self.unsynced[0];
            f.sync_data().map_err(io_err(path))?;
            self.unsynced.remove(0);
        }
        let (seg, file) = create_segment(&self.dir, self.next_seq)?;
        let old = std::mem::replace(&mut self.active_file, file);
        if self.active_dirty {
            self.unsynced.push((self.active().path.clone(), old));
        }
        self.segments.push_back(seg);
        self.active_dirty = false;
        self.active_broken = false;
        self.dir_dirty = true;
        Ok(())
    }

    /// Deletes leading segments whose records are all covered by the
    /// persisted cursor. The active segment is kept (it rolls when full).
    fn reclaim(&mut self) -> Result<(), SpoolError> {
        while self.segments.len() > 1 {
            let front = &self.segments[0];
            if front.last_seq.is_some_and(|l| l > self.persisted) {
                break;
            }
            remove_if_exists(&front.path)?;
            // A deleted segment needs no fsync.
            self.unsynced.retain(|(p, _)| *p != front.path);
            if self
                .reader
                .as_ref()
                .is_some_and(|r| r.seg == front.first_seq)
            {
                self.reader = None;
            }
            self.total_bytes -= front.file_len;
            self.segments.pop_front();
            self.dir_dirty = true;
        }
        let front = self.segments[0].first_seq;
        if self.scan.seg < front {
            self.scan = Pos::start_of(front);
        }
        Ok(())
    }
}
