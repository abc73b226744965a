//! What the Tts owes the Playout: the sentences waiting, the one being
//! synthesized (and how much of its audio has gone out), and each turn's
//! progress. It lives in the shared state, not in the Tts, so a Tts that
//! crashed mid-reply is replaced by one that goes on from the same word: the
//! sentence it was speaking is made again and the audio already sent is
//! skipped, the rest of the reply follows, and the turn ends as usual (the
//! Brain sent the reply and its end once; nobody sends them again).

use crate::engine::CancellationToken;
use std::collections::{HashMap, VecDeque};

/// A sentence to speak.
#[derive(Clone)]
pub(crate) struct Pending {
    pub(crate) turn: u64,
    pub(crate) trace_id: String,
    pub(crate) text: String,
    pub(crate) span: tracing::Span,
    /// Audio of it already sent by a Tts that died: skipped this time.
    pub(crate) skip_ms: u64,
    /// Remade after a crash: the Playout already knows the sentence.
    pub(crate) resumed: bool,
}

/// The sentence being synthesized.
pub(crate) struct Busy {
    /// Which synthesis (a restarted Tts makes the same sentence again).
    pub(crate) job: u64,
    pub(crate) sentence: Pending,
    pub(crate) cancel: CancellationToken,
    /// Its audio sent to the Playout so far (skipped audio included).
    pub(crate) sent_ms: u64,
}

/// What is known of a turn's speech so far.
#[derive(Default)]
pub(crate) struct TurnProgress {
    pub(crate) audio_ms: u64,
    pub(crate) first_chunk_ms: Option<u64>,
    pub(crate) requests: u64,
    /// The Brain said the reply is complete.
    pub(crate) end_seen: bool,
}

#[derive(Default)]
pub(crate) struct TtsBook {
    pub(crate) queue: VecDeque<Pending>,
    pub(crate) busy: Option<Busy>,
    pub(crate) turns: HashMap<u64, TurnProgress>,
    /// Turns up to this one were cancelled: late sentences for them are dropped.
    pub(crate) cancelled_upto: u64,
    next_job: u64,
}

impl TtsBook {
    pub(crate) fn next_job(&mut self) -> u64 {
        self.next_job += 1;
        self.next_job
    }

    pub(crate) fn busy_turn(&self) -> Option<u64> {
        self.busy.as_ref().map(|b| b.sentence.turn)
    }

    /// A new Tts takes over: the synthesis its predecessor left is stopped
    /// (no frame of it goes out from now on) and made again first, skipping
    /// the audio already sent.
    pub(crate) fn take_over(&mut self) {
        if let Some(b) = self.busy.take() {
            b.cancel.cancel();
            self.queue.push_front(Pending {
                skip_ms: b.sent_ms,
                resumed: true,
                ..b.sentence
            });
        }
    }

    /// The turn still owes audio (a sentence waiting or being made).
    pub(crate) fn owes(&self, turn: u64) -> bool {
        self.busy_turn() == Some(turn) || self.queue.iter().any(|p| p.turn == turn)
    }

    /// The latest turn with speech still to come.
    pub(crate) fn speaking(&self) -> Option<u64> {
        self.turns.keys().copied().max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_successor_remakes_the_sentence_in_progress_skipping_what_was_sent() {
        let mut book = TtsBook::default();
        let cancel = CancellationToken::new();
        let job = book.next_job();
        book.busy = Some(Busy {
            job,
            sentence: Pending {
                turn: 3,
                trace_id: "t".into(),
                text: "Hello there.".into(),
                span: tracing::Span::none(),
                skip_ms: 0,
                resumed: false,
            },
            cancel: cancel.clone(),
            sent_ms: 420,
        });
        book.queue.push_back(Pending {
            turn: 3,
            trace_id: "t".into(),
            text: "How are you?".into(),
            span: tracing::Span::none(),
            skip_ms: 0,
            resumed: false,
        });
        book.take_over();
        assert!(
            cancel.is_cancelled(),
            "the dead Tts's synthesis sends no more"
        );
        assert!(book.busy.is_none());
        let texts: Vec<(&str, u64)> = book
            .queue
            .iter()
            .map(|p| (p.text.as_str(), p.skip_ms))
            .collect();
        assert_eq!(texts, vec![("Hello there.", 420), ("How are you?", 0)]);
        assert!(book.owes(3));
        assert!(book.next_job() > job);
    }
}
