//! The bounded blocking pool every model runs on.
//!
//! Inference (whisper decoding, piper synthesis, Silero windows) is CPU-bound
//! and blocking, so it never runs on an actor's task or a runtime worker. It
//! goes through [`InferencePool::run`]: at most `threads` jobs run at once on
//! tokio's blocking threads, the rest wait in line (counted, with their wait
//! time), so a burst of sessions queues instead of oversubscribing the cores.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// Why a job did not run to completion.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PoolError {
    #[error("inference pool is shut down")]
    Closed,
    /// The job panicked; the pool and the other jobs go on.
    #[error("inference job panicked: {0}")]
    Panicked(String),
}

/// A snapshot of the pool for metrics (`arc_inference_pool_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PoolStats {
    /// Jobs waiting for a thread right now.
    pub queued: usize,
    /// Jobs running right now.
    pub running: usize,
    /// Jobs finished since start.
    pub completed: u64,
    /// Sum of the time jobs waited for a thread, in microseconds.
    pub wait_us_total: u64,
}

/// A bounded pool of blocking threads for inference, shared by every engine.
#[derive(Debug)]
pub struct InferencePool {
    permits: Arc<Semaphore>,
    threads: usize,
    queued: AtomicUsize,
    running: AtomicUsize,
    completed: AtomicU64,
    wait_us_total: AtomicU64,
}

impl InferencePool {
    /// A pool running at most `threads` jobs at once (at least 1).
    pub fn new(threads: usize) -> Arc<Self> {
        let threads = threads.max(1);
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(threads)),
            threads,
            queued: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            completed: AtomicU64::new(0),
            wait_us_total: AtomicU64::new(0),
        })
    }

    /// A pool sized to the machine: one job per available core.
    pub fn per_core() -> Arc<Self> {
        Self::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            queued: self.queued.load(Ordering::Relaxed),
            running: self.running.load(Ordering::Relaxed),
            completed: self.completed.load(Ordering::Relaxed),
            wait_us_total: self.wait_us_total.load(Ordering::Relaxed),
        }
    }

    /// Runs `job` on a blocking thread once one of the pool's slots is free.
    ///
    /// Dropping the returned future while it waits gives the slot up; once the
    /// job started it runs to its end (blocking code cannot be interrupted),
    /// so long jobs should check a cancellation flag themselves.
    pub async fn run<T, F>(&self, job: F) -> Result<T, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let queued_at = Instant::now();
        self.queued.fetch_add(1, Ordering::Relaxed);
        let permit = self.permits.clone().acquire_owned().await;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        let permit = permit.map_err(|_| PoolError::Closed)?;
        let waited = queued_at.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
        self.wait_us_total.fetch_add(waited, Ordering::Relaxed);
        // Counted down when the job ends, even if this future is dropped
        // while it runs (the job itself always runs to its end).
        let running = RunningGuard::new(self);
        let result = tokio::task::spawn_blocking(move || {
            let out = job();
            drop(permit);
            out
        })
        .await;
        drop(running);
        result.map_err(|e| {
            let msg = if e.is_panic() {
                let p = e.into_panic();
                p.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into())
            } else {
                "job cancelled".into()
            };
            PoolError::Panicked(msg)
        })
    }
}

/// Keeps `running` and `completed` right however the waiting future ends.
struct RunningGuard<'a>(&'a InferencePool);

impl<'a> RunningGuard<'a> {
    fn new(pool: &'a InferencePool) -> Self {
        pool.running.fetch_add(1, Ordering::Relaxed);
        Self(pool)
    }
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
        self.0.completed.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_runs_more_than_its_threads() {
        let pool = InferencePool::new(2);
        let live = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs = (0..8).map(|_| {
            let (live, peak, pool) = (live.clone(), peak.clone(), pool.clone());
            async move {
                pool.run(move || {
                    let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    live.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }
        });
        for r in futures_join(jobs).await {
            r.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        let stats = pool.stats();
        assert_eq!(stats.completed, 8);
        assert_eq!(stats.queued, 0);
        assert!(stats.wait_us_total > 0, "later jobs must have waited");
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_pool_goes_on() {
        let pool = InferencePool::new(1);
        let err = pool.run(|| panic!("boom")).await.unwrap_err();
        assert_eq!(err, PoolError::Panicked("boom".into()));
        assert_eq!(pool.run(|| 41 + 1).await.unwrap(), 42);
    }

    async fn futures_join<F>(fs: impl Iterator<Item = F>) -> Vec<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = fs.map(tokio::spawn).collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    }
}
