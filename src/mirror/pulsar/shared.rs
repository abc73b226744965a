//! What the intake and the sender share: the spool behind one lock, the
//! mirror's counters, and the signals between them.

use crate::config::PulsarSection;
use crate::mirror::spool::Spool;
use crate::mirror::MirrorStats;
use parking_lot::{Mutex, MutexGuard};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

pub(super) struct Shared {
    pub(super) cfg: PulsarSection,
    pub(super) spool: Mutex<Spool>,
    pub(super) stats: Arc<MirrorStats>,
    /// New records are in the spool.
    pub(super) wake: Notify,
    /// The intake has ended: the sender stops once the spool is empty.
    pub(super) intake_done: AtomicBool,
    pub(super) dead_letter_file: PathBuf,
}

impl Shared {
    pub(super) fn spool(&self) -> MutexGuard<'_, Spool> {
        self.spool.lock()
    }

    pub(super) fn update_gauges(&self, spool: &Spool) {
        self.stats
            .spool_depth
            .store(spool.depth(), Ordering::Relaxed);
        self.stats
            .spool_bytes
            .store(spool.bytes(), Ordering::Relaxed);
    }
}
