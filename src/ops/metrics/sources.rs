//! What `/metrics` reads at scrape time from the rest of the node: the event
//! sink, the session supervisor's counters, each mirror's counters and input
//! queue, and the inference pool.

use crate::mirror::MirrorStats;
use arc_actors::node::NodeStats;
use arc_actors::sink::{EventSink, MirrorProbe};
use std::sync::Arc;

/// Sources read at scrape time.
pub struct ScrapeSources {
    pub sink: EventSink,
    pub node: Arc<NodeStats>,
    pub mirrors: Vec<(&'static str, Arc<MirrorStats>, Option<MirrorProbe>)>,
    /// The real engines' inference pool (none with synthetic engines).
    pub inference: Option<Arc<arc_models::pool::InferencePool>>,
}
