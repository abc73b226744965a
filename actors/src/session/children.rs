//! Which actor is which of a session's five children, for the supervisor to
//! know what crashed. A row per kind, in place: a session holds no map for
//! five entries (a hash map's table was ~0.3 KB a session on the heap).

use super::messages::ChildKind;
use ractor::ActorId;

/// The running actor of each kind, if any: a row per kind, in start order.
#[derive(Debug)]
pub(crate) struct Children {
    rows: [(ChildKind, Option<ActorId>); ChildKind::ALL.len()],
}

impl Default for Children {
    fn default() -> Self {
        Self {
            rows: ChildKind::ALL.map(|kind| (kind, None)),
        }
    }
}

impl Children {
    /// `id` is now the actor of `kind` (a start or a restart).
    pub(crate) fn insert(&mut self, id: ActorId, kind: ChildKind) {
        for (k, slot) in &mut self.rows {
            if *k == kind {
                *slot = Some(id);
            }
        }
    }

    /// The kind `id` was, forgotten: None if it is no child of this session
    /// (or was already removed).
    pub(crate) fn remove(&mut self, id: &ActorId) -> Option<ChildKind> {
        let (kind, slot) = self
            .rows
            .iter_mut()
            .find(|(_, slot)| slot.as_ref() == Some(id))?;
        *slot = None;
        Some(*kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_child_is_named_once_and_a_restart_takes_its_row() {
        let mut c = Children::default();
        for (n, kind) in ChildKind::ALL.into_iter().enumerate() {
            c.insert(ActorId::Local(n as u64), kind);
        }
        assert_eq!(c.remove(&ActorId::Local(3)), Some(ChildKind::ALL[3]));
        assert_eq!(c.remove(&ActorId::Local(3)), None);
        assert_eq!(c.remove(&ActorId::Local(99)), None);
        c.insert(ActorId::Local(7), ChildKind::ALL[3]);
        assert_eq!(c.remove(&ActorId::Local(7)), Some(ChildKind::ALL[3]));
        assert_eq!(c.remove(&ActorId::Local(0)), Some(ChildKind::ALL[0]));
    }
}
