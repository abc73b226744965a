//! The hour's turn latencies in a fixed number of buckets: the node keeps
//! the same few kilobytes per agent whether it answered a thousand turns in
//! the hour or a million (a list of every latency grew without bound while
//! the hour was open). 1 ms buckets below 1 s, 10 ms to 10 s, 100 ms to
//! 2 minutes; the mean is exact, the percentiles within a bucket.

/// Buckets: 1,000 of 1 ms, 900 of 10 ms, 1,100 of 100 ms, one for the rest.
const BUCKETS: usize = 1000 + 900 + 1100 + 1;

#[derive(Debug, Clone)]
pub(super) struct LatencyHistogram {
    counts: Vec<u64>,
    count: u64,
    sum: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            count: 0,
            sum: 0,
        }
    }
}

fn bucket_of(ms: u64) -> usize {
    match ms {
        0..=999 => ms as usize,
        1000..=9_999 => 1000 + ((ms - 1000) / 10) as usize,
        10_000..=119_999 => 1900 + ((ms - 10_000) / 100) as usize,
        _ => BUCKETS - 1,
    }
}

/// The lowest latency a bucket holds.
fn floor_of(bucket: usize) -> u64 {
    let b = bucket as u64;
    match bucket {
        0..=999 => b,
        1000..=1899 => 1000 + (b - 1000) * 10,
        1900..=2999 => 10_000 + (b - 1900) * 100,
        _ => 120_000,
    }
}

impl LatencyHistogram {
    pub(super) fn record(&mut self, ms: u64) {
        self.counts[bucket_of(ms)] += 1;
        self.count += 1;
        self.sum = self.sum.saturating_add(ms);
    }

    pub(super) fn extend(&mut self, ms: impl IntoIterator<Item = u64>) {
        for m in ms {
            self.record(m);
        }
    }

    pub(super) fn mean(&self) -> u64 {
        self.sum.checked_div(self.count).unwrap_or(0)
    }

    /// The nearest-rank percentile `p` (0..=100): the floor of the bucket
    /// that holds it (exact below one second).
    pub(super) fn percentile(&self, p: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return floor_of(b);
            }
        }
        floor_of(BUCKETS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arc_actors::session::emit::percentile;

    #[test]
    fn it_agrees_with_the_sorted_list_below_a_second_and_within_a_bucket_above() {
        let mut h = LatencyHistogram::default();
        let mut v: Vec<u64> = (0..5000u64).map(|i| (i * 7919) % 999).collect();
        h.extend(v.iter().copied());
        v.sort_unstable();
        for p in [50.0, 95.0, 99.0] {
            assert_eq!(h.percentile(p), percentile(&v, p));
        }
        assert_eq!(h.mean(), v.iter().sum::<u64>() / v.len() as u64);

        let mut h = LatencyHistogram::default();
        let mut v: Vec<u64> = (0..5000u64).map(|i| 900 + (i * 7919) % 50_000).collect();
        h.extend(v.iter().copied());
        v.sort_unstable();
        let exact = percentile(&v, 95.0);
        let got = h.percentile(95.0);
        assert!(got <= exact && exact - got < 100, "{got} vs {exact}");
        h.record(10_000_000);
        assert_eq!(h.percentile(100.0), 120_000);
    }

    #[test]
    fn its_size_does_not_grow_with_the_turns() {
        let mut h = LatencyHistogram::default();
        h.extend(0..1_000_000);
        assert_eq!(h.counts.len(), BUCKETS);
        assert_eq!(h.count, 1_000_000);
    }
}
