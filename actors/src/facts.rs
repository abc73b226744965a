//! What the caller stated about themselves (a name, an order number, a
//! phone number), kept word for word when their turns leave the history.
//!
//! A summary made by a small model can drop or garble exactly these (SmolLM2
//! 135M echoes the conversation back instead of summarizing it), and they
//! are what a caller expects an agent to remember an hour in. Keeping the
//! caller's own sentences costs no model call and cannot invent anything.

/// Most characters the kept facts may take in the prompt (about 160 tokens);
/// past it the oldest go.
pub const FACTS_CHAR_BUDGET: usize = 640;

/// Words that introduce something about the caller ("my name is …").
const CUES: &[&str] = &[
    "my name",
    "i am ",
    "i'm ",
    "this is ",
    "call me",
    "my order",
    "my account",
    "my number",
    "my phone",
    "my email",
    "my address",
    "my booking",
    "my reservation",
    "my ticket",
    "my flight",
    "my policy",
    "my date of birth",
    "i live",
    "i need",
    "i want",
    "i'd like",
];

/// The sentences of `text` (a caller's turn) that state a fact: they hold a
/// digit or an introduction cue, and are not questions.
pub fn stated(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        let next_is_space = chars.get(i + 1).is_none_or(|(_, n)| n.is_whitespace());
        if matches!(c, '.' | '!' | '?') && next_is_space {
            push_fact(&mut out, &text[start..at + c.len_utf8()]);
            start = at + c.len_utf8();
        }
    }
    push_fact(&mut out, &text[start..]);
    out
}

fn push_fact(out: &mut Vec<String>, sentence: &str) {
    let s = sentence.trim();
    if s.is_empty() || s.ends_with('?') {
        return;
    }
    let lower = s.to_lowercase();
    let lower = format!("{lower} ");
    if s.chars().any(|c| c.is_ascii_digit()) || CUES.iter().any(|c| lower.contains(c)) {
        out.push(s.to_string());
    }
}

/// The facts kept so far, oldest first, within [`FACTS_CHAR_BUDGET`].
#[derive(Debug, Clone, Default)]
pub struct Facts {
    items: Vec<String>,
}

impl Facts {
    /// Keeps the facts `caller_text` states (a sentence already kept moves
    /// to the end: it was said again).
    pub fn add(&mut self, caller_text: &str) {
        for f in stated(caller_text) {
            self.items.retain(|i| *i != f);
            self.items.push(f);
        }
        while self.chars() > FACTS_CHAR_BUDGET && self.items.len() > 1 {
            self.items.remove(0);
        }
    }

    pub fn items(&self) -> &[String] {
        &self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn chars(&self) -> usize {
        self.items.iter().map(|i| i.chars().count()).sum()
    }

    /// The facts as one line for the system message.
    pub fn quoted(&self) -> String {
        self.items
            .iter()
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_kept_and_questions_and_chatter_are_not() {
        assert_eq!(
            stated("Hi. My name is Alice Moreno and my order number is 4417. What is the weather?"),
            vec!["My name is Alice Moreno and my order number is 4417.".to_string()]
        );
        assert_eq!(
            stated("Call me at 555 0101 tomorrow"),
            vec!["Call me at 555 0101 tomorrow".to_string()]
        );
        assert!(stated("What is my order number?").is_empty());
        assert!(stated("How are you today. Nice weather.").is_empty());
        // A decimal point is not a sentence end.
        assert_eq!(
            stated("I owe 3.50 dollars."),
            vec!["I owe 3.50 dollars.".to_string()]
        );
    }

    #[test]
    fn facts_stay_within_their_budget_newest_kept() {
        let mut f = Facts::default();
        f.add("My name is Alice.");
        for i in 0..100 {
            f.add(&format!("My ticket number is {i}{i}{i}."));
        }
        assert!(f.chars() <= FACTS_CHAR_BUDGET);
        assert_eq!(f.items().last().unwrap(), "My ticket number is 999999.");
        // Said again: kept once, as the newest.
        f.add("My ticket number is 989898.");
        assert_eq!(f.items().iter().filter(|i| i.contains("989898")).count(), 1);
        assert!(f.quoted().starts_with('"'));
    }
}
