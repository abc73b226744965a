//! Turn-taking as users feel it, counted for the node's metrics: why each
//! turn ended (the turn model judged it complete, the silence limit ran out
//! behind the model, the fixed silence rule, the length cap), how long after
//! the user's last word that was, what the model answered, and the false
//! interruptions (the agent paused for a cough). Process-wide counters: the
//! metrics endpoint reads them at scrape time; sessions only add to them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Why a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnCause {
    /// The turn model judged the turn complete at a pause.
    ModelComplete,
    /// The model was on but did not end the turn (said incomplete, failed,
    /// or answered late): the silence limit did.
    ModelTimeout,
    /// No turn model: the fixed silence rule.
    SilenceRule,
    /// The utterance reached its maximum length.
    MaxLength,
}

impl TurnCause {
    pub const ALL: [TurnCause; 4] = [
        TurnCause::ModelComplete,
        TurnCause::ModelTimeout,
        TurnCause::SilenceRule,
        TurnCause::MaxLength,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            TurnCause::ModelComplete => "model_complete",
            TurnCause::ModelTimeout => "model_timeout",
            TurnCause::SilenceRule => "silence_rule",
            TurnCause::MaxLength => "max_length",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What the turn model answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Complete,
    Incomplete,
    Failed,
    /// The model said complete, but the transcript stops mid-sentence
    /// ("a table for"): the turn goes on.
    TextIncomplete,
    /// The model said complete, but the transcript's last word is unsure
    /// (likely misheard): the turn ends after a longer pause.
    TextUncertain,
    /// The model's probability fell just short of complete
    /// (`near_threshold`): with a finished sentence, the turn ends after
    /// the longer pause.
    NearComplete,
}

impl Verdict {
    pub const ALL: [Verdict; 6] = [
        Verdict::Complete,
        Verdict::Incomplete,
        Verdict::Failed,
        Verdict::TextIncomplete,
        Verdict::TextUncertain,
        Verdict::NearComplete,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Complete => "complete",
            Verdict::Incomplete => "incomplete",
            Verdict::Failed => "failed",
            Verdict::TextIncomplete => "text_incomplete",
            Verdict::TextUncertain => "text_uncertain",
            Verdict::NearComplete => "near_complete",
        }
    }
}

/// Upper bounds (seconds) of the end-of-speech → decision histogram.
pub const DECISION_BUCKETS: [f64; 12] =
    [0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0];

use crate::histogram::AtomicHistogram;
pub use crate::histogram::HistogramSnapshot;

/// The process's turn-taking counters; see the module docs.
pub struct TurnStats {
    decisions: [AtomicHistogram<{ DECISION_BUCKETS.len() }>; 4],
    verdicts: [AtomicU64; Verdict::ALL.len()],
    false_interruptions: AtomicU64,
}

impl Default for TurnStats {
    fn default() -> Self {
        Self {
            decisions: [const { AtomicHistogram::new(&DECISION_BUCKETS) }; 4],
            verdicts: Default::default(),
            false_interruptions: AtomicU64::new(0),
        }
    }
}

impl TurnStats {
    /// A turn ended for `cause`, `after_ms` after the user's last speech.
    pub fn decision(&self, cause: TurnCause, after_ms: u64) {
        self.decisions[cause.index()].observe_ms(after_ms);
    }

    pub fn verdict(&self, v: Verdict) {
        self.verdicts[v as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn false_interruption(&self) {
        self.false_interruptions.fetch_add(1, Ordering::Relaxed);
    }

    /// End of speech → the turn's end, for `cause` (Prometheus buckets).
    pub fn decisions(&self, cause: TurnCause) -> HistogramSnapshot {
        self.decisions[cause.index()].snapshot()
    }

    pub fn verdicts(&self, v: Verdict) -> u64 {
        self.verdicts[v as usize].load(Ordering::Relaxed)
    }

    pub fn false_interruptions(&self) -> u64 {
        self.false_interruptions.load(Ordering::Relaxed)
    }
}

/// The process's counters.
pub fn turn_stats() -> &'static TurnStats {
    static STATS: OnceLock<TurnStats> = OnceLock::new();
    STATS.get_or_init(TurnStats::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verdict_has_its_counter() {
        let stats = TurnStats::default();
        for v in Verdict::ALL {
            stats.verdict(v);
            assert_eq!(stats.verdicts(v), 1, "{}", v.label());
        }
    }

    #[test]
    fn decisions_fall_in_their_buckets() {
        let s = TurnStats::default();
        s.decision(TurnCause::ModelComplete, 280);
        s.decision(TurnCause::ModelComplete, 300);
        s.decision(TurnCause::ModelComplete, 5000);
        let h = s.decisions(TurnCause::ModelComplete);
        assert_eq!(h.count, 3);
        assert!((h.sum - 5.58).abs() < 1e-9);
        let at = |b: f64| h.buckets.iter().find(|(x, _)| *x == b).unwrap().1;
        assert_eq!(at(0.25), 0);
        assert_eq!(at(0.3), 2, "0.28 s and 0.3 s");
        assert_eq!(at(3.0), 0);
        assert_eq!(at(f64::MAX), 1, "5 s is only in +Inf");
        assert_eq!(s.decisions(TurnCause::SilenceRule).count, 0);
    }
}
