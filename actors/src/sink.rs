//! The event sink: one bounded, non-blocking queue that every actor emits into.
//!
//! `emit` uses `try_send`: when the sink is full the event is dropped and
//! counted, and the voice loop never waits on observability. A fan-out task
//! ([`spawn_fanout`]) hands each event to the mirrors' own bounded queues
//! (NATS, Pulsar, a test collector), again without waiting.

use crate::events::Event;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Counters of one queue (the sink itself or a mirror's input).
#[derive(Debug, Default)]
pub struct QueueStats {
    accepted: AtomicU64,
    dropped: AtomicU64,
}

impl QueueStats {
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Cloneable handle actors emit events through.
#[derive(Clone, Debug)]
pub struct EventSink {
    tx: mpsc::Sender<Arc<Event>>,
    capacity: usize,
    stats: Arc<QueueStats>,
    /// PII masking applied to every event before it leaves (when on).
    redactor: Option<Arc<crate::redact::Redactor>>,
}

/// The receiving end of the sink.
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::Receiver<Arc<Event>>,
}

impl EventStream {
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        self.rx.recv().await
    }

    pub fn try_recv(&mut self) -> Option<Arc<Event>> {
        self.rx.try_recv().ok()
    }
}

impl EventSink {
    /// A sink holding at most `capacity` events not yet taken by the fan-out.
    pub fn new(capacity: usize) -> (EventSink, EventStream) {
        let capacity = capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        (
            EventSink {
                tx,
                capacity,
                stats: Arc::default(),
                redactor: None,
            },
            EventStream { rx },
        )
    }

    /// This sink, masking PII in every event it takes (redaction at the
    /// source: nothing downstream, mirrors or taps, sees the true text).
    pub fn with_redactor(mut self, redactor: crate::redact::Redactor) -> Self {
        self.redactor = Some(Arc::new(redactor));
        self
    }

    /// Emit without ever waiting: a full sink drops the event and counts it.
    pub fn emit(&self, event: impl Into<Event>) {
        let mut event = event.into();
        if let Some(r) = &self.redactor {
            if let Some(masked) = r.redact_event(&event) {
                event = masked;
            }
        }
        match self.tx.try_send(Arc::new(event)) {
            Ok(()) => {
                self.stats.accepted.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                let kind = match &e {
                    mpsc::error::TrySendError::Full(ev) | mpsc::error::TrySendError::Closed(ev) => {
                        ev.kind()
                    }
                };
                tracing::debug!(event = kind, "event sink full or closed: event dropped");
            }
        }
    }

    /// Events waiting in the sink.
    pub fn depth(&self) -> usize {
        self.capacity - self.tx.capacity()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn stats(&self) -> &Arc<QueueStats> {
        &self.stats
    }
}

/// Which events a mirror wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorFilter {
    /// Events that have a NATS subject.
    Nats,
    /// Events that have a Pulsar topic.
    Pulsar,
    /// Everything (tests, logs).
    All,
    /// Events of these kinds ([`Event::kind`]): an observer that reads a few.
    Kinds(&'static [&'static str]),
}

impl MirrorFilter {
    fn wants(self, e: &Event) -> bool {
        match self {
            MirrorFilter::Nats => e.nats_subject().is_some(),
            MirrorFilter::Pulsar => e.pulsar_topic().is_some(),
            MirrorFilter::All => true,
            MirrorFilter::Kinds(kinds) => kinds.contains(&e.kind()),
        }
    }
}

/// One mirror's input queue, fed by the fan-out.
#[derive(Debug, Clone)]
pub struct MirrorInput {
    pub name: &'static str,
    pub filter: MirrorFilter,
    tx: mpsc::Sender<Arc<Event>>,
    capacity: usize,
    stats: Arc<QueueStats>,
}

impl MirrorInput {
    /// A mirror queue and its receiver.
    pub fn new(
        name: &'static str,
        filter: MirrorFilter,
        capacity: usize,
    ) -> (MirrorInput, mpsc::Receiver<Arc<Event>>) {
        let capacity = capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        (
            MirrorInput {
                name,
                filter,
                tx,
                capacity,
                stats: Arc::default(),
            },
            rx,
        )
    }

    pub fn stats(&self) -> &Arc<QueueStats> {
        &self.stats
    }

    pub fn depth(&self) -> usize {
        self.capacity - self.tx.capacity()
    }

    /// A read-only view for metrics that does not keep the queue open.
    pub fn probe(&self) -> MirrorProbe {
        MirrorProbe {
            tx: self.tx.downgrade(),
            capacity: self.capacity,
            stats: self.stats.clone(),
        }
    }

    fn offer(&self, event: &Arc<Event>) {
        if !self.filter.wants(event) {
            return;
        }
        match self.tx.try_send(event.clone()) {
            Ok(()) => self.stats.accepted.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.stats.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Counters and depth of a mirror queue, without holding it open.
#[derive(Debug, Clone)]
pub struct MirrorProbe {
    tx: mpsc::WeakSender<Arc<Event>>,
    capacity: usize,
    stats: Arc<QueueStats>,
}

impl MirrorProbe {
    pub fn depth(&self) -> usize {
        self.tx
            .upgrade()
            .map(|t| self.capacity - t.capacity())
            .unwrap_or(0)
    }

    pub fn stats(&self) -> &Arc<QueueStats> {
        &self.stats
    }
}

/// Forward every event of `stream` to each mirror input until `stop` is
/// cancelled (or every sink handle is gone); on stop, what is already in the
/// sink is still forwarded. Ending drops the inputs, which closes the mirror
/// queues in turn.
pub fn spawn_fanout(
    mut stream: EventStream,
    outputs: Vec<MirrorInput>,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                biased;
                ev = stream.recv() => match ev {
                    Some(ev) => outputs.iter().for_each(|o| o.offer(&ev)),
                    None => break,
                },
                _ = stop.cancelled() => {
                    while let Some(ev) = stream.try_recv() {
                        outputs.iter().for_each(|o| o.offer(&ev));
                    }
                    break;
                }
            }
        }
    })
}
