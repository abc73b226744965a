//! Acknowledgements by entry. A producer's batch is one broker entry holding
//! many messages, and a broker takes the acknowledgement of any one of them
//! (without a batch-index ack set) as the acknowledgement of the whole entry:
//! acking the first message written would drop the rest of the batch if the
//! reader crashed before writing them. As the Java and C++ clients do, an
//! entry is acknowledged once, when every message of it is done.

use pulsar::message::proto::MessageIdData;
use std::collections::{HashMap, HashSet};

/// An entry: topic (partition), ledger, entry.
type EntryKey = (String, u64, u64);

#[derive(Debug, Default)]
pub(crate) struct EntryAcks {
    /// Batched entries part-way done: their size and the indexes done.
    pending: HashMap<EntryKey, (usize, HashSet<i32>)>,
}

impl EntryAcks {
    /// `id` (of a message of `topic`, in a batch of `batch_size`) is done:
    /// the id to acknowledge now, if any (the entry's, once all of it is done).
    pub(crate) fn done(
        &mut self,
        topic: &str,
        id: &MessageIdData,
        batch_size: Option<i32>,
    ) -> Option<MessageIdData> {
        let size = batch_size.unwrap_or(1).max(1) as usize;
        let index = id.batch_index.unwrap_or(-1);
        if size <= 1 || index < 0 {
            return Some(id.clone());
        }
        let key = (topic.to_string(), id.ledger_id, id.entry_id);
        let (_, indexes) = self
            .pending
            .entry(key.clone())
            .or_insert_with(|| (size, HashSet::new()));
        indexes.insert(index);
        if indexes.len() < size {
            return None;
        }
        self.pending.remove(&key);
        Some(MessageIdData {
            ledger_id: id.ledger_id,
            entry_id: id.entry_id,
            partition: id.partition,
            ..Default::default()
        })
    }

    /// Entries waiting for more of their messages.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(entry: u64, index: Option<i32>) -> MessageIdData {
        MessageIdData {
            ledger_id: 7,
            entry_id: entry,
            partition: Some(3),
            batch_index: index,
            ..Default::default()
        }
    }

    #[test]
    fn a_batch_is_acknowledged_once_all_of_it_is_done() {
        let mut acks = EntryAcks::default();
        assert_eq!(acks.done("t", &id(1, Some(0)), Some(3)), None);
        assert_eq!(acks.done("t", &id(1, Some(2)), Some(3)), None);
        // A redelivered message counts once.
        assert_eq!(acks.done("t", &id(1, Some(2)), Some(3)), None);
        assert_eq!(acks.waiting(), 1);
        let whole = acks.done("t", &id(1, Some(1)), Some(3)).unwrap();
        assert_eq!((whole.ledger_id, whole.entry_id), (7, 1));
        assert_eq!(whole.partition, Some(3));
        assert_eq!(
            whole.batch_index, None,
            "the entry, not one of its messages"
        );
        assert_eq!(acks.waiting(), 0);
    }

    #[test]
    fn a_single_message_is_acknowledged_at_once() {
        let mut acks = EntryAcks::default();
        assert_eq!(acks.done("t", &id(2, None), None), Some(id(2, None)));
        assert_eq!(
            acks.done("t", &id(3, Some(0)), Some(1)),
            Some(id(3, Some(0)))
        );
        // The same entry id on another partition topic is another entry.
        assert_eq!(acks.done("a", &id(4, Some(0)), Some(2)), None);
        assert_eq!(acks.done("b", &id(4, Some(1)), Some(2)), None);
        assert_eq!(acks.waiting(), 2);
    }
}
