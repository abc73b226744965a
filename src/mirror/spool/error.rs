//! What can go wrong with the spool.

use std::io;
use std::path::{Path, PathBuf};

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

/// Wraps an I/O error with the file it happened on.
pub(super) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}
