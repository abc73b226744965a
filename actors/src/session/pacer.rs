//! The node's playout pacer: one task wakes each speaking session's Playout
//! when its next frame is due. A Playout releases one 20 ms frame per frame
//! duration; with ractor's `send_after` that was a task spawned, a timer set
//! and both freed for every frame of every speaking agent (~200,000 a second
//! at 10,000 sessions, the timer wheel and task churn in the node's profile).
//! Here a Playout puts its address in the millisecond slot its frame is due
//! in, and the pacer's one timer releases the slots as they come due.
//!
//! A tick is never early: a frame due at 12.3 ms goes in the slot released at
//! 13 ms (as tokio's own timers round up). One further than the wheel
//! reaches is released at its end, and the Playout asks again.
//!
//! The node starts the pacer with its runtime; if its task is gone (the
//! runtime shutting down), a Playout falls back to `send_after`.

use super::messages::PlayoutMsg;
use parking_lot::Mutex;
use ractor::ActorRef;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Slots of one millisecond: 128 ms ahead (a frame is 20 ms).
const SLOTS: u64 = 128;
const SLOT: Duration = Duration::from_millis(1);

/// A cheap, cloneable handle on the node's pacer.
#[derive(Clone)]
pub(crate) struct Pacer {
    inner: Arc<Inner>,
}

struct Inner {
    /// Slot `n` is released at `epoch + n` ms.
    epoch: Instant,
    wheel: Mutex<Wheel>,
    /// A tick was asked for before the slot the pacer sleeps until.
    wake: Notify,
    /// The pacer's task is gone: ticks fall back to `send_after`.
    stopped: AtomicBool,
}

struct Wheel {
    slots: Vec<Vec<ActorRef<PlayoutMsg>>>,
    /// The first slot not yet released.
    next: u64,
    /// The slot the pacer sleeps until (`u64::MAX`: it waits for a tick).
    sleeping_until: u64,
    waiting: usize,
}

impl Pacer {
    /// Starts the pacer on the current runtime; it runs until the returned
    /// handle is aborted (the node stops).
    pub(crate) fn start() -> (Pacer, tokio::task::JoinHandle<()>) {
        let pacer = Pacer {
            inner: Arc::new(Inner {
                epoch: Instant::now(),
                wheel: Mutex::new(Wheel {
                    slots: (0..SLOTS).map(|_| Vec::new()).collect(),
                    next: 0,
                    sleeping_until: u64::MAX,
                    waiting: 0,
                }),
                wake: Notify::new(),
                stopped: AtomicBool::new(false),
            }),
        };
        let inner = pacer.inner.clone();
        let task = tokio::spawn(async move {
            let _stopped = StopGuard(inner.clone());
            inner.run().await;
        });
        (pacer, task)
    }

    /// Sends `actor` a [`PlayoutMsg::Tick`] at `due` (within a millisecond
    /// after it).
    pub(crate) fn tick_at(&self, due: Instant, actor: &ActorRef<PlayoutMsg>) {
        let inner = &*self.inner;
        if inner.stopped.load(Ordering::Acquire) {
            actor.send_after(due.saturating_duration_since(Instant::now()), || {
                PlayoutMsg::Tick
            });
            return;
        }
        let since = due.saturating_duration_since(inner.epoch);
        // Rounded up: never early.
        let slot = since.as_nanos().div_ceil(SLOT.as_nanos()) as u64;
        let wake = {
            let mut w = inner.wheel.lock();
            if w.waiting == 0 {
                // After an idle spell: the slots up to now are empty, start
                // from now (else every slot since is walked, 128 ms a tick).
                let now = inner.epoch.elapsed().as_millis() as u64;
                w.next = w.next.max(now);
            }
            let slot = slot.clamp(w.next, w.next + SLOTS - 1);
            w.slots[(slot % SLOTS) as usize].push(actor.clone());
            w.waiting += 1;
            slot < w.sleeping_until
        };
        if wake {
            inner.wake.notify_one();
        }
    }
}

impl Inner {
    async fn run(&self) {
        let mut due = Vec::new();
        loop {
            let until = {
                let mut w = self.wheel.lock();
                w.sleeping_until = w.first_waiting();
                w.sleeping_until
            };
            if until == u64::MAX {
                self.wake.notified().await;
                continue;
            }
            let at = self.epoch + Duration::from_millis(until);
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                // An earlier tick was asked for: look again.
                _ = self.wake.notified() => continue,
            }
            let now = self.epoch.elapsed().as_millis() as u64;
            self.wheel.lock().release(now, &mut due);
            for actor in due.drain(..) {
                // A Playout that stopped meanwhile has nothing to play.
                let _ = actor.cast(PlayoutMsg::Tick);
            }
        }
    }
}

impl Wheel {
    /// The first slot with a Playout waiting (`u64::MAX`: none).
    fn first_waiting(&self) -> u64 {
        if self.waiting == 0 {
            return u64::MAX;
        }
        (self.next..self.next + SLOTS)
            .find(|s| !self.slots[(s % SLOTS) as usize].is_empty())
            .unwrap_or(u64::MAX)
    }

    /// Moves the Playouts of every slot up to `now` into `due`.
    fn release(&mut self, now: u64, due: &mut Vec<ActorRef<PlayoutMsg>>) {
        let upto = now.min(self.next + SLOTS - 1);
        for s in self.next..=upto {
            let slot = &mut self.slots[(s % SLOTS) as usize];
            self.waiting -= slot.len();
            due.append(slot);
        }
        self.next = self.next.max(upto + 1);
        if self.waiting == 0 {
            self.next = self.next.max(now + 1);
        }
    }
}

/// Marks the pacer stopped when its task ends (aborted, or its runtime gone).
struct StopGuard(Arc<Inner>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::Release);
        // Whoever waits in a slot now would wait forever: tick them all.
        let mut due = Vec::new();
        {
            let mut w = self.0.wheel.lock();
            let last = w.next + SLOTS - 1;
            w.release(last, &mut due);
        }
        for actor in due {
            let _ = actor.cast(PlayoutMsg::Tick);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::{Actor, ActorProcessingErr};

    /// Records when each tick came, in ms since it started.
    struct Ear;

    impl Actor for Ear {
        type Msg = PlayoutMsg;
        type State = (Instant, Arc<Mutex<Vec<f64>>>);
        type Arguments = Arc<Mutex<Vec<f64>>>;

        async fn pre_start(
            &self,
            _: ActorRef<PlayoutMsg>,
            heard: Self::Arguments,
        ) -> Result<Self::State, ActorProcessingErr> {
            Ok((Instant::now(), heard))
        }

        async fn handle(
            &self,
            _: ActorRef<PlayoutMsg>,
            msg: PlayoutMsg,
            (t0, heard): &mut Self::State,
        ) -> Result<(), ActorProcessingErr> {
            if let PlayoutMsg::Tick = msg {
                heard.lock().push(t0.elapsed().as_secs_f64() * 1000.0);
            }
            Ok(())
        }
    }

    async fn ear() -> (ActorRef<PlayoutMsg>, Arc<Mutex<Vec<f64>>>) {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let (a, _) = Actor::spawn(None, Ear, heard.clone()).await.expect("spawn");
        (a, heard)
    }

    /// One tick asked `due` from now; the ticks heard `wait` from now
    /// (ms after the ask).
    async fn ticks_heard(pacer: &Pacer, due: Duration, wait: Duration) -> Vec<f64> {
        let (a, heard) = ear().await;
        pacer.tick_at(Instant::now() + due, &a);
        tokio::time::sleep(wait).await;
        let heard = heard.lock().clone();
        heard
    }

    #[tokio::test(start_paused = true)]
    async fn each_tick_comes_once_within_a_millisecond_after_it_is_due() {
        let (pacer, task) = Pacer::start();
        let mut ears = Vec::new();
        // Asked for out of order, the latest first: the earlier ones wake
        // the pacer, which slept until the later.
        for due_ms in [50.0, 12.3, 0.0, 20.0, 20.4] {
            let (a, heard) = ear().await;
            pacer.tick_at(
                Instant::now() + Duration::from_secs_f64(due_ms / 1000.0),
                &a,
            );
            ears.push((due_ms, heard));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        for (due_ms, heard) in ears {
            let heard = heard.lock().clone();
            assert_eq!(heard.len(), 1, "due at {due_ms} ms: ticks at {heard:?}");
            assert!(
                heard[0] >= due_ms && heard[0] <= due_ms + 1.0,
                "due at {due_ms} ms, came at {} ms",
                heard[0]
            );
        }
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_tick_further_than_the_wheel_comes_at_its_end() {
        let (pacer, task) = Pacer::start();
        let heard = ticks_heard(&pacer, Duration::from_secs(1), Duration::from_secs(2)).await;
        // Early by design: the Playout finds its frame not due yet and asks again.
        assert_eq!(heard.len(), 1, "{heard:?}");
        assert!(heard[0] <= (SLOTS + 1) as f64, "{heard:?}");
        task.abort();
    }

    /// After a long idle spell the wheel starts from now: the next tick is
    /// not released early (over and over, 128 ms at a time, as it was).
    #[tokio::test(start_paused = true)]
    async fn after_an_idle_hour_a_tick_comes_when_due() {
        let (pacer, task) = Pacer::start();
        let idle = Duration::from_secs(3600);
        assert_eq!(
            ticks_heard(&pacer, Duration::from_millis(10), idle)
                .await
                .len(),
            1
        );
        let heard = ticks_heard(
            &pacer,
            Duration::from_millis(20),
            Duration::from_millis(100),
        )
        .await;
        assert_eq!(heard.len(), 1, "{heard:?}");
        assert!((20.0..=21.0).contains(&heard[0]), "{heard:?}");
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn without_its_task_the_pacer_still_ticks() {
        let (pacer, task) = Pacer::start();
        let (waiting, heard_waiting) = ear().await;
        pacer.tick_at(Instant::now() + Duration::from_millis(30), &waiting);
        tokio::time::sleep(Duration::from_millis(1)).await;
        task.abort();
        let _ = task.await;
        // The one waiting was ticked as the task ended (early: it asks again).
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(heard_waiting.lock().len(), 1);
        // A new one falls back to a timer of its own.
        let heard = ticks_heard(
            &pacer,
            Duration::from_millis(30),
            Duration::from_millis(100),
        )
        .await;
        assert_eq!(heard.len(), 1);
        assert!(heard[0] >= 30.0, "{heard:?}");
    }
}
