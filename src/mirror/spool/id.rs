//! The spool's identity: a random id made with the spool and kept in
//! `<dir>/id`. The Pulsar producers are named after it and send each record
//! with its spool sequence as the message's sequence id, so a broker with
//! deduplication on drops what a restarted node sends again.
//!
//! The id holds only while the sequence does. A new id is made when the
//! sequence could start again lower, or reuse numbers already sent:
//! - the cursor is missing or damaged;
//! - recovery found a torn or corrupt segment;
//! - the machine has rebooted since the id was written (`boot_id` differs):
//!   records sent but not yet fsynced may have been lost with the page cache,
//!   and their numbers would be handed out again. A killed process (kill -9)
//!   keeps the page cache, and its id.
//!
//! so that no broker takes new events for old ones.

use super::error::{io_err, SpoolError};
use std::fs;
use std::io::Write;
use std::path::Path;

const ID_FILE: &str = "id";
const ID_TMP: &str = "id.tmp";
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// An id file is there (the spool is not new).
pub(super) fn has_id(dir: &Path) -> bool {
    dir.join(ID_FILE).exists()
}

/// The spool's id; `sequence_sound`: the cursor was read whole and recovery
/// found no damage.
pub(super) fn spool_id(dir: &Path, sequence_sound: bool) -> Result<String, SpoolError> {
    spool_id_on(dir, sequence_sound, &boot_id())
}

fn boot_id() -> String {
    fs::read_to_string(BOOT_ID)
        .map(|b| b.trim().to_string())
        .unwrap_or_default()
}

fn spool_id_on(dir: &Path, sequence_sound: bool, boot: &str) -> Result<String, SpoolError> {
    let path = dir.join(ID_FILE);
    let text = fs::read_to_string(&path).unwrap_or_default();
    let mut parts = text.split_whitespace();
    let (kept, kept_boot) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if is_id(kept) {
        if sequence_sound && kept_boot == boot {
            return Ok(kept.to_string());
        }
        let why = if !sequence_sound {
            "cursor missing or damaged, or a damaged segment"
        } else {
            "the machine restarted (unsynced records may be gone)"
        };
        tracing::warn!(spool = %dir.display(), old_id = %kept, reason = why, "spool: a new spool id (and Pulsar producer names), so that a broker with deduplication does not drop new events as old ones");
    }
    let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
    let tmp = dir.join(ID_TMP);
    let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(format!("{id} {boot}\n").as_bytes())
        .and_then(|()| f.sync_data())
        .map_err(io_err(&tmp))?;
    drop(f);
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    Ok(id)
}

fn is_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_while_the_sequence_holds_and_new_when_it_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(!has_id(d));
        let first = spool_id_on(d, true, "boot-a").unwrap();
        assert!(is_id(&first) && has_id(d));
        assert_eq!(spool_id_on(d, true, "boot-a").unwrap(), first);
        // A lost cursor or a damaged segment: new.
        let second = spool_id_on(d, false, "boot-a").unwrap();
        assert_ne!(second, first);
        assert_eq!(spool_id_on(d, true, "boot-a").unwrap(), second);
        // A reboot: new.
        let third = spool_id_on(d, true, "boot-b").unwrap();
        assert_ne!(third, second);
        assert_eq!(spool_id_on(d, true, "boot-b").unwrap(), third);
        fs::write(d.join(ID_FILE), "garbage").unwrap();
        assert!(is_id(&spool_id_on(d, true, "boot-b").unwrap()));
    }
}
