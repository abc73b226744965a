//! The NATS mirror: each event on its seed subject, at-most-once.
//!
//! One task owns the client. While NATS is unreachable events are dropped and
//! counted rather than buffered (the seed's delivery guarantee is
//! at-most-once, and an outage must not grow memory); the client reconnects
//! by itself.

use super::nats_connect;
use super::MirrorStats;
use crate::config::redacted_url;
use crate::config::NatsSection;
use arc_actors::events::Event;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Connect (in the background: an unreachable server does not delay start)
/// and return the client.
pub(crate) async fn connect(
    cfg: &NatsSection,
    stats: Arc<MirrorStats>,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let url = redacted_url(&cfg.url);
    let announced = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refused = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ev_stats = stats.clone();
    let opts = match nats_connect::options(cfg).await {
        Ok(o) => o,
        Err(e) => {
            // A setting that cannot work: said once, and the node goes on
            // without NATS (its events for NATS are dropped and counted).
            tracing::error!(error = %e, "NATS settings refused: connecting without credentials or TLS, which a protected server refuses (events for NATS are dropped and counted)");
            async_nats::ConnectOptions::new()
        }
    };
    let client = opts
        .name(&cfg.client_name)
        .connection_timeout(Duration::from_millis(cfg.connect_timeout_ms))
        .retry_on_initial_connect()
        .event_callback(move |ev| {
            let stats = ev_stats.clone();
            let url = url.clone();
            let announced = announced.clone();
            let refused = refused.clone();
            async move {
                match ev {
                    // Wrong credentials, a certificate not trusted: the server
                    // or the TLS handshake says so; said once per outage.
                    async_nats::Event::ServerError(e) => {
                        if !refused.swap(true, Ordering::Relaxed) {
                            tracing::warn!(%url, error = %e, "NATS refused the connection (check nats.user/password/token/creds and TLS)");
                        }
                    }
                    async_nats::Event::ClientError(e) => {
                        if !refused.swap(true, Ordering::Relaxed) {
                            tracing::warn!(%url, error = %e, "NATS refused or failed the connection (check nats.url, the credentials and TLS)");
                        }
                    }
                    async_nats::Event::Connected => {
                        refused.store(false, Ordering::Relaxed);
                        stats.connected.store(true, Ordering::Relaxed);
                        announced.store(false, Ordering::Relaxed);
                        tracing::info!(%url, "NATS connected: mirroring events");
                    }
                    async_nats::Event::Disconnected => {
                        stats.connected.store(false, Ordering::Relaxed);
                        if !announced.swap(true, Ordering::Relaxed) {
                            tracing::warn!(%url, "NATS disconnected: events for NATS are dropped (at-most-once) until it is back");
                        }
                    }
                    other => tracing::debug!(%url, event = %other, "NATS client event"),
                }
            }
        })
        .connect(&cfg.url)
        .await?;
    // Give the first connection its timeout, so that a reachable server gets
    // the node's first events and an unreachable one is reported once, clearly.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(cfg.connect_timeout_ms);
    while client.connection_state() != async_nats::connection::State::Connected
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if client.connection_state() != async_nats::connection::State::Connected {
        tracing::warn!(url = %redacted_url(&cfg.url), "NATS unreachable: running without it (events for NATS are dropped and counted; the client keeps reconnecting)");
    }
    Ok(client)
}

/// The running NATS mirror: one task publishing the mirror's queue.
pub(crate) struct NatsMirror {
    task: tokio::task::JoinHandle<()>,
}

impl NatsMirror {
    /// Publish every event from `rx` with `client` until `rx` closes.
    pub(crate) fn spawn(
        client: async_nats::Client,
        rx: mpsc::Receiver<Arc<Event>>,
        stats: Arc<MirrorStats>,
    ) -> Self {
        Self {
            task: tokio::spawn(run(client, rx, stats)),
        }
    }

    /// Wait up to `within` for the queue (closed when the fan-out ends) to be
    /// published and flushed; what is left is dropped (at-most-once).
    pub(crate) async fn shutdown(self, within: Duration) {
        if tokio::time::timeout(within, self.task).await.is_err() {
            tracing::warn!("NATS mirror did not flush within {within:?}");
        }
    }
}

/// Publish every event from `rx` until it closes, then flush.
async fn run(
    client: async_nats::Client,
    mut rx: mpsc::Receiver<Arc<Event>>,
    stats: Arc<MirrorStats>,
) {
    use async_nats::connection::State;
    let mut warned_down = false;
    // Taken in batches: on a node busy with thousands of sessions this task
    // gets a turn on a worker seldom, and one event per turn let the queue
    // fill (at 10,000 sessions it dropped half of what it should publish).
    let mut batch = Vec::with_capacity(RECV_BATCH);
    while rx.recv_many(&mut batch, RECV_BATCH).await > 0 {
        for ev in batch.drain(..) {
            publish_one(&client, &ev, &stats, &mut warned_down).await;
        }
    }
    if client.connection_state() == State::Connected {
        let _ = tokio::time::timeout(Duration::from_secs(2), client.flush()).await;
    }
}

/// Events taken from the queue at a time.
const RECV_BATCH: usize = 256;

async fn publish_one(
    client: &async_nats::Client,
    ev: &Event,
    stats: &MirrorStats,
    warned_down: &mut bool,
) {
    use async_nats::connection::State;
    let Some(subject) = ev.nats_subject() else {
        return;
    };
    if client.connection_state() != State::Connected {
        stats.dropped.fetch_add(1, Ordering::Relaxed);
        if !*warned_down {
            *warned_down = true;
            tracing::debug!("NATS not connected: dropping events meant for it (counted in arc_mirror_dropped_total{{mirror=\"nats\"}})");
        }
        return;
    }
    *warned_down = false;
    let payload = match ev.to_json() {
        Ok(p) => p,
        Err(e) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(subject, error = %e, "event could not be serialized");
            return;
        }
    };
    match client.publish(subject, payload.into()).await {
        Ok(()) => stats.published.fetch_add(1, Ordering::Relaxed),
        Err(e) => {
            tracing::debug!(subject, error = %e, "NATS publish failed");
            stats.failed.fetch_add(1, Ordering::Relaxed)
        }
    };
}
