//! What is known of one turn's reply audio: each sentence, how much of it was
//! queued and how much played, and so what the user heard. The Playout writes
//! it (in the shared state, per turn); a barge-in reads what was heard.

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
    /// The Playout was told the turn's audio is complete (its end is queued
    /// behind the frames).
    end_queued: bool,
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
    /// counts from now on.
    pub(crate) fn flush(&mut self) {
        self.flushed = true;
        for s in &mut self.sentences {
            s.complete = true;
        }
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

    /// Its end was queued: no more audio is coming for it.
    pub(crate) fn is_end_queued(&self) -> bool {
        self.end_queued
    }

    /// Every frame queued was played.
    pub(crate) fn all_played(&self) -> bool {
        self.sentences.iter().all(|s| s.played_ms >= s.queued_ms)
    }

    /// The words the user heard: whole sentences played out, and of a sentence
    /// cut midway the share of its words that its played audio covers.
    pub(crate) fn heard(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for s in &self.sentences {
            if s.complete && s.played_ms >= s.queued_ms {
                out.push(s.text.clone());
                continue;
            }
            if s.complete && s.queued_ms > 0 && s.played_ms > 0 {
                let words: Vec<&str> = s.text.split_whitespace().collect();
                let n = (words.len() as u64 * s.played_ms / s.queued_ms) as usize;
                if n > 0 {
                    out.push(words[..n].join(" "));
                }
            }
            break;
        }
        out.join(" ")
    }
}
