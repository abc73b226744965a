//! The ggml model file, checked before whisper.cpp reads a byte of it, and
//! the model name derived from its file name.

use super::error::SttLoadError;
use std::io::Read;
use std::path::Path;

/// `ggml` file magic, checked before whisper.cpp reads a byte.
pub(super) const GGML_MAGIC: u32 = 0x6767_6d6c;

/// `.../ggml-tiny.en.bin` -> `whisper-tiny.en`.
pub(super) fn model_name_from_path(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = stem.strip_prefix("ggml-").unwrap_or(&stem);
    if base.starts_with("whisper") {
        base.to_string()
    } else {
        format!("whisper-{base}")
    }
}

/// Checks the magic and the hyperparameters before whisper.cpp sees the file:
/// its loader trusts them (a wild size would be allocated, a short file read
/// as garbage), and this way the error names the file.
pub(super) fn check_ggml_header(path: &Path) -> Result<(), SttLoadError> {
    let corrupt = |reason: String| SttLoadError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SttLoadError::Missing {
                path: path.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(SttLoadError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let len = file
        .metadata()
        .map_err(|source| SttLoadError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    let mut header = [0u8; 48];
    file.read_exact(&mut header)
        .map_err(|_| corrupt(format!("only {len} bytes, too short for a header")))?;
    let word = |i: usize| {
        u32::from_le_bytes([
            header[4 * i],
            header[4 * i + 1],
            header[4 * i + 2],
            header[4 * i + 3],
        ])
    };
    if word(0) != GGML_MAGIC {
        return Err(corrupt(format!("bad magic {:#010x}", word(0))));
    }
    let names = [
        "n_vocab",
        "n_audio_ctx",
        "n_audio_state",
        "n_audio_head",
        "n_audio_layer",
        "n_text_ctx",
        "n_text_state",
        "n_text_head",
        "n_text_layer",
        "n_mels",
    ];
    let hp: Vec<u64> = (1..=10).map(|i| u64::from(word(i))).collect();
    for (name, &v) in names.iter().zip(&hp) {
        if v == 0 || v > 1 << 20 {
            return Err(corrupt(format!("implausible {name} = {v}")));
        }
    }
    let (n_vocab, n_audio_ctx, n_audio_state, n_text_state) = (hp[0], hp[1], hp[2], hp[6]);
    if n_audio_state != n_text_state {
        return Err(corrupt(format!(
            "encoder width {n_audio_state} differs from decoder width {n_text_state}"
        )));
    }
    // The token embedding alone is n_vocab x width (at least half a byte per
    // weight even quantized): a file smaller than that is cut short.
    let min_bytes = n_vocab * n_text_state / 2 + n_audio_ctx * n_audio_state * 4;
    if len < min_bytes {
        return Err(corrupt(format!(
            "{len} bytes, but its header describes a model of at least {min_bytes} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_come_from_the_file() {
        assert_eq!(
            model_name_from_path(Path::new("/m/whisper-tiny.en/ggml-tiny.en.bin")),
            "whisper-tiny.en"
        );
        assert_eq!(
            model_name_from_path(Path::new("ggml-base.bin")),
            "whisper-base"
        );
        assert_eq!(
            model_name_from_path(Path::new("whisper-small.bin")),
            "whisper-small"
        );
    }
}
