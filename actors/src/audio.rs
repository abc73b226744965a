//! Audio frames and the bounded frame queue between a transport and the Stt actor.
//!
//! ractor mailboxes are unbounded, so audio never goes through one unchecked:
//! transports push into a [`FrameQueue`] (bounded; a live source drops the oldest
//! frame and counts it, a file source waits for room), and the Stt actor takes
//! from it a few frames at a time when told that some arrived.

use parking_lot::{Mutex, MutexGuard};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::Notify;

/// Mono PCM samples in [-1.0, 1.0] at `sample_rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioFrame {
    pub sample_rate: u32,
    pub samples: Vec<f32>,
}

impl AudioFrame {
    pub fn new(sample_rate: u32, samples: Vec<f32>) -> Self {
        Self {
            sample_rate,
            samples,
        }
    }

    /// Duration in milliseconds (0 for a zero rate rather than a division by zero).
    pub fn duration_ms(&self) -> u64 {
        if self.sample_rate == 0 {
            return 0;
        }
        self.samples.len() as u64 * 1000 / self.sample_rate as u64
    }

    /// Root mean square of the samples (0 for an empty frame).
    pub fn rms(&self) -> f32 {
        if self.samples.is_empty() {
            return 0.0;
        }
        let sum: f32 = self.samples.iter().map(|s| s * s).sum();
        (sum / self.samples.len() as f32).sqrt()
    }
}

/// The sample rate the VAD and STT work at.
pub const STT_SAMPLE_RATE: u32 = 16_000;
/// Samples in one 20 ms frame at [`STT_SAMPLE_RATE`].
pub const FRAME_SAMPLES_16K: usize = 320;

/// Told that frames arrived (the Stt actor: a message to it).
pub type FrameListener = Box<dyn Fn() + Send + Sync>;

/// A bounded FIFO of audio frames shared by one producer (a transport) and one
/// consumer (the Stt actor). The consumer is told when frames arrive, once
/// until it next takes: no task of its own waits on the queue (at 10,000
/// sessions that task's wake-up per 20 ms frame was ~500,000 a second).
pub struct FrameQueue {
    frames: Mutex<VecDeque<AudioFrame>>,
    capacity: usize,
    listener: Mutex<Option<FrameListener>>,
    /// The listener was told and has not taken since.
    told: AtomicBool,
    notify_space: Notify,
    dropped: AtomicU64,
    pushed: AtomicU64,
    closed: AtomicBool,
}

impl std::fmt::Debug for FrameQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameQueue")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl FrameQueue {
    pub fn new(capacity: usize) -> Self {
        Self {
            // Grown as frames wait, not reserved: a queue that keeps up holds one
            // or two, and a node has one a session.
            frames: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            listener: Mutex::new(None),
            told: AtomicBool::new(false),
            notify_space: Notify::new(),
            dropped: AtomicU64::new(0),
            pushed: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<AudioFrame>> {
        self.frames.lock()
    }

    /// Push from a live source: never waits; when full the oldest frame is dropped
    /// (stale audio is worth less than fresh audio) and counted.
    pub fn push(&self, frame: AudioFrame) {
        if self.closed.load(Ordering::Acquire) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        {
            let mut q = self.lock();
            if q.len() >= self.capacity {
                q.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            q.push_back(frame);
        }
        self.pushed.fetch_add(1, Ordering::Relaxed);
        self.tell();
    }

    /// Push from a source that can wait (a file): waits for room, loses nothing.
    /// Returns false when the queue was closed.
    pub async fn push_wait(&self, frame: AudioFrame) -> bool {
        loop {
            if self.closed.load(Ordering::Acquire) {
                return false;
            }
            let space = self.notify_space.notified();
            {
                let mut q = self.lock();
                if q.len() < self.capacity {
                    q.push_back(frame);
                    drop(q);
                    self.pushed.fetch_add(1, Ordering::Relaxed);
                    self.tell();
                    return true;
                }
            }
            space.await;
        }
    }

    /// Tells the listener frames arrived, unless it was told and has not
    /// taken since.
    fn tell(&self) {
        if !self.told.swap(true, Ordering::AcqRel) {
            if let Some(listener) = &*self.listener.lock() {
                listener();
            }
        }
    }

    /// Who is told when frames arrive, from now on (a restarted Stt replaces
    /// the one that died). It is told at once: frames may be waiting.
    pub fn listen(&self, listener: FrameListener) {
        *self.listener.lock() = Some(listener);
        self.told.store(false, Ordering::Release);
        self.tell();
    }

    /// Moves up to `max` frames, oldest first, into `out`. Returns whether
    /// frames are left; if so, the listener is told again (once), so that a
    /// consumer taking a few at a time lets its other work in between.
    pub fn take(&self, max: usize, out: &mut Vec<AudioFrame>) -> bool {
        // Cleared first: a frame pushed from here on tells the listener anew.
        self.told.store(false, Ordering::Release);
        let left = {
            let mut q = self.lock();
            let n = q.len().min(max);
            out.extend(q.drain(..n));
            !q.is_empty()
        };
        if !out.is_empty() {
            self.notify_space.notify_one();
        }
        if left {
            self.tell();
        }
        left
    }

    /// Stop accepting frames and wake every producer waiting for room.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify_space.notify_waiters();
        *self.listener.lock() = None;
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frames dropped because the queue was full (or closed).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn pushed(&self) -> u64 {
        self.pushed.load(Ordering::Relaxed)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn frame(v: f32) -> AudioFrame {
        AudioFrame::new(16_000, vec![v; 4])
    }

    fn take_one(q: &FrameQueue) -> Option<f32> {
        let mut out = Vec::new();
        q.take(1, &mut out);
        out.first().map(|f| f.samples[0])
    }

    #[tokio::test]
    async fn live_push_drops_oldest_when_full() {
        let q = FrameQueue::new(2);
        q.push(frame(1.0));
        q.push(frame(2.0));
        q.push(frame(3.0));
        assert_eq!(q.dropped(), 1);
        assert_eq!(take_one(&q), Some(2.0));
        assert_eq!(take_one(&q), Some(3.0));
        assert_eq!(take_one(&q), None);
    }

    #[tokio::test]
    async fn push_wait_waits_for_room() {
        let q = Arc::new(FrameQueue::new(1));
        assert!(q.push_wait(frame(1.0)).await);
        let q2 = q.clone();
        let h = tokio::spawn(async move { q2.push_wait(frame(2.0)).await });
        tokio::task::yield_now().await;
        assert!(!h.is_finished());
        assert_eq!(take_one(&q), Some(1.0));
        assert!(h.await.unwrap());
        assert_eq!(take_one(&q), Some(2.0));
        assert_eq!(q.dropped(), 0);
    }

    /// Listens on `q`, counting how often it is told.
    fn count_tells(q: &FrameQueue) -> Arc<AtomicU64> {
        let told = Arc::new(AtomicU64::new(0));
        let t = told.clone();
        q.listen(Box::new(move || {
            t.fetch_add(1, Ordering::Relaxed);
        }));
        told
    }

    #[test]
    fn the_listener_is_told_once_until_it_takes() {
        let q = FrameQueue::new(8);
        let told = count_tells(&q);
        // Told on listening (frames may be waiting), not again until it takes.
        assert_eq!(told.load(Ordering::Relaxed), 1);
        q.push(frame(1.0));
        q.push(frame(2.0));
        assert_eq!(told.load(Ordering::Relaxed), 1);
        let mut out = Vec::new();
        // Takes one of two: told again for the one left.
        assert!(q.take(1, &mut out));
        assert_eq!(told.load(Ordering::Relaxed), 2);
        assert!(!q.take(8, &mut out));
        assert_eq!(
            out.iter().map(|f| f.samples[0]).collect::<Vec<_>>(),
            [1.0, 2.0]
        );
        q.push(frame(3.0));
        assert_eq!(told.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_closed_queue_takes_no_frame_and_tells_no_one() {
        let q = FrameQueue::new(4);
        let told = count_tells(&q);
        let mut out = Vec::new();
        q.take(4, &mut out);
        q.close();
        q.push(frame(1.0));
        assert_eq!(q.dropped(), 1);
        assert!(!q.take(4, &mut out) && out.is_empty());
        assert_eq!(told.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn duration_and_rms() {
        let f = AudioFrame::new(16_000, vec![0.5; 320]);
        assert_eq!(f.duration_ms(), 20);
        assert!((f.rms() - 0.5).abs() < 1e-6);
        assert_eq!(AudioFrame::new(0, vec![]).duration_ms(), 0);
    }
}
