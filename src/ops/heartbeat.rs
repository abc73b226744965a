//! `system.health.heartbeat` every interval, with the node's own health: a
//! broker that is enabled but unreachable makes the node "degraded" (it still
//! serves), and each change of that state is also an agent-lifecycle event.

use crate::mirror::MirrorStats;
use crate::ops::procinfo::{self, CpuMeter};
use arc_actors::emit::{self, LifecycleChange, ServiceIdentity};
use arc_actors::events::{nats, Event};
use arc_actors::node::NodeStats;
use arc_actors::sink::EventSink;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the heartbeat reads.
pub(crate) struct HeartbeatSources {
    pub identity: ServiceIdentity,
    pub sink: EventSink,
    pub node: Arc<NodeStats>,
    /// The session limit reported as the node's capacity.
    pub max_sessions: usize,
    /// Enabled mirrors: any disconnected one degrades the node.
    pub mirrors: Vec<(&'static str, Arc<MirrorStats>)>,
}

impl HeartbeatSources {
    /// "healthy" or "degraded", with the reason.
    pub(crate) fn status(&self) -> (&'static str, Option<String>) {
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
            instance_id: self.identity.instance_id.clone(),
            status: self.status().0.to_string(),
            metrics: nats::HeartbeatMetrics {
                active_sessions: self.node.active_sessions.load(Ordering::Relaxed) as u64,
                cpu_percent: cpu.percent(&p),
                memory_mb: p.rss_bytes / (1024 * 1024),
                goroutines: tasks,
                max_sessions: Some(self.max_sessions as u64),
            },
        })
    }
}

/// Emit a heartbeat now and every `interval` until `stop`.
pub(crate) fn spawn(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn every_interval_with_real_values_and_health_changes() {
        let (sink, mut stream) = EventSink::new(100);
        let pulsar = Arc::new(MirrorStats::default());
        pulsar.connected.store(true, Ordering::Relaxed);
        let node = Arc::new(NodeStats::default());
        node.active_sessions.store(3, Ordering::Relaxed);
        let stop = CancellationToken::new();
        let task = spawn(
            HeartbeatSources {
                identity: ServiceIdentity::local("arc-agent"),
                sink,
                node,
                max_sessions: 10,
                mirrors: vec![("pulsar", pulsar.clone())],
            },
            Duration::from_secs(30),
            stop.clone(),
        );
        let mut seen = Vec::new();
        let mut collect = |seen: &mut Vec<Arc<Event>>| {
            while let Some(e) = stream.try_recv() {
                seen.push(e);
            }
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        collect(&mut seen);
        assert_eq!(seen.len(), 1, "one heartbeat at start");
        tokio::time::sleep(Duration::from_secs(90)).await;
        collect(&mut seen);
        let beats: Vec<_> = seen
            .iter()
            .filter_map(|e| match &**e {
                Event::Heartbeat(h) => Some(h.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(beats.len(), 4, "t = 0, 30, 60, 90 s");
        assert!(beats.iter().all(|h| h.status == "healthy"
            && h.metrics.active_sessions == 3
            && h.metrics.max_sessions == Some(10)
            && !h.instance_id.is_empty()
            && h.metrics.memory_mb > 0
            && h.service == "arc-agent"));
        // A broker goes away: degraded, with a lifecycle event; back: recovered.
        pulsar.connected.store(false, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(30)).await;
        pulsar.connected.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(30)).await;
        seen.clear();
        collect(&mut seen);
        let kinds: Vec<String> = seen
            .iter()
            .map(|e| match &**e {
                Event::Heartbeat(h) => format!("heartbeat:{}", h.status),
                Event::AgentLifecycle(l) => l.event_type.clone(),
                other => other.kind().to_string(),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "service_health_degraded",
                "heartbeat:degraded",
                "service_recovered",
                "heartbeat:healthy"
            ]
        );
        stop.cancel();
        task.await.unwrap();
    }
}
