//! The semantic end of turn inside Stt (see the module docs of `stt`): a
//! pause long enough asks the turn engine; its verdict and the speculative
//! transcript decide whether the turn ends before the silence limit.

use super::{SttMsg, SttState, TurnCause};
use crate::audio::STT_SAMPLE_RATE;
use crate::engine::EngineError;
use crate::turn_stats::{turn_stats, Verdict};
use ractor::ActorRef;
use std::sync::Arc;

/// The end of the turn a turn engine is given.
const TURN_AUDIO_MS: usize = 8_000;

impl SttState {
    /// A long enough pause: ask the turn engine, once per pause.
    pub(super) fn maybe_ask_turn(&mut self, myself: &ActorRef<SttMsg>) {
        let Some(engine) = self.shared.engines.turn.clone() else {
            return;
        };
        if self.pause_ms < self.shared.config.stt.turn.pause_ms
            || self.asked_pause == Some(self.pause_seq)
        {
            return;
        }
        let Some(u) = self.utterance.as_ref() else {
            return;
        };
        self.asked_pause = Some(self.pause_seq);
        let pause = self.pause_seq;
        // Turn models look at the end of the turn (Smart Turn: its last 8 s),
        // not at a 30 s utterance.
        let from = u
            .samples
            .len()
            .saturating_sub(TURN_AUDIO_MS * STT_SAMPLE_RATE as usize / 1000);
        let audio: Arc<[f32]> = u.samples[from..].into();
        let me = myself.clone();
        let cancel = self.cancel.clone();
        tokio::spawn(async move {
            let result = tokio::select! {
                _ = cancel.cancelled() => return,
                r = engine.completion(audio) => r,
            };
            let _ = me.cast(SttMsg::TurnVerdict { pause, result });
        });
    }

    /// The turn engine answered: a complete turn ends now, if the user is
    /// still in the pause it was asked about.
    pub(super) fn on_turn_verdict(
        &mut self,
        myself: &ActorRef<SttMsg>,
        pause: u64,
        result: Result<f32, EngineError>,
    ) {
        let threshold = self.shared.config.stt.turn.threshold;
        let complete = match &result {
            Ok(p) if *p >= threshold => {
                turn_stats().verdict(Verdict::Complete);
                true
            }
            Ok(_) => {
                turn_stats().verdict(Verdict::Incomplete);
                false
            }
            Err(e) => {
                turn_stats().verdict(Verdict::Failed);
                tracing::warn!(session_id = %self.shared.config.session_id, error = %e, "turn model failed: the silence limit ends this turn");
                false
            }
        };
        tracing::debug!(session_id = %self.shared.config.session_id, pause, probability = ?result.as_ref().ok(), pause_ms = self.pause_ms, "turn verdict");
        if !complete || !self.in_pause(pause) {
            return;
        }
        match &self.spec_text {
            Some((p, _)) if *p == pause => self.decide_complete(myself, pause),
            // The transcript is still being made (the reply needs it anyway).
            _ => self.complete_at = Some(pause),
        }
    }

    /// The user is still in pause `pause` of the current utterance.
    fn in_pause(&self, pause: u64) -> bool {
        pause == self.pause_seq
            && self.pause_ms > 0
            && self.utterance.is_some()
            && self.vad.pausing()
    }

    /// The turn engine said complete and the pause's transcript is known:
    /// the turn ends now, unless the words stop mid-sentence.
    pub(super) fn decide_complete(&mut self, myself: &ActorRef<SttMsg>, pause: u64) {
        self.complete_at = None;
        if !self.in_pause(pause) {
            return;
        }
        let text = match &self.spec_text {
            Some((p, text)) if *p == pause => text.clone(),
            _ => None,
        };
        if let Some(t) = text
            .as_deref()
            .filter(|t| crate::dangling::ends_mid_sentence(t))
        {
            turn_stats().verdict(Verdict::TextIncomplete);
            tracing::debug!(session_id = %self.shared.config.session_id, text = %t, "the turn model said complete, the words stop mid-sentence: waiting");
            return;
        }
        if let Some(u) = self.utterance.take() {
            self.vad.end_turn();
            let after = self.pause_ms;
            self.finish_utterance(myself, u, TurnCause::ModelComplete, after);
        }
    }
}
