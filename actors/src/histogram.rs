//! A histogram of durations kept in atomics, for the process-wide counters
//! the sessions add to and the metrics endpoint reads at scrape time
//! ([`crate::turn_stats`], [`crate::playout_gaps`]): adding is three relaxed
//! atomic adds, no lock on the voice loop.

use std::sync::atomic::{AtomicU64, Ordering};

/// Durations counted into fixed buckets (upper bounds in seconds).
pub(crate) struct AtomicHistogram<const N: usize> {
    bounds: &'static [f64; N],
    buckets: [AtomicU64; N],
    count: AtomicU64,
    sum_us: AtomicU64,
}

/// A histogram's state: per-bucket counts, count and sum (seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum: f64,
}

impl HistogramSnapshot {
    /// What was counted after `before`, an earlier snapshot of the same
    /// histogram.
    pub fn since(&self, before: &HistogramSnapshot) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: self
                .buckets
                .iter()
                .zip(&before.buckets)
                .map(|(&(bound, n), &(_, n0))| (bound, n.saturating_sub(n0)))
                .collect(),
            count: self.count.saturating_sub(before.count),
            sum: self.sum - before.sum,
        }
    }

    /// How many fell above `secs` (a bucket bound).
    pub fn count_above(&self, secs: f64) -> u64 {
        self.buckets
            .iter()
            .filter(|(bound, _)| *bound > secs)
            .map(|(_, n)| n)
            .sum()
    }
}

impl<const N: usize> AtomicHistogram<N> {
    pub(crate) const fn new(bounds: &'static [f64; N]) -> Self {
        Self {
            bounds,
            buckets: [const { AtomicU64::new(0) }; N],
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }

    pub(crate) fn observe_ms(&self, ms: u64) {
        let secs = ms as f64 / 1000.0;
        if let Some(i) = self.bounds.iter().position(|&b| secs <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(ms * 1000, Ordering::Relaxed);
    }

    /// Per-bucket counts (not cumulative), the last bucket's bound
    /// `f64::MAX` (+Inf), as Prometheus encoders take them.
    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        let count = self.count.load(Ordering::Relaxed);
        let mut buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .zip(&self.buckets)
            .map(|(&b, n)| (b, n.load(Ordering::Relaxed)))
            .collect();
        let within: u64 = buckets.iter().map(|(_, n)| n).sum();
        buckets.push((f64::MAX, count.saturating_sub(within)));
        HistogramSnapshot {
            buckets,
            count,
            sum: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_their_buckets() {
        static BOUNDS: [f64; 3] = [0.1, 0.3, 3.0];
        let h = AtomicHistogram::new(&BOUNDS);
        h.observe_ms(280);
        h.observe_ms(300);
        h.observe_ms(5000);
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert!((s.sum - 5.58).abs() < 1e-9);
        assert_eq!(
            s.buckets,
            vec![(0.1, 0), (0.3, 2), (3.0, 0), (f64::MAX, 1)],
            "0.28 s and 0.3 s in 0.3; 5 s only in +Inf"
        );
        assert_eq!(s.count_above(0.1), 3);
        assert_eq!(s.count_above(0.3), 1);
        h.observe_ms(50);
        let d = h.snapshot().since(&s);
        assert_eq!(d.count, 1);
        assert_eq!(d.buckets[0], (0.1, 1));
        assert_eq!(d.count_above(0.1), 0);
        assert!((d.sum - 0.05).abs() < 1e-9);
    }
}
