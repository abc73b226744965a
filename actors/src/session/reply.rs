//! One reply as it is made: the model's text pieces become sentences, each
//! spoken (sent to Tts) as soon as it is complete, the first clause sooner;
//! the reply ends at `session.brain.max_sentences`.

use super::messages::{PlayoutMsg, SessionNotice, TtsMsg, UserTurn};
use super::shared::Shared;
use crate::sentence::SentenceSplitter;
use std::time::Instant;

/// Words a first clause needs before it is spoken on its own.
const FIRST_CLAUSE_MIN_WORDS: usize = 4;

/// What a reply has said so far; each sentence goes to Tts as it completes.
pub(super) struct Reply<'a> {
    pub(super) shared: &'a Shared,
    pub(super) turn: &'a UserTurn,
    pub(super) started: Instant,
    pub(super) splitter: SentenceSplitter,
    pub(super) spoken: String,
    pub(super) sentences: u64,
    /// Sentences ended so far, and the most a reply may have (0 = no limit):
    /// once reached, the model is stopped and nothing after is spoken.
    pub(super) ended: u32,
    pub(super) max_sentences: u32,
    /// Text pieces received (the token count when the model is stopped early).
    pub(super) pieces: u64,
    pub(super) first_sentence_ms: Option<u64>,
    pub(super) first_token_ms: Option<u64>,
}

impl Reply<'_> {
    pub(super) fn speak(&mut self, text: String) {
        if self.first_sentence_ms.is_none() {
            self.first_sentence_ms = Some(self.started.elapsed().as_millis() as u64);
        }
        self.sentences += 1;
        if !self.spoken.is_empty() {
            self.spoken.push(' ');
        }
        self.spoken.push_str(&text);
        self.shared
            .to_playout(PlayoutMsg::Notice(SessionNotice::AgentSentence {
                turn: self.turn.turn,
                text: text.clone(),
            }));
        self.shared.to_tts(TtsMsg::Speak {
            turn: self.turn.turn,
            trace_id: self.turn.trace_id.clone(),
            text,
            span: self.turn.span.clone(),
        });
    }

    pub(super) fn push(&mut self, token: &str) {
        if self.first_token_ms.is_none() {
            self.first_token_ms = Some(self.started.elapsed().as_millis() as u64);
        }
        self.pieces += 1;
        if self.full() {
            return;
        }
        for s in self.splitter.push(token) {
            if self.full() {
                break;
            }
            self.ended += 1;
            self.speak(s);
        }
        if self.full() {
            return;
        }
        // The first words go to TTS at the first clause break, not the end
        // of a long first sentence: first audio sooner.
        if self.sentences == 0 {
            if let Some(clause) = self.splitter.take_clause(FIRST_CLAUSE_MIN_WORDS) {
                self.speak(clause);
            }
        }
    }

    /// The reply has all the sentences it may have.
    pub(super) fn full(&self) -> bool {
        self.max_sentences > 0 && self.ended >= self.max_sentences
    }

    /// Speak what is left unfinished (a reply cut at max_tokens ends on its
    /// last whole sentence, unless that would leave nothing to say; a reply
    /// stopped at max_sentences says nothing more).
    pub(super) fn finish(&mut self, truncated: bool) {
        if self.full() {
            return;
        }
        if let Some(rest) = self.splitter.finish() {
            if !(truncated && self.sentences > 0) {
                self.speak(rest);
            }
        }
    }
}
