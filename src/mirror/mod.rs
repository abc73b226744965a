//! Broker mirrors: every event of the sink, copied to NATS (ephemeral) and
//! Pulsar (durable), off the voice loop.
//!
//! - [`nats`]: at-most-once publish to the seed's subjects.
//! - [`pulsar`]: producers per topic, with delivery confirmed from the [`spool`].
//! - [`spool`]: the durable on-disk queue in front of Pulsar (replay, DLQ).
//!
//! Mirrors read the event stream of `arc-actors` and `config`; they call
//! nothing else of the node, and only `app` starts them.

pub(crate) mod nats;
pub(crate) mod nats_connect;
pub(crate) mod pulsar;
pub(crate) mod spool;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Counters of one mirror, read by `/metrics`, `/readyz` and heartbeats.
#[derive(Debug, Default)]
pub struct MirrorStats {
    pub published: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    pub connected: AtomicBool,
    /// Pulsar only: events delivered from the spool after an outage or restart.
    pub replayed: AtomicU64,
    /// Pulsar only: events sent to a -dlq topic (or the local dead-letter file).
    pub dead_lettered: AtomicU64,
    pub spool_depth: AtomicU64,
    pub spool_bytes: AtomicU64,
}

impl MirrorStats {
    pub fn get(v: &AtomicU64) -> u64 {
        v.load(Ordering::Relaxed)
    }
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
}
