//! The Pulsar mirror: durable delivery through an on-disk spool.
//!
//! Every event is appended to the [`Spool`] first (one `write` per batch, so a
//! kill -9 loses nothing), then a sender delivers the spool in order to each
//! event's seed topic with the seed's partition key, `message_id` as a message
//! property (readers deduplicate by it), batching and compression. While the
//! broker is unreachable the spool simply grows; when it returns, or when the
//! node restarts, the sender replays from the last committed record. An event
//! the broker rejects `max_attempts` times goes to `<topic>-dlq` with the
//! reason; if even that fails it is written to a local dead-letter file, never
//! silently dropped.

use super::MirrorStats;
use crate::config::{self, PulsarSection};
use crate::mirror::spool::{Spool, SpoolError, SpoolOptions, SpoolRecord};
use arc_actors::events::{Event, PulsarTopic};
use pulsar::{
    compression, producer, ConnectionRetryOptions, OperationRetryOptions, Producer, Pulsar,
    TokioExecutor,
};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

/// Handles of the running mirror.
pub struct PulsarMirror {
    stats: Arc<MirrorStats>,
    intake: tokio::task::JoinHandle<()>,
    sender: tokio::task::JoinHandle<()>,
    stop_sender: CancellationToken,
}

impl PulsarMirror {
    /// Wait for the intake to drain its queue (it ends when the queue closes),
    /// then give the sender up to `flush_timeout` to empty the spool. What is
    /// left stays spooled for the next start.
    pub async fn shutdown(self, flush_timeout: Duration) {
        let _ = self.intake.await;
        if !self.stats.is_connected() {
            // No broker to flush to: everything is on disk for the next start.
            self.stop_sender.cancel();
        }
        let sender = self.sender;
        tokio::pin!(sender);
        if tokio::time::timeout(flush_timeout, &mut sender)
            .await
            .is_err()
        {
            self.stop_sender.cancel();
            let _ = sender.await;
        }
    }
}

struct Shared {
    cfg: PulsarSection,
    spool: Mutex<Spool>,
    stats: Arc<MirrorStats>,
    /// New records are in the spool.
    wake: Notify,
    /// The intake has ended: the sender stops once the spool is empty.
    intake_done: AtomicBool,
    dead_letter_file: PathBuf,
    /// Topics whose partition mismatch was already reported.
    warned_partitions: Mutex<std::collections::HashSet<PulsarTopic>>,
}

impl Shared {
    fn spool(&self) -> std::sync::MutexGuard<'_, Spool> {
        self.spool.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update_gauges(&self, spool: &Spool) {
        self.stats
            .spool_depth
            .store(spool.depth(), Ordering::Relaxed);
        self.stats
            .spool_bytes
            .store(spool.bytes(), Ordering::Relaxed);
    }
}

/// Open the spool (replaying what a previous run left) and start the mirror.
pub fn spawn(
    cfg: PulsarSection,
    spool_dir: PathBuf,
    rx: mpsc::Receiver<Arc<Event>>,
    stats: Arc<MirrorStats>,
) -> Result<PulsarMirror, SpoolError> {
    let spool = Spool::open(
        &spool_dir,
        SpoolOptions {
            segment_bytes: cfg.spool_segment_bytes,
            max_bytes: cfg.spool_max_bytes,
        },
    )?;
    if spool.depth() > 0 {
        tracing::info!(dir = %spool_dir.display(), events = spool.depth(), "Pulsar spool holds undelivered events from a previous run: replaying them");
    }
    let mirror_stats = stats.clone();
    let shared = Arc::new(Shared {
        dead_letter_file: spool_dir.join("dead-letter.jsonl"),
        cfg,
        stats,
        spool: Mutex::new(spool),
        wake: Notify::new(),
        warned_partitions: Mutex::default(),
        intake_done: AtomicBool::new(false),
    });
    shared.update_gauges(&shared.spool());
    let stop_sender = CancellationToken::new();
    let intake = tokio::spawn(intake(shared.clone(), rx));
    let sender = tokio::spawn(sender(shared, stop_sender.clone()));
    Ok(PulsarMirror {
        stats: mirror_stats,
        intake,
        sender,
        stop_sender,
    })
}

fn record_of(ev: &Event) -> Option<Result<SpoolRecord, serde_json::Error>> {
    let topic = ev.pulsar_topic()?;
    Some(ev.to_json().map(|payload| SpoolRecord {
        topic: topic.name().to_string(),
        key: ev.partition_key(),
        message_id: ev.message_id().unwrap_or_default().to_string(),
        event_time_ms: ev.timestamp().timestamp_millis().max(0) as u64,
        payload,
    }))
}

/// Append incoming events to the spool, batching the writes.
async fn intake(shared: Arc<Shared>, mut rx: mpsc::Receiver<Arc<Event>>) {
    let mut sync_tick =
        tokio::time::interval(Duration::from_millis(shared.cfg.spool_sync_interval_ms));
    sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warned_full = false;
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
                let rec = match record_of(ev) {
                    Some(Ok(r)) => r,
                    Some(Err(e)) => {
                        shared.stats.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(event = ev.kind(), error = %e, "event could not be serialized");
                        continue;
                    }
                    None => continue,
                };
                match spool.append(&rec) {
                    Ok(_) => warned_full = false,
                    Err(e) => {
                        shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
                        if !warned_full {
                            warned_full = true;
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

fn compression_of(c: config::Compression) -> Option<compression::Compression> {
    use compression::*;
    match c {
        config::Compression::Lz4 => Some(Compression::Lz4(CompressionLz4::default())),
        config::Compression::Zlib => Some(Compression::Zlib(CompressionZlib::default())),
        config::Compression::Zstd => Some(Compression::Zstd(CompressionZstd::default())),
        config::Compression::Snappy => Some(Compression::Snappy(CompressionSnappy::default())),
        config::Compression::None => None,
    }
}

/// Is this error the broker refusing this message (as opposed to a lost connection)?
fn is_rejection(e: &pulsar::Error) -> bool {
    use pulsar::error::{ConnectionError, ProducerError};
    fn conn(c: &ConnectionError) -> bool {
        use pulsar::message::proto::ServerError;
        match c {
            ConnectionError::PulsarError(Some(code), _) => !matches!(
                code,
                ServerError::ServiceNotReady
                    | ServerError::TooManyRequests
                    | ServerError::ProducerBusy
                    | ServerError::ProducerBlockedQuotaExceededException
                    | ServerError::ProducerBlockedQuotaExceededError
                    | ServerError::MetadataError
                    | ServerError::UnknownError
            ),
            ConnectionError::PulsarError(None, _) => true,
            ConnectionError::Encoding(_) => true,
            // The client reports the broker's CommandSendError for one message this way.
            ConnectionError::UnexpectedResponse(r) => r.contains("SendError"),
            _ => false,
        }
    }
    match e {
        pulsar::Error::Producer(ProducerError::Custom(_)) => true,
        pulsar::Error::Producer(ProducerError::Connection(c)) => conn(c),
        pulsar::Error::Producer(ProducerError::Batch(inner)) => is_rejection(inner),
        pulsar::Error::Connection(c) => conn(c),
        _ => false,
    }
}

/// The broker's own words for a rejection, when the client buried them in a debug dump.
fn rejection_reason(e: &pulsar::Error) -> String {
    let text = e.to_string();
    if let Some(i) = text.find("send_error: Some(") {
        let detail = &text[i + "send_error: Some(".len()..];
        let error = detail
            .find("error: ")
            .map(|j| detail[j + 7..].split([',', ' ']).next().unwrap_or(""))
            .unwrap_or("");
        let message = detail
            .find("message: \"")
            .and_then(|j| detail[j + 10..].split('"').next())
            .unwrap_or("");
        return format!("broker refused the message: {message} (server error {error})");
    }
    text
}

enum SendFailure {
    /// The connection is gone: reconnect and resend from the first unacknowledged record.
    Connection(String),
    /// The broker refused record `seq`.
    Rejected(u64, String),
}

struct Sender {
    shared: Arc<Shared>,
    client: Option<Pulsar<TokioExecutor>>,
    producers: HashMap<String, Producer<TokioExecutor>>,
    /// Records acknowledged behind one that failed (not to be sent again).
    delivered_ahead: std::collections::BTreeSet<u64>,
    /// Broker rejections per spool sequence.
    rejections: HashMap<u64, (u32, String)>,
    /// Records up to this sequence were spooled while the broker was away
    /// (or by a previous run): their delivery counts as a replay.
    replay_until: u64,
}

async fn sender(shared: Arc<Shared>, stop: CancellationToken) {
    // A backlog at start was spooled by a previous run: delivering it is a replay.
    let replay_until = {
        let spool = shared.spool();
        if spool.depth() > 0 {
            spool.last_seq()
        } else {
            0
        }
    };
    let mut s = Sender {
        shared,
        client: None,
        producers: HashMap::new(),
        rejections: HashMap::new(),
        delivered_ahead: Default::default(),
        replay_until,
    };
    let cfg = s.shared.cfg.clone();
    let mut backoff = Duration::from_millis(cfg.reconnect_min_ms);
    let max_backoff = Duration::from_millis(cfg.reconnect_max_ms);
    let mut announced_down = false;
    loop {
        if stop.is_cancelled() {
            break;
        }
        if s.shared.intake_done.load(Ordering::Acquire) && s.shared.spool().depth() == 0 {
            break;
        }
        if s.client.is_none() {
            match s.connect().await {
                Ok(()) => {
                    s.shared.stats.connected.store(true, Ordering::Relaxed);
                    let depth = s.shared.spool().depth();
                    if announced_down || depth > 0 {
                        tracing::info!(url = %cfg.url, spooled = depth, "Pulsar reachable: delivering spooled events");
                    }
                    if announced_down {
                        s.replay_until = s.replay_until.max(s.shared.spool().last_seq());
                    }
                    announced_down = false;
                    backoff = Duration::from_millis(cfg.reconnect_min_ms);
                }
                Err(e) => {
                    s.shared.stats.connected.store(false, Ordering::Relaxed);
                    if !announced_down {
                        announced_down = true;
                        tracing::warn!(url = %cfg.url, error = %e, spool = %s.shared.spool().dir().display(), "Pulsar unreachable: events are spooled to disk and replayed in order when it returns");
                    }
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(max_backoff);
                    continue;
                }
            }
        }
        let batch = {
            let mut spool = s.shared.spool();
            match spool.peek(cfg.send_window) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the spool");
                    Vec::new()
                }
            }
        };
        if batch.is_empty() {
            let wake = s.shared.wake.notified();
            if s.shared.intake_done.load(Ordering::Acquire) {
                break;
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = wake => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            continue;
        }
        match s.send_batch(&batch).await {
            Ok(()) => {}
            Err(SendFailure::Connection(reason)) => {
                s.shared.stats.failed.fetch_add(1, Ordering::Relaxed);
                s.shared.stats.connected.store(false, Ordering::Relaxed);
                if !announced_down {
                    announced_down = true;
                    tracing::warn!(url = %cfg.url, %reason, "lost Pulsar: spooling events until it returns");
                }
                s.client = None;
                s.producers.clear();
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(max_backoff);
            }
            Err(SendFailure::Rejected(seq, reason)) => {
                s.shared.stats.failed.fetch_add(1, Ordering::Relaxed);
                let entry = s.rejections.entry(seq).or_insert((0, String::new()));
                entry.0 += 1;
                entry.1 = reason.clone();
                let attempts = entry.0;
                tracing::warn!(seq, attempts, %reason, "Pulsar rejected an event");
                if attempts >= cfg.max_attempts {
                    if let Some((_, rec)) = batch.iter().find(|(q, _)| *q == seq) {
                        s.dead_letter(seq, rec, attempts, &reason).await;
                    }
                } else {
                    tokio::time::sleep(Duration::from_millis(cfg.reconnect_min_ms)).await;
                }
            }
        }
    }
    if let Some(client) = s.client.take() {
        for (_, mut p) in s.producers.drain() {
            let _ = p.close().await;
        }
        drop(client);
    }
    let depth = s.shared.spool().depth();
    if depth > 0 {
        tracing::warn!(
            events = depth,
            "Pulsar mirror stopped with events still spooled: they are delivered on the next start"
        );
    }
}

impl Sender {
    async fn connect(&mut self) -> Result<(), pulsar::Error> {
        let cfg = &self.shared.cfg;
        let client = Pulsar::builder(cfg.url.clone(), TokioExecutor)
            .with_connection_retry_options(ConnectionRetryOptions {
                min_backoff: Duration::from_millis(cfg.reconnect_min_ms),
                max_backoff: Duration::from_millis(cfg.reconnect_max_ms),
                max_retries: 1,
                connection_timeout: Duration::from_millis(cfg.send_timeout_ms.min(5000)),
                ..Default::default()
            })
            .with_operation_retry_options(OperationRetryOptions {
                operation_timeout: Duration::from_millis(cfg.send_timeout_ms),
                retry_delay: Duration::from_millis(100),
                max_retries: Some(1),
            })
            .build()
            .await?;
        // The seed fixes each topic's partition count; say so when the broker disagrees.
        for topic in PulsarTopic::ALL {
            let want = cfg.partitions.of(topic);
            match client.lookup_partitioned_topic_number(topic.name()).await {
                Ok(have)
                    if have != want
                        && self
                            .shared
                            .warned_partitions
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(topic) =>
                {
                    tracing::warn!(
                    topic = topic.name(), broker_partitions = have, configured = want,
                    "topic partitions differ from the schema: create it with `pulsar-admin topics create-partitioned-topic {} -p {}` (scripts/pulsar-topics.sh)",
                    topic.name(), want
                    )
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(topic = topic.name(), error = %e, "partition lookup failed")
                }
            }
        }
        self.client = Some(client);
        Ok(())
    }

    async fn producer(
        &mut self,
        topic: &str,
    ) -> Result<&mut Producer<TokioExecutor>, pulsar::Error> {
        if !self.producers.contains_key(topic) {
            let cfg = &self.shared.cfg;
            let client = self
                .client
                .as_ref()
                .ok_or(pulsar::Error::Custom("not connected".into()))?;
            let p = client
                .producer()
                .with_topic(topic)
                .with_options(producer::ProducerOptions {
                    batch_size: Some(cfg.batch_size.max(1)),
                    batch_timeout: Some(Duration::from_millis(cfg.batch_timeout_ms.max(1))),
                    compression: compression_of(cfg.compression),
                    // Keyed messages go to murmur3(key) % partitions, so one
                    // user's events stay ordered on one partition (the seed's key).
                    routing_policy: Some(pulsar::routing_policy::RoutingPolicy::RoundRobin),
                    ..Default::default()
                })
                .build()
                .await?;
            self.producers.insert(topic.to_string(), p);
        }
        self.producers
            .get_mut(topic)
            .ok_or(pulsar::Error::Custom("producer vanished".into()))
    }

    fn message(rec: &SpoolRecord, payload: Vec<u8>) -> producer::Message {
        let mut properties = HashMap::new();
        properties.insert("message_id".to_string(), rec.message_id.clone());
        producer::Message {
            payload,
            properties,
            partition_key: rec.key.clone(),
            event_time: Some(rec.event_time_ms),
            ..Default::default()
        }
    }

    /// Send the records in order; commit the acknowledged prefix.
    async fn send_batch(&mut self, batch: &[(u64, SpoolRecord)]) -> Result<(), SendFailure> {
        let timeout = Duration::from_millis(self.shared.cfg.send_timeout_ms);
        // None: acknowledged in an earlier round, behind a record that failed then.
        let mut pending = Vec::with_capacity(batch.len());
        let mut first_error = None;
        for (seq, rec) in batch {
            if self.delivered_ahead.contains(seq) {
                pending.push((*seq, None));
                continue;
            }
            let producer = match self.producer(&rec.topic).await {
                Ok(p) => p,
                Err(e) => {
                    first_error = Some((*seq, e));
                    break;
                }
            };
            match producer
                .send_non_blocking(Self::message(rec, rec.payload.clone()))
                .await
            {
                Ok(fut) => pending.push((*seq, Some(fut))),
                Err(e) => {
                    first_error = Some((*seq, e));
                    break;
                }
            }
        }
        let mut acked = None;
        let mut failure = None;
        for (seq, fut) in pending {
            let result = match fut {
                None => Ok(()),
                Some(fut) => match tokio::time::timeout(timeout, fut).await {
                    Ok(r) => r.map(|_| ()),
                    Err(_) => {
                        // No acknowledgement in time: a connection problem, not a rejection.
                        self.commit(acked);
                        return Err(SendFailure::Connection(format!(
                            "no acknowledgement for record {seq} within {} ms",
                            timeout.as_millis()
                        )));
                    }
                },
            };
            match (result, failure.is_some()) {
                (Ok(()), false) => acked = Some(seq),
                // Delivered behind a failed record: remember it, so the retry
                // of the failed one does not send it a second time.
                (Ok(()), true) => {
                    self.delivered_ahead.insert(seq);
                }
                (Err(e), false) => failure = Some((seq, e)),
                (Err(_), true) => {}
            }
        }
        self.commit(acked);
        match failure.or(first_error) {
            None => Ok(()),
            Some((seq, e)) if is_rejection(&e) => {
                Err(SendFailure::Rejected(seq, rejection_reason(&e)))
            }
            Some((_, e)) => Err(SendFailure::Connection(e.to_string())),
        }
    }

    fn commit(&mut self, acked: Option<u64>) {
        let Some(seq) = acked else {
            return;
        };
        let mut spool = self.shared.spool();
        let before = spool.committed();
        if let Err(e) = spool.commit(seq) {
            tracing::error!(error = %e, "cannot commit the spool cursor");
            return;
        }
        self.shared.update_gauges(&spool);
        drop(spool);
        let delivered = seq.saturating_sub(before);
        self.shared
            .stats
            .published
            .fetch_add(delivered, Ordering::Relaxed);
        // Records spooled before the broker came back (or before this start) were replayed.
        let replayed = self.replay_until.min(seq).saturating_sub(before);
        self.shared
            .stats
            .replayed
            .fetch_add(replayed, Ordering::Relaxed);
        self.rejections.retain(|s, _| *s > seq);
        self.delivered_ahead.retain(|s| *s > seq);
    }

    /// Send one message and wait for its acknowledgement.
    async fn send_one(&mut self, topic: &str, rec: &SpoolRecord, body: Vec<u8>) -> bool {
        let timeout = Duration::from_millis(self.shared.cfg.send_timeout_ms);
        match self.producer(topic).await {
            Ok(p) => match p.send_non_blocking(Self::message(rec, body)).await {
                Ok(fut) => matches!(tokio::time::timeout(timeout, fut).await, Ok(Ok(_))),
                Err(_) => false,
            },
            Err(_) => false,
        }
    }

    /// Send a record the broker keeps refusing to `<topic>-dlq`, with the reason.
    async fn dead_letter(&mut self, seq: u64, rec: &SpoolRecord, attempts: u32, reason: &str) {
        let dlq_topic = format!("{}-dlq", rec.topic);
        let original: serde_json::Value =
            serde_json::from_slice(&rec.payload).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&rec.payload).into_owned())
            });
        let envelope = serde_json::json!({
            "schema": "dead-letter-v1",
            "message_id": rec.message_id,
            "timestamp": arc_actors::events::ts::format(&chrono::Utc::now()),
            "original_topic": rec.topic,
            "partition_key": rec.key,
            "attempts": attempts,
            "reason": reason,
            "payload": original,
        });
        let body = serde_json::to_vec(&envelope).unwrap_or_default();
        if self.send_one(&dlq_topic, rec, body.clone()).await {
            tracing::error!(message_id = %rec.message_id, topic = %rec.topic, %dlq_topic, %reason, "event dead-lettered after {attempts} rejections");
        } else {
            // The event itself may be what the broker refuses (e.g. its size):
            // keep it whole in a local file an operator can replay, and put a
            // notice without the payload on the -dlq topic.
            let path = self.shared.dead_letter_file.clone();
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| {
                    f.write_all(&body)?;
                    f.write_all(b"\n")?;
                    f.sync_data()
                });
            if let Err(e) = written {
                tracing::error!(message_id = %rec.message_id, file = %path.display(), error = %e, "cannot write the dead-letter file: keeping the event spooled");
                return;
            }
            let mut notice = envelope;
            notice["payload"] = serde_json::Value::Null;
            notice["payload_bytes"] = rec.payload.len().into();
            notice["payload_file"] = path.display().to_string().into();
            let sent = self
                .send_one(
                    &dlq_topic,
                    rec,
                    serde_json::to_vec(&notice).unwrap_or_default(),
                )
                .await;
            tracing::error!(message_id = %rec.message_id, topic = %rec.topic, %dlq_topic, file = %path.display(), %reason, notice_sent = sent, "event dead-lettered after {attempts} rejections: too large for the -dlq topic too, kept in the local dead-letter file");
        }
        self.shared
            .stats
            .dead_lettered
            .fetch_add(1, Ordering::Relaxed);
        self.commit(Some(seq));
    }
}
