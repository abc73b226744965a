//! Text cut into pieces of bounded length, at sentence ends, else clause
//! punctuation, else spaces.

/// Cuts text into pieces of at most `max_chars` characters, preferring to cut
/// after a sentence end, then after clause punctuation, then at a space, and
/// only then inside a word. Pieces are trimmed; blank ones are dropped.
pub fn split_text(text: &str, max_chars: usize) -> Vec<&str> {
    let max_chars = max_chars.max(1);
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((limit, _)) = rest.char_indices().nth(max_chars) else {
            pieces.push(rest);
            break;
        };
        let cut = best_cut(rest, limit);
        let piece = rest[..cut].trim();
        if !piece.is_empty() {
            pieces.push(piece);
        }
        rest = rest[cut..].trim_start();
    }
    pieces
}

/// Byte index to cut `text` at, at most `limit` (a char boundary), never 0.
fn best_cut(text: &str, limit: usize) -> usize {
    // A candidate cut follows punctuation and precedes whitespace.
    let after_punct = |set: &[char]| {
        text[..limit]
            .char_indices()
            .filter(|(i, c)| {
                set.contains(c)
                    && text[i + c.len_utf8()..]
                        .chars()
                        .next()
                        .is_some_and(char::is_whitespace)
            })
            .map(|(i, c)| i + c.len_utf8())
            .next_back()
    };
    after_punct(&['.', '!', '?', '\n'])
        .or_else(|| after_punct(&[',', ';', ':', '\u{2014}', '\u{2013}']))
        .or_else(|| {
            text[..limit]
                .char_indices()
                .filter(|(i, c)| c.is_whitespace() && *i > 0)
                .map(|(i, _)| i)
                .next_back()
        })
        .filter(|&i| i > 0)
        .unwrap_or(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_text_bounds_every_piece_and_keeps_the_words() {
        let prose = "Hello there. This is a test, with a clause; and more! ".repeat(100);
        for text in [
            prose.as_str(),
            &"word ".repeat(1000),
            &"x".repeat(5000),
            &"é".repeat(777),
            "",
            "   ",
        ] {
            let pieces = split_text(text, 120);
            for p in &pieces {
                assert!(p.chars().count() <= 120, "piece too long: {p:?}");
                assert!(!p.trim().is_empty());
            }
            let joined: String = pieces.concat().split_whitespace().collect();
            let original: String = text.split_whitespace().collect();
            assert_eq!(joined, original);
        }
    }

    #[test]
    fn split_text_prefers_sentence_ends_then_commas() {
        let s = "One two three. Four five, six seven eight nine";
        assert_eq!(
            split_text(s, 20),
            vec!["One two three.", "Four five,", "six seven eight nine"]
        );
        assert_eq!(split_text("short", 20), vec!["short"]);
    }
}
