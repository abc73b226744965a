//! The spool's identity: a random id made with the spool and kept in
//! `<dir>/id`. The Pulsar producers are named after it and send each record
//! with its spool sequence as the message's sequence id, so a broker with
//! deduplication on drops what a restarted node sends again. The id holds
//! only while the sequence does: when the cursor is missing or damaged (the
//! sequence could start again lower), a new id is made, so that no broker
//! takes new events for old ones.

use super::error::{io_err, SpoolError};
use std::fs;
use std::io::Write;
use std::path::Path;

const ID_FILE: &str = "id";
const ID_TMP: &str = "id.tmp";

/// The spool's id; `sequence_sound`: the cursor was read whole.
pub(super) fn spool_id(dir: &Path, sequence_sound: bool) -> Result<String, SpoolError> {
    let path = dir.join(ID_FILE);
    let kept = fs::read_to_string(&path).ok().map(|t| t.trim().to_string());
    if let Some(id) = kept.as_ref().filter(|id| is_id(id)) {
        if sequence_sound {
            return Ok(id.clone());
        }
        tracing::warn!(spool = %dir.display(), old_id = %id, "spool: cursor missing or damaged: a new spool id (and Pulsar producer names), so that a broker with deduplication does not drop new events as old ones");
    }
    let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
    let tmp = dir.join(ID_TMP);
    let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(format!("{id}\n").as_bytes())
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
        let first = spool_id(dir.path(), false).unwrap();
        assert!(is_id(&first));
        assert_eq!(spool_id(dir.path(), true).unwrap(), first);
        let after_lost_cursor = spool_id(dir.path(), false).unwrap();
        assert_ne!(after_lost_cursor, first);
        assert_eq!(spool_id(dir.path(), true).unwrap(), after_lost_cursor);
        fs::write(dir.path().join(ID_FILE), "garbage").unwrap();
        assert!(is_id(&spool_id(dir.path(), true).unwrap()));
    }
}
