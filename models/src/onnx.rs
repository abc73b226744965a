//! onnxruntime sessions as the ONNX engines (Silero, Smart Turn, piper)
//! keep them: built from the model's bytes with a given number of intra-op
//! threads, and, where one model serves every conversation, a set of them
//! (one per pool thread: `Session::run` needs `&mut`) handed out free-first.

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A session on `bytes`, `threads` intra-op threads, one inter-op thread,
/// every graph optimization.
pub(crate) fn session(bytes: &[u8], threads: usize) -> Result<Session, String> {
    Session::builder()
        .map_err(|e| e.to_string())?
        .with_intra_threads(threads)
        .map_err(|e| e.to_string())?
        .with_inter_threads(1)
        .map_err(|e| e.to_string())?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| e.to_string())?
        .commit_from_memory(bytes)
        .map_err(|e| e.to_string())
}

/// Sessions of one model shared by every conversation.
pub(crate) struct SessionSet {
    sessions: Vec<Mutex<Session>>,
    /// Where the next job starts looking for a free session.
    next: AtomicUsize,
}

impl SessionSet {
    /// `sessions` must not be empty.
    pub(crate) fn new(sessions: Vec<Session>) -> Self {
        debug_assert!(!sessions.is_empty());
        Self {
            sessions: sessions.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }

    /// A free session, or (all busy) the next one in turn when it frees.
    /// The pool bounds concurrent jobs to its threads and there is one
    /// session per thread, so a free one is almost always found at once.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Session> {
        let n = self.sessions.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        (0..n)
            .find_map(|i| self.sessions[(start + i) % n].try_lock())
            .unwrap_or_else(|| self.sessions[start].lock())
    }
}
