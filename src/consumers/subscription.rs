//! The loop every consumer shares: a Shared subscription on its topics,
//! batches of up to `batch_size`, the writer's commit, and only then the
//! acknowledgements. A batch that does not commit stays unacknowledged and is
//! tried again; a message that cannot be read is retried through the broker
//! (negative acknowledgement) and, after `max_attempts`, sent to
//! `<topic>-dlq` with the reason, then acknowledged. The consumer goes on.

use super::entry_acks::EntryAcks;
use super::error::{ConsumeError, WriteError};
use super::metrics::ConsumerMetrics;
use super::record::{base_topic, decode, Record};
use crate::config::PulsarSection;
use crate::mirror::pulsar::access::{self, PulsarConnectError};
use arc_actors::events::PulsarTopic;
use futures::StreamExt;
use pulsar::consumer::{ConsumerOptions, InitialPosition, Message};
use pulsar::{producer, Consumer, Producer, Pulsar, SubType, TokioExecutor};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Where a consumer writes what it reads.
pub(crate) trait Writer: Send {
    /// The topics it reads.
    fn topics(&self) -> &'static [PulsarTopic];
    /// Writes `batch` and returns once it is committed. Idempotent: records
    /// already written (a redelivery, a replay) leave the same state.
    fn write(&mut self, batch: &[Record]) -> impl Future<Output = Result<(), WriteError>> + Send;
}

/// How a subscription reads and retries.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The broker and how to reach it (`[pulsar]`: URL, credentials, TLS).
    pub(crate) pulsar: PulsarSection,
    pub(crate) subscription: String,
    pub(crate) batch_size: usize,
    pub(crate) batch_timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) retry_backoff: Duration,
}

type Msg = Message<Vec<u8>>;

struct Subscription {
    settings: Settings,
    client: Pulsar<TokioExecutor>,
    metrics: Arc<ConsumerMetrics>,
    /// Reads of each unreadable message so far, by message id.
    attempts: HashMap<String, u32>,
    dead_letter: HashMap<String, Producer<TokioExecutor>>,
    acks: EntryAcks,
}

/// The longest wait for the consumer to close at stop.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest wait between two attempts to reach the broker.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Reads until `stop`, writing through `writer`.
pub(crate) async fn run<W: Writer>(
    settings: Settings,
    mut writer: W,
    metrics: Arc<ConsumerMetrics>,
    stop: CancellationToken,
) -> Result<(), ConsumeError> {
    let topics: Vec<&str> = writer.topics().iter().map(|t| t.name()).collect();
    let subscribe_error = |source| ConsumeError::Subscribe {
        url: settings.pulsar.url.clone(),
        subscription: settings.subscription.clone(),
        topics: topics.join(", "),
        source: Box::new(source),
    };
    // A broker that is not there yet (restarting, starting beside the
    // reader) is waited for: each failure is logged with what was tried,
    // and the reader goes on trying until it is stopped.
    let mut backoff = settings.retry_backoff;
    let (mut sub, mut consumer) = loop {
        let attempt = async {
            let client = access::builder(&settings.pulsar)?.build().await?;
            let sub = Subscription {
                settings: settings.clone(),
                client,
                metrics: metrics.clone(),
                attempts: HashMap::new(),
                dead_letter: HashMap::new(),
                acks: EntryAcks::default(),
            };
            let consumer = sub.subscribe(&topics).await?;
            Ok::<_, PulsarConnectError>((sub, consumer))
        };
        // The crate retries a connection on its own for a long while: a
        // stop does not wait for it.
        let attempt = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            a = attempt => a,
        };
        match attempt {
            Ok(ok) => break ok,
            Err(e) => {
                tracing::warn!(error = %subscribe_error(e), retry_in_ms = backoff.as_millis() as u64, "not consuming yet");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    };
    tracing::info!(subscription = %settings.subscription, topics = %topics.join(", "), "consuming");
    loop {
        let batch = tokio::select! {
            _ = stop.cancelled() => break,
            b = sub.next_batch(&mut consumer) => b,
        };
        let Some(batch) = batch else {
            // The stream ended (connection lost for good): subscribe again.
            tracing::warn!(subscription = %settings.subscription, "subscription ended; subscribing again");
            consumer = loop {
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(settings.retry_backoff) => {}
                }
                match sub.subscribe(&topics).await {
                    Ok(c) => break c,
                    Err(e) => tracing::warn!(error = %e, "subscribing again failed"),
                }
            };
            continue;
        };
        if !sub.handle(&mut consumer, &mut writer, batch, &stop).await {
            break;
        }
    }
    // The crate's close waits for its engine, which can be blocked handing
    // on messages no one reads any more: bounded, then dropped (the broker
    // redelivers what was not acknowledged to the next reader).
    if tokio::time::timeout(CLOSE_TIMEOUT, consumer.close())
        .await
        .is_err()
    {
        tracing::warn!(subscription = %settings.subscription, "consumer did not close within 5 s; dropped");
    }
    Ok(())
}

impl Subscription {
    async fn subscribe(
        &self,
        topics: &[&str],
    ) -> Result<Consumer<Vec<u8>, TokioExecutor>, pulsar::Error> {
        self.client
            .consumer()
            .with_topics(topics)
            .with_subscription(&self.settings.subscription)
            .with_subscription_type(SubType::Shared)
            .with_consumer_name(format!(
                "{}-{}",
                self.settings.subscription,
                std::process::id()
            ))
            .with_options(
                ConsumerOptions::default()
                    .durable(true)
                    .with_initial_position(InitialPosition::Earliest),
            )
            .build()
            .await
    }

    /// The next messages: waits for one, then takes what comes within
    /// `batch_timeout`, up to `batch_size`. `None`: the stream ended.
    async fn next_batch(
        &self,
        consumer: &mut Consumer<Vec<u8>, TokioExecutor>,
    ) -> Option<Vec<Msg>> {
        let mut batch = Vec::new();
        loop {
            match consumer.next().await? {
                Ok(m) => {
                    batch.push(m);
                    break;
                }
                Err(e) => tracing::warn!(error = %e, "receive failed"),
            }
        }
        let deadline = tokio::time::Instant::now() + self.settings.batch_timeout;
        while batch.len() < self.settings.batch_size {
            match tokio::time::timeout_at(deadline, consumer.next()).await {
                Ok(Some(Ok(m))) => batch.push(m),
                Ok(Some(Err(e))) => tracing::warn!(error = %e, "receive failed"),
                Ok(None) | Err(_) => break,
            }
        }
        Some(batch)
    }

    /// Decode, write, acknowledge. `false`: stopped while the write was
    /// failing (nothing acknowledged; the broker gives the batch to another).
    async fn handle<W: Writer>(
        &mut self,
        consumer: &mut Consumer<Vec<u8>, TokioExecutor>,
        writer: &mut W,
        batch: Vec<Msg>,
        stop: &CancellationToken,
    ) -> bool {
        let mut good = Vec::with_capacity(batch.len());
        let mut records = Vec::with_capacity(batch.len());
        for m in batch {
            match decode(&m.topic, &m.payload.data, m.metadata()) {
                Ok(r) => {
                    records.push(r);
                    good.push(m);
                }
                Err(reason) => self.poison(consumer, m, reason).await,
            }
        }
        if records.is_empty() {
            return true;
        }
        loop {
            match writer.write(&records).await {
                Ok(()) => break,
                Err(e) => {
                    self.metrics.failed("write");
                    tracing::warn!(subscription = %self.settings.subscription, error = %e, events = records.len(),
                        "batch not written; trying again (its messages stay unacknowledged)");
                    tokio::select! {
                        _ = stop.cancelled() => return false,
                        _ = tokio::time::sleep(self.settings.retry_backoff) => {}
                    }
                }
            }
        }
        let newest = records.iter().map(|r| r.publish_time_ms).max().unwrap_or(0);
        let now = chrono::Utc::now().timestamp_millis() as f64;
        self.metrics.lag((now - newest as f64) / 1000.0);
        let mut per_topic: HashMap<&'static str, u64> = HashMap::new();
        for r in &records {
            *per_topic.entry(r.topic.name()).or_default() += 1;
        }
        for (topic, n) in per_topic {
            self.metrics.processed(topic, n);
        }
        for m in &good {
            self.ack(consumer, m).await;
        }
        true
    }

    /// `m` is done (written, or dead-lettered): acknowledge its entry once
    /// all of the entry is done.
    async fn ack(&mut self, consumer: &mut Consumer<Vec<u8>, TokioExecutor>, m: &Msg) {
        let Some(id) = self
            .acks
            .done(&m.topic, m.message_id(), m.message_id.batch_size)
        else {
            return;
        };
        if let Err(e) = consumer.ack_with_id(&m.topic, id).await {
            // Written already: a redelivery changes nothing downstream.
            tracing::debug!(error = %e, "acknowledgement failed");
        }
    }

    /// A message that cannot be read: again through the broker, and to
    /// `<topic>-dlq` once it has had `max_attempts`.
    async fn poison(
        &mut self,
        consumer: &mut Consumer<Vec<u8>, TokioExecutor>,
        m: Msg,
        reason: String,
    ) {
        self.metrics.failed("decode");
        let id = m.message_id();
        let key = format!(
            "{}:{}:{}:{}",
            m.topic,
            id.ledger_id,
            id.entry_id,
            id.batch_index.unwrap_or(-1)
        );
        let attempts = {
            let n = self.attempts.entry(key.clone()).or_default();
            *n += 1;
            *n
        };
        let topic = base_topic(&m.topic).to_string();
        if attempts < self.settings.max_attempts {
            tracing::warn!(%topic, attempt = attempts, %reason, "unreadable message; retrying it");
            if let Err(e) = consumer.nack(&m).await {
                tracing::debug!(error = %e, "negative acknowledgement failed");
            }
            return;
        }
        let dlq = format!("{topic}-dlq");
        match self.send_dead_letter(&dlq, &m, &reason, attempts).await {
            Ok(()) => {
                tracing::error!(%topic, %dlq, attempts, %reason, "unreadable message dead-lettered");
                self.metrics.dead_lettered(&topic);
                self.attempts.remove(&key);
                self.ack(consumer, &m).await;
            }
            Err(e) => {
                tracing::warn!(%dlq, error = %e, "dead-letter send failed; retrying the message");
                let _ = consumer.nack(&m).await;
            }
        }
    }

    async fn send_dead_letter(
        &mut self,
        dlq: &str,
        m: &Msg,
        reason: &str,
        attempts: u32,
    ) -> Result<(), pulsar::Error> {
        if !self.dead_letter.contains_key(dlq) {
            let p = self.client.producer().with_topic(dlq).build().await?;
            self.dead_letter.insert(dlq.to_string(), p);
        }
        let Some(p) = self.dead_letter.get_mut(dlq) else {
            return Err(pulsar::Error::Custom(
                "dead-letter producer vanished".into(),
            ));
        };
        let meta = m.metadata();
        let mut properties: HashMap<String, String> = meta
            .properties
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect();
        let id = m.message_id();
        properties.insert("reason".into(), reason.to_string());
        properties.insert("origin_topic".into(), m.topic.clone());
        properties.insert(
            "origin_message_id".into(),
            format!("{}:{}", id.ledger_id, id.entry_id),
        );
        properties.insert("attempts".into(), attempts.to_string());
        properties.insert("subscription".into(), self.settings.subscription.clone());
        let msg = producer::Message {
            payload: m.payload.data.clone(),
            properties,
            partition_key: meta.partition_key.clone(),
            event_time: meta.event_time,
            ..Default::default()
        };
        p.send_non_blocking(msg).await?.await?;
        Ok(())
    }
}
