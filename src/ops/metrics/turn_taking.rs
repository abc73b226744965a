//! Turn-taking metrics, encoded at scrape time straight from the process's
//! counters ([`arc_actors::turn_stats`]): the sessions add to those, this
//! only reads them.
//!
//! - `arc_turn_decision_seconds{cause}`: end of the user's speech → the turn
//!   ending, by cause (model_complete, model_timeout, silence_rule, max_length).
//! - `arc_turn_model_verdicts_total{verdict}`: what the turn model answered
//!   (complete, incomplete, failed; text_incomplete: complete, but the
//!   transcript stops mid-sentence; text_uncertain: complete, but the
//!   transcript's last word is unsure, so the turn ends at
//!   `engines.turn.uncertain_silence_ms`; near_complete: just under the
//!   threshold (`engines.turn.near_threshold`), so a finished sentence ends
//!   there too).
//! - `arc_false_interruptions_total`: the agent paused for speech that had
//!   no words (a cough, a door) and resumed.

use arc_actors::turn_stats::{turn_stats, TurnCause, Verdict};
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

#[derive(Debug)]
struct Decisions;

impl EncodeMetric for Decisions {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let series = TurnCause::ALL.map(|c| (c.label(), turn_stats().decisions(c)));
        super::snapshot::encode_histograms(&mut encoder, "cause", series)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[derive(Debug)]
struct Verdicts;

impl EncodeMetric for Verdicts {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for v in Verdict::ALL {
            let labels = [("verdict", v.label())];
            encoder
                .encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&turn_stats().verdicts(v), None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

#[derive(Debug)]
struct FalseInterruptions;

impl EncodeMetric for FalseInterruptions {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&turn_stats().false_interruptions(), None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// Registers the three families in `r`.
pub(super) fn register(r: &mut Registry) {
    r.register(
        "arc_turn_decision_seconds",
        "End of the user's speech to the end of their turn, by cause (model_complete, model_timeout, silence_rule, max_length)",
        Decisions,
    );
    r.register(
        "arc_turn_model_verdicts",
        "Answers of the turn model at a pause (complete, incomplete, failed; text_incomplete: complete but the transcript stops mid-sentence; text_uncertain: complete but its last word is unsure, so the turn ends at engines.turn.uncertain_silence_ms; near_complete: just under the threshold, engines.turn.near_threshold, so a finished sentence ends at uncertain_silence_ms)",
        Verdicts,
    );
    r.register(
        "arc_false_interruptions",
        "Times the agent paused for user speech with no words and resumed",
        FalseInterruptions,
    );
}
