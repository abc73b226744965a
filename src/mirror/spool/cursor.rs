//! The commit cursor: `<dir>/cursor` holds the last committed sequence as
//! `"<seq> <crc32 hex>\n"`, replaced atomically (temp file + fsync + rename).
//! Records after it are replayed at open.

use super::error::{io_err, SpoolError};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use tracing::warn;

pub(super) const CURSOR_FILE: &str = "cursor";
const CURSOR_TMP: &str = "cursor.tmp";

/// Removes the temp file a crash during [`write_cursor`] may have left.
pub(super) fn remove_stale_tmp(dir: &Path) -> Result<(), SpoolError> {
    let tmp = dir.join(CURSOR_TMP);
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&tmp)(e)),
        _ => Ok(()),
    }
}

/// Reads the cursor; `None` when it is missing (nothing committed yet) or
/// damaged (warned about): both mean everything on disk is replayed, which
/// at-least-once delivery allows.
pub(super) fn read_cursor(dir: &Path) -> Result<Option<u64>, SpoolError> {
    let path = dir.join(CURSOR_FILE);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let parsed = std::str::from_utf8(&text).ok().and_then(|t| {
        let (seq, crc) = t.trim_end().split_once(' ')?;
        let seq: u64 = seq.parse().ok()?;
        let crc = u32::from_str_radix(crc, 16).ok()?;
        (crc32fast::hash(&seq.to_le_bytes()) == crc).then_some(seq)
    });
    if parsed.is_none() {
        warn!(file = %path.display(), "spool: cursor file is corrupt, replaying everything on disk");
    }
    Ok(parsed)
}

/// Persists `seq` as the committed sequence: the file is complete and synced
/// before it replaces the old one. The directory entry still needs a
/// directory fsync (the caller's).
pub(super) fn write_cursor(dir: &Path, seq: u64) -> Result<(), SpoolError> {
    let tmp = dir.join(CURSOR_TMP);
    let dst = dir.join(CURSOR_FILE);
    let text = format!("{seq} {:08x}\n", crc32fast::hash(&seq.to_le_bytes()));
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
    f.sync_data().map_err(io_err(&tmp))?;
    drop(f);
    fs::rename(&tmp, &dst).map_err(io_err(&dst))
}
