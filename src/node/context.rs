//! The node context: one cheap-to-clone value instead of the same five
//! parameters threaded through every constructor.

use super::access::Access;
use crate::config::Config;
use crate::ops::metrics::Metrics;
use arc_actors::emit::ServiceIdentity;
use arc_actors::node::NodeHandle;
use arc_actors::sink::EventSink;
use arc_actors::synthetic::ScriptBook;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The parts of a running node that transports, the cluster code and the
/// HTTP server use.
#[derive(Clone)]
pub struct NodeContext {
    pub cfg: Arc<Config>,
    /// The session supervisor: start, list, end and drain sessions.
    pub node: NodeHandle,
    /// Where every event goes (mirrored to NATS and Pulsar).
    pub sink: EventSink,
    pub identity: ServiceIdentity,
    pub metrics: Arc<Metrics>,
    /// Where a scripted session's lines wait for its synthetic STT
    /// (`POST /v1/sessions` with a `script`).
    pub scripts: ScriptBook,
    /// Who may use the session API, `/ws` and `/metrics`.
    pub(crate) access: Arc<Access>,
    draining: Arc<AtomicBool>,
}

impl NodeContext {
    pub fn new(
        cfg: Arc<Config>,
        node: NodeHandle,
        sink: EventSink,
        identity: ServiceIdentity,
        metrics: Arc<Metrics>,
        scripts: ScriptBook,
    ) -> Self {
        Self {
            access: Access::from_config(&cfg),
            cfg,
            node,
            sink,
            identity,
            metrics,
            scripts,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    /// True once shutdown began: no new session, track or job is taken.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// The first step of shutdown (every clone sees it).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }
}
