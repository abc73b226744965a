//! [`Spool::open`]: recovery, in the order it happens. Take the directory's
//! lock, read the cursor, scan every segment (truncating a torn tail of the
//! last one, skipping the damaged rest of an older one), delete segments
//! holding only committed records, then pick or create the active segment.

use super::cursor::{read_cursor, remove_stale_tmp, write_cursor};
use super::error::{io_err, SpoolError};
use super::id::{has_id, spool_id};
use super::segment::{
    create_segment, parse_segment_name, remove_if_exists, scan_segment, Pos, ScanResult, Segment,
    SEG_SUFFIX,
};
use super::{Spool, SpoolOptions, WRITE_BUF};
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use tracing::warn;

const LOCK_FILE: &str = "lock";

impl Spool {
    /// Opens (creating `dir` if needed) and recovers the spool: torn tails are
    /// truncated, corrupt parts of older segments skipped, fully committed
    /// segments deleted, and reading resumes after the persisted cursor.
    pub(crate) fn open(dir: &Path, opts: SpoolOptions) -> Result<Spool, SpoolError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock = lock_dir(dir)?;
        remove_stale_tmp(dir)?;
        let cursor = read_cursor(dir)?;
        let listed = list_segments(dir)?;
        // A new spool gets its cursor at once: later, a missing cursor means
        // a lost one.
        let new_spool = cursor.is_none() && listed.is_empty() && !has_id(dir);
        if new_spool {
            write_cursor(dir, 0)?;
        }
        let sound = cursor.is_some() || new_spool;
        let cursor = cursor.unwrap_or(0);
        let found = recover_segments(listed, cursor)?;
        let id = spool_id(dir, sound && !found.damaged)?;
        let next_seq = next_sequence(&found.segments, cursor);
        let (mut segments, removed) = drop_committed(found.segments, cursor)?;
        let (active_file, created) = open_active(dir, &mut segments, next_seq)?;
        let total_bytes = segments.iter().map(|s| s.file_len).sum();
        let scan = found
            .first_uncommitted
            .unwrap_or_else(|| segments.back().expect("active segment exists").end());

        Ok(Spool {
            dir: dir.to_path_buf(),
            id,
            opts,
            _lock: lock,
            segments,
            active_file,
            pending: Vec::with_capacity(WRITE_BUF),
            active_dirty: found.truncated,
            active_broken: false,
            unsynced: Vec::new(),
            dir_dirty: removed || created || new_spool,
            next_seq,
            committed: cursor,
            persisted: cursor,
            depth: found.depth,
            total_bytes,
            scan,
            ahead: VecDeque::new(),
            reader: None,
            read_buf: Vec::new(),
        })
    }
}

/// Takes the directory's exclusive advisory lock, held as long as the file
/// stays open.
fn lock_dir(dir: &Path) -> Result<File, SpoolError> {
    let lock_path = dir.join(LOCK_FILE);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err(&lock_path))?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(TryLockError::WouldBlock) => Err(SpoolError::Locked { path: lock_path }),
        Err(TryLockError::Error(e)) => Err(io_err(&lock_path)(e)),
    }
}

/// The segment files of `dir`, oldest first.
fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, SpoolError> {
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
    Ok(listed)
}

/// What the scan of every segment found.
struct Recovered {
    segments: VecDeque<Segment>,
    /// Readable records after the cursor.
    depth: u64,
    first_uncommitted: Option<Pos>,
    /// The last segment was truncated: its new length needs an fsync.
    truncated: bool,
    /// Some segment had a torn or corrupt part: records may be gone, and
    /// their sequence numbers may be handed out again.
    damaged: bool,
}

/// Scans the segments in order, repairing what a crash left.
fn recover_segments(listed: Vec<(u64, PathBuf)>, cursor: u64) -> Result<Recovered, SpoolError> {
    let mut found = Recovered {
        segments: VecDeque::with_capacity(listed.len()),
        depth: 0,
        first_uncommitted: None,
        truncated: false,
        damaged: false,
    };
    // Sequences must keep increasing across segments.
    let mut min_first = 0u64;
    let n = listed.len();
    for (i, (first, path)) in listed.into_iter().enumerate() {
        let res = if first < min_first {
            overlapping(&path, first, min_first)?
        } else {
            scan_segment(&path, first, cursor)?
        };
        let mut file_len = res.file_len;
        if let Some(reason) = &res.bad {
            found.damaged = true;
            if i + 1 == n {
                truncate_tail(&path, &res, reason)?;
                file_len = res.valid_len;
                found.truncated = true;
            } else {
                warn!(
                    file = %path.display(),
                    offset = res.valid_len,
                    lost_bytes = res.file_len - res.valid_len,
                    records_kept = res.count,
                    reason = %reason,
                    "spool: corrupt record in older segment, skipping the rest of the segment"
                );
            }
        }
        min_first = min_first.max(first.saturating_add(res.count));
        found.depth += res.uncommitted;
        if found.first_uncommitted.is_none() {
            found.first_uncommitted = res.first_uncommitted;
        }
        found.segments.push_back(Segment {
            first_seq: first,
            path,
            file_len,
            valid_len: res.valid_len,
            count: res.count,
            last_seq: (res.count > 0).then(|| first + res.count - 1),
        });
    }
    Ok(found)
}

/// A segment starting inside the previous one: none of it is readable.
fn overlapping(path: &Path, first: u64, min_first: u64) -> Result<ScanResult, SpoolError> {
    let file_len = fs::metadata(path).map_err(io_err(path))?.len();
    Ok(ScanResult {
        file_len,
        valid_len: 0,
        count: 0,
        bad: Some(format!(
            "segment starts at sequence {first}, overlapping the previous segment which ends before {min_first}"
        )),
        first_uncommitted: None,
        uncommitted: 0,
    })
}

/// Cuts the torn or corrupt tail off the last segment.
fn truncate_tail(path: &Path, res: &ScanResult, reason: &str) -> Result<(), SpoolError> {
    warn!(
        file = %path.display(),
        offset = res.valid_len,
        truncated_bytes = res.file_len - res.valid_len,
        reason = %reason,
        "spool: torn or corrupt tail in last segment, truncating"
    );
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    f.set_len(res.valid_len).map_err(io_err(path))
}

/// The next sequence to hand out: never one that is (or was) in a segment or
/// committed.
fn next_sequence(segments: &VecDeque<Segment>, cursor: u64) -> u64 {
    segments
        .iter()
        .map(|s| s.first_seq.saturating_add(s.count))
        .chain([cursor.saturating_add(1), 1])
        .max()
        .unwrap_or(1)
}

/// Deletes the older segments without uncommitted records (garbage now);
/// true when a file was removed.
fn drop_committed(
    segments: VecDeque<Segment>,
    cursor: u64,
) -> Result<(VecDeque<Segment>, bool), SpoolError> {
    let mut removed = false;
    let mut kept = VecDeque::with_capacity(segments.len());
    let last_idx = segments.len().saturating_sub(1);
    for (i, seg) in segments.into_iter().enumerate() {
        let done = seg.last_seq.is_none_or(|l| l <= cursor);
        if i != last_idx && done {
            remove_if_exists(&seg.path)?;
            removed = true;
        } else {
            kept.push_back(seg);
        }
    }
    Ok((kept, removed))
}

/// The file appends go to: the last segment only if it ends exactly at
/// `next_seq` (sequences stay contiguous within a segment), else a new one
/// (an empty last segment is replaced). True when a file was created.
fn open_active(
    dir: &Path,
    segments: &mut VecDeque<Segment>,
    next_seq: u64,
) -> Result<(File, bool), SpoolError> {
    if let Some(seg) = segments
        .back()
        .filter(|s| s.first_seq + s.count == next_seq)
    {
        let file = OpenOptions::new()
            .append(true)
            .open(&seg.path)
            .map_err(io_err(&seg.path))?;
        return Ok((file, false));
    }
    if segments.back().is_some_and(|s| s.count == 0) {
        if let Some(seg) = segments.pop_back() {
            remove_if_exists(&seg.path)?;
        }
    }
    let (seg, file) = create_segment(dir, next_seq)?;
    segments.push_back(seg);
    Ok((file, true))
}
