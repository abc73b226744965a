//! How much synthesized reply the Tts keeps queued ahead of the speaker.
//!
//! The queue is there so the caller hears no silence while the engine makes
//! what comes next: the next sentence (a synthesis starts when the one
//! before has sent its last chunk) or, in a streaming engine, the next
//! chunk. So it only needs to cover how long the engine takes to hand over
//! a chunk, and that differs a thousandfold between engines: piper makes a
//! sentence whole before its first chunk (hundreds of ms), a synthetic or
//! cached voice answers at once. A fixed second of 24 kHz audio held for
//! every speaking session was a third of what a session peaks on at 10,000
//! sessions (BENCHMARKS.md).
//!
//! The lead is `tts.min_ahead_ms` plus three times the slowest wait for a
//! chunk seen lately, at most `tts.max_ahead_ms`. The wait is measured from
//! the moment the Tts could take the next chunk to its arrival, so it
//! includes the node's own scheduling delay: a node that falls behind keeps
//! more queued. The estimate falls by an eighth at each new synthesis and
//! rises at once to any slower wait, so one slow sentence raises the lead
//! for the next dozen, and a slow engine keeps it up. Three times, because
//! piper's first chunk grows with the sentence: a long sentence after a
//! short one takes several times as long to start.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A session's estimate of its engine's pace (kept in the shared state: a
/// restarted Tts goes on with it).
#[derive(Debug, Default)]
pub(crate) struct TtsLead {
    /// The slowest wait for a chunk lately, in ms.
    slowest_ms: AtomicU64,
}

impl TtsLead {
    /// A synthesis starts: what older ones saw counts for less.
    pub(crate) fn new_synthesis(&self) {
        let _ = self
            .slowest_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v - v / 8));
    }

    /// A chunk arrived `waited` after the Tts could have taken it.
    pub(crate) fn chunk_waited(&self, waited: Duration) {
        let ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
        self.slowest_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// Audio (ms) to keep queued for the speaker before the next chunk waits.
    pub(crate) fn target_ms(&self, min_ms: u64, max_ms: u64) -> u64 {
        let slowest = self.slowest_ms.load(Ordering::Relaxed);
        min_ms
            .saturating_add(slowest.saturating_mul(3))
            .clamp(min_ms, max_ms.max(min_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 300;
    const MAX: u64 = 1000;

    #[test]
    fn an_engine_that_answers_at_once_keeps_the_least() {
        let lead = TtsLead::default();
        assert_eq!(lead.target_ms(MIN, MAX), MIN);
        lead.new_synthesis();
        lead.chunk_waited(Duration::from_millis(2));
        assert_eq!(lead.target_ms(MIN, MAX), MIN + 6);
    }

    #[test]
    fn a_slow_sentence_raises_the_lead_at_once_up_to_the_most() {
        let lead = TtsLead::default();
        lead.new_synthesis();
        lead.chunk_waited(Duration::from_millis(150));
        assert_eq!(lead.target_ms(MIN, MAX), MIN + 450);
        lead.chunk_waited(Duration::from_millis(900));
        assert_eq!(lead.target_ms(MIN, MAX), MAX);
    }

    #[test]
    fn the_lead_falls_back_over_a_run_of_fast_sentences() {
        let lead = TtsLead::default();
        lead.new_synthesis();
        lead.chunk_waited(Duration::from_millis(400));
        assert_eq!(lead.target_ms(MIN, MAX), MAX);
        let mut targets = Vec::new();
        for _ in 0..24 {
            lead.new_synthesis();
            lead.chunk_waited(Duration::from_millis(1));
            targets.push(lead.target_ms(MIN, MAX));
        }
        assert!(targets.windows(2).all(|w| w[1] <= w[0]), "{targets:?}");
        assert_eq!(
            targets[0], MAX,
            "one fast sentence is not enough: {targets:?}"
        );
        assert!(targets[23] <= MIN + 100, "{targets:?}");
    }

    #[test]
    fn a_minimum_above_the_maximum_wins() {
        let lead = TtsLead::default();
        assert_eq!(lead.target_ms(1200, MAX), 1200);
    }
}
