//! Decoding states: a bounded set of [`WhisperState`]s, created on demand up
//! to `max` and reused, each lent to one decode at a time.

use super::error::failed;
use arc_actors::engine::EngineError;
use parking_lot::{Condvar, Mutex, MutexGuard};
use whisper_rs::{WhisperContext, WhisperState};

/// A bounded set of whisper states, created on demand up to `max` and reused.
pub(super) struct StatePool {
    slots: Mutex<Slots>,
    freed: Condvar,
    pub(super) max: usize,
}

pub(super) struct Slots {
    idle: Vec<WhisperState>,
    /// States in existence (idle + leased).
    pub(super) live: usize,
}

impl StatePool {
    pub(super) fn new(max: usize) -> Self {
        Self {
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                live: 0,
            }),
            freed: Condvar::new(),
            max,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Slots> {
        // No poisoning: a panic while holding the lock cannot leave the Vec
        // inconsistent.
        self.slots.lock()
    }

    /// An idle state, a new one while under `max`, or waits for one to come
    /// back (only if more decodes run than the pool has threads).
    pub(super) fn take<'a>(&'a self, ctx: &WhisperContext) -> Result<Lease<'a>, EngineError> {
        let mut slots = self.lock();
        loop {
            if let Some(state) = slots.idle.pop() {
                return Ok(Lease {
                    pool: self,
                    state: Some(state),
                });
            }
            if slots.live < self.max {
                slots.live += 1;
                drop(slots);
                return match ctx.create_state() {
                    Ok(state) => Ok(Lease {
                        pool: self,
                        state: Some(state),
                    }),
                    Err(e) => {
                        self.lock().live -= 1;
                        self.freed.notify_one();
                        Err(failed(format!("cannot allocate a whisper state: {e:?}")))
                    }
                };
            }
            self.freed.wait(&mut slots);
        }
    }
}

/// A state on loan; it goes back to the pool when dropped, unless discarded
/// (after a failed decode, or a panic, its buffers are not trusted).
pub(super) struct Lease<'a> {
    pool: &'a StatePool,
    pub(super) state: Option<WhisperState>,
}

impl Lease<'_> {
    pub(super) fn discard(&mut self) {
        if self.state.take().is_some() {
            self.pool.lock().live -= 1;
            self.pool.freed.notify_one();
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.discard();
            return;
        }
        if let Some(state) = self.state.take() {
            self.pool.lock().idle.push(state);
            self.pool.freed.notify_one();
        }
    }
}
