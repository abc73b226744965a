//! Endpointing: the rules that turn a VAD's per-frame speech decisions into
//! utterance boundaries (enough speech starts one, enough silence ends it), in
//! audio time. Every VAD uses them: the real Silero VAD (crate arc-models) and
//! the synthetic energy VAD alike.

use crate::engine::VadEvent;

/// Endpointing rules shared by every VAD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Endpointing {
    /// Speech this long (ms) starts an utterance.
    pub min_speech_ms: u64,
    /// Silence this long (ms) ends it.
    pub silence_ms: u64,
}

impl Default for Endpointing {
    fn default() -> Self {
        Self {
            min_speech_ms: 60,
            silence_ms: 300,
        }
    }
}

/// Tracks speech/silence runs and turns them into start/end events.
#[derive(Debug, Clone)]
pub struct Endpointer {
    rules: Endpointing,
    in_speech: bool,
    speech_run_ms: u64,
    silence_run_ms: u64,
    pos_ms: u64,
}

impl Endpointer {
    /// The silence that ends a turn under these rules.
    pub fn silence_ms(&self) -> u64 {
        self.rules.silence_ms
    }

    pub fn new(rules: Endpointing) -> Self {
        Self {
            rules,
            in_speech: false,
            speech_run_ms: 0,
            silence_run_ms: 0,
            pos_ms: 0,
        }
    }

    /// Feed one frame's decision; returns a boundary when one is crossed.
    pub fn push(&mut self, is_speech: bool, frame_ms: u64) -> Option<VadEvent> {
        self.pos_ms += frame_ms;
        if is_speech {
            self.speech_run_ms += frame_ms;
            self.silence_run_ms = 0;
            if !self.in_speech && self.speech_run_ms >= self.rules.min_speech_ms {
                self.in_speech = true;
                return Some(VadEvent::SpeechStart {
                    at_ms: self.pos_ms - self.speech_run_ms,
                });
            }
        } else {
            self.silence_run_ms += frame_ms;
            if !self.in_speech {
                self.speech_run_ms = 0;
            }
            if self.in_speech && self.silence_run_ms >= self.rules.silence_ms {
                self.in_speech = false;
                self.speech_run_ms = 0;
                return Some(VadEvent::SpeechEnd {
                    at_ms: self.pos_ms - self.silence_run_ms,
                });
            }
        }
        None
    }

    /// Something other than the silence rule ended the turn (the turn
    /// model): out of speech now, so the next speech starts a new turn.
    pub fn end_turn(&mut self) {
        self.in_speech = false;
        self.speech_run_ms = 0;
        self.silence_run_ms = 0;
    }

    /// In a turn, and the last frame was silence (see [`VadStream::pausing`](crate::engine::VadStream::pausing)).
    pub fn pausing(&self) -> bool {
        self.in_speech && self.silence_run_ms > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpointer_rules() {
        let mut ep = Endpointer::new(Endpointing {
            min_speech_ms: 60,
            silence_ms: 100,
        });
        assert_eq!(ep.push(true, 20), None);
        assert_eq!(ep.push(true, 20), None);
        assert_eq!(ep.push(true, 20), Some(VadEvent::SpeechStart { at_ms: 0 }));
        assert!(!ep.pausing());
        assert_eq!(ep.push(false, 20), None);
        assert!(ep.pausing());
        assert_eq!(ep.push(true, 20), None);
        assert!(!ep.pausing(), "speech came back");
        for _ in 0..4 {
            assert_eq!(ep.push(false, 20), None);
            assert!(ep.pausing());
        }
        assert_eq!(ep.push(false, 20), Some(VadEvent::SpeechEnd { at_ms: 100 }));
        assert!(!ep.pausing(), "the turn ended");
        // a short blip is not speech
        assert_eq!(ep.push(true, 20), None);
        assert_eq!(ep.push(false, 20), None);
        assert_eq!(ep.push(true, 20), None);
    }

    #[test]
    fn a_turn_ended_from_outside_lets_the_next_speech_start_one() {
        let mut ep = Endpointer::new(Endpointing {
            min_speech_ms: 40,
            silence_ms: 1000,
        });
        ep.push(true, 20);
        assert_eq!(ep.push(true, 20), Some(VadEvent::SpeechStart { at_ms: 0 }));
        ep.push(false, 20);
        ep.end_turn();
        assert!(!ep.pausing());
        for _ in 0..60 {
            assert_eq!(ep.push(false, 20), None, "no second end for that turn");
        }
        ep.push(true, 20);
        assert_eq!(
            ep.push(true, 20),
            Some(VadEvent::SpeechStart { at_ms: 1260 })
        );
    }
}
