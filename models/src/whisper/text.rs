//! The text side of one decode: whisper's non-speech markers removed, its
//! repetition loops collapsed, and how sure it was of the last word.

/// A word as repeats are compared: without case and punctuation ("cost?"
/// repeats "cost?" or "cost.").
fn word_key(w: &str) -> String {
    w.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The index just past each word that ends a sentence.
fn sentence_ends(words: &[&str]) -> Vec<usize> {
    words
        .iter()
        .enumerate()
        .filter(|(_, w)| w.ends_with(['.', '?', '!']))
        .map(|(i, _)| i + 1)
        .collect()
}

/// Removes whisper's repetition loops from a window's text: a run of 2+ words
/// repeated back to back is kept once, and a trailing restart of the run just
/// before it (the loop cut off by the token limit) is dropped. Only called when
/// the text has more words than its speech can hold, so a phrase the speaker
/// really said twice is left alone.
pub(super) fn collapse_repeats(text: &str) -> String {
    const MIN_RUN: usize = 2;
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let mut keys: Vec<String> = words.iter().map(|w| word_key(w)).collect();
    'again: loop {
        for len in MIN_RUN..=keys.len() / 2 {
            for start in 0..=keys.len() - 2 * len {
                if keys[start..start + len] == keys[start + len..start + 2 * len] {
                    // Keep the second copy's last word: it carries the final punctuation.
                    words.drain(start + 1..start + len + 1);
                    keys.drain(start + 1..start + len + 1);
                    continue 'again;
                }
            }
        }
        break;
    }
    // "A B C D. A B C" -> "A B C D.": after a sentence end, the tail restarts
    // the sentence before it and covers at least half of it.
    let n = keys.len();
    for len in (1..=n / 2).rev() {
        let tail = n - len;
        if !words[tail - 1].ends_with(['.', '?', '!']) {
            continue;
        }
        for period in len + 1..=(2 * len).min(tail) {
            if keys[tail - period..tail - period + len] == keys[tail..] {
                words.truncate(tail);
                return words.join(" ");
            }
        }
    }
    // "How many minutes are in an hour? How": after the last sentence end, an
    // unfinished fragment of one to three words (no closing punctuation) that
    // repeats the start of a sentence before it is a loop's first step, cut
    // off by the token limit, not speech.
    let n = keys.len();
    if let Some(last_end) = words.iter().rposition(|w| w.ends_with(['.', '?', '!'])) {
        let tail = last_end + 1;
        let len = n - tail;
        let mut start = 0;
        let mut restarts = false;
        for (i, w) in words[..tail].iter().enumerate() {
            if w.ends_with(['.', '?', '!']) {
                restarts |= i + 1 - start >= len && keys[start..start + len] == keys[tail..];
                start = i + 1;
            }
        }
        if (1..=3).contains(&len) && restarts {
            words.truncate(tail);
            keys.truncate(tail);
        }
    }
    // "Hello? How are you today? Hello? Hello?": short sentences (one or two
    // words) at the end that repeat an earlier sentence word for word are
    // the decoder going round, not the caller.
    loop {
        let ends = sentence_ends(&words);
        let Some(&last) = ends.last() else { break };
        if last != words.len() || ends.len() < 2 {
            break;
        }
        let from = ends[ends.len() - 2];
        let tail = &keys[from..];
        if tail.len() > 2 {
            break;
        }
        let mut start = 0;
        let repeats_earlier = ends[..ends.len() - 1].iter().any(|&end| {
            let same = &keys[start..end] == tail;
            start = end;
            same
        });
        if !repeats_earlier {
            break;
        }
        words.truncate(from);
        keys.truncate(from);
    }
    words.join(" ")
}

/// Drops a last sentence of six words or more that says again, word for word,
/// the end of the sentence before it ("… and it takes 27 days to orbit the
/// Earth. It takes 27 days to orbit the Earth."): whisper echoing its own last
/// clause at the end of a window, which fits the speech's length and so
/// escapes [`collapse_repeats`]. A short repeat ("Around the Earth!") is kept:
/// people say those.
pub(super) fn drop_echoed_tail(text: &str) -> String {
    const MIN_WORDS: usize = 6;
    let words: Vec<&str> = text.split_whitespace().collect();
    let ends = sentence_ends(&words);
    let (Some(&last), true) = (ends.last(), ends.len() >= 2) else {
        return text.to_string();
    };
    if last != words.len() {
        return text.to_string();
    }
    let from = ends[ends.len() - 2];
    let before = if ends.len() >= 3 {
        ends[ends.len() - 3]
    } else {
        0
    };
    let tail: Vec<String> = words[from..].iter().map(|w| word_key(w)).collect();
    let previous: Vec<String> = words[before..from].iter().map(|w| word_key(w)).collect();
    if tail.len() >= MIN_WORDS && previous.len() > tail.len() && previous.ends_with(&tail) {
        return words[..from].join(" ");
    }
    text.to_string()
}

/// Whisper's text minus what it writes for non-speech (`[BLANK_AUDIO]`,
/// `(silence)`, `[Music]`, `♪`), with whitespace tidied. Text with no letter or
/// digit left is empty.
pub(super) fn clean_text(raw: &str) -> String {
    let mut kept = String::with_capacity(raw.len());
    let (mut square, mut round) = (0usize, 0usize);
    for c in raw.chars() {
        match c {
            '[' => square += 1,
            ']' => square = square.saturating_sub(1),
            '(' => round += 1,
            ')' => round = round.saturating_sub(1),
            '♪' | '♫' | '♬' => {}
            _ if square == 0 && round == 0 => kept.push(c),
            _ => {}
        }
    }
    let text = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().any(char::is_alphanumeric) {
        text
    } else {
        String::new()
    }
}

/// A window's words, as [`word_key`] writes them, each with how sure
/// whisper was of it (its least likely token). `tokens`: the text tokens in
/// order, (text, probability). A token that starts with a space starts a
/// word; tokens with no letter or digit (punctuation) are in none.
pub(super) fn token_words(tokens: &[(String, f32)]) -> Vec<(String, f32)> {
    let mut words: Vec<(String, f32)> = Vec::new();
    for (text, p) in tokens {
        let key = word_key(text);
        if key.is_empty() {
            continue;
        }
        let p = if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        };
        match words.last_mut() {
            Some((w, least)) if !text.starts_with(' ') => {
                w.push_str(&key);
                *least = least.min(p);
            }
            _ => words.push((key, p)),
        }
    }
    words
}

/// How sure whisper was of the last word of `text` (the cleaned result):
/// the last of `words` (from [`token_words`]) that is that word. Cleaning
/// may have cut a loop or an echo after it, so it need not be the last one.
pub(super) fn last_word_confidence(text: &str, words: &[(String, f32)]) -> Option<f64> {
    let shown = text.split_whitespace().next_back().map(word_key)?;
    words
        .iter()
        .rev()
        .find(|(w, _)| *w == shown)
        .map(|(_, p)| f64::from(*p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_word_is_as_sure_as_its_least_likely_token() {
        let toks = |v: &[(&str, f32)]| -> Vec<(String, f32)> {
            v.iter().map(|(t, p)| (t.to_string(), *p)).collect()
        };
        // "Boston Tooth." : punctuation is in no word.
        let t = toks(&[
            (" from", 0.99),
            (" Boston", 0.97),
            (" To", 0.9),
            ("oth", 0.52),
            (".", 0.93),
        ]);
        let words = token_words(&t);
        assert_eq!(words.last(), Some(&("tooth".to_string(), 0.52)));
        assert_eq!(
            last_word_confidence("from Boston Tooth.", &words),
            Some(f64::from(0.52f32))
        );
        // A word split by a hyphen and numbers: one word, as the text shows it.
        let t = toks(&[
            (" is", 0.98),
            (" 555", 0.74),
            ("-", 0.81),
            ("12", 0.39),
            ("34", 0.99),
        ]);
        assert_eq!(
            last_word_confidence("is 555-1234", &token_words(&t)),
            Some(f64::from(0.39f32))
        );
        // A loop cut by the cleaning: the last time the shown word was said.
        let t = toks(&[
            (" home", 0.96),
            (" tonight", 0.75),
            (".", 0.6),
            (" Please", 0.6),
            (" call", 0.9),
        ]);
        assert_eq!(
            last_word_confidence("home tonight.", &token_words(&t)),
            Some(f64::from(0.75f32))
        );
        assert_eq!(last_word_confidence("is", &[]), None);
        assert!(token_words(&toks(&[(".", 0.5)])).is_empty());
        assert_eq!(last_word_confidence("", &words), None);
    }
    use crate::whisper::window::max_tokens_for;

    #[test]
    fn an_echo_of_the_last_clause_is_dropped_a_short_repeat_kept() {
        let echoed = "The Moon is a fascinating celestial body. It's a satellite of Earth, and it takes about 27 days to complete one orbit around the Earth. It takes about 27 days to complete one orbit around the Earth.";
        assert_eq!(
            drop_echoed_tail(echoed),
            "The Moon is a fascinating celestial body. It's a satellite of Earth, and it takes about 27 days to complete one orbit around the Earth."
        );
        for kept in [
            "We fly around the Earth. Around the Earth!",
            "I want a refund. I want a refund.",
            "It takes about 27 days to complete one orbit around the Earth.",
            "Book it for two people tonight at seven. Then call me back tonight at seven please.",
        ] {
            assert_eq!(drop_echoed_tail(kept), kept);
        }
    }

    #[test]
    fn non_speech_markers_are_stripped() {
        assert_eq!(clean_text(" [BLANK_AUDIO]"), "");
        assert_eq!(clean_text("(silence)"), "");
        assert_eq!(clean_text(" ♪ ♪ "), "");
        assert_eq!(clean_text(" Hello [Music] there. "), "Hello there.");
        assert_eq!(clean_text(" (coughs) Yes, please."), "Yes, please.");
        assert_eq!(clean_text(" ... "), "");
        assert_eq!(clean_text("Unbalanced ] bracket"), "Unbalanced bracket");
    }

    #[test]
    fn repetition_loops_are_collapsed() {
        let looped = "How much does this ticket cost? How much does this ticket cost? How much does this ticket cost?";
        assert_eq!(collapse_repeats(looped), "How much does this ticket cost?");
        let cut = "Please call me back when you get home tonight. Please call me back when you get home tonight. \
                   Please call me back when you get";
        assert_eq!(
            collapse_repeats(cut),
            "Please call me back when you get home tonight."
        );
        assert_eq!(
            collapse_repeats("Thank you. Thank you. Thank you. Thank"),
            "Thank you."
        );
        // A loop's first step after the last sentence (seen on piper speech
        // through whisper tiny.en): the unfinished restart is dropped.
        for (looped, clean) in [
            (
                "How many minutes are in an hour? How",
                "How many minutes are in an hour?",
            ),
            ("What is 2 plus 2? What", "What is 2 plus 2?"),
            (
                "Goodbye Have a nice day. Goodbye",
                "Goodbye Have a nice day.",
            ),
            ("Hi. Can you help me? Can you", "Hi. Can you help me?"),
            (
                "Hello? How are you today? Hello? Hello?",
                "Hello? How are you today?",
            ),
            (
                "Hello? How are you today? Hello? Hello",
                "Hello? How are you today?",
            ),
        ] {
            assert_eq!(collapse_repeats(looped), clean);
        }
        // Ordinary text is left alone.
        for keep in [
            "Can you help me find my keys?",
            "the cat and the dog and the bird",
            "I think that you think that",
            "put it in the kitchen and then clean the table in the kitchen",
            "Is it open? Yes",
            "Where is it? It is here",
            "Yes. I said yes.",
            "Hello. Is anyone there? Hello, hello?",
            "",
        ] {
            assert_eq!(
                collapse_repeats(keep),
                keep.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
        assert_eq!(max_tokens_for(3 * 16_000), 30);
    }
}
