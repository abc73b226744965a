//! Giving memory that ended sessions freed back to the kernel.
//!
//! An allocator keeps what a burst of sessions freed: after 1,000 synthetic
//! sessions had ended, a node on glibc held 233 MB with no session live, and
//! `malloc_trim(0)` brought it back to 22 MB (tests/memory_return.rs). So
//! once enough sessions have ended since the last time, the node trims
//! ([`super::allocator::trim`]: the workers' caches, then every jemalloc
//! arena and glibc's heap, for the C libraries) on a blocking thread (it
//! takes tens of milliseconds and must not sit on the voice loop's workers),
//! and once more when sessions have stopped ending: the last few sessions of
//! a burst, and what ended sessions free after they are counted (their
//! actors' tasks finish a moment later), would otherwise wait for the next
//! burst or jemalloc's background decay.

use arc_actors::node::NodeStats;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Sessions that must have ended since the last trim before the next.
const MIN_ENDED: u64 = 64;

/// Whether to trim now: `ended` sessions so far, `seen` at the last look,
/// `trimmed_at` at the last trim. After [`MIN_ENDED`] more, or once sessions
/// stopped ending (none since the last look) with some not trimmed after.
fn trim_due(ended: u64, seen: u64, trimmed_at: u64) -> bool {
    let untrimmed = ended.saturating_sub(trimmed_at);
    untrimmed >= MIN_ENDED || (ended == seen && untrimmed > 0)
}

/// Checks every `every` (zero: never) and trims when sessions ended.
pub(crate) fn spawn(
    stats: Arc<NodeStats>,
    every: Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if every.is_zero() {
            return;
        }
        let mut trimmed_at = 0u64;
        let mut seen = 0u64;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let started = stats.sessions_started.load(Ordering::Relaxed);
            let active = stats.active_sessions.load(Ordering::Relaxed) as u64;
            let ended = started.saturating_sub(active);
            let due = trim_due(ended, seen, trimmed_at);
            seen = ended;
            if !due {
                continue;
            }
            trimmed_at = ended;
            let before = super::procinfo::sample().rss_bytes;
            let _ = tokio::task::spawn_blocking(super::allocator::trim).await;
            let after = super::procinfo::sample().rss_bytes;
            tracing::debug!(
                ended,
                active,
                freed_mb = before.saturating_sub(after) / 1_048_576,
                "memory freed by ended sessions given back to the kernel"
            );
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_after_many_ends_and_once_more_when_they_stop() {
        // Sessions ending: a trim every MIN_ENDED.
        assert!(!trim_due(10, 0, 0));
        assert!(trim_due(MIN_ENDED, 10, 0));
        // The burst's tail: fewer than MIN_ENDED since, still ending: wait.
        assert!(!trim_due(MIN_ENDED + 5, MIN_ENDED, MIN_ENDED));
        // None ended since the last look: the tail is trimmed once...
        assert!(trim_due(MIN_ENDED + 5, MIN_ENDED + 5, MIN_ENDED));
        // ...and a quiet node is not trimmed again.
        assert!(!trim_due(MIN_ENDED + 5, MIN_ENDED + 5, MIN_ENDED + 5));
        assert!(!trim_due(0, 0, 0));
    }
}
