//! What an idle actor costs in memory: a conversation is six of them, a node
//! runs thousands of conversations.
//!
//! ractor 0.15.13 gave every actor four input ports at spawn: two oneshots
//! (signal, stop) and two unbounded tokio channels (supervision events,
//! messages), each tokio channel ~0.5 KiB with its first block of 32 slots
//! allocated up front, and a four-way `select!` over them held in the
//! actor's task; ~6.6 KiB an idle actor
//! (`patches/ractor-0.15.13-unified-mailbox.patch` makes them one mailbox
//! that allocates nothing until something comes). ractor boxed each turn of
//! an actor's loop, the wait for the next message included: a waiting actor
//! held a box the size of its handler's future
//! (`patches/ractor-0.15.13-unboxed-wait.patch` boxes only the handling).
//! And each queued message held a tracing span inline that is always empty
//! without ractor's span propagation
//! (`patches/ractor-0.15.13-small-message-slot.patch` boxes it). These tests
//! count what spawned actors hold, waiting, and fail without the patches,
//! and check that the mailbox behaves as the channel it replaced did: every
//! message, in each sender's order, and an actor with a backlog yields its
//! thread now and then.

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

/// An actor whose handling of a message holds `BYTES` across an await: what
/// a handler that awaits with a big local costs while it runs. `Holding<0>`
/// is an actor that only waits.
struct Holding<const BYTES: usize>;

impl<const BYTES: usize> Actor for Holding<BYTES> {
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

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        _msg: (),
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let buf = [1u8; BYTES];
        tokio::task::yield_now().await;
        std::hint::black_box(&buf);
        Ok(())
    }
}

const ACTORS: isize = 500;

/// One measurement at a time: the counter is the whole process's.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The bytes each of [`ACTORS`] spawned actors holds once all of them wait
/// for a message.
async fn idle_bytes_per_actor<A>(actor: impl Fn() -> A) -> isize
where
    A: Actor<Msg = (), Arguments = ()>,
{
    bytes_per_actor(actor, 0).await
}

/// The bytes each of [`ACTORS`] spawned actors holds once each has handled
/// `messages` messages and waits for the next.
async fn bytes_per_actor<A>(actor: impl Fn() -> A, messages: usize) -> isize
where
    A: Actor<Msg = (), Arguments = ()>,
{
    let _one = SERIAL.lock().await;
    // The runtime's and ractor's own first-use allocations, out of the count.
    let (warm, handle) = Actor::spawn(None, actor(), ()).await.expect("spawn");
    warm.stop(None);
    handle.await.expect("stopped");

    let before = LIVE.load(Ordering::Relaxed);
    let mut actors = Vec::with_capacity(ACTORS as usize);
    for _ in 0..ACTORS {
        actors.push(Actor::spawn(None, actor(), ()).await.expect("spawn"));
    }
    for (actor, _) in &actors {
        for _ in 0..messages {
            actor.cast(()).expect("cast");
        }
    }
    // Every actor in its loop, waiting for a message: a yield lets the
    // runtime run only so many of the tasks spawned.
    for _ in 0..20 + 4 * messages {
        tokio::task::yield_now().await;
    }
    let per_actor = (LIVE.load(Ordering::Relaxed) - before) / ACTORS;
    for (actor, _) in &actors {
        actor.stop(None);
    }
    for (_, handle) in actors {
        handle.await.expect("stopped");
    }
    per_actor
}

/// What an idle actor holds, against each ractor patch that made it smaller
/// (the first assertion that fails names the patch that is missing).
#[tokio::test(flavor = "current_thread")]
async fn an_idle_actor_holds_no_channel_blocks() {
    let per_actor = idle_bytes_per_actor(|| Holding::<0>).await;
    println!("an idle actor holds {per_actor} bytes");
    // Unpatched: ~6.6 KB, four ports (two of them tokio channels with their
    // first 32 slots) and the task's select! over them; 2,919 with a lazy
    // supervision channel and the span boxed, 1,439 with a ring for
    // messages, 999 with one mailbox.
    assert!(
        per_actor < 1_200,
        "an idle actor holds {per_actor} bytes: is patches/ractor-0.15.13-unified-mailbox.patch applied (Cargo.toml [patch.crates-io])?"
    );
}

/// What an actor that has handled a message keeps: its mailbox's ring of a
/// few slots, each a queued message, with no inline tracing span.
#[tokio::test(flavor = "current_thread")]
async fn a_queued_message_holds_no_inline_span() {
    let idle = idle_bytes_per_actor(|| Holding::<0>).await;
    let used = bytes_per_actor(|| Holding::<0>, 1).await;
    println!("an idle actor holds {idle} bytes; one that has handled a message, {used}");
    // The ring keeps the 4 slots of its first message: 4 x 32 bytes with the
    // span boxed, 4 x 64 with it inline.
    assert!(
        used - idle < 192,
        "an actor that has handled a message holds {used} bytes, an idle one {idle}: \
         is patches/ractor-0.15.13-small-message-slot.patch applied?"
    );
}

/// The message port under traffic: many senders at once, each one's
/// messages in its order, none lost, and the actor answers after a burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_port_delivers_every_message_in_each_senders_order() {
    use ractor::RpcReplyPort;
    use std::collections::HashMap;

    enum Msg {
        Item { sender: u32, seq: u32 },
        Report(RpcReplyPort<(u64, bool)>),
    }
    /// Counts what arrives and whether each sender's came in order.
    struct Counter;
    impl Actor for Counter {
        type Msg = Msg;
        type State = (u64, bool, HashMap<u32, u32>);
        type Arguments = ();
        async fn pre_start(
            &self,
            _myself: ActorRef<Msg>,
            _args: (),
        ) -> Result<Self::State, ActorProcessingErr> {
            Ok((0, true, HashMap::new()))
        }
        async fn handle(
            &self,
            _myself: ActorRef<Msg>,
            msg: Msg,
            state: &mut Self::State,
        ) -> Result<(), ActorProcessingErr> {
            match msg {
                Msg::Item { sender, seq } => {
                    state.0 += 1;
                    let next = state.2.entry(sender).or_insert(0);
                    state.1 &= *next == seq;
                    *next = seq + 1;
                }
                Msg::Report(reply) => {
                    let _ = reply.send((state.0, state.1));
                }
            }
            Ok(())
        }
    }

    let _one = SERIAL.lock().await;
    let (actor, handle) = Actor::spawn(None, Counter, ()).await.expect("spawn");
    let senders: Vec<_> = (0..8u32)
        .map(|sender| {
            let actor = actor.clone();
            tokio::spawn(async move {
                for seq in 0..5_000u32 {
                    actor.cast(Msg::Item { sender, seq }).expect("cast");
                    if seq % 500 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.await.expect("sender");
    }
    let (count, in_order) = ractor::call!(actor, Msg::Report).expect("report");
    assert_eq!(count, 40_000);
    assert!(in_order, "a sender's messages came out of order");
    actor.stop(None);
    handle.await.expect("stopped");
}

#[tokio::test(flavor = "current_thread")]
async fn a_waiting_actor_holds_no_box_of_its_handlers_future() {
    let idle = idle_bytes_per_actor(|| Holding::<0>).await;
    let big = idle_bytes_per_actor(|| Holding::<8192>).await;
    println!("a waiting actor holds {idle} bytes; one whose handler holds 8 KiB, {big}");
    // Unpatched (ractor boxed the wait together with the handling): 20,787
    // bytes against 4,391 (a debug build, whose futures hold their locals
    // twice), for as long as the actor waits; patched, 1,037 against 999.
    assert!(
        big - idle < 1_024,
        "a waiting actor whose handler holds 8 KiB across an await holds {big} bytes, an idle one {idle}: \
         is patches/ractor-0.15.13-unboxed-wait.patch applied?"
    );
}

/// An actor with a backlog of messages spends the task's scheduling budget
/// as it takes them (as tokio's channel did): other tasks on its thread run
/// before the backlog is drained.
#[tokio::test(flavor = "current_thread")]
async fn an_actor_with_a_backlog_lets_other_tasks_run() {
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    /// Counts the messages it handled.
    struct Tally;
    impl Actor for Tally {
        type Msg = ();
        type State = Arc<AtomicU64>;
        type Arguments = Arc<AtomicU64>;
        async fn pre_start(
            &self,
            _myself: ActorRef<()>,
            handled: Arc<AtomicU64>,
        ) -> Result<Self::State, ActorProcessingErr> {
            Ok(handled)
        }
        async fn handle(
            &self,
            _myself: ActorRef<()>,
            _msg: (),
            handled: &mut Arc<AtomicU64>,
        ) -> Result<(), ActorProcessingErr> {
            handled.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    const BACKLOG: u64 = 10_000;
    let _one = SERIAL.lock().await;
    let handled = Arc::new(AtomicU64::new(0));
    let (actor, handle) = Actor::spawn(None, Tally, handled.clone())
        .await
        .expect("spawn");
    for _ in 0..BACKLOG {
        actor.cast(()).expect("cast");
    }
    // Queued behind the actor's task: runs when the actor yields its thread.
    let seen = Arc::new(AtomicU64::new(u64::MAX));
    let other = {
        let (handled, seen) = (handled.clone(), seen.clone());
        tokio::spawn(async move { seen.store(handled.load(Ordering::SeqCst), Ordering::SeqCst) })
    };
    other.await.expect("the other task");
    while handled.load(Ordering::SeqCst) < BACKLOG {
        tokio::task::yield_now().await;
    }
    let at = seen.load(Ordering::SeqCst);
    println!("the other task ran after {at} of {BACKLOG} messages");
    assert!(
        at < BACKLOG,
        "the actor held its thread until its backlog of {BACKLOG} was drained: \
         does patches/ractor-0.15.13-unified-mailbox.patch spend the scheduling budget?"
    );
    actor.stop(None);
    handle.await.expect("stopped");
}
