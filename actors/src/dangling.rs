//! Does a transcript stop mid-sentence? The words English speakers pause
//! after but never end on: articles, prepositions, conjunctions,
//! possessives, a bare "is". The transcript's side of end-of-turn: the
//! audio turn model hears a falling pitch after "a table for" on a
//! synthetic voice too; the words say the sentence is not done.
//!
//! A wh-question may end on a preposition: "Where are you from?" is
//! complete. A question mark alone is not enough: whisper wrote "Can you
//! send the invoice to?" for a speaker who paused after "to" (measured in
//! the turn-taking bench).

/// Words a finished sentence does not end on.
const DANGLING: &[&str] = &[
    // articles and determiners
    "a", "an", "the", "this", "these", "those", "some", "any", "every",
    // prepositions
    "about", "at", "by", "for", "from", "in", "into", "of", "on", "onto", "to", "with", "without",
    "than", "between", "like", // conjunctions
    "and", "or", "but", "because", "so", "if", "that", "when", "while", "although",
    // possessives
    "my", "your", "our", "their", "his", "its", // a verb waiting for its complement
    "is", "are", "was", "were", "be", "am", // hesitations
    "um", "uh", "er", "erm", "uhm",
];

/// Words a question that may strand a preposition starts with.
const WH: &[&str] = &[
    "what", "who", "whom", "whose", "which", "where", "when", "how", "why",
];

/// True when `text` stops on a word a sentence does not end on (and is not
/// a wh-question).
pub fn ends_mid_sentence(text: &str) -> bool {
    let trimmed = text.trim_end();
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    if trimmed.ends_with('?') {
        // The question's own first word (whisper may write several sentences).
        let question = trimmed
            .trim_end_matches('?')
            .rsplit(['.', '!', '?'])
            .next()
            .unwrap_or("");
        if words(question)
            .first()
            .is_some_and(|w| WH.contains(&w.as_str()))
        {
            return false;
        }
    }
    let last = trimmed
        .trim_end_matches(|c: char| !c.is_alphanumeric())
        .rsplit(|c: char| !(c.is_alphanumeric() || c == '\''))
        .next()
        .unwrap_or("")
        .to_lowercase();
    DANGLING.contains(&last.as_str())
}

#[cfg(test)]
mod tests {
    use super::ends_mid_sentence;

    #[test]
    fn a_sentence_that_stops_on_a_function_word_is_not_finished() {
        for t in [
            "I'd like to book a table for",
            " I'd like to book a table for.",
            "My phone number is...",
            "I want a large pizza and",
            "Can you send the invoice to",
            "The order number is, um",
            "Can you send the invoice to?",
        ] {
            assert!(ends_mid_sentence(t), "{t:?}");
        }
        for t in [
            "What is the capital of France?",
            "Where are you from?",
            "Sure. Who are you talking to?",
            "I'd like a table for two.",
            "Thanks, that is all I needed.",
            "",
            "[BLANK_AUDIO]",
        ] {
            assert!(!ends_mid_sentence(t), "{t:?}");
        }
    }
}
