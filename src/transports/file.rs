//! The file transport (`arc-agent converse`): a WAV file stands in for the
//! room. The user's side is pushed by the command, turn by turn; this is the
//! agent's side, kept in memory until the command writes it out as a WAV.

use super::adapter::Transport;
use arc_actors::audio::AudioFrame;
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

    /// Waits until `pred` holds for more than `before` notices.
    pub(crate) async fn wait_count(
        &self,
        before: usize,
        timeout: Duration,
        pred: impl Fn(&SessionNotice) -> bool + Copy,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            if self.count(pred) > before {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
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
    fn play(&self, _turn: u64, frame: AudioFrame) {
        self.rate.store(frame.sample_rate, Ordering::Relaxed);
        self.audio.lock().extend_from_slice(&frame.samples);
    }
    fn flush(&self) {}
    fn notice(&self, notice: SessionNotice) {
        self.notices.lock().push(notice);
        self.changed.notify_waiters();
    }
}
