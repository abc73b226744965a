//! [`Metrics::new`]: every `arc_*` family with its help text, registered
//! once; label sets known in advance (webhook and dispatch outcomes) are
//! created at 0 so they show before the first count.

use super::{labels, latency_histogram, Metrics, DISPATCH_OUTCOMES, WEBHOOK_OUTCOMES};
use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

impl Metrics {
    /// The metrics, all registered; `target_latency_ms` is the voice-to-voice
    /// target of `arc_sla_violations_total`.
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
            allocator_bytes: Family::default(),
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
            "arc_allocator_bytes",
            "The node's allocator (jemalloc), by kind: allocated (live objects), active (their pages), resident, metadata, retained (mapped, not resident)",
            m.allocator_bytes.clone(),
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
        super::turn_taking::register(&mut r);
        super::playout_gaps::register(&mut r);
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
        *m.registry.lock() = r;
        Arc::new(m)
    }
}
