//! Text to phonemes, one string per sentence, in piper-phonemize's shape
//! (each clause's phonemes followed by its punctuation).

use super::espeak::phonemize;
use super::text::split_text;

/// Punctuation that ends a clause (when followed by a space or the end) and
/// that piper voices have phonemes for, as piper-phonemize emits them.
const CLAUSE_ENDS: [char; 6] = ['.', ',', ';', ':', '!', '?'];
/// Closing marks that may trail a clause's punctuation (`"Hi."`, `(ok.)`).
const CLOSERS: [char; 8] = ['"', '\'', ')', ']', '\u{201d}', '\u{2019}', '\u{bb}', '}'];

/// Text in, one phoneme string per sentence out, in piper-phonemize's shape:
/// each clause's phonemes followed by its punctuation, clauses joined by a
/// space (`həlˈoʊ, wˈɜːld.`).
///
/// espeak-rs hands back one sentence with the clauses glued together (no
/// punctuation, no space: "hello, world" would come out as one word), so
/// clauses are cut here and phonemized one by one. Marks espeak-ng would
/// itself treat as clause breaks (dashes, brackets, quotes) are turned into
/// commas or spaces first, so it never cuts (and glues) inside a clause.
pub(super) fn phonemize_sentences(text: &str, voice: &str) -> Result<Vec<String>, String> {
    let mut sentences = Vec::new();
    let mut current = String::new();
    for (clause, end) in clauses(&normalize_for_espeak(text)) {
        if clause.chars().any(char::is_alphanumeric) {
            let phonemes = phonemize(&clause, voice)?.join(" ");
            let phonemes = phonemes.trim();
            if !phonemes.is_empty() {
                if !current.is_empty() {
                    current.push(' ');
                }
                current.push_str(phonemes);
                if let Some(c) = end {
                    current.push(c);
                }
            }
        }
        let sentence_end = matches!(end, Some('.' | '!' | '?') | None);
        if sentence_end && !current.is_empty() {
            sentences.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        sentences.push(current);
    }
    Ok(sentences)
}

/// Dashes and brackets become clause commas, quotes become spaces, the
/// ellipsis a period.
fn normalize_for_espeak(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\u{2014}' | '\u{2013}' | '(' | ')' | '[' | ']' | '{' | '}' => out.push_str(" , "),
            '"' | '\u{201c}' | '\u{201d}' | '\u{ab}' | '\u{bb}' => out.push(' '),
            '\u{2026}' => out.push('.'),
            c if c.is_control() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Cuts text into clauses at [`CLAUSE_ENDS`] punctuation followed by a space
/// or the end (so "3.50" and "12,000" stay whole) and at line breaks. Each
/// clause comes with the punctuation that ended it (the first of a run such
/// as `?!` or `...`); `None` for a line break or the end of the text.
fn clauses(text: &str) -> Vec<(String, Option<char>)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut clause = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            out.push((std::mem::take(&mut clause), None));
            i += 1;
            continue;
        }
        if CLAUSE_ENDS.contains(&c) {
            let mut j = i + 1;
            while j < chars.len()
                && (CLAUSE_ENDS.contains(&chars[j]) || CLOSERS.contains(&chars[j]))
            {
                j += 1;
            }
            if j == chars.len() || chars[j].is_whitespace() {
                out.push((std::mem::take(&mut clause), Some(c)));
                i = j;
                continue;
            }
        }
        clause.push(c);
        i += 1;
    }
    if !clause.trim().is_empty() {
        out.push((clause, None));
    }
    out
}

/// Splits an over-long phoneme string at word gaps (or anywhere, failing
/// that) so one ONNX run stays bounded even when espeak expands a short text
/// (long numbers) into many phonemes.
pub(super) fn bound_phonemes(phonemes: String, max_chars: usize) -> Vec<String> {
    if phonemes.chars().count() <= max_chars {
        return vec![phonemes];
    }
    split_text(&phonemes, max_chars)
        .into_iter()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_keep_their_punctuation_and_numbers_stay_whole() {
        let got = clauses("Hello, world. It costs 3.50, or 12,000?! Fine\nNext");
        let want: Vec<(String, Option<char>)> = vec![
            ("Hello".into(), Some(',')),
            (" world".into(), Some('.')),
            (" It costs 3.50".into(), Some(',')),
            (" or 12,000".into(), Some('?')),
            (" Fine".into(), None),
            ("Next".into(), None),
        ];
        assert_eq!(got, want);
        assert_eq!(
            clauses("He said \"stop.\" Then"),
            vec![("He said \"stop".into(), Some('.')), (" Then".into(), None)]
        );
        assert_eq!(
            normalize_for_espeak("a \u{2014} b (c) \"d\"\u{2026}"),
            "a  ,  b  , c ,   d ."
        );
    }
}
