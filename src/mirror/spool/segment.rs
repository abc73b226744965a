//! Segment files: `<dir>/<first_seq:020>.seg`, records with contiguous
//! sequences starting at the number in the name. Naming, creating and
//! removing them, what the spool keeps about each, and the scan that
//! validates one at open.

use super::error::{io_err, SpoolError};
use super::frame::{read_frame, Frame};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

pub(super) const SEG_SUFFIX: &str = ".seg";
/// Read buffer of a segment reader.
pub(super) const READ_BUF: usize = 64 * 1024;

/// A position in the log: segment (by first sequence), byte offset, and the
/// index of the record at that offset within the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pos {
    pub(super) seg: u64,
    pub(super) off: u64,
    pub(super) idx: u64,
}

impl Pos {
    /// The first record of segment `seg`.
    pub(super) fn start_of(seg: u64) -> Pos {
        Pos {
            seg,
            off: 0,
            idx: 0,
        }
    }
}

#[derive(Debug)]
pub(super) struct Segment {
    pub(super) first_seq: u64,
    pub(super) path: PathBuf,
    /// Bytes in the file (for the active segment: including unflushed bytes).
    pub(super) file_len: u64,
    /// End of the last readable record; reading stops here. Lower than
    /// `file_len` when the rest was found corrupt, or (active segment) when
    /// bytes are still buffered.
    pub(super) valid_len: u64,
    /// Readable records (for the active segment: including buffered ones).
    pub(super) count: u64,
    pub(super) last_seq: Option<u64>,
}

impl Segment {
    /// The position after its last readable record.
    pub(super) fn end(&self) -> Pos {
        Pos {
            seg: self.first_seq,
            off: self.valid_len,
            idx: self.count,
        }
    }
}

/// Cached read handle so consecutive reads do not reopen or seek.
pub(super) struct SegReader {
    pub(super) seg: u64,
    pub(super) pos: u64,
    pub(super) inner: BufReader<File>,
}

/// What the scan of one segment at open found.
pub(super) struct ScanResult {
    pub(super) file_len: u64,
    pub(super) valid_len: u64,
    pub(super) count: u64,
    pub(super) bad: Option<String>,
    /// First record with a sequence above the cursor.
    pub(super) first_uncommitted: Option<Pos>,
    pub(super) uncommitted: u64,
}

pub(super) fn seg_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}{SEG_SUFFIX}"))
}

pub(super) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEG_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(super) fn create_segment(dir: &Path, first_seq: u64) -> Result<(Segment, File), SpoolError> {
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

pub(super) fn remove_if_exists(path: &Path) -> Result<(), SpoolError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

/// Validates one segment at open: counts readable records, finds where the
/// readable part ends and where the first record after `cursor` is.
pub(super) fn scan_segment(path: &Path, first: u64, cursor: u64) -> Result<ScanResult, SpoolError> {
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
