//! What is known of one turn's reply audio: each sentence, how much of it was
//! queued and how much played, and so what the user heard. The Playout writes
//! it (in the shared state, per turn); a barge-in reads what was heard.

use ractor::ActorId;

/// Speech per character of text at a normal speaking rate (piper's
/// en_US voices measure 55-60 ms; espeak-ng ~60).
const TYPICAL_MS_PER_CHAR: f64 = 57.0;

/// One sentence of a reply and its audio.
#[derive(Default)]
struct SentenceAudio {
    text: String,
    queued_ms: u64,
    played_ms: u64,
    /// All its audio has arrived (the next sentence began, or the turn ended).
    complete: bool,
}

/// What is known of a turn's audio: each sentence, how much was queued and played.
#[derive(Default)]
pub(crate) struct TurnAudio {
    sentences: Vec<SentenceAudio>,
    /// Its frames were dropped by a barge-in.
    flushed: bool,
    /// What the user had heard when the barge-in cut it: fixed from then on
    /// (audio that arrives or plays after the cut changes nothing).
    cut: Option<String>,
    /// The Playout was told the turn's audio is complete (its end is queued
    /// behind the frames).
    end_queued: bool,
    /// The Tts sent the turn's end, to this Playout (None: there was none).
    /// It may never arrive: a Playout that dies with it in its mailbox, or
    /// before it is sent, leaves the turn to the one that follows.
    end_sent: Option<Option<ActorId>>,
}

impl TurnAudio {
    /// `ms` of audio queued for the current sentence (the first one if none
    /// began yet); returns that sentence's index.
    pub(crate) fn queue(&mut self, ms: u64) -> usize {
        if self.sentences.is_empty() {
            self.sentences.push(SentenceAudio::default());
        }
        let sentence = self.sentences.len() - 1;
        self.sentences[sentence].queued_ms += ms;
        sentence
    }

    /// The audio that follows speaks `text`: the sentence before is complete.
    pub(crate) fn begin_sentence(&mut self, text: String) {
        self.complete_last();
        self.sentences.push(SentenceAudio {
            text,
            ..Default::default()
        });
    }

    /// All audio of the last sentence has arrived (the turn ended).
    pub(crate) fn complete_last(&mut self) {
        if let Some(last) = self.sentences.last_mut() {
            last.complete = true;
        }
    }

    /// `ms` of `sentence`'s audio were played.
    pub(crate) fn played(&mut self, sentence: usize, ms: u64) {
        if let Some(s) = self.sentences.get_mut(sentence) {
            s.played_ms += ms;
        }
    }

    /// A barge-in dropped the frames not yet played: only what was played
    /// counts from now on. (A sentence whose audio was still arriving stays
    /// incomplete: its length is estimated, not taken from the part that came.)
    pub(crate) fn flush(&mut self) {
        self.cut();
        self.flushed = true;
    }

    /// A barge-in cut the reply: what was heard up to now is what the user
    /// heard of it, whatever arrives or plays later; returns that.
    pub(crate) fn cut(&mut self) -> String {
        if self.cut.is_none() {
            self.cut = Some(self.heard_so_far());
        }
        self.cut.clone().unwrap_or_default()
    }

    /// Its frames were dropped by a barge-in.
    pub(crate) fn flushed(&self) -> bool {
        self.flushed
    }

    /// The turn's end is queued behind its frames.
    pub(crate) fn end_queued(&mut self) {
        self.complete_last();
        self.end_queued = true;
    }

    /// The Tts sent the turn's end to the Playout `to`: no more audio is
    /// coming for it.
    pub(crate) fn end_sent(&mut self, to: Option<ActorId>) {
        self.end_sent = Some(to);
    }

    /// Its end reached, or was sent to, a Playout other than `me` (one that
    /// died): `me` will not be told that the turn is over.
    pub(crate) fn ended_elsewhere(&self, me: ActorId) -> bool {
        self.end_queued || self.end_sent.is_some_and(|to| to != Some(me))
    }

    /// Every frame queued was played.
    pub(crate) fn all_played(&self) -> bool {
        self.sentences.iter().all(|s| s.played_ms >= s.queued_ms)
    }

    /// The words the user heard: whole sentences played out, and of a sentence
    /// cut midway the share of its words that its played audio covers. The Tts
    /// sends a sentence's audio only as fast as it is played
    /// (`tts.max_ahead_ms`), so a sentence cut while its audio was still
    /// arriving has an unknown length: it is estimated from the speaking rate
    /// of this reply's whole sentences (or a typical rate), never less than
    /// what arrived.
    pub(crate) fn heard(&self) -> String {
        match &self.cut {
            Some(heard) => heard.clone(),
            None => self.heard_so_far(),
        }
    }

    fn heard_so_far(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for s in &self.sentences {
            if s.complete && s.played_ms >= s.queued_ms {
                out.push(s.text.clone());
                continue;
            }
            if s.played_ms > 0 {
                let total_ms = if s.complete {
                    s.queued_ms
                } else {
                    let chars = s.text.chars().count() as f64;
                    s.queued_ms.max((chars * self.ms_per_char()) as u64)
                };
                let words: Vec<&str> = s.text.split_whitespace().collect();
                let n = (words.len() as u64 * s.played_ms / total_ms.max(1)) as usize;
                let n = n.min(words.len());
                if n > 0 {
                    out.push(words[..n].join(" "));
                }
            }
            break;
        }
        out.join(" ")
    }

    /// Milliseconds of speech per character: measured on this reply's
    /// sentences whose audio all arrived, else a typical rate.
    fn ms_per_char(&self) -> f64 {
        let (ms, chars) = self
            .sentences
            .iter()
            .filter(|s| s.complete && s.queued_ms > 0)
            .fold((0u64, 0usize), |(ms, chars), s| {
                (ms + s.queued_ms, chars + s.text.chars().count())
            });
        if chars >= 20 {
            ms as f64 / chars as f64
        } else {
            TYPICAL_MS_PER_CHAR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(t: &mut TurnAudio, text: &str, queued: u64, played: u64) -> usize {
        t.begin_sentence(text.into());
        let i = t.queue(queued);
        t.played(i, played);
        i
    }

    #[test]
    fn whole_sentences_played_are_heard_whole() {
        let mut t = TurnAudio::default();
        sentence(&mut t, "Hello there.", 800, 800);
        sentence(&mut t, "How are you today?", 1000, 500);
        t.end_queued();
        assert_eq!(t.heard(), "Hello there. How are");
    }

    #[test]
    fn a_sentence_still_arriving_is_cut_by_its_estimated_length() {
        // 100 characters (~5.7 s of speech); 1 s of it queued, 0.6 s played.
        let text = "Once upon a time a little red boat sailed across the wide blue sea to find the island of the sun.";
        let mut t = TurnAudio::default();
        sentence(&mut t, text, 1000, 600);
        t.flush();
        let heard = t.heard();
        assert!(!heard.is_empty(), "0.6 s were played");
        assert!(text.starts_with(&heard));
        let words = heard.split_whitespace().count();
        assert!((1..=4).contains(&words), "{heard:?}: ~10 % of 21 words");
    }

    #[test]
    fn what_was_heard_at_the_cut_stays_what_was_heard() {
        let mut t = TurnAudio::default();
        let i = sentence(&mut t, "One two three four.", 2000, 1000);
        assert_eq!(t.cut(), "One two");
        t.played(i, 500);
        t.begin_sentence("Five six.".into());
        t.flush();
        assert_eq!(t.heard(), "One two");
    }

    #[test]
    fn the_rate_is_learned_from_the_reply_s_whole_sentences() {
        let mut t = TurnAudio::default();
        // A slow voice: 100 ms a character.
        sentence(&mut t, "This is a slow sentence.", 2400, 2400);
        let second = "And this one is still arriving.";
        sentence(&mut t, second, 3000, 1550);
        // 31 characters at 100 ms: half of the 6 words.
        assert_eq!(t.heard(), "This is a slow sentence. And this one");
    }
}
