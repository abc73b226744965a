//! The vocabulary: `vocabulary.txt`, in GPT-2's byte-level spelling, back to
//! the raw token bytes whisper.cpp stores.

use super::error::ConvertError;
use std::path::Path;

/// Vocabulary size from which whisper.cpp treats a model as multilingual.
const MULTILINGUAL_N_VOCAB: usize = 51_865;

/// GPT-2's byte-level alphabet reversed: the printable stand-in character for
/// each byte (`Ġ` for space, `Ċ` for newline...) back to the byte.
fn gpt2_byte_decoder() -> [Option<u8>; 324] {
    let mut table = [None; 324];
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
    let mut extra = 0u32;
    for b in 0..=255u8 {
        let ch = if printable(b) {
            u32::from(b)
        } else {
            extra += 1;
            255 + extra
        };
        table[ch as usize] = Some(b);
    }
    table
}

/// A vocabulary line in GPT-2's byte-level spelling, back to raw bytes.
fn decode_gpt2_token(token: &str, table: &[Option<u8>; 324]) -> Result<Vec<u8>, char> {
    token
        .chars()
        .map(|c| table.get(c as usize).copied().flatten().ok_or(c))
        .collect()
}

fn is_special(token: &str) -> bool {
    token.len() > 4 && token.starts_with("<|") && token.ends_with("|>")
}

/// The regular tokens of `vocabulary.txt` as raw bytes, in id order: the run of
/// lines before the first `<|...|>` special (whisper.cpp numbers the specials
/// itself, after the regular tokens).
pub(super) fn read_vocabulary(path: &Path, n_vocab: usize) -> Result<Vec<Vec<u8>>, ConvertError> {
    let text = std::fs::read(path).map_err(|source| ConvertError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(text).map_err(|e| ConvertError::Vocabulary {
        path: path.to_path_buf(),
        line: 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        message: "not UTF-8".into(),
    })?;
    let table = gpt2_byte_decoder();
    let mut tokens = Vec::new();
    let mut saw_special = false;
    for (i, line) in text.lines().enumerate() {
        if is_special(line) {
            saw_special = true;
            break;
        }
        let bytes = decode_gpt2_token(line, &table).map_err(|c| ConvertError::Vocabulary {
            path: path.to_path_buf(),
            line: i + 1,
            message: format!(
                "character {c:?} (U+{:04X}) is not in GPT-2's byte alphabet",
                c as u32
            ),
        })?;
        tokens.push(bytes);
    }
    let fail = |message: String| ConvertError::Vocabulary {
        path: path.to_path_buf(),
        line: tokens.len() + 1,
        message,
    };
    if !saw_special {
        return Err(fail(
            "no `<|endoftext|>` special token: not a whisper vocabulary".into(),
        ));
    }
    // whisper.cpp numbers the specials from fixed ids: <|endoftext|> is 50256
    // in English-only models, 50257 in multilingual ones (n_vocab >= 51865).
    let expected = if n_vocab >= MULTILINGUAL_N_VOCAB {
        50_257
    } else {
        50_256
    };
    if tokens.len() != expected {
        return Err(fail(format!(
            "{} regular tokens before the first special, whisper.cpp expects {expected} for a \
             model of {n_vocab} token embeddings",
            tokens.len()
        )));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_byte_decoder_inverts_the_byte_alphabet() {
        let t = gpt2_byte_decoder();
        assert_eq!(decode_gpt2_token("Ġhello", &t), Ok(b" hello".to_vec()));
        assert_eq!(decode_gpt2_token("Ċ", &t), Ok(b"\n".to_vec()));
        assert_eq!(decode_gpt2_token("!", &t), Ok(b"!".to_vec()));
        // "é" is the two bytes C3 A9, spelled "Ã©" in the byte alphabet.
        assert_eq!(decode_gpt2_token("Ã©", &t), Ok("é".as_bytes().to_vec()));
        assert_eq!(decode_gpt2_token("a\u{4e00}", &t), Err('\u{4e00}'));
        // A bijection: 256 characters map to 256 distinct bytes.
        let mut seen = [false; 256];
        for b in t.iter().flatten() {
            assert!(!seen[*b as usize]);
            seen[*b as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn specials_are_recognised() {
        assert!(is_special("<|endoftext|>"));
        assert!(is_special("<|0.00|>"));
        assert!(!is_special("<|"));
        assert!(!is_special("Ġ<"));
    }
}
