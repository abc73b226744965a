//! The semantic end of turn inside Stt (see the module docs of `stt`): a
//! pause long enough asks the turn engine; its verdict and the speculative
//! transcript decide whether the turn ends before the silence limit: at once
//! (complete, and the words end a sentence), at `uncertain_silence_ms`
//! (complete, but whisper was unsure of the last word: a word cut short by a
//! pause is the one it mishears, "Boston to …" as "Boston Tooth", and a
//! misheard dangling word hides that the sentence goes on), or not before
//! the limit (incomplete, or the words stop mid-sentence). A near miss (a
//! probability just under the threshold, `near_threshold`) whose words are
//! a finished sentence (". ? !" at the end, a sure last word) also ends at
//! `uncertain_silence_ms`: a finished question the model is unsure of
//! should not wait for the limit.

use super::{SttMsg, SttState, TurnCause};
use crate::audio::STT_SAMPLE_RATE;
use crate::engine::EngineError;
use crate::turn_stats::{turn_stats, Verdict};
use ractor::ActorRef;

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
        let audio = u.samples.to_f32_from(from);
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
        let near = self.shared.config.stt.turn.near_threshold;
        let complete = match &result {
            Ok(p) if *p >= threshold => {
                turn_stats().verdict(Verdict::Complete);
                true
            }
            Ok(p) if *p >= near => {
                // Decided by the words, as a complete one, but never at once.
                turn_stats().verdict(Verdict::NearComplete);
                self.near_at = Some(pause);
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
        let heard = match &self.spec_text {
            Some((p, heard)) if *p == pause => heard.clone(),
            _ => None,
        };
        let text = heard.as_ref().map(|h| h.text.as_str());
        if let Some(t) = text.filter(|t| crate::dangling::ends_mid_sentence(t)) {
            turn_stats().verdict(Verdict::TextIncomplete);
            tracing::debug!(session_id = %self.shared.config.session_id, text = %t, "the turn model said complete, the words stop mid-sentence: waiting");
            return;
        }
        let least = self.shared.config.stt.turn.min_word_confidence;
        let sure = heard.as_ref().and_then(|h| h.last_word_confidence);
        if self.near_at == Some(pause) {
            let finished = text.is_some_and(|t| t.trim_end().ends_with(['.', '?', '!']));
            if !finished || sure.is_some_and(|p| p < least) {
                tracing::debug!(session_id = %self.shared.config.session_id, text = ?text, last_word_confidence = ?sure, "the turn model nearly said complete, the words are not a sure finished sentence: waiting for the limit");
                return;
            }
            tracing::debug!(session_id = %self.shared.config.session_id, text = ?text, "the turn model nearly said complete, the words are a finished sentence: ending at the longer pause");
            self.uncertain_at = Some(pause);
            self.maybe_end_uncertain(myself);
            return;
        }
        if sure.is_some_and(|p| p < least) {
            turn_stats().verdict(Verdict::TextUncertain);
            tracing::debug!(session_id = %self.shared.config.session_id, text = ?text, last_word_confidence = ?sure, "the turn model said complete, the last word is unsure: waiting a little longer");
            self.uncertain_at = Some(pause);
            self.maybe_end_uncertain(myself);
            return;
        }
        self.end_on_models_word(myself);
    }

    /// A pause judged complete with an unsure last word: the turn ends once
    /// the pause reaches `uncertain_silence_ms`, if the user is still in it.
    pub(super) fn maybe_end_uncertain(&mut self, myself: &ActorRef<SttMsg>) {
        let Some(pause) = self.uncertain_at else {
            return;
        };
        if !self.in_pause(pause) {
            self.uncertain_at = None;
            return;
        }
        if self.pause_ms >= self.shared.config.stt.turn.uncertain_silence_ms {
            self.end_on_models_word(myself);
        }
    }

    fn end_on_models_word(&mut self, myself: &ActorRef<SttMsg>) {
        if let Some(u) = self.utterance.take() {
            self.vad.end_turn();
            let after = self.pause_ms;
            self.finish_utterance(myself, u, TurnCause::ModelComplete, after);
        }
    }
}
