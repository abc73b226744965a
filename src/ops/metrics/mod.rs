//! Prometheus metrics (`/metrics`), all named `arc_*` with units in the name.
//!
//! Most metrics come from the events themselves: an observer reads the same
//! event stream the brokers get, so anything an actor emits is visible to an
//! operator without extra code. Counters kept elsewhere (the sink, the
//! mirrors, the node) are read at scrape time.
//!
//! # Files here
//!
//! - `registry`: [`Metrics::new`], every family named, described and registered.
//! - `observer`: what moves them between scrapes: the event observer, and
//!   the counts the webhook, dispatch and LiveKit code report directly.
//! - `scrape`: [`Metrics::render`], reading the [`ScrapeSources`] first.
//! - `sources`: [`ScrapeSources`], the counters kept elsewhere.
//! - `turn_taking`: why and how fast turns end, and false interruptions,
//!   encoded from arc-actors' process-wide counters at scrape time.
//! - `playout_gaps`: silences inside the agent's speech, and why, the same way.
//! - `snapshot`: those process-wide histograms encoded as Prometheus families.
//!
//! `registry`, `observer` and `scrape` add methods to [`Metrics`] (defined
//! here); `Metrics` holds the `sources`; `sources` reads the mirrors' and the
//! node's counters only.

mod observer;
mod playout_gaps;
mod registry;
mod scrape;
mod snapshot;
mod sources;
mod turn_taking;

pub(crate) use sources::ScrapeSources;

use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Buckets for voice latency: tens of milliseconds to seconds.
pub(crate) const LATENCY_BUCKETS: [f64; 14] = [
    0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Outcomes of `arc_webhooks_total`.
/// `accepted`, `duplicate`, `rejected`, `malformed`; and, for accepted audio
/// tracks that are never offered (counted beside `accepted`),
/// `agent_participant` and `screen_share_audio`.
pub(crate) const WEBHOOK_OUTCOMES: [&str; 6] = [
    "accepted",
    "duplicate",
    "rejected",
    "malformed",
    "agent_participant",
    "screen_share_audio",
];
/// Outcomes of `arc_dispatch_total`: offers this node made, tracks (or
/// LiveKit jobs) it took or declined, tracks no node took, tracks taken here
/// because no cluster was reachable, and registrations with LiveKit as an
/// agent worker.
pub(crate) const DISPATCH_OUTCOMES: [&str; 6] = [
    "offered",
    "taken",
    "declined",
    "not_taken",
    "taken_locally",
    "livekit_registered",
];

/// Everything `/metrics` exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    sources: Mutex<Option<Arc<ScrapeSources>>>,
    sessions_active: Gauge,
    sessions_started: Counter,
    sessions_crashed: Counter,
    sessions_ended: Family<Labels, Counter>,
    turns: Counter,
    turn_latency: Histogram,
    stage_latency: Family<Labels, Histogram, fn() -> Histogram>,
    sla_violations: Counter,
    barge_ins: Counter,
    livekit_joins: Family<Labels, Counter>,
    livekit_connect_attempts: Counter,
    livekit_reconnects: Counter,
    fallbacks: Family<Labels, Counter>,
    tool_calls: Family<Labels, Counter>,
    actor_restarts: Family<Labels, Counter>,
    service_errors: Family<Labels, Counter>,
    lifecycle: Family<Labels, Counter>,
    events_by_kind: Family<Labels, Counter>,
    sink_accepted: Counter,
    sink_dropped: Counter,
    sink_depth: Gauge,
    mirror_published: Family<Labels, Counter>,
    mirror_failed: Family<Labels, Counter>,
    mirror_dropped: Family<Labels, Counter>,
    mirror_queue_depth: Family<Labels, Gauge>,
    broker_connected: Family<Labels, Gauge>,
    spool_depth: Gauge,
    spool_bytes: Gauge,
    replayed: Counter,
    dead_lettered: Counter,
    process_rss: Gauge,
    allocator_bytes: Family<Labels, Gauge>,
    process_cpu: Counter<f64, AtomicU64>,
    process_threads: Gauge,
    pool_queued: Gauge,
    pool_running: Gauge,
    pool_jobs: Counter,
    pool_wait: Counter<f64, AtomicU64>,
    process_fds: Gauge,
    webhooks: Family<Labels, Counter>,
    dispatch: Family<Labels, Counter>,
    uptime: Gauge<f64, AtomicU64>,
    target_latency_ms: AtomicU64,
    started: std::time::Instant,
}
