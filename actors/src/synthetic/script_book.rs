//! The scripts of simulated callers, by session: whoever starts a scripted
//! session writes its lines here first; the [`super::SyntheticProvider`]
//! holding the same book hands them to that session's [`super::ScriptedStt`].

use parking_lot::Mutex;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;

/// Session id → the lines its caller will say. Cheap to clone: every clone is
/// the same book.
#[derive(Debug, Clone, Default)]
pub struct ScriptBook {
    lines: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl ScriptBook {
    /// Writes the lines the caller of `session_id` will say; false (and
    /// nothing written) when lines already wait for that session: another
    /// caller is starting a session of that id.
    pub fn write(&self, session_id: impl Into<String>, lines: Vec<String>) -> bool {
        match self.lines.lock().entry(session_id.into()) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert(lines);
                true
            }
        }
    }

    /// Takes out the lines of `session_id`: none when nothing was written.
    /// Whoever wrote them takes what is left once the session started (or
    /// failed to): engines that read no script leave them there.
    pub fn take(&self, session_id: &str) -> Vec<String> {
        self.lines.lock().remove(session_id).unwrap_or_default()
    }

    /// How many sessions have lines waiting (written, not yet taken).
    pub fn waiting(&self) -> usize {
        self.lines.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_taken_once_by_their_session() {
        let book = ScriptBook::default();
        assert!(book.write("a", vec!["hello".into()]));
        assert!(!book.write("a", vec!["other".into()]), "lines already wait");
        let same = book.clone();
        assert_eq!(same.waiting(), 1);
        assert!(same.take("b").is_empty());
        assert_eq!(same.take("a"), vec!["hello".to_string()]);
        assert!(book.take("a").is_empty());
        assert_eq!(book.waiting(), 0);
    }
}
