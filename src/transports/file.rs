//! The file transport (`arc-agent converse`): a WAV file stands in for the
//! room. The user's side is pushed by the command, turn by turn; this is the
//! agent's side, kept in memory until the command writes it out as a WAV.

use super::adapter::Transport;
use arc_actors::pcm16::{to_f32, Pcm16Frame};
use arc_actors::session::{AudioOutput, SessionNotice};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// The file transport's output side: agent audio and notices, kept in memory.
#[derive(Default)]
pub(crate) struct FileOutput {
    audio: Mutex<Vec<f32>>,
    rate: AtomicU32,
    notices: Mutex<Vec<SessionNotice>>,
    changed: Notify,
}

impl FileOutput {
    /// How many notices so far satisfy `pred`.
    pub(crate) fn count(&self, pred: impl Fn(&SessionNotice) -> bool) -> usize {
        self.notices.lock().iter().filter(|n| pred(n)).count()
    }

    /// Hands every notice past `cursor` to `each`, in order, and moves
    /// `cursor` past them (the lock is not held while `each` runs).
    pub(crate) fn each_since(&self, cursor: &mut usize, each: &mut dyn FnMut(&SessionNotice)) {
        let new: Vec<SessionNotice> = self
            .notices
            .lock()
            .get(*cursor..)
            .map(<[SessionNotice]>::to_vec)
            .unwrap_or_default();
        *cursor += new.len();
        for n in &new {
            each(n);
        }
    }

    /// Waits until `pred` holds for more than `before` notices; meanwhile
    /// each notice past `cursor` is handed to `each` as it arrives.
    pub(crate) async fn wait_count(
        &self,
        before: usize,
        timeout: Duration,
        pred: impl Fn(&SessionNotice) -> bool + Copy,
        cursor: &mut usize,
        each: &mut dyn FnMut(&SessionNotice),
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            self.each_since(cursor, each);
            if self.count(pred) > before {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                self.each_since(cursor, each);
                return self.count(pred) > before;
            }
        }
    }

    /// The agent's audio since the last call, and its sample rate.
    pub(crate) fn take_audio(&self) -> (Vec<f32>, u32) {
        let audio = std::mem::take(&mut *self.audio.lock());
        (audio, self.rate.load(Ordering::Relaxed))
    }
}

impl Transport for FileOutput {
    const CONNECTION_TYPE: &'static str = "file";
}

impl AudioOutput for FileOutput {
    fn play(&self, _turn: u64, frame: Pcm16Frame) {
        self.rate.store(frame.sample_rate(), Ordering::Relaxed);
        self.audio
            .lock()
            .extend(frame.samples().iter().map(|&s| to_f32(s)));
    }
    fn flush(&self) {}
    fn notice(&self, notice: SessionNotice) {
        self.notices.lock().push(notice);
        self.changed.notify_waiters();
    }
}
