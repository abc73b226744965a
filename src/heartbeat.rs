//! `system.health.heartbeat` every interval, with the node's own health: a
//! broker that is enabled but unreachable makes the node "degraded" (it still
//! serves), and each change of that state is also an agent-lifecycle event.

use crate::mirror::MirrorStats;
use crate::procinfo::{self, CpuMeter};
use arc_actors::emit::{self, LifecycleChange, ServiceIdentity};
use arc_actors::events::{nats, Event};
use arc_actors::node::NodeStats;
use arc_actors::sink::EventSink;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the heartbeat reads.
pub struct HeartbeatSources {
    pub identity: ServiceIdentity,
    pub sink: EventSink,
    pub node: Arc<NodeStats>,
    /// Enabled mirrors: any disconnected one degrades the node.
    pub mirrors: Vec<(&'static str, Arc<MirrorStats>)>,
}

impl HeartbeatSources {
    /// "healthy" or "degraded", with the reason.
    pub fn status(&self) -> (&'static str, Option<String>) {
        let down: Vec<&str> = self
            .mirrors
            .iter()
            .filter(|(_, s)| !s.is_connected())
            .map(|(n, _)| *n)
            .collect();
        if down.is_empty() && self.sink.stats().dropped() == 0 {
            ("healthy", None)
        } else if !down.is_empty() {
            (
                "degraded",
                Some(format!("broker unreachable: {}", down.join(", "))),
            )
        } else {
            ("degraded", Some("event sink is dropping events".into()))
        }
    }

    fn heartbeat(&self, cpu: &mut CpuMeter) -> Event {
        let p = procinfo::sample();
        let tasks = tokio::runtime::Handle::try_current()
            .map(|h| h.metrics().num_alive_tasks() as u64)
            .unwrap_or(0);
        Event::Heartbeat(nats::Heartbeat {
            service: self.identity.service_name.clone(),
            timestamp: chrono::Utc::now(),
            trace_id: String::new(),
            status: self.status().0.to_string(),
            metrics: nats::HeartbeatMetrics {
                active_sessions: self.node.active_sessions.load(Ordering::Relaxed) as u64,
                cpu_percent: cpu.percent(&p),
                memory_mb: p.rss_bytes / (1024 * 1024),
                goroutines: tasks,
            },
        })
    }
}

/// Emit a heartbeat now and every `interval` until `stop`.
pub fn spawn(
    src: HeartbeatSources,
    interval: Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut cpu = CpuMeter::new();
        let mut last_status: Option<&str> = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let (status, reason) = src.status();
            if last_status.is_some_and(|l| l != status) {
                let change = if status == "healthy" {
                    LifecycleChange::Recovered
                } else {
                    LifecycleChange::Degraded
                };
                let reason = reason.unwrap_or_else(|| "all dependencies healthy".into());
                tracing::info!(status, %reason, "node health changed");
                src.sink.emit(emit::lifecycle_with_health(
                    &src.identity,
                    &src.identity.service_name,
                    change,
                    &reason,
                    "",
                    0,
                    status == "healthy",
                ));
            }
            last_status = Some(status);
            src.sink.emit(src.heartbeat(&mut cpu));
        }
    })
}
