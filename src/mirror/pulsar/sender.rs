//! The spool out: connect (with backoff while the broker is away), send the
//! oldest records in order, commit the acknowledged prefix, count what was a
//! replay, retry a rejected record and dead-letter it after `max_attempts`.

use super::dead_letter::dead_letter;
use super::producers::{message, Producers};
use super::rejection::{duplicate_of_later, is_duplicate, is_rejection, rejection_reason};
use super::shared::Shared;
use crate::mirror::spool::SpoolRecord;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

enum SendFailure {
    /// The connection is gone: reconnect and resend from the first unacknowledged record.
    Connection(String),
    /// The broker refused record `seq`.
    Rejected(u64, String),
}

struct Sender {
    shared: Arc<Shared>,
    producers: Producers,
    /// Records acknowledged behind one that failed (not to be sent again).
    delivered_ahead: BTreeSet<u64>,
    /// Broker rejections per spool sequence.
    rejections: HashMap<u64, (u32, String)>,
    /// Records up to this sequence were spooled while the broker was away
    /// (or by a previous run): their delivery counts as a replay.
    replay_until: u64,
}

/// Deliver the spool until `stop`, or until the intake has ended and the
/// spool is empty.
pub(super) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    // A backlog at start was spooled by a previous run: delivering it is a replay.
    let replay_until = {
        let spool = shared.spool();
        if spool.depth() > 0 {
            spool.last_seq()
        } else {
            0
        }
    };
    let spool_id = shared.spool().id().to_string();
    let mut s = Sender {
        producers: Producers::new(shared.cfg.clone(), &spool_id),
        shared,
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
        if !s.producers.is_connected() {
            match s.producers.connect().await {
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
                        tracing::warn!(url = %cfg.url, auth = super::access::auth_kind(&cfg), error = %e, spool = %s.shared.spool().dir().display(), "Pulsar unreachable: events are spooled to disk and replayed in order when it returns");
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
                s.producers.disconnect();
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
                        if dead_letter(&mut s.producers, &s.shared, seq, rec, attempts, &reason)
                            .await
                        {
                            s.commit(Some(seq));
                        }
                    }
                } else {
                    tokio::time::sleep(Duration::from_millis(cfg.reconnect_min_ms)).await;
                }
            }
        }
    }
    s.producers.close().await;
    let depth = s.shared.spool().depth();
    if depth > 0 {
        tracing::warn!(
            events = depth,
            "Pulsar mirror stopped with events still spooled: they are delivered on the next start"
        );
    }
}

impl Sender {
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
            let producer = match self.producers.get(&rec.topic).await {
                Ok(p) => p,
                Err(e) => {
                    first_error = Some((*seq, e));
                    break;
                }
            };
            match producer
                .send_non_blocking(message(*seq, rec, rec.payload.clone()))
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
                    // A record the broker refused before, resent after later
                    // ones of the same producer were stored: a broker with
                    // deduplication drops it (its sequence id is below theirs),
                    // so it was not stored: a rejection, not a delivery.
                    Ok(Ok(receipt))
                        if self.rejections.contains_key(&seq) && is_duplicate(&receipt) =>
                    {
                        Err(duplicate_of_later(seq))
                    }
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
}
