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
//!   `u64 seq | u64 event_time_ms | u16 len + topic | u8 flags [+ u16 len + key]
//!   [+ u16 len + subject] | u16 len + message_id | u32 len + payload` (all
//!   little endian; `frame.rs`). Within a segment sequences are contiguous and
//!   start at the number in the name.
//! * `<dir>/cursor`: last committed sequence as `"<seq> <crc32 hex>\n"`,
//!   replaced atomically (temp file + fsync + rename).
//! * `<dir>/id`: the spool's id and the boot it was made in (`id.rs`): the
//!   Pulsar producers' name, renewed when the sequence could repeat.
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
//!
//! # Files here
//!
//! - `frame`: a record's bytes on disk (framing, CRC, encode, decode).
//! - `segment`: the segment files and the scan that validates one.
//! - `cursor`: the commit cursor file; `id`: the spool's id.
//! - `open`: [`Spool::open`], recovery in named steps.
//! - `queue`: the queue API (append, flush, sync, peek, commit) and the
//!   segment roll and reclaim behind it; `read`: reading records back.
//! - `error`: [`SpoolError`].
//!
//! `open`, `queue` and `read` add methods to [`Spool`] (defined here);
//! `Spool` holds `segment` and `frame` values; those call only `error`.

mod cursor;
mod error;
mod frame;
mod id;
mod open;
mod queue;
mod read;
mod segment;

pub(crate) use error::SpoolError;
pub(crate) use frame::SpoolRecord;

use segment::{Pos, SegReader, Segment};
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Appends are collected in memory up to this size before a `write` syscall,
/// so small records do not cost one syscall each.
const WRITE_BUF: usize = 64 * 1024;

/// Tuning knobs of a [`Spool`].
#[derive(Debug, Clone)]
pub(crate) struct SpoolOptions {
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

/// Durable, ordered, at-least-once event spool. See the module docs.
///
/// Not thread safe by itself (`&mut self` everywhere); the owner serialises
/// access, e.g. from one actor.
pub(crate) struct Spool {
    dir: PathBuf,
    /// See `id.rs`: names the Pulsar producers that send this spool.
    id: String,
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

impl Drop for Spool {
    /// Best effort: hand buffered appends to the OS so a clean shutdown loses
    /// nothing even without an explicit flush.
    fn drop(&mut self) {
        if let Err(e) = self.flush_pending() {
            tracing::warn!(error = %e, "spool: flush on drop failed");
        }
    }
}

impl Spool {
    /// Records appended and not committed (records lost to corruption are
    /// not counted).
    pub(crate) fn depth(&self) -> u64 {
        self.depth
    }

    /// Bytes in segment files (including appended bytes not flushed yet).
    pub(crate) fn bytes(&self) -> u64 {
        self.total_bytes
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The spool's id (see `id.rs`).
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Highest sequence handed out so far (0 if none ever was); the next
    /// append gets `last_seq() + 1`.
    pub(crate) fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Highest committed sequence (0 if nothing was committed yet). Records
    /// lost to corruption leave gaps, so `last_seq() - committed()` can
    /// exceed [`depth`](Spool::depth).
    pub(crate) fn committed(&self) -> u64 {
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
}

#[cfg(test)]
mod tests;
