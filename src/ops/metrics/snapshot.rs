//! Encoding arc-actors' process-wide histograms (kept in atomics, read at
//! scrape time) as one Prometheus histogram family, one series per label.

use arc_actors::histogram::HistogramSnapshot;
use prometheus_client::encoding::{MetricEncoder, NoLabelSet};

/// Each `(value, snapshot)` as the series `{key="value"}`.
pub(super) fn encode_histograms(
    encoder: &mut MetricEncoder,
    key: &str,
    series: impl IntoIterator<Item = (&'static str, HistogramSnapshot)>,
) -> Result<(), std::fmt::Error> {
    for (value, h) in series {
        let labels = [(key, value)];
        encoder
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?;
    }
    Ok(())
}
