//! Events in: each one bound for Pulsar becomes a spool record, appended in
//! batches (one flush per batch); the spool is fsynced on an interval.

use super::shared::Shared;
use crate::mirror::spool::SpoolRecord;
use arc_actors::events::{new_message_id, Event};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A spool still full after this long says so again.
const REFUSAL_REPEAT: Duration = Duration::from_secs(60);

/// The spool record of an event: a Pulsar-topic event to its seed topic; a
/// NATS-subject event to `realtime_topic` (when set), keyed by session (or
/// by service), its subject kept, given a message id here (the spool keeps
/// it, so a replay carries the same one).
fn record_of(ev: &Event, realtime_topic: &str) -> Option<Result<SpoolRecord, serde_json::Error>> {
    let (topic, key, subject, message_id) = match (ev.pulsar_topic(), ev.nats_subject()) {
        (Some(topic), _) => (
            topic.name().to_string(),
            ev.partition_key(),
            None,
            ev.message_id().unwrap_or_default().to_string(),
        ),
        (None, Some(subject)) if !realtime_topic.is_empty() => (
            realtime_topic.to_string(),
            realtime_key(ev),
            Some(subject.to_string()),
            new_message_id(),
        ),
        _ => return None,
    };
    Some(ev.to_json().map(|payload| SpoolRecord {
        topic,
        key,
        subject,
        message_id,
        event_time_ms: ev.timestamp().timestamp_millis().max(0) as u64,
        payload,
    }))
}

/// A session's events on one partition, in order; a service's heartbeats
/// and errors on one too.
fn realtime_key(ev: &Event) -> Option<String> {
    match ev {
        Event::Heartbeat(h) => Some(format!("{}/{}", h.service, h.instance_id)),
        Event::ServiceError(e) => Some(e.service.clone()),
        _ => ev.session_id().map(str::to_string),
    }
}

/// Append incoming events to the spool, batching the writes.
pub(super) async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Arc<Event>>) {
    let mut sync_tick =
        tokio::time::interval(Duration::from_millis(shared.cfg.spool_sync_interval_ms));
    sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // When the spool last refused and said so: once an outage, not once per
    // refusal (a full spool still takes a small event now and then, which
    // must not make the next refusal say it again).
    let mut warned_full: Option<std::time::Instant> = None;
    loop {
        let first = tokio::select! {
            ev = rx.recv() => match ev { Some(ev) => ev, None => break },
            _ = sync_tick.tick() => {
                if let Err(e) = shared.spool().sync() {
                    tracing::error!(error = %e, "spool fsync failed");
                }
                continue;
            }
        };
        let mut batch = vec![first];
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(ev) => batch.push(ev),
                Err(_) => break,
            }
        }
        {
            let mut spool = shared.spool();
            for ev in &batch {
                let rec = match record_of(ev, &shared.cfg.realtime_topic) {
                    Some(Ok(r)) => r,
                    Some(Err(e)) => {
                        shared.stats.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(event = ev.kind(), error = %e, "event could not be serialized");
                        continue;
                    }
                    None => continue,
                };
                match spool.append(&rec) {
                    Ok(_) => {}
                    Err(e) => {
                        shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
                        if warned_full.is_none_or(|at| at.elapsed() >= REFUSAL_REPEAT) {
                            warned_full = Some(std::time::Instant::now());
                            tracing::error!(error = %e, "cannot spool event for Pulsar: dropped (counted in arc_mirror_dropped_total{{mirror=\"pulsar\"}})");
                        }
                    }
                }
            }
            if let Err(e) = spool.flush() {
                tracing::error!(error = %e, "spool flush failed");
            }
            shared.update_gauges(&spool);
        }
        shared.wake.notify_one();
    }
    let mut spool = shared.spool();
    let _ = spool.flush();
    let _ = spool.sync();
    shared.intake_done.store(true, Ordering::Release);
    shared.wake.notify_one();
}
