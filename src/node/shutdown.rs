//! The node's shutdown: one root [`CancellationToken`] and one [`TaskTracker`]
//! per [`Stage`]. Background tasks are spawned into their stage; shutdown
//! stops the stages one by one, in the order `app` states, so that nothing
//! emitted before the end is lost (sessions drain before the heartbeat stops,
//! the fan-out ends before the mirrors flush, HTTP answers "draining" to the
//! last moment).

use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The groups of background tasks, in the order they are stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Work coming from the cluster: the dispatch taker, the LiveKit agent worker.
    Intake,
    /// Heartbeats: stopped after the sessions drained.
    Heartbeat,
    /// The fan-out of the event sink to the mirrors and observers.
    Events,
    /// Observers of the event stream (metrics): they end when the fan-out does.
    Observers,
    /// The HTTP server.
    Http,
}

impl Stage {
    const ALL: [Stage; 5] = [
        Stage::Intake,
        Stage::Heartbeat,
        Stage::Events,
        Stage::Observers,
        Stage::Http,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Stop signals and task trackers of the node's background tasks.
#[derive(Debug)]
pub(crate) struct Shutdown {
    root: CancellationToken,
    stages: Vec<(CancellationToken, TaskTracker)>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub(crate) fn new() -> Self {
        let root = CancellationToken::new();
        let stages = Stage::ALL
            .iter()
            .map(|_| (root.child_token(), TaskTracker::new()))
            .collect();
        Self { root, stages }
    }

    /// The stop signal of a stage's tasks (cancelled by [`Shutdown::stop`]
    /// of that stage, or by [`Shutdown::abort`]).
    pub(crate) fn token(&self, stage: Stage) -> CancellationToken {
        self.stages[stage.index()].0.clone()
    }

    /// Run `task` in `stage`: [`Shutdown::stop`] of that stage waits for it.
    pub(crate) fn spawn<F>(&self, stage: Stage, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.stages[stage.index()].1.spawn(task);
    }

    /// Track in `stage` a task spawned elsewhere (by its join handle).
    pub(crate) fn track(&self, stage: Stage, handle: tokio::task::JoinHandle<()>) {
        self.spawn(stage, async move {
            if let Err(e) = handle.await {
                tracing::error!(?stage, error = %e, "background task failed");
            }
        });
    }

    /// Signal the tasks of `stage` and wait up to `within` for them to end.
    /// Returns false when some were still running at the deadline.
    pub(crate) async fn stop(&self, stage: Stage, within: Duration) -> bool {
        let (token, tracker) = &self.stages[stage.index()];
        token.cancel();
        tracker.close();
        tokio::time::timeout(within, tracker.wait()).await.is_ok()
    }

    /// Wait up to `within` for the tasks of `stage` to end by themselves
    /// (their input closed), without signalling them.
    pub(crate) async fn join(&self, stage: Stage, within: Duration) -> bool {
        let tracker = &self.stages[stage.index()].1;
        tracker.close();
        tokio::time::timeout(within, tracker.wait()).await.is_ok()
    }

    /// Signal every stage at once (a start-up that failed half way).
    pub(crate) fn abort(&self) {
        self.root.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn stages_stop_one_at_a_time() {
        let sd = Shutdown::new();
        let ended = Arc::new(AtomicUsize::new(0));
        for stage in [Stage::Intake, Stage::Http] {
            let token = sd.token(stage);
            let ended = ended.clone();
            sd.spawn(stage, async move {
                token.cancelled().await;
                ended.fetch_add(1, Ordering::SeqCst);
            });
        }
        assert!(sd.stop(Stage::Intake, Duration::from_secs(1)).await);
        assert_eq!(ended.load(Ordering::SeqCst), 1, "only the intake stopped");
        assert!(!sd.token(Stage::Http).is_cancelled());
        assert!(sd.stop(Stage::Http, Duration::from_secs(1)).await);
        assert_eq!(ended.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_ignores_the_signal_is_reported() {
        let sd = Shutdown::new();
        sd.spawn(Stage::Heartbeat, async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        assert!(!sd.stop(Stage::Heartbeat, Duration::from_secs(1)).await);
    }

    #[tokio::test]
    async fn join_waits_without_signalling() {
        let sd = Shutdown::new();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        let token = sd.token(Stage::Observers);
        sd.spawn(Stage::Observers, async move {
            while rx.recv().await.is_some() {}
        });
        drop(tx);
        assert!(sd.join(Stage::Observers, Duration::from_secs(1)).await);
        assert!(!token.is_cancelled(), "join does not signal");
    }

    #[tokio::test]
    async fn abort_signals_every_stage() {
        let sd = Shutdown::new();
        sd.abort();
        for stage in Stage::ALL {
            assert!(sd.token(stage).is_cancelled());
        }
    }
}
