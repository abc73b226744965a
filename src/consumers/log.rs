//! Reading the durable log from its start, for an operator (`arc-agent
//! replay`): a non-durable subscription of its own (nothing of the readers'
//! subscriptions moves), every message from the earliest, until the topics
//! have been quiet for a moment.

use super::error::ConsumeError;
use super::record::{decode, Record};
use crate::config::PulsarSection;
use crate::mirror::pulsar::access::{self, PulsarConnectError};
use arc_actors::events::PulsarTopic;
use futures::StreamExt;
use pulsar::consumer::{ConsumerOptions, InitialPosition};
use pulsar::{Consumer, SubType, TokioExecutor};
use std::time::Duration;

/// Every readable message of `topics`, in the order received; stops once no
/// message came for `quiet` (or after `limit` in all). Unreadable messages
/// are skipped with a warning: they are the readers' dead letters.
pub async fn read_log(
    pulsar: &PulsarSection,
    topics: &[PulsarTopic],
    quiet: Duration,
    limit: Duration,
) -> Result<Vec<Record>, ConsumeError> {
    let names: Vec<&str> = topics.iter().map(|t| t.name()).collect();
    let subscription = format!("arc-replay-{}", uuid::Uuid::new_v4().simple());
    let url = &pulsar.url;
    let error = |source: PulsarConnectError| ConsumeError::Subscribe {
        url: url.to_string(),
        subscription: subscription.clone(),
        topics: names.join(", "),
        source: Box::new(source),
    };
    let client = access::builder(pulsar)
        .map_err(|e| error(e.into()))?
        .build()
        .await
        .map_err(|e| error(e.into()))?;
    let mut consumer: Consumer<Vec<u8>, TokioExecutor> = client
        .consumer()
        .with_topics(&names)
        .with_subscription(&subscription)
        .with_subscription_type(SubType::Exclusive)
        .with_options(
            ConsumerOptions::default()
                .durable(false)
                .with_initial_position(InitialPosition::Earliest),
        )
        .build()
        .await
        .map_err(|e| error(e.into()))?;
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let wait = quiet.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        match tokio::time::timeout(wait, consumer.next()).await {
            Ok(Some(Ok(m))) => {
                match decode(&m.topic, &m.payload.data, m.metadata()) {
                    Ok(r) => out.push(r),
                    Err(reason) => {
                        tracing::warn!(topic = %m.topic, %reason, "unreadable message skipped")
                    }
                }
                let _ = consumer.ack(&m).await;
            }
            Ok(Some(Err(e))) => tracing::warn!(error = %e, "receive failed"),
            Ok(None) | Err(_) => break,
        }
    }
    let _ = tokio::time::timeout(super::subscription::CLOSE_TIMEOUT, consumer.close()).await;
    Ok(out)
}
