//! Barge-in: the user speaks over the agent. The agent's audio pauses at
//! once; words confirm the interruption (the reply is cut and flushed), and
//! no words within `barge_in.false_interruption_ms` resume it.

use super::{PendingBargeIn, SttState};
use crate::session::messages::{BrainMsg, PlayoutMsg, SessionNotice, SttMsg, TtsMsg};
use crate::session::turn_parts::TurnPart;
use crate::turn_stats::turn_stats;
use ractor::ActorRef;

impl SttState {
    pub(super) fn on_speech_start(&mut self) {
        self.shared
            .to_playout(PlayoutMsg::Notice(SessionNotice::SpeechStarted));
        if let Some(b) = self.barge.as_mut() {
            // Still undecided: the window starts again when this speech ends.
            b.speech_ended = false;
            self.barge_seq += 1;
            b.id = self.barge_seq;
            return;
        }
        let Some(turn) = self.shared.agent_busy() else {
            return;
        };
        if self.shared.config.barge_in.false_interruption_ms == 0 {
            self.interrupt(turn);
            return;
        }
        // Silence the agent within a frame, but keep its reply: a cough is
        // not an interruption. Words decide (see `confirm_barge_in`).
        tracing::debug!(session_id = %self.shared.config.session_id, turn, "user speech over the agent: audio paused");
        self.barge_seq += 1;
        self.barge = Some(PendingBargeIn {
            turn,
            id: self.barge_seq,
            speech_ended: false,
        });
        self.shared.to_playout(PlayoutMsg::Pause);
    }

    /// The user talks over the agent: stop thinking and speaking at once.
    pub(super) fn interrupt(&mut self, turn: u64) {
        tracing::info!(session_id = %self.shared.config.session_id, turn, "barge-in");
        // Before the user's words reach the Brain: its next prompt holds only
        // what the user heard of this reply (the audio is paused or flushed).
        self.shared.cut_reply(turn);
        self.shared.to_brain(BrainMsg::BargeIn);
        self.shared.to_tts(TtsMsg::Cancel);
        self.shared.to_playout(PlayoutMsg::Flush { turn });
        self.shared
            .to_playout(PlayoutMsg::Notice(SessionNotice::BargeIn { turn }));
        self.shared.record_part(TurnPart::Interrupted { turn });
    }

    /// Words were heard over the paused agent: a real interruption.
    pub(super) fn confirm_barge_in(&mut self) {
        if let Some(b) = self.barge.take() {
            self.interrupt(b.turn);
        }
    }

    /// No words came: the agent goes on where it paused.
    pub(super) fn false_interruption(&mut self) {
        if let Some(b) = self.barge.take() {
            turn_stats().false_interruption();
            tracing::info!(session_id = %self.shared.config.session_id, turn = b.turn, "false interruption (no words): resuming the reply");
            self.shared.to_playout(PlayoutMsg::Resume);
        }
    }

    /// The user stopped speaking: if no words come within the window, resume.
    pub(super) fn start_barge_in_window(&mut self, myself: &ActorRef<SttMsg>) {
        let Some(b) = self.barge.as_mut() else {
            return;
        };
        b.speech_ended = true;
        let id = b.id;
        let window =
            std::time::Duration::from_millis(self.shared.config.barge_in.false_interruption_ms);
        myself.send_after(window, move || SttMsg::BargeInWindow { id });
    }
}
