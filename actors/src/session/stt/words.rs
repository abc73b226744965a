//! What counts as words in a transcript: fillers and whisper's non-speech
//! marks do not (they neither interrupt the agent nor make a turn).

/// Sounds people make over a speaker without taking the turn (hesitations,
/// backchannels): not words that interrupt.
const FILLERS: [&str; 16] = [
    "a", "ah", "ahh", "eh", "er", "erm", "hm", "hmm", "huh", "mhm", "mm", "mmm", "uh", "uhm", "um",
    "mm-hmm",
];

/// Words of a transcript: whisper writes non-speech as "[BLANK_AUDIO]" or
/// "(static)", and a hum or a hesitation as "Hmm", "uh" or "A...": none of
/// those are words.
pub(super) fn word_count(text: &str) -> usize {
    let mut depth = 0i32;
    let mut outside = String::new();
    for c in text.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            c if depth <= 0 => outside.push(c),
            _ => {}
        }
    }
    outside
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .map(|w| w.trim_matches('-').to_lowercase())
        .filter(|w| !w.is_empty() && !FILLERS.contains(&w.as_str()))
        .count()
}

pub(super) fn has_words(text: &str) -> bool {
    word_count(text) > 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn fillers_and_non_speech_are_not_words() {
        for t in [
            "",
            " [BLANK_AUDIO]",
            "(static)",
            "Hmm",
            "uh",
            "A...",
            "Mm-hmm.",
            "Uh, um.",
        ] {
            assert!(!super::has_words(t), "{t:?}");
        }
        for t in ["Stop.", "wait", "Uh, stop please", "I'm done", "no"] {
            assert!(super::has_words(t), "{t:?}");
        }
        assert_eq!(super::word_count("Uh, stop [noise] right now"), 3);
    }
}
