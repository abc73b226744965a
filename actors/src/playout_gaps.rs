//! Silences inside the agent's speech: a frame of a reply that started
//! playing went out later than the one before it ended, so the caller heard
//! the agent stop mid-reply. Two causes, told apart because they have
//! different cures:
//!
//! - `synthesis`: the frame was not there when it was due (the next
//!   sentence's synthesis, or a slow engine, fell behind the speaker: more
//!   `tts.max_ahead_ms`, or fewer callers on the inference pool);
//! - `node`: the frame was queued but released late (the node's workers
//!   were busy: fewer sessions on the node).
//!
//! Process-wide, like [`crate::turn_stats`]: the Playouts add to it, the
//! metrics endpoint (`arc_playout_gap_seconds{cause}`), the load generator
//! and the capacity bench read it.

use crate::histogram::{AtomicHistogram, HistogramSnapshot};
use std::sync::OnceLock;
use std::time::Duration;

/// Shorter gaps are not counted: under a frame (20 ms), which a listener's
/// jitter buffer absorbs and a timer's wake-up can cost.
pub const MIN_GAP: Duration = Duration::from_millis(20);

/// Upper bounds (seconds) of the gap histogram.
pub const GAP_BUCKETS: [f64; 9] = [0.04, 0.06, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0];

/// Why the agent's speech stopped mid-reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapCause {
    /// The audio was not there yet.
    Synthesis,
    /// The audio was there; the node released it late.
    Node,
}

impl GapCause {
    pub const ALL: [GapCause; 2] = [GapCause::Synthesis, GapCause::Node];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            GapCause::Synthesis => "synthesis",
            GapCause::Node => "node",
        }
    }
}

/// The process's gap counters; see the module docs.
pub struct PlayoutGaps {
    by_cause: [AtomicHistogram<{ GAP_BUCKETS.len() }>; 2],
}

impl Default for PlayoutGaps {
    fn default() -> Self {
        Self {
            by_cause: [const { AtomicHistogram::new(&GAP_BUCKETS) }; 2],
        }
    }
}

impl PlayoutGaps {
    /// A frame went out `late` after the previous one ended; counted from
    /// [`MIN_GAP`].
    pub fn gap(&self, cause: GapCause, late: Duration) {
        if late >= MIN_GAP {
            self.by_cause[cause as usize].observe_ms(late.as_millis() as u64);
        }
    }

    /// The gaps counted for `cause` (Prometheus buckets).
    pub fn gaps(&self, cause: GapCause) -> HistogramSnapshot {
        self.by_cause[cause as usize].snapshot()
    }

    /// The gaps counted for each cause, in [`GapCause::ALL`]'s order.
    pub fn all(&self) -> [(GapCause, HistogramSnapshot); 2] {
        GapCause::ALL.map(|c| (c, self.gaps(c)))
    }
}

/// The process's counters.
pub fn playout_gaps() -> &'static PlayoutGaps {
    static GAPS: OnceLock<PlayoutGaps> = OnceLock::new();
    GAPS.get_or_init(PlayoutGaps::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_under_a_frame_are_not_counted_and_causes_are_apart() {
        let g = PlayoutGaps::default();
        g.gap(GapCause::Node, Duration::from_millis(19));
        g.gap(GapCause::Node, Duration::from_millis(45));
        g.gap(GapCause::Synthesis, Duration::from_millis(700));
        let node = g.gaps(GapCause::Node);
        assert_eq!(node.count, 1);
        assert_eq!(node.buckets[1], (0.06, 1));
        let synthesis = g.gaps(GapCause::Synthesis);
        assert_eq!(synthesis.count, 1);
        assert_eq!(synthesis.count_above(0.5), 1);
    }
}
