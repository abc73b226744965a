//! `arc_playout_gap_seconds{cause}`: silences inside the agent's speech,
//! encoded at scrape time from the process's counters
//! ([`arc_actors::playout_gaps`]). `cause="synthesis"`: the audio was not
//! there when due (the synthesis fell behind the speaker); `cause="node"`:
//! it was, and the node released it late (its workers were busy). Counted
//! from one frame (20 ms).

use arc_actors::playout_gaps::{playout_gaps, GapCause};
use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

#[derive(Debug)]
struct Gaps;

impl EncodeMetric for Gaps {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let series = GapCause::ALL.map(|c| (c.label(), playout_gaps().gaps(c)));
        super::snapshot::encode_histograms(&mut encoder, "cause", series)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// Registers the family in `r`.
pub(super) fn register(r: &mut Registry) {
    r.register(
        "arc_playout_gap_seconds",
        "Silences inside the agent's speech (a frame of a started reply played late, from 20 ms), by cause (synthesis: the audio was not there yet; node: it was, released late)",
        Gaps,
    );
}
