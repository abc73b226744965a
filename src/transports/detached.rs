//! The output of a session with no medium attached: a track taken by
//! dispatch on a node with no LiveKit server configured (`livekit.url`
//! empty). The session runs and emits its events as any other; its audio has
//! nowhere to go, so it is counted and dropped, and its notices are logged.

use super::adapter::Transport;
use arc_actors::pcm16::Pcm16Frame;
use arc_actors::session::{AudioOutput, SessionNotice};
use std::sync::atomic::{AtomicU64, Ordering};

/// Drops the agent's audio (counting it) and logs the session's notices.
#[derive(Debug, Default)]
pub(crate) struct DetachedOutput {
    session_id: String,
    audio_ms: AtomicU64,
}

impl DetachedOutput {
    pub(crate) fn new(session_id: String) -> Self {
        Self {
            session_id,
            audio_ms: AtomicU64::new(0),
        }
    }
}

impl Transport for DetachedOutput {
    /// A LiveKit track, taken with no room to join.
    const CONNECTION_TYPE: &'static str = "udp";
}

impl AudioOutput for DetachedOutput {
    fn play(&self, _turn: u64, frame: Pcm16Frame) {
        self.audio_ms
            .fetch_add(frame.duration_ms(), Ordering::Relaxed);
    }

    fn flush(&self) {}

    fn notice(&self, notice: SessionNotice) {
        let dropped_audio_ms = self.audio_ms.load(Ordering::Relaxed);
        tracing::debug!(session_id = %self.session_id, ?notice, dropped_audio_ms, "session notice (no room attached)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_is_counted_and_dropped() {
        let out = DetachedOutput::new("s".into());
        out.play(1, Pcm16Frame::new(16_000, vec![0; 320].into()));
        out.play(1, Pcm16Frame::new(16_000, vec![0; 320].into()));
        out.flush();
        assert_eq!(out.audio_ms.load(Ordering::Relaxed), 40);
    }
}
