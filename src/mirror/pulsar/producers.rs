//! The Pulsar client and one producer per topic, made on first use: batching
//! and compression from the config, the seed's partition key, `message_id`
//! as a message property.

use super::access::PulsarConnectError;
use crate::config::{self, PulsarSection};
use crate::mirror::spool::SpoolRecord;
use arc_actors::events::{PulsarTopic, REALTIME_SUBJECT_PROPERTY};
use pulsar::{
    compression, producer, ConnectionRetryOptions, OperationRetryOptions, Producer, Pulsar,
    TokioExecutor,
};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The connection and its producers; empty while the broker is away.
pub(super) struct Producers {
    cfg: PulsarSection,
    /// Every producer's name: `arc-<spool id>`, the same after a restart on
    /// the same spool, so a broker with deduplication recognises a resend by
    /// its sequence id (the record's spool sequence).
    name: String,
    client: Option<Pulsar<TokioExecutor>>,
    by_topic: HashMap<String, Producer<TokioExecutor>>,
    /// Topics whose partition mismatch was already reported.
    warned_partitions: HashSet<String>,
}

impl Producers {
    pub(super) fn new(cfg: PulsarSection, spool_id: &str) -> Self {
        Producers {
            cfg,
            name: format!("arc-{spool_id}"),
            client: None,
            by_topic: HashMap::new(),
            warned_partitions: HashSet::new(),
        }
    }

    pub(super) fn is_connected(&self) -> bool {
        self.client.is_some()
    }

    pub(super) async fn connect(&mut self) -> Result<(), PulsarConnectError> {
        let cfg = &self.cfg;
        let client = super::access::builder(cfg)?
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
        let realtime = (!cfg.realtime_topic.is_empty())
            .then_some((cfg.realtime_topic.as_str(), cfg.partitions.realtime));
        let topics = PulsarTopic::ALL
            .into_iter()
            .map(|t| (t.name(), cfg.partitions.of(t)))
            .chain(realtime);
        for (name, want) in topics {
            match client.lookup_partitioned_topic_number(name).await {
                Ok(have) if have != want && self.warned_partitions.insert(name.to_string()) => {
                    tracing::warn!(
                    topic = name, broker_partitions = have, configured = want,
                    "topic partitions differ from the schema: create it with `pulsar-admin topics create-partitioned-topic {} -p {}` (scripts/pulsar-topics.sh)",
                    name, want
                    )
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(topic = name, error = %e, "partition lookup failed")
                }
            }
        }
        self.client = Some(client);
        Ok(())
    }

    /// Forget the connection and its producers (it is gone).
    pub(super) fn disconnect(&mut self) {
        self.client = None;
        self.by_topic.clear();
    }

    /// Close the producers and the connection.
    pub(super) async fn close(&mut self) {
        if let Some(client) = self.client.take() {
            for (_, mut p) in self.by_topic.drain() {
                let _ = p.close().await;
            }
            drop(client);
        }
    }

    /// The producer of `topic`, made on first use.
    pub(super) async fn get(
        &mut self,
        topic: &str,
    ) -> Result<&mut Producer<TokioExecutor>, pulsar::Error> {
        if !self.by_topic.contains_key(topic) {
            let cfg = &self.cfg;
            let client = self
                .client
                .as_ref()
                .ok_or(pulsar::Error::Custom("not connected".into()))?;
            let p = client
                .producer()
                .with_topic(topic)
                .with_name(self.name.clone())
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
            self.by_topic.insert(topic.to_string(), p);
        }
        self.by_topic
            .get_mut(topic)
            .ok_or(pulsar::Error::Custom("producer vanished".into()))
    }

    /// Send one message (record `seq`) and wait for its acknowledgement.
    pub(super) async fn send_one(
        &mut self,
        topic: &str,
        seq: u64,
        rec: &SpoolRecord,
        body: Vec<u8>,
    ) -> bool {
        let timeout = Duration::from_millis(self.cfg.send_timeout_ms);
        match self.get(topic).await {
            Ok(p) => match p.send_non_blocking(message(seq, rec, body)).await {
                Ok(fut) => matches!(tokio::time::timeout(timeout, fut).await, Ok(Ok(_))),
                Err(_) => false,
            },
            Err(_) => false,
        }
    }
}

/// The message of spooled record `seq`, with `payload` as its body and `seq`
/// as its sequence id (patches/pulsar-6.9.1-sequence-id.patch).
pub(super) fn message(seq: u64, rec: &SpoolRecord, payload: Vec<u8>) -> producer::Message {
    let mut properties = HashMap::new();
    properties.insert("message_id".to_string(), rec.message_id.clone());
    if let Some(subject) = &rec.subject {
        properties.insert(REALTIME_SUBJECT_PROPERTY.to_string(), subject.clone());
    }
    producer::Message {
        payload,
        properties,
        partition_key: rec.key.clone(),
        event_time: Some(rec.event_time_ms),
        sequence_id: Some(seq),
        ..Default::default()
    }
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
