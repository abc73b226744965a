//! Word error rate, the accuracy measure for speech recognition: the word-level
//! edit distance (substitutions + deletions + insertions) between a reference
//! and a hypothesis, divided by the number of reference words.
//!
//! Both sides are normalised first so that formatting is not counted as an
//! error: lowercase, apostrophes dropped (`don't` = `dont`), every other
//! non-alphanumeric character a word break. Numbers written as digits versus
//! words (`3` vs `three`) still count as different words.

/// The words of `text` after normalisation (see the module docs).
pub fn normalize_words(text: &str) -> Vec<String> {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_alphanumeric() {
            cleaned.extend(c.to_lowercase());
        } else if c == '\'' || c == '\u{2019}' {
            // Apostrophes join: "don't" and "dont" are the same word.
        } else {
            cleaned.push(' ');
        }
    }
    cleaned.split_whitespace().map(str::to_owned).collect()
}

/// Word-level edit distance between `reference` and `hypothesis` (after
/// normalisation), and the number of reference words: `(edits, ref_words)`.
pub fn word_edits(reference: &str, hypothesis: &str) -> (usize, usize) {
    let r = normalize_words(reference);
    let h = normalize_words(hypothesis);
    (levenshtein(&r, &h), r.len())
}

/// Word error rate of `hypothesis` against `reference`, 0.0 for a perfect
/// match. It can exceed 1.0 when the hypothesis adds many words. An empty
/// reference gives 0.0 for an empty hypothesis and 1.0 otherwise (any output
/// where nothing was said is wholly wrong).
pub fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let (edits, words) = word_edits(reference, hypothesis);
    ratio(edits, words)
}

/// Corpus word error rate over `(reference, hypothesis)` pairs: total edits
/// over total reference words, so long sentences weigh more than short ones
/// (unlike a mean of per-sentence rates).
pub fn corpus_wer(pairs: &[(String, String)]) -> f64 {
    let (edits, words) = pairs
        .iter()
        .map(|(r, h)| word_edits(r, h))
        .fold((0, 0), |(e, w), (de, dw)| (e + de, w + dw));
    ratio(edits, words)
}

fn ratio(edits: usize, words: usize) -> f64 {
    match (edits, words) {
        (0, _) => 0.0,
        (_, 0) => 1.0,
        (e, w) => e as f64 / w as f64,
    }
}

/// Levenshtein distance over words, in O(len(h)) memory.
fn levenshtein(r: &[String], h: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    let mut cur = vec![0; h.len() + 1];
    for (i, rw) in r.iter().enumerate() {
        cur[0] = i + 1;
        for (j, hw) in h.iter().enumerate() {
            let substitute = prev[j] + usize::from(rw != hw);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[h.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_text_is_zero_after_normalisation() {
        assert_eq!(word_error_rate("Hello, world!", "hello world"), 0.0);
        assert_eq!(word_error_rate("Don't stop.", "dont stop"), 0.0);
        assert_eq!(word_error_rate("well-known", "well known"), 0.0);
    }

    #[test]
    fn counts_substitutions_deletions_and_insertions() {
        // one substitution in four words
        assert_eq!(
            word_error_rate("the cat sat down", "the dog sat down"),
            0.25
        );
        // one deletion
        assert_eq!(word_error_rate("the cat sat down", "the cat down"), 0.25);
        // two insertions
        assert_eq!(word_error_rate("a b", "a x b y"), 1.0);
        // everything wrong, and more words than the reference
        assert_eq!(word_error_rate("yes", "no no no"), 3.0);
        assert_eq!(word_edits("a b c", "c b a"), (2, 3));
    }

    #[test]
    fn empty_sides() {
        assert_eq!(word_error_rate("", ""), 0.0);
        assert_eq!(word_error_rate("  ...  ", ""), 0.0);
        assert_eq!(word_error_rate("", "something"), 1.0);
        assert_eq!(word_error_rate("two words", ""), 1.0);
    }

    #[test]
    fn numbers_are_left_as_written() {
        assert_eq!(word_error_rate("three cats", "3 cats"), 0.5);
    }

    #[test]
    fn corpus_rate_weighs_by_reference_length() {
        let pairs = vec![
            (
                "one two three four".to_string(),
                "one two three four".to_string(),
            ),
            ("five six".to_string(), "five".to_string()),
        ];
        // 1 edit over 6 words, not the mean of 0 and 0.5
        assert!((corpus_wer(&pairs) - 1.0 / 6.0).abs() < 1e-12);
        assert_eq!(corpus_wer(&[]), 0.0);
    }

    #[test]
    fn unicode_is_lowercased() {
        assert_eq!(normalize_words("ÉCOLE Über’s"), vec!["école", "übers"]);
    }
}
