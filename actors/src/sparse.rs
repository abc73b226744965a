//! Tables a burst of sessions grew, given back once they are mostly empty.
//!
//! A `HashMap` or `VecDeque` keeps its largest size after its entries go:
//! after 1,000 sessions have come and gone, the node's table of sessions
//! alone held 1.7 MB that never came back (`tests/memory_return.rs`).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Tables with room for fewer entries than this are left as they are.
const SPARSE_MIN: usize = 256;

/// Whether a table with room for `capacity` and `len` entries in it is worth
/// shrinking: three-quarters empty, and not small.
fn sparse(len: usize, capacity: usize) -> bool {
    capacity > SPARSE_MIN && len * 4 < capacity
}

/// Shrink `map` to twice its entries once it is three-quarters empty (twice:
/// a table that shrinks and grows back on every session would allocate on
/// every session).
pub fn shrink_if_sparse<K: Eq + Hash, V>(map: &mut HashMap<K, V>) {
    if sparse(map.len(), map.capacity()) {
        map.shrink_to(map.len() * 2);
    }
}

/// [`shrink_if_sparse`] for a queue.
pub fn shrink_deque_if_sparse<T>(queue: &mut VecDeque<T>) {
    if sparse(queue.len(), queue.capacity()) {
        queue.shrink_to(queue.len() * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_a_burst_grew_is_given_back_once_mostly_empty() {
        let mut m: HashMap<u32, u32> = (0..4000).map(|i| (i, i)).collect();
        m.retain(|k, _| *k < 2000);
        shrink_if_sparse(&mut m);
        assert!(m.capacity() >= 4000, "half full: kept ({})", m.capacity());
        m.retain(|k, _| *k < 10);
        shrink_if_sparse(&mut m);
        assert!(
            m.capacity() < 64,
            "nearly empty: given back ({})",
            m.capacity()
        );
        assert_eq!(m.len(), 10);

        let mut q: VecDeque<u32> = (0..4000).collect();
        q.drain(..3990);
        shrink_deque_if_sparse(&mut q);
        assert!(q.capacity() < 64);
        assert_eq!(
            q.iter().copied().collect::<Vec<_>>(),
            (3990..4000).collect::<Vec<_>>()
        );
    }

    #[test]
    fn small_tables_are_left_alone() {
        let mut m: HashMap<u32, u32> = (0..100).map(|i| (i, i)).collect();
        m.clear();
        shrink_if_sparse(&mut m);
        assert!(m.capacity() >= 100, "kept ({})", m.capacity());
    }
}
