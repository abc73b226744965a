//! What an idle actor costs in memory: a conversation is six of them, a node
//! runs thousands of conversations.
//!
//! ractor 0.15.13 gave every actor two unbounded tokio channels, and tokio
//! allocates a channel's first block of 32 slots up front: for the
//! supervision port, which most actors never receive on, ~2.5 KiB an actor.
//! Our patch (`patches/ractor-0.15.13-lazy-supervision-port.patch`) moves
//! that port to a channel that allocates per message. This test counts what
//! spawned, idle actors hold and fails without the patch.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// The system allocator, counting the bytes live.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call goes to the system allocator as it came; only a counter
// is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// An actor that only waits.
struct Idle;

impl Actor for Idle {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(())
    }
}

const ACTORS: isize = 500;

#[tokio::test(flavor = "current_thread")]
async fn an_idle_actor_holds_no_supervision_channel_block() {
    // The runtime's and ractor's own first-use allocations, out of the count.
    let (warm, handle) = Actor::spawn(None, Idle, ()).await.expect("spawn");
    warm.stop(None);
    handle.await.expect("stopped");

    let before = LIVE.load(Ordering::Relaxed);
    let mut actors = Vec::with_capacity(ACTORS as usize);
    for _ in 0..ACTORS {
        actors.push(Actor::spawn(None, Idle, ()).await.expect("spawn"));
    }
    // Every actor is in its loop, waiting for a message.
    tokio::task::yield_now().await;
    let per_actor = (LIVE.load(Ordering::Relaxed) - before) / ACTORS;
    println!("an idle actor holds {per_actor} bytes");
    for (actor, _) in &actors {
        actor.stop(None);
    }
    for (_, handle) in actors {
        handle.await.expect("stopped");
    }
    // Unpatched: ~6.6 KB (the supervision port's block and channel alone are
    // ~2.6 KB of it).
    assert!(
        per_actor < 5_000,
        "an idle actor holds {per_actor} bytes: is ractor's patch applied (Cargo.toml [patch.crates-io])?"
    );
}
