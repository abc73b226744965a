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
//!
//! # Files here
//!
//! - `intake`: events in, appended to the spool in batches.
//! - `sender`: the spool out, in order: connect, send, commit, replay.
//! - `producers`: the client and one producer per topic.
//! - `access`: the URL, credentials and TLS every Pulsar client of the node
//!   uses (the producers here, the readers, `replay`); `oauth2`: its
//!   OAuth2 client-credentials token.
//! - `rejection`: telling a broker's refusal from a lost connection.
//! - `dead_letter`: where an event the broker keeps refusing goes.
//! - `shared`: what the intake and the sender share (the spool, the counters).
//!
//! This file starts the intake and the sender; the sender calls
//! `producers`, `rejection` and `dead_letter`; all of them read `shared`.

pub(crate) mod access;
mod dead_letter;
mod intake;
mod oauth2;
mod producers;
mod rejection;
mod sender;
mod shared;

use super::MirrorStats;
use crate::config::PulsarSection;
use crate::mirror::spool::{Spool, SpoolError, SpoolOptions};
use arc_actors::events::Event;
use shared::Shared;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

/// Handles of the running mirror.
pub(crate) struct PulsarMirror {
    stats: Arc<MirrorStats>,
    intake: tokio::task::JoinHandle<()>,
    sender: tokio::task::JoinHandle<()>,
    stop_sender: CancellationToken,
}

impl PulsarMirror {
    /// Wait for the intake to drain its queue (it ends when the queue closes),
    /// then give the sender up to `flush_timeout` to empty the spool. What is
    /// left stays spooled for the next start.
    pub(crate) async fn shutdown(self, flush_timeout: Duration) {
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

/// Open the spool (replaying what a previous run left) and start the mirror.
pub(crate) fn spawn(
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
        spool: parking_lot::Mutex::new(spool),
        wake: Notify::new(),
        intake_done: AtomicBool::new(false),
    });
    shared.update_gauges(&shared.spool());
    let stop_sender = CancellationToken::new();
    let intake = tokio::spawn(intake::run(shared.clone(), rx));
    let sender = tokio::spawn(sender::run(shared, stop_sender.clone()));
    Ok(PulsarMirror {
        stats: mirror_stats,
        intake,
        sender,
        stop_sender,
    })
}
