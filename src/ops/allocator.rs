//! The node's allocator: jemalloc for Rust's allocations, and how what ended
//! sessions freed goes back to the kernel.
//!
//! glibc's malloc kept what a burst of sessions freed in its per-thread
//! arenas, resident, and `malloc_trim` walks them under their locks; at
//! 5,000 sessions a sixth of the node's CPU queued on those locks
//! (BENCHMARKS.md "The scale curve"). mimalloc was tried and not taken: a
//! thread's free pages are purged only by that thread. jemalloc's purge of
//! every arena (`arena.<MALLCTL_ARENAS_ALL>.purge`) works from any thread, so
//! the trim on a blocking thread reaches the workers' arenas.
//!
//! Each thread keeps a cache of freed objects (jemalloc's tcache: what makes
//! it fast, the 5,000-session p99 17 vs 36 ms without it), and only that
//! thread can flush it: after a burst the runtime's idle workers held ~2 MB
//! of them, and the pages they sit in, for good. So [`trim`] asks, and each
//! worker flushes its cache the next time it parks ([`on_worker_park`], the
//! runtime's park hook: [`runtime`]), before the arenas are purged.
//!
//! A node with two workers or fewer runs all its runtime's threads in one
//! arena ([`runtime`]): each arena keeps partly used pages of its own, and on
//! 2 cores the second arena cost more memory than its lock saved time.
//!
//! The binary installs it with `#[global_allocator]` (main.rs) and runs on
//! [`runtime`], as does any test that measures the node's memory; [`trim`]
//! also trims glibc, which still serves the C libraries (whisper.cpp,
//! onnxruntime, espeak-ng).

use std::cell::Cell;
use std::ffi::CStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The allocator `arc-agent` runs on.
pub type NodeAllocator = tikv_jemallocator::Jemalloc;

/// An instance for `#[global_allocator]`.
pub const NODE_ALLOCATOR: NodeAllocator = tikv_jemallocator::Jemalloc;

/// jemalloc's options, compiled in for the binary's
/// `#[export_name = "_rjem_malloc_conf"]` static (main.rs;
/// `_RJEM_MALLOC_CONF` in the environment adds to them): a background thread
/// gives pages freed for a second back (`dirty_decay_ms`) even while the node
/// is idle and no trim is due, and straight away (`muzzy_decay_ms:0`:
/// `MADV_DONTNEED`, not pages the kernel takes back only under pressure and
/// counts as resident until then).
pub const MALLOC_CONF: Option<&'static std::ffi::c_char> = Some(
    // SAFETY: the first byte of a NUL-terminated static string.
    unsafe { &*c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr() },
);

/// jemalloc's `MALLCTL_ARENAS_ALL`: a mallctl on every arena at once.
const PURGE_ALL_ARENAS: &CStr = c"arena.4096.purge";

/// The calling thread's cache of freed objects, back to the arenas.
const FLUSH_THREAD_CACHE: &CStr = c"thread.tcache.flush";

/// Bumped by [`trim`]: a worker that parks and has seen an older value
/// flushes its cache.
static FLUSH_ASKED: AtomicU64 = AtomicU64::new(0);

/// How long [`trim`] gives idle workers to park (and flush) before it purges.
const FLUSH_WAIT: Duration = Duration::from_millis(50);

thread_local! {
    static FLUSHED: Cell<u64> = const { Cell::new(0) };
}

/// A void mallctl (no old or new value).
fn void_mallctl(name: &CStr) -> i32 {
    // SAFETY: a NUL-terminated name, no values read or written; if this
    // process does not allocate with jemalloc it only initializes it.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    }
}

/// Sets the mallctl `name` to `value`; jemalloc's return code.
///
/// # Safety
/// `T` is the type jemalloc takes for `name`.
unsafe fn write_ctl<T>(name: &CStr, mut value: T) -> i32 {
    tikv_jemalloc_sys::mallctl(
        name.as_ptr(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        (&mut value as *mut T).cast(),
        std::mem::size_of::<T>(),
    )
}

/// Reads the mallctl `name` (`None` if jemalloc does not answer).
///
/// # Safety
/// `T` is the type jemalloc writes for `name`.
unsafe fn read_ctl<T: Default>(name: &CStr) -> Option<T> {
    let mut value = T::default();
    let mut len = std::mem::size_of::<T>();
    let rc = tikv_jemalloc_sys::mallctl(
        name.as_ptr(),
        (&mut value as *mut T).cast(),
        &mut len,
        std::ptr::null_mut(),
        0,
    );
    (rc == 0).then_some(value)
}

/// The runtime's park hook: flushes this worker's cache once per [`trim`].
/// An atomic load otherwise.
pub fn on_worker_park() {
    let asked = FLUSH_ASKED.load(Ordering::Relaxed);
    FLUSHED.with(|seen| {
        if seen.get() != asked {
            seen.set(asked);
            void_mallctl(FLUSH_THREAD_CACHE);
        }
    });
}

/// The node's multi-threaded runtime, its workers flushing their caches
/// when asked ([`on_worker_park`]), all its threads in one arena where it
/// has two workers or fewer (`SHARED_ARENA_UP_TO_WORKERS`); `workers`:
/// `None` = one per core.
pub fn runtime(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all().on_thread_park(on_worker_park);
    let n = worker_count(workers, std::env::var("TOKIO_WORKER_THREADS").ok());
    b.worker_threads(n);
    if n <= SHARED_ARENA_UP_TO_WORKERS {
        b.on_thread_start(join_shared_arena);
    }
    b.build()
}

/// The runtime's workers as tokio would count them: `workers`, else
/// `TOKIO_WORKER_THREADS` (`env`), else one a core the process may use.
fn worker_count(workers: Option<usize>, env: Option<String>) -> usize {
    workers
        .or_else(|| env?.trim().parse().ok().filter(|n| *n > 0))
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

/// jemalloc gives each thread an arena of its own (up to four a core), and
/// each arena keeps its own partly used pages of every size it serves: the
/// two workers of a 2-core node held ~0.7 MB that one arena does not, ~7 KB
/// a session at 100 sessions (BENCHMARKS.md "eleventh"). With one arena
/// the 10,000-session tail and the burst were no worse on 2 cores; with
/// more workers the arena's locks would be shared by more threads, so
/// above this they keep jemalloc's spread.
const SHARED_ARENA_UP_TO_WORKERS: usize = 2;

/// The arena every thread of a small node's runtime allocates from.
const SHARED_ARENA: u32 = 0;

/// The runtime's thread-start hook (small nodes): this thread allocates
/// from [`SHARED_ARENA`].
fn join_shared_arena() {
    // SAFETY: `thread.arena` takes an unsigned (u32).
    unsafe { write_ctl(c"thread.arena", SHARED_ARENA) };
}

/// Gives free memory back to the kernel: the workers' caches (as they park),
/// then jemalloc's dirty pages in every arena, then glibc's (the C
/// libraries'). Takes tens of milliseconds: call it on a blocking thread.
pub fn trim() {
    FLUSH_ASKED.fetch_add(1, Ordering::Relaxed);
    void_mallctl(FLUSH_THREAD_CACHE);
    std::thread::sleep(FLUSH_WAIT);
    void_mallctl(PURGE_ALL_ARENAS);
    glibc_trim();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn glibc_trim() {
    extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: malloc_trim has no preconditions; it only releases free memory.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_trim() {}

/// jemalloc's own figures, in bytes (`stats.*`): what the node's Rust code
/// has allocated, the pages those sit in, what is resident, and jemalloc's
/// own bookkeeping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocatorStats {
    pub allocated: usize,
    pub active: usize,
    pub resident: usize,
    pub metadata: usize,
    pub retained: usize,
}

/// The current [`AllocatorStats`] (`None` if jemalloc does not answer).
pub fn stats() -> Option<AllocatorStats> {
    // The figures are a snapshot taken when the epoch advances.
    // SAFETY: "epoch" takes a u64 as its new value.
    if unsafe { write_ctl(c"epoch", 1u64) } != 0 {
        return None;
    }
    // SAFETY: the stats.* names read a size_t.
    let read = |name: &CStr| unsafe { read_ctl::<usize>(name) };
    Some(AllocatorStats {
        allocated: read(c"stats.allocated")?,
        active: read(c"stats.active")?,
        resident: read(c"stats.resident")?,
        metadata: read(c"stats.metadata")?,
        retained: read(c"stats.retained")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arena the calling thread allocates from (`None` if jemalloc
    /// does not answer).
    fn thread_arena() -> Option<u32> {
        // SAFETY: `thread.arena` reads an unsigned (u32).
        unsafe { read_ctl(c"thread.arena") }
    }

    /// The arenas the runtime's threads allocate from: its workers' and a
    /// blocking thread's.
    fn arenas_of(rt: &tokio::runtime::Runtime, workers: usize) -> Vec<Option<u32>> {
        rt.block_on(async {
            // One task a worker: each blocks its worker until all have
            // started, so no two run on the same one.
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(workers));
            let mut tasks: Vec<_> = (0..workers)
                .map(|_| {
                    let barrier = barrier.clone();
                    tokio::spawn(async move {
                        let arena = thread_arena();
                        barrier.wait();
                        (std::thread::current().id(), arena)
                    })
                })
                .collect();
            let mut seen = std::collections::HashMap::new();
            for t in tasks.drain(..) {
                let (thread, arena) = t.await.expect("task");
                seen.insert(thread, arena);
            }
            let mut arenas: Vec<_> = seen.into_values().collect();
            arenas.push(
                tokio::task::spawn_blocking(thread_arena)
                    .await
                    .expect("blocking"),
            );
            arenas
        })
    }

    #[test]
    fn workers_are_counted_as_tokio_counts_them() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(worker_count(Some(3), Some("5".into())), 3);
        assert_eq!(worker_count(None, Some("5".into())), 5);
        assert_eq!(worker_count(None, Some("0".into())), cores);
        assert_eq!(worker_count(None, Some("many".into())), cores);
        assert_eq!(worker_count(None, None), cores);
    }

    #[test]
    fn a_small_runtime_allocates_from_one_arena() {
        let rt = runtime(Some(2)).expect("runtime");
        let arenas = arenas_of(&rt, 2);
        assert!(
            arenas.iter().all(|a| *a == Some(SHARED_ARENA)),
            "{arenas:?}"
        );
    }

    #[test]
    fn a_larger_runtime_keeps_jemallocs_spread() {
        let rt = runtime(Some(SHARED_ARENA_UP_TO_WORKERS + 2)).expect("runtime");
        let arenas = arenas_of(&rt, SHARED_ARENA_UP_TO_WORKERS + 2);
        let distinct: std::collections::HashSet<_> = arenas.iter().collect();
        assert!(distinct.len() > 1, "{arenas:?}");
    }
}
