//! Voice-to-voice latencies as counts per millisecond: the same percentiles
//! as a sorted list of every turn's, in memory that grows with the distinct
//! values, not with the turns. A soak answers hundreds of thousands of
//! turns; a list of them grew the process's heap by 8 bytes a turn, which
//! the soak then read as the node's own (~0.1 MB a minute at 1,000
//! sessions).

use std::collections::BTreeMap;

/// How many turns took each number of milliseconds.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct LatencyCounts {
    counts: BTreeMap<u64, u64>,
    total: u64,
}

impl LatencyCounts {
    pub(super) fn record(&mut self, ms: u64) {
        *self.counts.entry(ms).or_insert(0) += 1;
        self.total += 1;
    }

    /// Turns recorded.
    pub(super) fn len(&self) -> u64 {
        self.total
    }

    /// The `p`th percentile as `arc_actors::session::emit::percentile` reads
    /// it from the sorted list: the value at rank ⌈p % × n⌉ (0 when empty).
    pub(super) fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = (((p / 100.0) * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (&ms, &n) in &self.counts {
            seen += n;
            if seen >= rank {
                return ms;
            }
        }
        self.max()
    }

    /// The longest (0 when empty).
    pub(super) fn max(&self) -> u64 {
        self.counts.keys().next_back().copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arc_actors::session::emit::percentile;

    #[test]
    fn percentiles_are_those_of_the_sorted_list() {
        let mut counts = LatencyCounts::default();
        assert_eq!(
            (counts.percentile(50.0), counts.max(), counts.len()),
            (0, 0, 0)
        );
        // A skewed, repeatable spread: most turns fast, a long tail.
        let mut x: u64 = 12345;
        let mut all = Vec::new();
        for _ in 0..10_007 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let ms = match (x >> 33) % 100 {
                0..=89 => (x >> 40) % 5,
                90..=98 => (x >> 40) % 200,
                _ => (x >> 40) % 7_000,
            };
            counts.record(ms);
            all.push(ms);
        }
        all.sort_unstable();
        for p in [0.0, 0.1, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0] {
            assert_eq!(counts.percentile(p), percentile(&all, p), "p{p}");
        }
        assert_eq!(counts.max(), *all.last().unwrap());
        assert_eq!(counts.len(), all.len() as u64);
        assert!(counts.counts.len() < 7_205, "one entry per distinct value");
    }
}
