//! [`RecordingOutput`]: the session output of tests, which records what the
//! session sent (audio counted, notices kept) and lets a test wait for a
//! notice. The simulated caller of arc-actors listens on it too.

use arc_actors::pcm16::Pcm16Frame;
use arc_actors::session::{AudioOutput, SessionNotice};
use arc_actors::synthetic::CallerEar;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// An [`AudioOutput`] that records what the session sent.
#[derive(Default)]
pub struct RecordingOutput {
    pub frames: AtomicU64,
    pub audio_ms: AtomicU64,
    pub flushes: AtomicU64,
    notices: Mutex<Vec<SessionNotice>>,
    changed: Notify,
    first_audio: Notify,
    first_played: Mutex<Option<Instant>>,
}

impl RecordingOutput {
    pub fn notices(&self) -> Vec<SessionNotice> {
        self.notices.lock().clone()
    }

    /// Wait (up to `timeout`) for a notice matching `pred`; true if seen.
    pub async fn wait_for(&self, timeout: Duration, pred: impl Fn(&SessionNotice) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            if self.notices().iter().any(&pred) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.notices().iter().any(&pred);
            }
        }
    }

    /// How many agent turns have finished (answered or interrupted).
    pub fn turns_done(&self) -> u64 {
        self.notices
            .lock()
            .iter()
            .filter(|n| matches!(n, SessionNotice::AgentTurnDone { .. }))
            .count() as u64
    }

    /// What the agent said: the text of every sentence it spoke, in order.
    pub fn sentences(&self) -> Vec<String> {
        self.texts(|n| match n {
            SessionNotice::AgentSentence { text, .. } => Some(text),
            _ => None,
        })
    }

    /// What the user was heard saying: every final transcript, in order.
    pub fn heard(&self) -> Vec<String> {
        self.texts(|n| match n {
            SessionNotice::FinalTranscript { text, .. } => Some(text),
            _ => None,
        })
    }

    fn texts(&self, text: impl Fn(&SessionNotice) -> Option<&String>) -> Vec<String> {
        self.notices
            .lock()
            .iter()
            .filter_map(text)
            .cloned()
            .collect()
    }

    /// When the first agent audio frame was played.
    pub fn first_played_at(&self) -> Option<Instant> {
        *self.first_played.lock()
    }

    /// Resolves when the next audio frame is played.
    pub fn first_audio(&self) -> Notified<'_> {
        self.first_audio.notified()
    }
}

impl AudioOutput for RecordingOutput {
    fn play(&self, _turn: u64, frame: Pcm16Frame) {
        self.first_played.lock().get_or_insert_with(Instant::now);
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.audio_ms
            .fetch_add(frame.duration_ms(), Ordering::Relaxed);
        self.first_audio.notify_waiters();
    }
    fn flush(&self) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
    }
    fn notice(&self, notice: SessionNotice) {
        self.notices.lock().push(notice);
        self.changed.notify_waiters();
    }
}

impl CallerEar for RecordingOutput {
    fn turns_done(&self) -> u64 {
        RecordingOutput::turns_done(self)
    }
    fn changed(&self) -> Notified<'_> {
        self.changed.notified()
    }
}
