//! The session's output side ([`AudioOutput`]): agent audio and session
//! notices to the socket's queue in order, as the protocol's JSON messages,
//! with the `state` message sent when the state changes. A `flush` (barge-in)
//! bumps the epoch, so queued audio of the interrupted turn is not sent.

use super::outbox::Outbox;
use super::protocol::close_code;
use crate::transports::adapter::Transport;
use arc_actors::pcm16::Pcm16Frame;
use arc_actors::session::{AudioOutput, SessionNotice};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

const STATE_LISTENING: u8 = 0;
const STATE_USER: u8 = 1;
const STATE_THINKING: u8 = 2;
const STATE_AGENT: u8 = 3;
const STATE_ENDED: u8 = 4;

fn state_name(s: u8) -> &'static str {
    match s {
        STATE_USER => "user_speaking",
        STATE_THINKING => "thinking",
        STATE_AGENT => "agent_speaking",
        STATE_ENDED => "ended",
        _ => "listening",
    }
}

/// The session's output side: one ordered queue for the socket writer (audio
/// and notices keep their order), bounded by what it holds, never blocking.
pub(super) struct WsOutput {
    queue: Outbox,
    /// Bumped by `flush`: queued audio of an older epoch is not sent.
    epoch: Arc<AtomicU64>,
    state: AtomicU8,
    /// The turn whose audio is playing (so the first frame of a turn sets the state).
    audio_turn: AtomicU64,
    dropped: AtomicU64,
    session_id: String,
}

impl WsOutput {
    /// Starts `listening`; `epoch` is shared with the socket writer.
    pub(super) fn new(queue: Outbox, epoch: Arc<AtomicU64>, session_id: String) -> Self {
        WsOutput {
            queue,
            epoch,
            state: AtomicU8::new(STATE_LISTENING),
            audio_turn: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            session_id,
        }
    }

    fn text(&self, v: Value) {
        if !self.queue.text(v.to_string()) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn set_state(&self, s: u8) {
        if self.state.swap(s, Ordering::Relaxed) != s {
            self.text(json!({ "type": "state", "state": state_name(s) }));
        }
    }
}

impl Transport for WsOutput {
    const CONNECTION_TYPE: &'static str = "websocket";
}

impl AudioOutput for WsOutput {
    fn play(&self, turn: u64, frame: Pcm16Frame) {
        if frame.is_empty() {
            return;
        }
        if self.audio_turn.swap(turn, Ordering::Relaxed) != turn
            || self.state.load(Ordering::Relaxed) == STATE_THINKING
        {
            self.set_state(STATE_AGENT);
        }
        let epoch = self.epoch.load(Ordering::Relaxed);
        if !self.queue.audio(epoch, &frame) {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(session_id = %self.session_id, dropped, "browser is not taking agent audio: dropped");
            }
        }
    }

    fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }

    fn notice(&self, notice: SessionNotice) {
        let msg = match notice {
            SessionNotice::SpeechStarted => {
                self.set_state(STATE_USER);
                json!({ "type": "speech_started" })
            }
            SessionNotice::PartialTranscript { turn, text } => {
                json!({ "type": "partial_transcript", "turn": turn, "text": text })
            }
            SessionNotice::FinalTranscript { turn, text } => {
                self.set_state(STATE_THINKING);
                json!({ "type": "final_transcript", "turn": turn, "text": text })
            }
            SessionNotice::AgentSentence { turn, text } => {
                json!({ "type": "agent_sentence", "turn": turn, "text": text })
            }
            SessionNotice::AgentTurnDone { turn, interrupted } => {
                let msg =
                    json!({ "type": "agent_turn_done", "turn": turn, "interrupted": interrupted });
                self.text(msg);
                if self.state.load(Ordering::Relaxed) != STATE_USER {
                    self.set_state(STATE_LISTENING);
                }
                return;
            }
            SessionNotice::BargeIn { turn } => {
                self.set_state(STATE_USER);
                json!({ "type": "barge_in", "turn": turn })
            }
            SessionNotice::Ended { reason } => {
                self.text(json!({ "type": "ended", "reason": reason }));
                self.set_state(STATE_ENDED);
                self.queue.close(close_code(&reason), reason);
                return;
            }
        };
        self.text(msg);
    }
}
