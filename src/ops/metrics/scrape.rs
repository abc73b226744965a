//! [`Metrics::render`]: read the live sources into the gauges and counters,
//! then encode the Prometheus text format.

use super::sources::ScrapeSources;
use super::{labels, Metrics};
use crate::mirror::MirrorStats;
use crate::ops::procinfo;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn sync_counter(c: &Counter, value: u64) {
    let cur = c.get();
    if value > cur {
        c.inc_by(value - cur);
    }
}

impl Metrics {
    /// Render with the sources registered at start (tests and tools).
    pub fn render_for_test(&self) -> String {
        let sources = self.sources.lock().clone();
        match sources {
            Some(src) => self.render(&src),
            None => String::new(),
        }
    }

    /// Remember the scrape sources, for [`Metrics::render_for_test`].
    pub fn set_sources(&self, src: Arc<ScrapeSources>) {
        *self.sources.lock() = Some(src);
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
        // Only where jemalloc is the allocator (the binary): a process that
        // never allocated with it has nothing to show.
        if let Some(a) = crate::ops::allocator::stats().filter(|a| a.allocated > 0) {
            for (kind, bytes) in [
                ("allocated", a.allocated),
                ("active", a.active),
                ("resident", a.resident),
                ("metadata", a.metadata),
                ("retained", a.retained),
            ] {
                self.allocator_bytes
                    .get_or_create(&labels(&[("kind", kind)]))
                    .set(bytes as i64);
            }
        }
        let cpu = self.process_cpu.get();
        if p.cpu_seconds > cpu {
            self.process_cpu.inc_by(p.cpu_seconds - cpu);
        }
        self.process_threads.set(p.threads as i64);
        self.process_fds.set(p.open_fds as i64);
        self.uptime.set(self.started.elapsed().as_secs_f64());
        let mut out = String::new();
        let reg = self.registry.lock();
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
    use arc_actors::node::NodeStats;
    use arc_actors::session::emit::brain_error;
    use arc_actors::sink::EventSink;

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
        m.observe(&brain_error(
            "s", "r", "t", "timeout", "slow", 0, "fallback",
        ));
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
