//! Cutting a streamed reply into sentences, so the first one can be spoken
//! while the rest is still being generated.
//!
//! A boundary is `.`, `!` or `?` (or `…`, `;` followed by a newline, a blank
//! line) followed by whitespace, except after common abbreviations
//! ("Dr.", "p.m."), inside numbers ("3.50"), after single initials ("J.") and
//! inside URLs or e-mail addresses ("example.com").

/// Accumulates tokens and yields complete sentences.
#[derive(Debug, Default, Clone)]
pub struct SentenceSplitter {
    buf: String,
}

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "a.m", "p.m",
    "inc", "ltd", "co", "corp", "no", "approx", "dept", "est", "fig", "mt", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k",
];

impl SentenceSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a token; returns the sentences it completes, trimmed, in order.
    pub fn push(&mut self, token: &str) -> Vec<String> {
        self.buf.push_str(token);
        let mut out = Vec::new();
        while let Some(end) = self.find_boundary() {
            let sentence: String = self.buf[..end].trim().to_string();
            self.buf.drain(..end);
            if !sentence.is_empty() {
                out.push(sentence);
            }
        }
        out
    }

    /// The text up to the first clause break (`, ` `; ` `: ` ` - `) that has
    /// at least `min_words` words before it, taken out of the buffer. Lets
    /// the first words of a reply be spoken before its first sentence ends.
    pub fn take_clause(&mut self, min_words: usize) -> Option<String> {
        let s = self.buf.as_str();
        let mut words = 0;
        let mut in_word = false;
        let bytes = s.as_bytes();
        for (i, c) in s.char_indices() {
            if c.is_whitespace() {
                in_word = false;
                continue;
            }
            if !in_word {
                words += 1;
                in_word = true;
            }
            let breaks =
                matches!(c, ',' | ';' | ':') || (c == '-' && i > 0 && bytes[i - 1] == b' ');
            let followed_by_space = bytes.get(i + 1).is_some_and(|b| *b == b' ');
            if breaks && followed_by_space && words >= min_words {
                let clause = s[..=i].trim().to_string();
                self.buf.drain(..=i);
                return Some(clause);
            }
        }
        None
    }

    /// The rest of the text once the stream has ended.
    pub fn finish(&mut self) -> Option<String> {
        let rest = self.buf.trim().to_string();
        self.buf.clear();
        (!rest.is_empty()).then_some(rest)
    }

    /// Byte index just past a sentence end that is followed by whitespace.
    fn find_boundary(&self) -> Option<usize> {
        let s = self.buf.as_str();
        let chars: Vec<(usize, char)> = s.char_indices().collect();
        for (i, &(pos, c)) in chars.iter().enumerate() {
            // A blank line ends a paragraph (and list items).
            if c == '\n' {
                if let Some(&(_, '\n')) = chars.get(i + 1) {
                    return Some(pos + 1);
                }
                // A newline after a list item or line of its own also ends it.
                if i > 0 && !s[..pos].trim().is_empty() && chars.get(i + 1).is_some() {
                    let line_start = s[..pos].rfind('\n').map(|p| p + 1).unwrap_or(0);
                    let line = s[line_start..pos].trim_start();
                    if line.starts_with("- ")
                        || line.starts_with("* ")
                        || line.chars().next().is_some_and(|c| c.is_ascii_digit())
                    {
                        return Some(pos + 1);
                    }
                }
            }
            if !matches!(c, '.' | '!' | '?' | '…') {
                continue;
            }
            // Need to see what follows before deciding.
            let &(_, next) = chars.get(i + 1)?;
            // Closing quotes/brackets belong to the sentence.
            let (end_idx, after) = if matches!(next, '"' | '\'' | ')' | '”' | '’') {
                match chars.get(i + 2) {
                    Some(&(_, a)) => (i + 2, a),
                    None => return None,
                }
            } else {
                (i + 1, next)
            };
            if !after.is_whitespace() {
                continue; // 3.50, example.com, "?!" runs
            }
            if c == '.' && self.is_non_terminal_period(&s[..pos]) {
                continue;
            }
            let end = chars.get(end_idx).map(|&(p, _)| p).unwrap_or(s.len());
            return Some(end);
        }
        None
    }

    /// The word before a period is an abbreviation, an initial or a list number.
    fn is_non_terminal_period(&self, before: &str) -> bool {
        let word = before
            .rsplit(|c: char| c.is_whitespace() || c == '(' || c == '"')
            .next()
            .unwrap_or("");
        let lower = word.to_ascii_lowercase();
        if ABBREVIATIONS.contains(&lower.as_str()) {
            return true;
        }
        // Single initial like "J." (but not the pronoun "I." at a sentence end).
        if word.len() == 1 && word.chars().all(|c| c.is_ascii_uppercase()) && word != "I" {
            return true;
        }
        // "1." at the start of a list line.
        let line_start = before.rfind('\n').map(|p| p + 1).unwrap_or(0);
        let line = before[line_start..].trim();
        if !line.is_empty() && line.chars().all(|c| c.is_ascii_digit()) {
            return true;
        }
        false
    }
}

/// Split a whole text at once (used for fallbacks and long texts).
pub fn split_all(text: &str) -> Vec<String> {
    let mut s = SentenceSplitter::new();
    let mut out = s.push(text);
    out.extend(s.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(text: &str, piece: usize) -> Vec<String> {
        let mut s = SentenceSplitter::new();
        let chars: Vec<char> = text.chars().collect();
        let mut out = Vec::new();
        for chunk in chars.chunks(piece) {
            out.extend(s.push(&chunk.iter().collect::<String>()));
        }
        out.extend(s.finish());
        out
    }

    #[test]
    fn abbreviations_decimals_and_times() {
        let text = "Dr. Smith paid $3.50 at 5 p.m. Then he left.";
        for piece in [1, 3, 7, 100] {
            assert_eq!(
                stream(text, piece),
                vec!["Dr. Smith paid $3.50 at 5 p.m. Then he left."],
                "piece {piece}"
            );
        }
    }

    #[test]
    fn plain_sentences() {
        assert_eq!(
            stream("Hello there! How are you? I am fine.", 2),
            vec!["Hello there!", "How are you?", "I am fine."]
        );
    }

    #[test]
    fn urls_and_emails_are_not_cut() {
        assert_eq!(
            stream(
                "Visit example.com/help or mail a.b@example.org today. Bye.",
                4
            ),
            vec![
                "Visit example.com/help or mail a.b@example.org today.",
                "Bye."
            ]
        );
    }

    #[test]
    fn quotes_stay_with_sentence() {
        assert_eq!(
            stream("He said \"stop.\" Then quiet.", 1),
            vec!["He said \"stop.\"", "Then quiet."]
        );
    }

    #[test]
    fn lists() {
        assert_eq!(
            stream("Options:\n1. Tea\n2. Coffee\n\nPick one.", 3),
            vec!["Options:\n1. Tea", "2. Coffee", "Pick one."]
        );
    }

    #[test]
    fn initials_and_pronoun_i() {
        assert_eq!(
            stream("J. R. Tolkien wrote it. So did I. Yes.", 5),
            vec!["J. R. Tolkien wrote it.", "So did I.", "Yes."]
        );
    }

    #[test]
    fn unfinished_tail_is_flushed() {
        assert_eq!(
            split_all("No period at the end"),
            vec!["No period at the end"]
        );
        assert!(split_all("   ").is_empty());
    }

    #[test]
    fn a_first_clause_can_be_taken_before_the_sentence_ends() {
        let mut sp = SentenceSplitter::new();
        assert!(sp.push("Sure, I can").is_empty());
        assert_eq!(sp.take_clause(3), None, "too short to speak alone");
        assert!(sp.push(" help with that, because").is_empty());
        assert_eq!(
            sp.take_clause(3).as_deref(),
            Some("Sure, I can help with that,")
        );
        assert_eq!(
            sp.push(" it costs 1,299 dollars. Bye"),
            vec!["because it costs 1,299 dollars."]
        );
        assert_eq!(sp.finish().as_deref(), Some("Bye"));
    }
}
