//! Prometheus metrics (`/metrics`), all named `arc_*` with units in the name.
//!
//! Most metrics come from the events themselves: an observer reads the same
//! event stream the brokers get, so anything an actor emits is visible to an
//! operator without extra code. Counters kept elsewhere (the sink, the
//! mirrors, the node) are read at scrape time.

use crate::mirror::MirrorStats;
use crate::ops::procinfo;
use arc_actors::events::Event;
use arc_actors::node::NodeStats;
use arc_actors::sink::{EventSink, MirrorProbe};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Buckets for voice latency: tens of milliseconds to seconds.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Outcomes of `arc_webhooks_total`.
pub const WEBHOOK_OUTCOMES: [&str; 4] = ["accepted", "duplicate", "rejected", "malformed"];
/// Outcomes of `arc_dispatch_total`: offers this node made, tracks (or
/// LiveKit jobs) it took or declined, tracks no node took, tracks taken here
/// because no cluster was reachable, and registrations with LiveKit as an
/// agent worker.
pub const DISPATCH_OUTCOMES: [&str; 6] = [
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

/// Sources read at scrape time.
pub struct ScrapeSources {
    pub sink: EventSink,
    pub node: Arc<NodeStats>,
    pub mirrors: Vec<(&'static str, Arc<MirrorStats>, Option<MirrorProbe>)>,
    /// The real engines' inference pool (none with synthetic engines).
    pub inference: Option<Arc<arc_models::pool::InferencePool>>,
}

fn sync_counter(c: &Counter, value: u64) {
    let cur = c.get();
    if value > cur {
        c.inc_by(value - cur);
    }
}

impl Metrics {
    pub fn new(target_latency_ms: u64) -> Arc<Metrics> {
        let mut r = Registry::default();
        let m = Metrics {
            sessions_active: Gauge::default(),
            sessions_started: Counter::default(),
            sessions_crashed: Counter::default(),
            sessions_ended: Family::default(),
            turns: Counter::default(),
            turn_latency: latency_histogram(),
            stage_latency: Family::new_with_constructor(latency_histogram),
            sla_violations: Counter::default(),
            barge_ins: Counter::default(),
            livekit_joins: Family::default(),
            livekit_connect_attempts: Counter::default(),
            livekit_reconnects: Counter::default(),
            fallbacks: Family::default(),
            tool_calls: Family::default(),
            actor_restarts: Family::default(),
            service_errors: Family::default(),
            lifecycle: Family::default(),
            events_by_kind: Family::default(),
            sink_accepted: Counter::default(),
            sink_dropped: Counter::default(),
            sink_depth: Gauge::default(),
            mirror_published: Family::default(),
            mirror_failed: Family::default(),
            mirror_dropped: Family::default(),
            mirror_queue_depth: Family::default(),
            broker_connected: Family::default(),
            spool_depth: Gauge::default(),
            spool_bytes: Gauge::default(),
            replayed: Counter::default(),
            dead_lettered: Counter::default(),
            process_rss: Gauge::default(),
            process_cpu: Counter::default(),
            process_threads: Gauge::default(),
            pool_queued: Gauge::default(),
            pool_running: Gauge::default(),
            pool_jobs: Counter::default(),
            pool_wait: Counter::default(),
            process_fds: Gauge::default(),
            webhooks: Family::default(),
            dispatch: Family::default(),
            uptime: Gauge::default(),
            target_latency_ms: AtomicU64::new(target_latency_ms),
            started: std::time::Instant::now(),
            registry: Mutex::new(Registry::default()),
            sources: Mutex::new(None),
        };
        r.register(
            "arc_sessions_active",
            "Live sessions on this node",
            m.sessions_active.clone(),
        );
        r.register(
            "arc_sessions_started",
            "Sessions started",
            m.sessions_started.clone(),
        );
        r.register(
            "arc_sessions_crashed",
            "Sessions that died without ending cleanly",
            m.sessions_crashed.clone(),
        );
        r.register(
            "arc_sessions_ended",
            "Sessions ended, by end reason",
            m.sessions_ended.clone(),
        );
        r.register("arc_turns", "Completed conversation turns", m.turns.clone());
        r.register(
            "arc_turn_latency_seconds",
            "Voice-to-voice latency: end of user speech to first agent audio",
            m.turn_latency.clone(),
        );
        r.register(
            "arc_stage_latency_seconds",
            "Latency per stage (stt, llm_first_token, llm, tts_first_chunk)",
            m.stage_latency.clone(),
        );
        r.register(
            "arc_sla_violations",
            "Turns slower than the voice-to-voice target",
            m.sla_violations.clone(),
        );
        r.register(
            "arc_barge_ins",
            "Times a user spoke over the agent",
            m.barge_ins.clone(),
        );
        r.register(
            "arc_livekit_joins",
            "LiveKit room joins by outcome (joined, failed)",
            m.livekit_joins.clone(),
        );
        r.register(
            "arc_livekit_connect_attempts",
            "LiveKit connect attempts, retries included",
            m.livekit_connect_attempts.clone(),
        );
        r.register(
            "arc_livekit_reconnects",
            "Times LiveKit lost a room's server and reconnected by itself",
            m.livekit_reconnects.clone(),
        );
        r.register(
            "arc_fallbacks",
            "Fallback replies, by error type",
            m.fallbacks.clone(),
        );
        r.register(
            "arc_tool_calls",
            "Tool calls the model made, by tool and outcome (ok, timeout, failed, bad_output, ...)",
            m.tool_calls.clone(),
        );
        r.register(
            "arc_actor_restarts",
            "Actor restarts after a crash, by actor kind",
            m.actor_restarts.clone(),
        );
        r.register(
            "arc_service_errors",
            "system.service.error events, by error type",
            m.service_errors.clone(),
        );
        r.register(
            "arc_lifecycle_events",
            "agent-lifecycle events, by event type",
            m.lifecycle.clone(),
        );
        r.register(
            "arc_events",
            "Events emitted, by kind",
            m.events_by_kind.clone(),
        );
        r.register(
            "arc_event_sink_accepted",
            "Events accepted by the event sink",
            m.sink_accepted.clone(),
        );
        r.register(
            "arc_event_sink_dropped",
            "Events dropped because the event sink was full",
            m.sink_dropped.clone(),
        );
        r.register(
            "arc_event_sink_depth_events",
            "Events waiting in the sink",
            m.sink_depth.clone(),
        );
        r.register(
            "arc_mirror_published",
            "Events a mirror delivered to its broker",
            m.mirror_published.clone(),
        );
        r.register(
            "arc_mirror_failed",
            "Failed broker sends (retried for Pulsar)",
            m.mirror_failed.clone(),
        );
        r.register(
            "arc_mirror_dropped",
            "Events a mirror dropped (queue full, broker down for NATS, spool full)",
            m.mirror_dropped.clone(),
        );
        r.register(
            "arc_mirror_queue_depth_events",
            "Events waiting in a mirror's input queue",
            m.mirror_queue_depth.clone(),
        );
        r.register(
            "arc_broker_connected",
            "1 when the mirror's broker connection is up",
            m.broker_connected.clone(),
        );
        r.register(
            "arc_pulsar_spool_depth_events",
            "Events in the Pulsar spool not yet acknowledged",
            m.spool_depth.clone(),
        );
        r.register(
            "arc_pulsar_spool_bytes",
            "Bytes of the Pulsar spool on disk",
            m.spool_bytes.clone(),
        );
        r.register(
            "arc_pulsar_replayed",
            "Events delivered from the spool after an outage or restart",
            m.replayed.clone(),
        );
        r.register(
            "arc_pulsar_dead_lettered",
            "Events sent to a -dlq topic after repeated rejections",
            m.dead_lettered.clone(),
        );
        r.register(
            "arc_process_resident_memory_bytes",
            "Resident memory of the node",
            m.process_rss.clone(),
        );
        r.register(
            "arc_process_cpu_seconds",
            "CPU time used by the node",
            m.process_cpu.clone(),
        );
        r.register(
            "arc_process_threads",
            "OS threads of the node",
            m.process_threads.clone(),
        );
        r.register(
            "arc_inference_pool_queued_jobs",
            "Inference jobs (whisper, piper, Silero) waiting for a pool thread",
            m.pool_queued.clone(),
        );
        r.register(
            "arc_inference_pool_running_jobs",
            "Inference jobs running on the pool",
            m.pool_running.clone(),
        );
        r.register(
            "arc_inference_pool_jobs",
            "Inference jobs finished",
            m.pool_jobs.clone(),
        );
        r.register(
            "arc_inference_pool_wait_seconds",
            "Time inference jobs spent waiting for a pool thread, summed",
            m.pool_wait.clone(),
        );
        r.register(
            "arc_process_open_fds",
            "Open file descriptors",
            m.process_fds.clone(),
        );
        r.register(
            "arc_webhooks",
            "LiveKit webhooks received, by outcome (accepted, duplicate, rejected, malformed)",
            m.webhooks.clone(),
        );
        for outcome in WEBHOOK_OUTCOMES {
            let _ = m.webhooks.get_or_create(&labels(&[("outcome", outcome)]));
        }
        r.register(
            "arc_dispatch",
            "Track dispatch across nodes, by outcome (offered, taken, declined, not_taken, taken_locally)",
            m.dispatch.clone(),
        );
        for outcome in DISPATCH_OUTCOMES {
            let _ = m.dispatch.get_or_create(&labels(&[("outcome", outcome)]));
        }
        r.register(
            "arc_uptime_seconds",
            "Seconds since the node started",
            m.uptime.clone(),
        );
        *m.registry.lock().unwrap_or_else(|p| p.into_inner()) = r;
        Arc::new(m)
    }

    /// Count one webhook by outcome (one of [`WEBHOOK_OUTCOMES`]).
    pub fn webhook(&self, outcome: &str) {
        self.webhooks
            .get_or_create(&labels(&[("outcome", outcome)]))
            .inc();
    }

    /// Count one dispatch step by outcome (one of [`DISPATCH_OUTCOMES`]).
    pub fn dispatch(&self, outcome: &str) {
        self.dispatch
            .get_or_create(&labels(&[("outcome", outcome)]))
            .inc();
    }

    /// Update the metrics from one event.
    /// A LiveKit join ended: in the room (`joined`) or given up, after `attempts`.
    pub fn livekit_join(&self, joined: bool, attempts: u32) {
        let outcome = if joined { "joined" } else { "failed" };
        self.livekit_joins
            .get_or_create(&labels(&[("outcome", outcome)]))
            .inc();
        self.livekit_connect_attempts.inc_by(u64::from(attempts));
    }

    /// LiveKit started reconnecting a room.
    pub fn livekit_reconnect(&self) {
        self.livekit_reconnects.inc();
    }

    pub fn observe(&self, ev: &Event) {
        self.events_by_kind
            .get_or_create(&labels(&[("kind", ev.kind())]))
            .inc();
        match ev {
            Event::Conversation(c) => {
                self.turns.inc();
                let p = &c.performance;
                // Turns that produced audio have a voice-to-voice latency (0 ms is a value).
                if c.agent_response.tts_audio_duration_ms > 0 {
                    self.turn_latency
                        .observe(p.total_latency_ms as f64 / 1000.0);
                    if p.total_latency_ms > self.target_latency_ms.load(Ordering::Relaxed) {
                        self.sla_violations.inc();
                    }
                }
                for (stage, ms) in [
                    ("stt", p.stt_latency_ms),
                    ("llm", p.llm_latency_ms),
                    ("tts_first_chunk", p.tts_latency_ms),
                ] {
                    self.stage_latency
                        .get_or_create(&labels(&[("stage", stage)]))
                        .observe(ms as f64 / 1000.0);
                }
            }
            Event::SessionEnded(s) => {
                self.sessions_ended
                    .get_or_create(&labels(&[("reason", &s.reason)]))
                    .inc();
            }
            Event::SessionMetrics(m) => {
                self.barge_ins.inc_by(m.user_experience.interruptions);
            }
            Event::ToolResult(t) => {
                // A name the model made up must not become a new series.
                let tool = if t.outcome == "unknown_tool" {
                    "unknown"
                } else {
                    &t.tool
                };
                self.tool_calls
                    .get_or_create(&labels(&[("tool", tool), ("outcome", &t.outcome)]))
                    .inc();
            }
            Event::BrainResponse(b) => {
                if let Some(ms) = b.performance.time_to_first_token_ms {
                    self.stage_latency
                        .get_or_create(&labels(&[("stage", "llm_first_token")]))
                        .observe(ms as f64 / 1000.0);
                }
            }
            Event::BrainError(b) => {
                self.fallbacks
                    .get_or_create(&labels(&[("error_type", &b.error_type)]))
                    .inc();
            }
            Event::ServiceError(e) => {
                self.service_errors
                    .get_or_create(&labels(&[("error_type", &e.error_type)]))
                    .inc();
            }
            Event::AgentLifecycle(l) => {
                self.lifecycle
                    .get_or_create(&labels(&[("event_type", &l.event_type)]))
                    .inc();
                if l.event_type == "service_crashed" {
                    if let Some((_, actor)) = l.service.name.rsplit_once('/') {
                        self.actor_restarts
                            .get_or_create(&labels(&[("actor", actor)]))
                            .inc();
                    }
                }
            }
            _ => {}
        }
    }

    /// Feed the metrics from a mirror input of the fan-out.
    pub fn spawn_observer(
        self: &Arc<Self>,
        mut rx: mpsc::Receiver<Arc<Event>>,
    ) -> tokio::task::JoinHandle<()> {
        let m = self.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                m.observe(&ev);
            }
        })
    }

    /// Render with the sources registered at start (tests and tools).
    pub fn render_for_test(&self) -> String {
        match self
            .sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            Some(src) => self.render(&src),
            None => String::new(),
        }
    }

    /// Remember the scrape sources, for [`Metrics::render_for_test`].
    pub fn set_sources(&self, src: Arc<ScrapeSources>) {
        *self.sources.lock().unwrap_or_else(|p| p.into_inner()) = Some(src);
    }

    /// Render the Prometheus text format, reading the live sources first.
    pub fn render(&self, src: &ScrapeSources) -> String {
        let node = &src.node;
        self.sessions_active
            .set(node.active_sessions.load(Ordering::Relaxed) as i64);
        sync_counter(
            &self.sessions_started,
            node.sessions_started.load(Ordering::Relaxed),
        );
        sync_counter(
            &self.sessions_crashed,
            node.sessions_crashed.load(Ordering::Relaxed),
        );
        sync_counter(&self.sink_accepted, src.sink.stats().accepted());
        sync_counter(&self.sink_dropped, src.sink.stats().dropped());
        self.sink_depth.set(src.sink.depth() as i64);
        if let Some(pool) = &src.inference {
            let st = pool.stats();
            self.pool_queued.set(st.queued as i64);
            self.pool_running.set(st.running as i64);
            sync_counter(&self.pool_jobs, st.completed);
            let waited = st.wait_us_total as f64 / 1e6;
            let seen = self.pool_wait.get();
            if waited > seen {
                self.pool_wait.inc_by(waited - seen);
            }
        }
        for (name, stats, input) in &src.mirrors {
            let l = labels(&[("mirror", name)]);
            let queue_dropped = input.as_ref().map(|i| i.stats().dropped()).unwrap_or(0);
            sync_counter(
                &self.mirror_published.get_or_create(&l),
                MirrorStats::get(&stats.published),
            );
            sync_counter(
                &self.mirror_failed.get_or_create(&l),
                MirrorStats::get(&stats.failed),
            );
            sync_counter(
                &self.mirror_dropped.get_or_create(&l),
                MirrorStats::get(&stats.dropped) + queue_dropped,
            );
            self.mirror_queue_depth
                .get_or_create(&l)
                .set(input.as_ref().map(|i| i.depth()).unwrap_or(0) as i64);
            self.broker_connected
                .get_or_create(&l)
                .set(stats.is_connected() as i64);
            if *name == "pulsar" {
                self.spool_depth
                    .set(MirrorStats::get(&stats.spool_depth) as i64);
                self.spool_bytes
                    .set(MirrorStats::get(&stats.spool_bytes) as i64);
                sync_counter(&self.replayed, MirrorStats::get(&stats.replayed));
                sync_counter(&self.dead_lettered, MirrorStats::get(&stats.dead_lettered));
            }
        }
        let p = procinfo::sample();
        self.process_rss.set(p.rss_bytes as i64);
        let cpu = self.process_cpu.get();
        if p.cpu_seconds > cpu {
            self.process_cpu.inc_by(p.cpu_seconds - cpu);
        }
        self.process_threads.set(p.threads as i64);
        self.process_fds.set(p.open_fds as i64);
        self.uptime.set(self.started.elapsed().as_secs_f64());
        let mut out = String::new();
        let reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = encode(&mut out, &reg) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arc_actors::emit::{self, LifecycleChange, ServiceIdentity};
    use arc_actors::session::emit::brain_error;

    #[test]
    fn events_move_metrics() {
        let m = Metrics::new(2000);
        let id = ServiceIdentity::local("arc-agent");
        m.observe(&emit::lifecycle(
            &id,
            "arc-agent/brain",
            LifecycleChange::Crashed,
            "x",
            "t",
        ));
        m.observe(&brain_error("r", "t", "timeout", "slow", 0, "fallback"));
        let (sink, _s) = EventSink::new(8);
        let text = m.render(&ScrapeSources {
            sink,
            node: Arc::new(NodeStats::default()),
            mirrors: vec![("nats", Arc::new(MirrorStats::default()), None)],
            inference: Some(arc_models::pool::InferencePool::new(1)),
        });
        assert!(text.contains("arc_inference_pool_queued_jobs 0"), "{text}");
        assert!(text.contains("arc_inference_pool_jobs_total 0"), "{text}");
        assert!(
            text.contains("arc_actor_restarts_total{actor=\"brain\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("arc_fallbacks_total{error_type=\"timeout\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("arc_broker_connected{mirror=\"nats\"} 0"),
            "{text}"
        );
        assert!(text.contains("arc_process_resident_memory_bytes"), "{text}");
        assert!(text.contains("arc_turn_latency_seconds_bucket"), "{text}");
    }
}
