//! The memory a run's sessions are measured against: the node before its
//! first session, once its broker clients are connected and its resident
//! set has stopped moving, so that what their start allocates is not
//! counted as the sessions'. It is reported by kind: its file pages (the
//! binary's code and data the kernel has mapped) move with the page cache,
//! by up to 4 MB between runs of one binary, and the kernel's peak moves
//! with them, which the subtraction cancels; its anonymous pages are what
//! the node holds.

use crate::ops::procinfo::{self, RssParts};
use std::time::Duration;
use tokio::time::Instant;

/// How long to wait for the brokers (a run with one away still runs).
const BROKERS_WAIT: Duration = Duration::from_secs(10);
/// How long to wait, after that, for the resident set to stop moving.
const SETTLE_WAIT: Duration = Duration::from_secs(3);
/// Two readings this far apart ...
const READING_EVERY: Duration = Duration::from_millis(250);
/// ... that differ by no more than this: the resident set is still.
const STILL_BYTES: u64 = 64 * 1024;

/// The node's memory before its first session.
#[derive(Debug, Clone, Copy)]
pub(super) struct Baseline {
    pub(super) rss_bytes: u64,
    pub(super) parts: RssParts,
    /// Whether every enabled broker mirror had connected.
    pub(super) brokers_connected: bool,
    /// From the node's start to the reading.
    pub(super) waited: Duration,
}

/// Waits for the brokers (up to [`BROKERS_WAIT`]) and for two readings of
/// the resident set [`READING_EVERY`] apart to agree (up to
/// [`SETTLE_WAIT`]), and reads the last.
/// `brokers_connected` is `App::brokers_connected`.
pub(super) async fn settle(brokers_connected: impl Fn() -> bool) -> Baseline {
    let start = Instant::now();
    while !brokers_connected() && start.elapsed() < BROKERS_WAIT {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let brokers_connected = brokers_connected();
    let settling = Instant::now();
    let mut last = procinfo::sample().rss_bytes;
    loop {
        tokio::time::sleep(READING_EVERY).await;
        let now = procinfo::sample().rss_bytes;
        let still = now.abs_diff(last) <= STILL_BYTES;
        last = now;
        if still || settling.elapsed() >= SETTLE_WAIT {
            break;
        }
    }
    Baseline {
        rss_bytes: last,
        parts: procinfo::rss_parts(),
        brokers_connected,
        waited: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn waits_for_the_brokers_then_reads_a_still_resident_set() {
        let asked = AtomicU32::new(0);
        let b = settle(|| asked.fetch_add(1, Ordering::Relaxed) >= 3).await;
        assert!(b.brokers_connected);
        assert!(b.rss_bytes > 0 && b.parts.anon > 0, "{b:?}");
        // Three refusals 20 ms apart, then at least one reading interval.
        assert!(
            b.waited >= Duration::from_millis(60) + READING_EVERY,
            "{b:?}"
        );
        assert!(b.waited < BROKERS_WAIT, "{b:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_broker_that_never_connects_is_waited_for_a_bounded_time() {
        let b = settle(|| false).await;
        assert!(!b.brokers_connected);
        assert!(b.waited >= BROKERS_WAIT, "{b:?}");
        assert!(
            b.waited <= BROKERS_WAIT + SETTLE_WAIT + READING_EVERY * 2,
            "{b:?}"
        );
    }
}
