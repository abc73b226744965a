//! Durable on-disk spool for events bound for Apache Pulsar.
//!
//! Events are appended here first and delivered from here in order, so a
//! broker outage or a crash of this node (kill -9: the process dies, the OS
//! page cache survives) loses nothing that was [`Spool::flush`]ed. Delivery is
//! at-least-once: after a crash every record after the last persisted commit
//! cursor is replayed, readers dedup by `message_id`.
//!
//! # On-disk layout
//!
//! * `<dir>/<first_seq:020>.seg`: segment files. Each record is framed as
//!   `u32 LE body_len | u32 LE crc32(body) | body`, the body being
//!   `u64 seq | u64 event_time_ms | u16 len + topic | u8 key flag [+ u16 len + key]
//!   | u16 len + message_id | u32 len + payload` (all little endian). Within a
//!   segment sequences are contiguous and start at the number in the name.
//! * `<dir>/cursor`: last committed sequence as `"<seq> <crc32 hex>\n"`,
//!   replaced atomically (temp file + fsync + rename).
//! * `<dir>/lock`: held with an exclusive advisory lock while a [`Spool`] is
//!   open, so two processes can never interleave writes into one spool.
//!
//! # Recovery
//!
//! [`Spool::open`] scans every segment. A torn or corrupt tail of the last
//! segment (what a crash mid-write leaves) is truncated away; corruption inside
//! an older segment makes the rest of that segment unreadable, so it is skipped
//! (with a warning naming file, offset and lost bytes) and reading continues
//! with the next segment: the node keeps running rather than refusing to start.

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tracing::warn;

/// Frame header: `u32 body_len | u32 crc32(body)`.
const FRAME_HEADER: usize = 8;
/// Fixed part of a body: seq(8) + event_time(8) + topic len(2) + key flag(1)
/// + message_id len(2) + payload len(4).
const MIN_BODY: usize = 25;
const SEG_SUFFIX: &str = ".seg";
const CURSOR_FILE: &str = "cursor";
const CURSOR_TMP: &str = "cursor.tmp";
const LOCK_FILE: &str = "lock";
/// Appends are collected in memory up to this size before a `write` syscall,
/// so small records do not cost one syscall each.
const WRITE_BUF: usize = 64 * 1024;
const READ_BUF: usize = 64 * 1024;
/// Rolled segments whose fsync is deferred to the next [`Spool::sync`].
const MAX_UNSYNCED: usize = 32;

/// One event waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolRecord {
    pub topic: String,
    pub key: Option<String>,
    pub message_id: String,
    pub event_time_ms: u64,
    pub payload: Vec<u8>,
}

/// Tuning knobs of a [`Spool`].
#[derive(Debug, Clone)]
pub struct SpoolOptions {
    /// Roll to a new segment file once the current one would grow past this
    /// size (a single larger record still gets a segment of its own). Space is
    /// reclaimed a whole segment at a time, so this bounds the committed data
    /// kept on disk. Default 8 MiB.
    pub segment_bytes: u64,
    /// Refuse appends ([`SpoolError::Full`]) past this many bytes of segment
    /// files, so a long broker outage cannot fill the disk. Should be well
    /// above `segment_bytes`. Default 1 GiB.
    pub max_bytes: u64,
}

impl Default for SpoolOptions {
    fn default() -> Self {
        SpoolOptions {
            segment_bytes: 8 * 1024 * 1024,
            max_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// Errors of the spool. Corrupt data found on disk is normally recovered from
/// (with a warning) rather than reported.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The append would take the spool past `max_bytes`; the record was not
    /// stored (the caller counts the drop).
    #[error("spool full: appending would exceed max_bytes={max_bytes}")]
    Full { max_bytes: u64 },
    /// Unrecoverable corruption. Reserved: torn tails and corrupt segments
    /// are currently recovered from by truncating or skipping.
    #[error("spool corrupt at {}:{offset}: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A field does not fit the binary encoding (u16 lengths for strings, u32
    /// for the whole body); the record was not stored.
    #[error("record field {field} is {len} bytes, at most {max} allowed")]
    RecordTooLarge {
        field: &'static str,
        len: usize,
        max: usize,
    },
    /// `commit` named a sequence number that was never handed out.
    #[error("cannot commit sequence {seq}: last appended sequence is {last}")]
    CommitBeyondEnd { seq: u64, last: u64 },
    /// Another `Spool` (in this or another process) has the directory open.
    #[error("spool directory is in use (lock held on {})", path.display())]
    Locked { path: PathBuf },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A position in the log: segment (by first sequence), byte offset, and the
/// index of the record at that offset within the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    seg: u64,
    off: u64,
    idx: u64,
}

#[derive(Debug)]
struct Segment {
    first_seq: u64,
    path: PathBuf,
    /// Bytes in the file (for the active segment: including unflushed bytes).
    file_len: u64,
    /// End of the last readable record; reading stops here. Lower than
    /// `file_len` when the rest was found corrupt, or (active segment) when
    /// bytes are still buffered.
    valid_len: u64,
    /// Readable records (for the active segment: including buffered ones).
    count: u64,
    last_seq: Option<u64>,
}

/// Cached read handle so consecutive reads do not reopen or seek.
struct SegReader {
    seg: u64,
    pos: u64,
    inner: BufReader<File>,
}

/// Durable, ordered, at-least-once event spool. See the module docs.
///
/// Not thread safe by itself (`&mut self` everywhere); the owner serialises
/// access, e.g. from one actor.
pub struct Spool {
    dir: PathBuf,
    opts: SpoolOptions,
    /// Held for the advisory lock only.
    _lock: File,
    /// Non-empty; the last one is the active segment being appended to.
    segments: VecDeque<Segment>,
    active_file: File,
    /// Appended bytes not yet written to `active_file`.
    pending: Vec<u8>,
    /// Bytes written to the active segment since the last fsync.
    active_dirty: bool,
    /// Corruption was found inside the active segment: the next append must
    /// roll, because bytes after the corrupt spot can never be read back.
    active_broken: bool,
    /// Rolled-away segments not fsynced yet.
    unsynced: Vec<(PathBuf, File)>,
    /// Files were created, renamed or removed since the last directory fsync.
    dir_dirty: bool,
    next_seq: u64,
    /// Highest committed sequence (in memory).
    committed: u64,
    /// Highest committed sequence known to be in the cursor file.
    persisted: u64,
    depth: u64,
    total_bytes: u64,
    /// Where the next record not yet in `ahead` is read from.
    scan: Pos,
    /// Read-ahead: decoded uncommitted records, oldest first, ending at `scan`.
    ahead: VecDeque<(u64, SpoolRecord)>,
    reader: Option<SegReader>,
    read_buf: Vec<u8>,
}

impl fmt::Debug for Spool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.dir)
            .field("segments", &self.segments.len())
            .field("next_seq", &self.next_seq)
            .field("committed", &self.committed)
            .field("depth", &self.depth)
            .field("bytes", &self.total_bytes)
            .finish()
    }
}

enum Frame {
    End,
    Bad(String),
    Record {
        seq: u64,
        rec: SpoolRecord,
        len: u64,
    },
}

struct ScanResult {
    file_len: u64,
    valid_len: u64,
    count: u64,
    bad: Option<String>,
    /// First record with a sequence above the cursor.
    first_uncommitted: Option<Pos>,
    uncommitted: u64,
}

impl Spool {
    /// Opens (creating `dir` if needed) and recovers the spool: torn tails are
    /// truncated, corrupt parts of older segments skipped, fully committed
    /// segments deleted, and reading resumes after the persisted cursor.
    pub fn open(dir: &Path, opts: SpoolOptions) -> Result<Spool, SpoolError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(SpoolError::Locked { path: lock_path }),
            Err(TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }

        let tmp = dir.join(CURSOR_TMP);
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(&tmp)(e)),
            _ => {}
        }
        let cursor = read_cursor(dir)?;

        let mut listed = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(first) = parse_segment_name(name) {
                listed.push((first, entry.path()));
            } else if name.ends_with(SEG_SUFFIX) {
                warn!(file = %entry.path().display(), "spool: ignoring file with malformed segment name");
            }
        }
        listed.sort_unstable_by_key(|(first, _)| *first);

        let mut segments = VecDeque::with_capacity(listed.len());
        let mut depth = 0u64;
        let mut scan = None;
        let mut active_dirty = false;
        // Sequences must keep increasing across segments.
        let mut min_first = 0u64;
        let n = listed.len();
        for (i, (first, path)) in listed.into_iter().enumerate() {
            let is_last = i + 1 == n;
            let res = if first < min_first {
                let file_len = fs::metadata(&path).map_err(io_err(&path))?.len();
                ScanResult {
                    file_len,
                    valid_len: 0,
                    count: 0,
                    bad: Some(format!(
                        "segment starts at sequence {first}, overlapping the previous segment which ends before {min_first}"
                    )),
                    first_uncommitted: None,
                    uncommitted: 0,
                }
            } else {
                scan_segment(&path, first, cursor)?
            };
            let mut file_len = res.file_len;
            if let Some(reason) = &res.bad {
                let lost = res.file_len - res.valid_len;
                if is_last {
                    warn!(
                        file = %path.display(),
                        offset = res.valid_len,
                        truncated_bytes = lost,
                        reason = %reason,
                        "spool: torn or corrupt tail in last segment, truncating"
                    );
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(io_err(&path))?;
                    f.set_len(res.valid_len).map_err(io_err(&path))?;
                    file_len = res.valid_len;
                    active_dirty = true;
                } else {
                    warn!(
                        file = %path.display(),
                        offset = res.valid_len,
                        lost_bytes = lost,
                        records_kept = res.count,
                        reason = %reason,
                        "spool: corrupt record in older segment, skipping the rest of the segment"
                    );
                }
            }
            min_first = min_first.max(first.saturating_add(res.count));
            depth += res.uncommitted;
            if scan.is_none() {
                scan = res.first_uncommitted;
            }
            segments.push_back(Segment {
                first_seq: first,
                path,
                file_len,
                valid_len: res.valid_len,
                count: res.count,
                last_seq: (res.count > 0).then(|| first + res.count - 1),
            });
        }

        // Never hand out a sequence that is (or was) in a segment or committed.
        let next_seq = segments
            .iter()
            .map(|s| s.first_seq.saturating_add(s.count))
            .chain([cursor.saturating_add(1), 1])
            .max()
            .unwrap_or(1);

        let mut dir_dirty = false;
        // Older segments without uncommitted records are garbage now.
        let mut kept = VecDeque::with_capacity(segments.len());
        let last_idx = segments.len().saturating_sub(1);
        for (i, seg) in segments.into_iter().enumerate() {
            let done = seg.last_seq.is_none_or(|l| l <= cursor);
            if i != last_idx && done {
                remove_if_exists(&seg.path)?;
                dir_dirty = true;
            } else {
                kept.push_back(seg);
            }
        }
        let mut segments = kept;

        // Append to the last segment only if it ends exactly at next_seq, so
        // sequences stay contiguous within a segment.
        let reuse = segments
            .back()
            .is_some_and(|s| s.first_seq + s.count == next_seq);
        let active_file = if reuse {
            let seg = segments.back().expect("checked above");
            OpenOptions::new()
                .append(true)
                .open(&seg.path)
                .map_err(io_err(&seg.path))?
        } else {
            if segments.back().is_some_and(|s| s.count == 0) {
                let seg = segments.pop_back().expect("checked above");
                remove_if_exists(&seg.path)?;
            }
            let (seg, file) = create_segment(dir, next_seq)?;
            segments.push_back(seg);
            dir_dirty = true;
            file
        };

        let total_bytes = segments.iter().map(|s| s.file_len).sum();
        let scan = scan.unwrap_or_else(|| {
            let a = segments.back().expect("active segment exists");
            Pos {
                seg: a.first_seq,
                off: a.valid_len,
                idx: a.count,
            }
        });

        Ok(Spool {
            dir: dir.to_path_buf(),
            opts,
            _lock: lock,
            segments,
            active_file,
            pending: Vec::with_capacity(WRITE_BUF),
            active_dirty,
            active_broken: false,
            unsynced: Vec::new(),
            dir_dirty,
            next_seq,
            committed: cursor,
            persisted: cursor,
            depth,
            total_bytes,
            scan,
            ahead: VecDeque::new(),
            reader: None,
            read_buf: Vec::new(),
        })
    }

    /// Appends a record and returns its sequence number (monotonic, continues
    /// across restarts). The record is buffered in memory until [`flush`]
    /// (or until 64 KiB are buffered); on error nothing was stored.
    ///
    /// [`flush`]: Spool::flush
    pub fn append(&mut self, rec: &SpoolRecord) -> Result<u64, SpoolError> {
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
    pub fn flush(&mut self) -> Result<(), SpoolError> {
        self.flush_pending()
    }

    /// Flushes, then fsyncs segment data and the directory (file creations,
    /// deletions, cursor rename) for power-loss durability. Meant to be called
    /// periodically by the owner.
    pub fn sync(&mut self) -> Result<(), SpoolError> {
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
    pub fn peek(&mut self, max: usize) -> Result<Vec<(u64, SpoolRecord)>, SpoolError> {
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
    pub fn commit(&mut self, seq: u64) -> Result<(), SpoolError> {
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
            self.write_cursor(self.committed)?;
            self.persisted = self.committed;
        }
        self.reclaim()
    }

    /// Records appended and not committed (records lost to corruption are
    /// not counted).
    pub fn depth(&self) -> u64 {
        self.depth
    }

    /// Bytes in segment files (including appended bytes not flushed yet).
    pub fn bytes(&self) -> u64 {
        self.total_bytes
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Highest sequence handed out so far (0 if none ever was); the next
    /// append gets `last_seq() + 1`.
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Highest committed sequence (0 if nothing was committed yet). Records
    /// lost to corruption leave gaps, so `last_seq() - committed()` can
    /// exceed [`depth`](Spool::depth).
    pub fn committed(&self) -> u64 {
        self.committed
    }

    fn active(&self) -> &Segment {
        self.segments.back().expect("active segment exists")
    }

    fn seg_index(&self, first_seq: u64) -> Option<usize> {
        self.segments
            .binary_search_by_key(&first_seq, |s| s.first_seq)
            .ok()
    }

    /// Writes all buffered bytes. On a partial failure the bytes that made
    /// it stay accounted for and the rest stays buffered, so a retry
    /// continues exactly where the file ends.
    fn flush_pending(&mut self) -> Result<(), SpoolError> {
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
    fn roll(&mut self) -> Result<(), SpoolError> {
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
            self.scan = Pos {
                seg: front,
                off: 0,
                idx: 0,
            };
        }
        Ok(())
    }

    /// Reads the record at `scan` and advances past it; `None` at the end of
    /// the log. Corruption found here (data damaged after `open`) is skipped
    /// like during recovery.
    fn read_next(&mut self) -> Result<Option<(u64, SpoolRecord)>, SpoolError> {
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
                            self.scan = Pos {
                                seg,
                                off: 0,
                                idx: 0,
                            };
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
                self.scan = Pos {
                    seg: self.segments[i + 1].first_seq,
                    off: 0,
                    idx: 0,
                };
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

    fn write_cursor(&mut self, seq: u64) -> Result<(), SpoolError> {
        let tmp = self.dir.join(CURSOR_TMP);
        let dst = self.dir.join(CURSOR_FILE);
        let text = format!("{seq} {:08x}\n", crc32fast::hash(&seq.to_le_bytes()));
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
        f.sync_data().map_err(io_err(&tmp))?;
        drop(f);
        fs::rename(&tmp, &dst).map_err(io_err(&dst))?;
        self.dir_dirty = true;
        Ok(())
    }
}

impl Drop for Spool {
    /// Best effort: hand buffered appends to the OS so a clean shutdown loses
    /// nothing even without an explicit flush.
    fn drop(&mut self) {
        if let Err(e) = self.flush_pending() {
            warn!(error = %e, "spool: flush on drop failed");
        }
    }
}

fn seg_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}{SEG_SUFFIX}"))
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEG_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn create_segment(dir: &Path, first_seq: u64) -> Result<(Segment, File), SpoolError> {
    let path = seg_path(dir, first_seq);
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    let seg = Segment {
        first_seq,
        path,
        file_len: 0,
        valid_len: 0,
        count: 0,
        last_seq: None,
    };
    Ok((seg, file))
}

fn remove_if_exists(path: &Path) -> Result<(), SpoolError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

/// Reads the cursor; a missing file means nothing committed yet, a damaged
/// one is warned about and treated the same (everything on disk is replayed,
/// which at-least-once delivery allows).
fn read_cursor(dir: &Path) -> Result<u64, SpoolError> {
    let path = dir.join(CURSOR_FILE);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let parsed = std::str::from_utf8(&text).ok().and_then(|t| {
        let (seq, crc) = t.trim_end().split_once(' ')?;
        let seq: u64 = seq.parse().ok()?;
        let crc = u32::from_str_radix(crc, 16).ok()?;
        (crc32fast::hash(&seq.to_le_bytes()) == crc).then_some(seq)
    });
    match parsed {
        Some(seq) => Ok(seq),
        None => {
            warn!(file = %path.display(), "spool: cursor file is corrupt, replaying everything on disk");
            Ok(0)
        }
    }
}

fn body_len(rec: &SpoolRecord) -> Result<usize, SpoolError> {
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
    let max_payload = u32::MAX as usize - len;
    len += check("payload", rec.payload.len(), max_payload)?;
    Ok(len)
}

/// Appends one framed record; `body_len` comes from [`body_len`].
fn encode_frame(seq: u64, rec: &SpoolRecord, body_len: usize, out: &mut Vec<u8>) {
    out.reserve(FRAME_HEADER + body_len);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    let crc_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let body_at = out.len();
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&rec.event_time_ms.to_le_bytes());
    out.extend_from_slice(&(rec.topic.len() as u16).to_le_bytes());
    out.extend_from_slice(rec.topic.as_bytes());
    match &rec.key {
        Some(key) => {
            out.push(1);
            out.extend_from_slice(&(key.len() as u16).to_le_bytes());
            out.extend_from_slice(key.as_bytes());
        }
        None => out.push(0),
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
    let key = match d.u8("key flag")? {
        0 => None,
        1 => Some(d.string("key")?),
        f => return Err(format!("invalid key flag {f}")),
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
        message_id,
        event_time_ms,
        payload,
    };
    Ok((seq, rec))
}

/// Reads one frame from `r`, which has `remaining` valid bytes left. Damage
/// is reported as `Frame::Bad`; only real I/O failures are errors.
fn read_frame<R: Read>(r: &mut R, remaining: u64, buf: &mut Vec<u8>) -> io::Result<Frame> {
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

/// Validates one segment at open: counts readable records, finds where the
/// readable part ends and where the first record after `cursor` is.
fn scan_segment(path: &Path, first: u64, cursor: u64) -> Result<ScanResult, SpoolError> {
    let file = File::open(path).map_err(io_err(path))?;
    let file_len = file.metadata().map_err(io_err(path))?.len();
    let mut r = BufReader::with_capacity(READ_BUF, file);
    let mut buf = Vec::new();
    let mut off = 0u64;
    let mut count = 0u64;
    let mut bad = None;
    let mut first_uncommitted = None;
    let mut uncommitted = 0u64;
    loop {
        match read_frame(&mut r, file_len - off, &mut buf).map_err(io_err(path))? {
            Frame::End => break,
            Frame::Bad(reason) => {
                bad = Some(reason);
                break;
            }
            Frame::Record { seq, len, .. } => {
                let expected = first.saturating_add(count);
                if seq != expected {
                    bad = Some(format!("sequence {seq} where {expected} was expected"));
                    break;
                }
                if seq > cursor {
                    if first_uncommitted.is_none() {
                        first_uncommitted = Some(Pos {
                            seg: first,
                            off,
                            idx: count,
                        });
                    }
                    uncommitted += 1;
                }
                off += len;
                count += 1;
            }
        }
    }
    Ok(ScanResult {
        file_len,
        valid_len: off,
        count,
        bad,
        first_uncommitted,
        uncommitted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    fn rec(i: u64) -> SpoolRecord {
        SpoolRecord {
            topic: format!("persistent://arc/events/t{}", i % 3),
            key: i.is_multiple_of(2).then(|| format!("call-{}", i % 7)),
            message_id: format!("msg-{i:08}"),
            event_time_ms: 1_700_000_000_000 + i,
            payload: (0..(i % 50) as u8).map(|b| b ^ i as u8).collect(),
        }
    }

    /// All records have the same encoded size, to compute file offsets.
    fn fixed_rec(i: u64) -> SpoolRecord {
        SpoolRecord {
            topic: "t".to_string(),
            key: None,
            message_id: format!("m{i:06}"),
            event_time_ms: i,
            payload: vec![i as u8; 40],
        }
    }

    fn opts(segment_bytes: u64, max_bytes: u64) -> SpoolOptions {
        SpoolOptions {
            segment_bytes,
            max_bytes,
        }
    }

    fn seg_files(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "seg"))
            .collect();
        v.sort();
        v
    }

    fn disk_bytes(dir: &Path) -> u64 {
        seg_files(dir)
            .iter()
            .map(|p| fs::metadata(p).unwrap().len())
            .sum()
    }

    fn peek_all(s: &mut Spool) -> Vec<(u64, SpoolRecord)> {
        s.peek(usize::MAX).unwrap()
    }

    #[test]
    fn append_peek_commit_order() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
        assert_eq!(s.depth(), 0);
        assert!(s.peek(10).unwrap().is_empty());
        for i in 1..=10 {
            assert_eq!(s.append(&rec(i)).unwrap(), i);
        }
        assert_eq!(s.depth(), 10);
        // Unflushed appends are visible.
        let p = s.peek(4).unwrap();
        assert_eq!(p.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(p[0].1, rec(1));
        assert_eq!(s.peek(4).unwrap(), p, "peek without commit repeats");
        assert_eq!(s.peek(2).unwrap(), p[..2]);
        s.commit(2).unwrap();
        assert_eq!(s.depth(), 8);
        let p = s.peek(4).unwrap();
        assert_eq!(p.iter().map(|r| r.0).collect::<Vec<_>>(), [3, 4, 5, 6]);
        // Commit past what was peeked.
        s.commit(8).unwrap();
        assert_eq!(s.depth(), 2);
        assert_eq!(
            peek_all(&mut s).iter().map(|r| r.0).collect::<Vec<_>>(),
            [9, 10]
        );
        s.commit(3).unwrap(); // older: no-op
        assert_eq!(s.depth(), 2);
        assert!(matches!(
            s.commit(11),
            Err(SpoolError::CommitBeyondEnd { seq: 11, last: 10 })
        ));
        s.commit(10).unwrap();
        assert_eq!(s.depth(), 0);
        assert!(s.peek(5).unwrap().is_empty());
        assert_eq!(s.append(&rec(11)).unwrap(), 11);
        assert_eq!(s.peek(5).unwrap(), vec![(11, rec(11))]);
        s.sync().unwrap();
        assert_eq!(s.bytes(), disk_bytes(tmp.path()));
    }

    #[test]
    fn reopen_continues_sequences_and_replays_uncommitted() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
            for i in 1..=10 {
                s.append(&rec(i)).unwrap();
            }
            s.peek(3).unwrap();
            s.commit(4).unwrap();
            // Dropped without flush: drop flushes.
        }
        let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
        assert_eq!(s.depth(), 6);
        assert_eq!(s.committed(), 4);
        assert_eq!(s.last_seq(), 10);
        let all = peek_all(&mut s);
        assert_eq!(
            all,
            (5..=10).map(|i| (i, rec(i))).collect::<Vec<_>>(),
            "only uncommitted records are replayed"
        );
        assert_eq!(s.append(&rec(11)).unwrap(), 11);
        s.commit(11).unwrap();
        drop(s);

        // Everything committed, segment files gone: continue after cursor.
        for p in seg_files(tmp.path()) {
            fs::remove_file(p).unwrap();
        }
        let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
        assert_eq!(s.depth(), 0);
        assert_eq!(s.append(&rec(12)).unwrap(), 12);
        assert_eq!(peek_all(&mut s), vec![(12, rec(12))]);
    }

    #[test]
    fn second_open_is_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
        assert!(matches!(
            Spool::open(tmp.path(), SpoolOptions::default()),
            Err(SpoolError::Locked { .. })
        ));
        drop(s);
        Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
    }

    #[test]
    fn segments_roll_and_committed_segments_are_deleted() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), opts(1024, 1 << 30)).unwrap();
        for i in 1..=100 {
            s.append(&fixed_rec(i)).unwrap();
        }
        s.flush().unwrap();
        let files = seg_files(tmp.path());
        assert!(files.len() >= 5, "{} segments", files.len());
        assert_eq!(
            files[0].file_name().unwrap().to_str().unwrap(),
            "00000000000000000001.seg"
        );
        for f in &files {
            assert!(fs::metadata(f).unwrap().len() <= 1024);
        }
        let full = s.bytes();
        assert_eq!(full, disk_bytes(tmp.path()));

        s.commit(50).unwrap();
        let after = s.bytes();
        assert!(after < full, "{after} < {full}");
        assert_eq!(after, disk_bytes(tmp.path()));
        assert!(seg_files(tmp.path()).len() < files.len());
        assert_eq!(s.peek(1).unwrap()[0].0, 51);
        assert_eq!(s.depth(), 50);

        s.commit(100).unwrap();
        assert_eq!(
            seg_files(tmp.path()).len(),
            1,
            "only the active segment stays"
        );
        assert!(s.bytes() <= 1024);
        assert_eq!(s.bytes(), disk_bytes(tmp.path()));
        drop(s);

        let mut s = Spool::open(tmp.path(), opts(1024, 1 << 30)).unwrap();
        assert_eq!(s.depth(), 0);
        assert_eq!(s.append(&fixed_rec(101)).unwrap(), 101);
    }

    #[test]
    fn torn_tail_is_truncated_and_earlier_records_survive() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let mut s = Spool::open(tmp.path(), opts(2048, 1 << 30)).unwrap();
            for i in 1..=60 {
                s.append(&fixed_rec(i)).unwrap();
            }
            s.flush().unwrap();
        }
        let last = seg_files(tmp.path()).pop().unwrap();
        let len = fs::metadata(&last).unwrap().len();
        let f = OpenOptions::new().write(true).open(&last).unwrap();
        f.set_len(len - 3).unwrap();
        drop(f);

        let mut s = Spool::open(tmp.path(), opts(2048, 1 << 30)).unwrap();
        assert_eq!(s.depth(), 59);
        let all = peek_all(&mut s);
        assert_eq!(all, (1..=59).map(|i| (i, fixed_rec(i))).collect::<Vec<_>>());
        assert_eq!(s.bytes(), disk_bytes(tmp.path()));
        // The lost record's sequence is the next one (it never reached disk).
        assert_eq!(s.append(&fixed_rec(60)).unwrap(), 60);
        drop(s);

        // Garbage after valid records (e.g. a half-written header).
        let mut f = OpenOptions::new().append(true).open(&last).unwrap();
        f.write_all(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7])
            .unwrap();
        drop(f);
        let mut s = Spool::open(tmp.path(), opts(2048, 1 << 30)).unwrap();
        assert_eq!(s.depth(), 60);
        assert_eq!(
            peek_all(&mut s),
            (1..=60).map(|i| (i, fixed_rec(i))).collect::<Vec<_>>()
        );
        assert_eq!(s.append(&fixed_rec(61)).unwrap(), 61);
        assert_eq!(s.peek(100).unwrap().last().unwrap().0, 61);

        // Zero-filled tail (what a power loss can leave).
        drop(s);
        let mut f = OpenOptions::new().append(true).open(&last).unwrap();
        f.write_all(&[0u8; 100]).unwrap();
        drop(f);
        let s = Spool::open(tmp.path(), opts(2048, 1 << 30)).unwrap();
        assert_eq!(s.depth(), 61);
        assert_eq!(s.bytes(), disk_bytes(tmp.path()));
    }

    #[test]
    fn corrupt_middle_of_older_segment_is_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let per_frame;
        {
            let mut s = Spool::open(tmp.path(), opts(1024, 1 << 30)).unwrap();
            for i in 1..=100 {
                s.append(&fixed_rec(i)).unwrap();
            }
            s.flush().unwrap();
            per_frame = s.bytes() / 100;
        }
        let files = seg_files(tmp.path());
        assert!(files.len() >= 4);
        let per_seg = fs::metadata(&files[0]).unwrap().len() / per_frame;
        // Flip a payload byte of the 4th record in the second segment.
        let victim = &files[1];
        let mut data = fs::read(victim).unwrap();
        let at = (3 * per_frame + per_frame - 5) as usize;
        data[at] ^= 0xff;
        fs::write(victim, &data).unwrap();

        let mut s = Spool::open(tmp.path(), opts(1024, 1 << 30)).unwrap();
        let lost: Vec<u64> = (per_seg + 4..=2 * per_seg).collect();
        let expected: Vec<u64> = (1..=100).filter(|i| !lost.contains(i)).collect();
        assert_eq!(s.depth(), expected.len() as u64);
        let all = peek_all(&mut s);
        assert_eq!(all.iter().map(|r| r.0).collect::<Vec<_>>(), expected);
        for (seq, r) in &all {
            assert_eq!(*r, fixed_rec(*seq));
        }
        // New appends continue after the highest sequence.
        assert_eq!(s.append(&fixed_rec(101)).unwrap(), 101);
        // Committing past the damaged segment deletes it.
        s.commit(2 * per_seg + 1).unwrap();
        assert!(!victim.exists());
        s.flush().unwrap();
        assert_eq!(s.bytes(), disk_bytes(tmp.path()));
        assert_eq!(s.depth(), 101 - (2 * per_seg + 1));
    }

    #[test]
    fn corruption_found_while_reading_is_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), opts(1024, 1 << 30)).unwrap();
        for i in 1..=60 {
            s.append(&fixed_rec(i)).unwrap();
        }
        s.flush().unwrap();
        let per_frame = s.bytes() / 60;
        let files = seg_files(tmp.path());
        let per_seg = fs::metadata(&files[0]).unwrap().len() / per_frame;
        // Damage an older segment and the active one behind the spool's back.
        for (victim, rec_idx) in [(&files[1], 2), (files.last().unwrap(), 0)] {
            let mut data = fs::read(victim).unwrap();
            data[(rec_idx * per_frame + 20) as usize] ^= 0x55;
            fs::write(victim, &data).unwrap();
        }
        let all = peek_all(&mut s);
        let seqs: Vec<u64> = all.iter().map(|r| r.0).collect();
        let active_first = (files.len() as u64 - 1) * per_seg + 1;
        let expected: Vec<u64> = (1..=60)
            .filter(|i| !(per_seg + 3..=2 * per_seg).contains(i) && *i < active_first)
            .collect();
        assert_eq!(seqs, expected);
        assert_eq!(s.depth(), expected.len() as u64);
        // Appends after corruption in the active segment go to a fresh one.
        assert_eq!(s.append(&fixed_rec(61)).unwrap(), 61);
        assert_eq!(s.peek(1000).unwrap().last().unwrap(), &(61, fixed_rec(61)));
        drop(s);
        let mut s = Spool::open(tmp.path(), opts(1024, 1 << 30)).unwrap();
        let again: Vec<u64> = peek_all(&mut s).iter().map(|r| r.0).collect();
        let mut exp = expected.clone();
        exp.push(61);
        assert_eq!(again, exp);
    }

    #[test]
    fn max_bytes_gives_full() {
        let tmp = tempfile::tempdir().unwrap();
        let frame = {
            let mut v = Vec::new();
            encode_frame(1, &fixed_rec(1), body_len(&fixed_rec(1)).unwrap(), &mut v);
            v.len() as u64
        };
        let mut s = Spool::open(tmp.path(), opts(4 * frame, 10 * frame)).unwrap();
        for i in 1..=10 {
            s.append(&fixed_rec(i)).unwrap();
        }
        assert!(matches!(
            s.append(&fixed_rec(11)),
            Err(SpoolError::Full { max_bytes }) if max_bytes == 10 * frame
        ));
        assert_eq!(s.depth(), 10);
        assert_eq!(s.bytes(), 10 * frame);
        // Delivering frees whole segments; 9 and 10 share the active
        // segment with 11 and 12, so they keep occupying space.
        s.commit(10).unwrap();
        assert_eq!(s.bytes(), 2 * frame);
        for i in 11..=18 {
            assert_eq!(s.append(&fixed_rec(i)).unwrap(), i);
        }
        assert!(matches!(
            s.append(&fixed_rec(19)),
            Err(SpoolError::Full { .. })
        ));
        assert_eq!(
            peek_all(&mut s).iter().map(|r| r.0).collect::<Vec<_>>(),
            (11..=18).collect::<Vec<_>>()
        );
        s.flush().unwrap();
        assert_eq!(s.bytes(), disk_bytes(tmp.path()));
    }

    #[test]
    fn full_spool_reclaims_committed_active_segment() {
        let tmp = tempfile::tempdir().unwrap();
        let frame = {
            let mut v = Vec::new();
            encode_frame(1, &fixed_rec(1), body_len(&fixed_rec(1)).unwrap(), &mut v);
            v.len() as u64
        };
        // Segments larger than max_bytes: everything is in the active one.
        let mut s = Spool::open(tmp.path(), opts(100 * frame, 10 * frame)).unwrap();
        for i in 1..=10 {
            s.append(&fixed_rec(i)).unwrap();
        }
        assert!(matches!(
            s.append(&fixed_rec(11)),
            Err(SpoolError::Full { .. })
        ));
        s.commit(10).unwrap();
        assert_eq!(s.append(&fixed_rec(11)).unwrap(), 11);
        assert_eq!(s.bytes(), frame);
        assert_eq!(seg_files(tmp.path()).len(), 1);
        assert_eq!(peek_all(&mut s), vec![(11, fixed_rec(11))]);
    }

    #[test]
    fn oversized_field_is_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
        let mut r = rec(1);
        r.topic = "x".repeat(70_000);
        assert!(matches!(
            s.append(&r),
            Err(SpoolError::RecordTooLarge { field: "topic", .. })
        ));
        assert_eq!(s.append(&rec(1)).unwrap(), 1);
    }

    #[test]
    fn corrupt_cursor_replays_everything() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
            for i in 1..=5 {
                s.append(&rec(i)).unwrap();
            }
            s.commit(3).unwrap();
        }
        fs::write(tmp.path().join(CURSOR_FILE), "3 00000000\n").unwrap();
        let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
        assert_eq!(s.depth(), 5);
        assert_eq!(peek_all(&mut s).len(), 5);
        assert_eq!(s.append(&rec(6)).unwrap(), 6);
    }

    #[test]
    fn multi_thousand_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let o = || opts(64 * 1024, 1 << 30);
        let n = 5000u64;
        let mut s = Spool::open(tmp.path(), o()).unwrap();
        for i in 1..=n {
            assert_eq!(s.append(&rec(i)).unwrap(), i);
            if i.is_multiple_of(333) {
                s.flush().unwrap();
            }
            if i.is_multiple_of(1000) {
                s.sync().unwrap();
            }
        }
        assert!(seg_files(tmp.path()).len() > 2);
        let mut expect = 1u64;
        while expect <= n {
            let batch = s.peek(128).unwrap();
            assert!(!batch.is_empty());
            for (seq, r) in &batch {
                assert_eq!(*seq, expect);
                assert_eq!(*r, rec(expect));
                expect += 1;
            }
            s.commit(batch.last().unwrap().0).unwrap();
            if expect == 2561 {
                // Restart in the middle.
                drop(s);
                s = Spool::open(tmp.path(), o()).unwrap();
                assert_eq!(s.depth(), n - 2560);
            }
        }
        assert_eq!(s.depth(), 0);
        assert_eq!(seg_files(tmp.path()).len(), 1);
        assert_eq!(s.bytes(), disk_bytes(tmp.path()));
    }

    const CHILD_ENV: &str = "SPOOL_CHILD_DIR";
    const CHILD_FLUSHED: u64 = 2000;

    fn child_opts() -> SpoolOptions {
        opts(16 * 1024, 4 * 1024 * 1024)
    }

    /// Child side of the kill test: write, flush, report, keep writing until
    /// killed.
    fn run_child_writer(dir: &Path) -> ! {
        let mut s = Spool::open(dir, child_opts()).unwrap();
        for i in 1..=CHILD_FLUSHED {
            assert_eq!(s.append(&rec(i)).unwrap(), i);
            if i.is_multiple_of(97) {
                s.flush().unwrap();
            }
        }
        s.flush().unwrap();
        {
            let mut out = io::stdout().lock();
            writeln!(out, "SPOOL_CHILD_FLUSHED {CHILD_FLUSHED}").unwrap();
            out.flush().unwrap();
        }
        // Keep buffered, unflushed data around when the kill lands.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut i = CHILD_FLUSHED + 1;
        while Instant::now() < deadline {
            match s.append(&rec(i)) {
                Ok(_) => i += 1,
                Err(SpoolError::Full { .. }) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("child append failed: {e}"),
            }
            if i.is_multiple_of(50) {
                s.flush().unwrap();
            }
        }
        std::process::exit(3);
    }

    #[test]
    fn kill9_after_flush_loses_nothing() {
        if let Some(dir) = std::env::var_os(CHILD_ENV) {
            run_child_writer(Path::new(&dir));
        }
        let tmp = tempfile::tempdir().unwrap();
        let full = concat!(module_path!(), "::kill9_after_flush_loses_nothing");
        let name = full.split_once("::").map(|(_, rest)| rest).unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut flushed = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            // libtest may print "test <name> ... " on the same line.
            if let Some((_, n)) = line.split_once("SPOOL_CHILD_FLUSHED ") {
                flushed = Some(n.trim().parse::<u64>().unwrap());
                break;
            }
        }
        let Some(flushed) = flushed else {
            let _ = child.kill();
            panic!("child exited without reporting: {:?}", child.wait());
        };
        std::thread::sleep(Duration::from_millis(50));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        drop(lines);
        assert!(!status.success());
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9));
        }

        let mut s = Spool::open(tmp.path(), child_opts()).unwrap();
        let depth = s.depth();
        println!("child flushed {flushed} records, {depth} recovered after SIGKILL");
        assert!(depth >= flushed, "depth {depth} < flushed {flushed}");
        let all = peek_all(&mut s);
        assert_eq!(all.len() as u64, depth);
        for (k, (seq, r)) in all.iter().enumerate() {
            assert_eq!(*seq, k as u64 + 1);
            assert_eq!(*r, rec(*seq));
        }
        let next = s.append(&rec(depth + 1)).unwrap();
        assert_eq!(next, depth + 1);
    }
}
