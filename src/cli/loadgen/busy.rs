//! How busy the node and the machine were while every caller was in its
//! call: from the moment the last caller started talking (the stagger
//! window's end) to the moment the first one hung up. The whole run's
//! average also holds the ramp (callers still starting) and the tail
//! (callers gone), where the node has less to do: at 10,000 sessions it
//! read ~1.5 of 2 cores while the node was ~95 % busy with every caller in
//! (`perf sched` over that window, BENCHMARKS.md), which is what the tail
//! latency answers to.

use crate::ops::procinfo::{self, MachineCpu};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Calls hung up so far, and a wake-up at the first.
#[derive(Debug, Default)]
pub(super) struct CallsEnded {
    count: AtomicU64,
    first: Notify,
}

impl CallsEnded {
    pub(super) fn one_more(&self) {
        if self.count.fetch_add(1, Ordering::AcqRel) == 0 {
            // A permit if nobody waits yet: the window's end is not missed.
            self.first.notify_one();
        }
    }
}

/// The CPU over the window every caller was in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BusyWhileAllTalk {
    pub seconds: f64,
    /// This process's CPU time over the window's wall time.
    pub node_cores: f64,
    /// The whole machine's (the brokers share it).
    pub machine_cores: f64,
}

impl BusyWhileAllTalk {
    fn between(
        wall: Duration,
        node_seconds: (f64, f64),
        machine: (&MachineCpu, &MachineCpu),
    ) -> Option<BusyWhileAllTalk> {
        let seconds = wall.as_secs_f64();
        if seconds <= 0.0 {
            return None;
        }
        Some(BusyWhileAllTalk {
            seconds,
            node_cores: (node_seconds.1 - node_seconds.0).max(0.0) / seconds,
            machine_cores: machine.1.cores_busy_since(machine.0),
        })
    }
}

/// Waits `stagger` (from when every session exists: the last caller starts
/// talking then), then measures until the first call ends. None when a
/// call ended before every caller had started (a stagger longer than a
/// call): there was no such window.
pub(super) async fn while_all_talk(
    stagger: Duration,
    ended: &CallsEnded,
) -> Option<BusyWhileAllTalk> {
    tokio::time::sleep(stagger).await;
    let first_ended = ended.first.notified();
    if ended.count.load(Ordering::Acquire) > 0 {
        return None;
    }
    let (t0, node0, machine0) = (
        Instant::now(),
        procinfo::sample().cpu_seconds,
        procinfo::machine_cpu_seconds(),
    );
    first_ended.await;
    BusyWhileAllTalk::between(
        t0.elapsed(),
        (node0, procinfo::sample().cpu_seconds),
        (&machine0, &procinfo::machine_cpu_seconds()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_window_ends_at_the_first_call_to_hang_up() {
        let ended = std::sync::Arc::new(CallsEnded::default());
        let window = tokio::spawn({
            let ended = ended.clone();
            async move { while_all_talk(Duration::from_secs(1), &ended).await }
        });
        // Every caller in, for as long as it lasts: still measuring.
        tokio::time::sleep(Duration::from_secs(3)).await;
        tokio::task::yield_now().await;
        assert!(!window.is_finished(), "the window ended with no call over");
        ended.one_more();
        ended.one_more();
        let w = tokio::time::timeout(Duration::from_secs(1), window)
            .await
            .expect("the window ends at the first hang-up")
            .unwrap();
        assert!(w.is_some(), "a window: every caller was in for 2 s");
    }

    #[tokio::test(start_paused = true)]
    async fn no_window_when_a_call_ended_before_the_last_caller_started() {
        let ended = CallsEnded::default();
        ended.one_more();
        assert_eq!(while_all_talk(Duration::from_secs(1), &ended).await, None);
    }

    #[test]
    fn cores_are_cpu_time_over_the_window() {
        let before = MachineCpu {
            busy_seconds: 10.0,
            total_seconds: 20.0,
            cores: 2,
        };
        let after = MachineCpu {
            busy_seconds: 13.8,
            total_seconds: 24.0,
            cores: 2,
        };
        let w = BusyWhileAllTalk::between(Duration::from_secs(2), (5.0, 8.6), (&before, &after))
            .unwrap();
        assert!((w.node_cores - 1.8).abs() < 1e-9, "{w:?}");
        assert!((w.machine_cores - 1.9).abs() < 1e-9, "{w:?}");
        assert_eq!(
            BusyWhileAllTalk::between(Duration::ZERO, (0.0, 1.0), (&before, &after)),
            None
        );
    }
}
