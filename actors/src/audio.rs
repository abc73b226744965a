//! Audio frames and the bounded frame queue between a transport and the Stt actor.
//!
//! ractor mailboxes are unbounded, so audio never goes through one unchecked:
//! transports push into a [`FrameQueue`] (bounded; a live source drops the oldest
//! frame and counts it, a file source waits for room), and the Stt actor pulls
//! from it with a small number of credits in flight.

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

/// A bounded FIFO of audio frames shared by one producer (a transport) and one
/// consumer (the Stt actor's pump).
#[derive(Debug)]
pub struct FrameQueue {
    frames: Mutex<VecDeque<AudioFrame>>,
    capacity: usize,
    notify_data: Notify,
    notify_space: Notify,
    dropped: AtomicU64,
    pushed: AtomicU64,
    closed: AtomicBool,
}

impl FrameQueue {
    pub fn new(capacity: usize) -> Self {
        Self {
            // Grown as frames wait, not reserved: a queue that keeps up holds one
            // or two, and a node has one a session.
            frames: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            notify_data: Notify::new(),
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
        self.notify_data.notify_one();
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
                    self.notify_data.notify_one();
                    return true;
                }
            }
            space.await;
        }
    }

    /// The next frame, waiting until one arrives; `None` once closed and empty.
    pub async fn pop(&self) -> Option<AudioFrame> {
        loop {
            let data = self.notify_data.notified();
            {
                let mut q = self.lock();
                if let Some(f) = q.pop_front() {
                    drop(q);
                    self.notify_space.notify_one();
                    return Some(f);
                }
                if self.closed.load(Ordering::Acquire) {
                    return None;
                }
            }
            data.await;
        }
    }

    /// Stop accepting frames and wake every waiter.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify_data.notify_waiters();
        self.notify_space.notify_waiters();
        // notify_one stores a permit for a pop that has not registered yet.
        self.notify_data.notify_one();
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

    #[tokio::test]
    async fn live_push_drops_oldest_when_full() {
        let q = FrameQueue::new(2);
        q.push(frame(1.0));
        q.push(frame(2.0));
        q.push(frame(3.0));
        assert_eq!(q.dropped(), 1);
        assert_eq!(q.pop().await.unwrap().samples[0], 2.0);
        assert_eq!(q.pop().await.unwrap().samples[0], 3.0);
    }

    #[tokio::test]
    async fn push_wait_waits_for_room() {
        let q = Arc::new(FrameQueue::new(1));
        assert!(q.push_wait(frame(1.0)).await);
        let q2 = q.clone();
        let h = tokio::spawn(async move { q2.push_wait(frame(2.0)).await });
        tokio::task::yield_now().await;
        assert!(!h.is_finished());
        assert_eq!(q.pop().await.unwrap().samples[0], 1.0);
        assert!(h.await.unwrap());
        assert_eq!(q.pop().await.unwrap().samples[0], 2.0);
        assert_eq!(q.dropped(), 0);
    }

    #[tokio::test]
    async fn close_ends_pop() {
        let q = Arc::new(FrameQueue::new(4));
        let q2 = q.clone();
        let h = tokio::spawn(async move { q2.pop().await });
        tokio::task::yield_now().await;
        q.close();
        assert!(h.await.unwrap().is_none());
        q.push(frame(1.0));
        assert_eq!(q.dropped(), 1);
    }

    #[test]
    fn duration_and_rms() {
        let f = AudioFrame::new(16_000, vec![0.5; 320]);
        assert_eq!(f.duration_ms(), 20);
        assert!((f.rms() - 0.5).abs() < 1e-6);
        assert_eq!(AudioFrame::new(0, vec![]).duration_ms(), 0);
    }
}
