//! The readers of ARC's durable log: `arc-agent consume kpi|billing|archive`, each
//! its own process, scaled apart from the nodes (several instances share one
//! Shared subscription and split the messages).
//!
//! # Files here
//!
//! - `subscription`: the loop they share (batch, write, then acknowledge;
//!   retry what did not commit; poison to `<topic>-dlq` after `max_attempts`).
//! - `entry_acks`: a batched entry acknowledged once all of it is written.
//! - `record`: a message decoded into an event of the right schema version,
//!   or the reason it is poison.
//! - `kpi`, `billing`, `archive`: the writers (PostgreSQL tables, Redis hot
//!   state, hourly Parquet files); `archive_store`: the archive's local
//!   folder or S3-compatible store.
//! - `postgres`: the connection and the migrations (`migrations/*.sql`).
//! - `log`: the whole log from its start, for `arc-agent replay`.
//! - `metrics`: `arc_consumer_*` on the consumer's own `/metrics`.
//! - `error`: why a consumer could not start, why a batch did not commit.
//!
//! Every writer is idempotent, so the broker's at-least-once delivery (a
//! redelivery after a crash, a node replaying its spool) changes nothing
//! downstream.

mod archive;
mod archive_store;
mod billing;
mod entry_acks;
mod error;
mod kpi;
mod log;
mod metrics;
mod postgres;
mod record;
mod subscription;

pub use error::ConsumeError;
pub use log::read_log;
pub use record::Record;

use crate::config::Config;
use metrics::ConsumerMetrics;
use std::time::Duration;
use subscription::Settings;
use tokio_util::sync::CancellationToken;

/// Which consumer to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConsumerKind {
    /// `agent_turns`, `session_kpis` (PostgreSQL) and the Redis hot state.
    Kpi,
    /// `billing_usage` per account, agent and hour (PostgreSQL).
    Billing,
    /// Every event into hourly Parquet files under `consumers.archive_dir`.
    Archive,
}

impl ConsumerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerKind::Kpi => "kpi",
            ConsumerKind::Billing => "billing",
            ConsumerKind::Archive => "archive",
        }
    }
}

/// Runs one consumer until `stop`; its `/metrics` address goes to `ready`
/// once it is subscribed.
pub async fn run(
    cfg: &Config,
    kind: ConsumerKind,
    stop: CancellationToken,
    ready: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
) -> Result<(), ConsumeError> {
    let c = &cfg.consumers;
    let metrics = ConsumerMetrics::new(kind.as_str());
    let addr = metrics
        .clone()
        .serve(&c.metrics_listen, stop.clone())
        .await?;
    tracing::info!(consumer = kind.as_str(), metrics = %addr, "consumer starting");
    // The archive writes a file per batch: its batches are larger and longer.
    let (batch_size, batch_ms) = match kind {
        ConsumerKind::Archive => (c.archive_batch_size, c.archive_flush_ms),
        _ => (c.batch_size, c.batch_timeout_ms),
    };
    let settings = Settings {
        pulsar: cfg.pulsar.clone(),
        subscription: format!("{}-{}", c.subscription_prefix, kind.as_str()),
        batch_size,
        batch_timeout: Duration::from_millis(batch_ms),
        max_attempts: c.max_attempts,
        retry_backoff: Duration::from_millis(c.retry_backoff_ms),
    };
    if let Some(tx) = ready {
        let _ = tx.send(addr);
    }
    match kind {
        ConsumerKind::Kpi => {
            let w = kpi::KpiWriter::start(c, metrics.clone()).await?;
            subscription::run(settings, w, metrics, stop).await
        }
        ConsumerKind::Billing => {
            let w = billing::BillingWriter::start(c, metrics.clone()).await?;
            subscription::run(settings, w, metrics, stop).await
        }
        ConsumerKind::Archive => {
            let w = archive::ArchiveWriter::start(c, metrics.clone())?;
            subscription::run(settings, w, metrics, stop).await
        }
    }
}
