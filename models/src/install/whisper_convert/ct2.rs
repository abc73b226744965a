//! The reader of a CTranslate2 `model.bin`: the variable index first (headers
//! only), each tensor's data on demand; every size is checked against the file.

use super::dtype::{
    dtype_size, DT_BF16, DT_F16, DT_F32, DT_I16, DT_I32, DT_I8, GGML_F16, GGML_F32,
};
use super::error::ConvertError;
use super::hparams::WhisperHparams;
use super::names::layer_index;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// CTranslate2 `model.bin` layout versions this reader understands (4 added the
/// dtype byte, 6 is what current CTranslate2 writes).
const CT2_VERSIONS: std::ops::RangeInclusive<u32> = 4..=6;
/// Head size of every whisper model; the fallback when a spec lacks `num_heads`.
const WHISPER_HEAD_DIM: u32 = 64;

/// One variable's header; its data stays in the file until written out.
#[derive(Debug, Clone)]
pub(super) struct Var {
    pub(super) name: String,
    pub(super) dims: Vec<u32>,
    pub(super) dtype: u8,
    offset: u64,
    nbytes: u64,
}

/// The variable index of a `model.bin` (pass one of two: headers only, so
/// memory stays at one tensor however big the model is).
pub(super) struct Ct2Model {
    pub(super) path: PathBuf,
    pub(super) vars: Vec<Var>,
    /// Values of small integer scalars (num_heads and friends).
    scalars: BTreeMap<String, i64>,
}

impl Ct2Model {
    pub(super) fn open(path: &Path) -> Result<Self, ConvertError> {
        let file = File::open(path).map_err(|source| ConvertError::Io {
            action: "open",
            path: path.to_path_buf(),
            source,
        })?;
        let len = file
            .metadata()
            .map_err(|source| ConvertError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            })?
            .len();
        let mut r = Reader {
            inner: BufReader::new(file),
            pos: 0,
            len,
            path: path.to_path_buf(),
        };

        let version = r.u32("the format version")?;
        if !CT2_VERSIONS.contains(&version) {
            return Err(r.format(format!(
                "format version {version} (this converter reads {}..={})",
                CT2_VERSIONS.start(),
                CT2_VERSIONS.end()
            )));
        }
        let spec = r.string("the spec name")?;
        if spec != "WhisperSpec" {
            return Err(r.format(format!("spec `{spec}` (expected `WhisperSpec`)")));
        }
        let _revision = r.u32("the spec revision")?;
        let count = r.u32("the variable count")?;
        // Each variable takes at least 9 bytes: an upper bound from the file size.
        if u64::from(count) > len / 9 {
            return Err(r.format(format!("{count} variables cannot fit in {len} bytes")));
        }

        let mut vars = Vec::with_capacity(count as usize);
        let mut scalars = BTreeMap::new();
        for i in 0..count {
            let name = r.string(&format!("the name of variable #{i}"))?;
            let what = |field: &str| format!("the {field} of variable `{name}`");
            let rank = r.u8(&what("rank"))?;
            if rank > 4 {
                return Err(var_error(
                    path,
                    &name,
                    format!("rank {rank} (at most 4 expected)"),
                ));
            }
            let mut dims = Vec::with_capacity(rank as usize);
            for _ in 0..rank {
                dims.push(r.u32(&what("shape"))?);
            }
            let dtype = r.u8(&what("dtype"))?;
            let nbytes = u64::from(r.u32(&what("byte count"))?);
            let size = dtype_size(dtype)
                .ok_or_else(|| var_error(path, &name, format!("unknown dtype {dtype}")))?;
            let elems = dims
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)));
            if elems.and_then(|e| e.checked_mul(size)) != Some(nbytes) {
                return Err(var_error(
                    path,
                    &name,
                    format!("shape {dims:?} of dtype {dtype} needs a different size than its {nbytes} bytes"),
                ));
            }
            let offset = r.pos;
            if offset + nbytes > len {
                return Err(var_error(
                    path,
                    &name,
                    format!("data runs past the end of the file ({nbytes} bytes at offset {offset}, file is {len} bytes)"),
                ));
            }
            if dims.is_empty() && nbytes <= 8 {
                let raw = r.bytes(nbytes as usize, &what("value"))?;
                if let Some(v) = scalar_value(&raw, dtype) {
                    scalars.insert(name.clone(), v);
                }
            } else {
                r.skip(nbytes, &what("data"))?;
            }
            vars.push(Var {
                name,
                dims,
                dtype,
                offset,
                nbytes,
            });
        }
        // Aliases (`decoder/projection/weight` -> the token embedding) follow;
        // whisper.cpp ties the projection itself, so they are not needed.
        Ok(Self {
            path: path.to_path_buf(),
            vars,
            scalars,
        })
    }

    fn var(&self, name: &str) -> Result<&Var, ConvertError> {
        self.vars
            .iter()
            .find(|v| v.name == name)
            .ok_or_else(|| ConvertError::Missing {
                path: self.path.clone(),
                name: name.to_string(),
            })
    }

    pub(super) fn var_err(&self, var: &Var, message: impl Into<String>) -> ConvertError {
        var_error(&self.path, &var.name, message.into())
    }

    fn dims(&self, name: &str, rank: usize) -> Result<&[u32], ConvertError> {
        let var = self.var(name)?;
        if var.dims.len() != rank || var.dims.contains(&0) {
            return Err(self.var_err(
                var,
                format!("shape {:?} (expected {rank} non-zero dimensions)", var.dims),
            ));
        }
        Ok(&var.dims)
    }

    fn layers(&self, prefix: &str) -> Result<u32, ConvertError> {
        let mut seen = BTreeSet::new();
        for v in &self.vars {
            if let Some(n) = layer_index(&v.name, prefix) {
                seen.insert(n);
            }
        }
        let n = seen.len() as u32;
        if n == 0 {
            return Err(ConvertError::Missing {
                path: self.path.clone(),
                name: format!("{prefix}/layer_0"),
            });
        }
        // Layers must be 0..n with no gap, or the shapes below are not whisper's.
        if seen.iter().copied().ne(0..n) {
            return Err(ConvertError::Format {
                path: self.path.clone(),
                message: format!("{prefix} layers are not numbered 0..{n}: {seen:?}"),
            });
        }
        Ok(n)
    }

    fn heads(&self, name: &str, state: u32) -> Result<u32, ConvertError> {
        let heads = match self.scalars.get(name) {
            Some(&h) => u32::try_from(h).unwrap_or(0),
            None => state / WHISPER_HEAD_DIM,
        };
        if heads == 0 || !state.is_multiple_of(heads) {
            return Err(var_error(
                &self.path,
                name,
                format!("{heads} heads do not divide the model width {state}"),
            ));
        }
        Ok(heads)
    }

    pub(super) fn hparams(&self) -> Result<WhisperHparams, ConvertError> {
        let emb = self.dims("decoder/embeddings/weight", 2)?;
        let (n_vocab, n_text_state) = (emb[0], emb[1]);
        let enc_pos = self.dims("encoder/position_encodings/encodings", 2)?;
        let (n_audio_ctx, n_audio_state) = (enc_pos[0], enc_pos[1]);
        let dec_pos = self.dims("decoder/position_encodings/encodings", 2)?;
        let n_text_ctx = dec_pos[0];
        let conv1 = self.dims("encoder/conv1/weight", 3)?;
        let n_mels = conv1[1];

        if n_audio_state != n_text_state || dec_pos[1] != n_text_state || conv1[0] != n_audio_state
        {
            return Err(ConvertError::Format {
                path: self.path.clone(),
                message: format!(
                    "model widths disagree: encoder {n_audio_state}, decoder {n_text_state}, \
                     decoder positions {}, conv1 {}",
                    dec_pos[1], conv1[0]
                ),
            });
        }
        for (what, v, max) in [
            ("vocabulary size", n_vocab, 1 << 20),
            ("audio context", n_audio_ctx, 1 << 16),
            ("text context", n_text_ctx, 1 << 16),
            ("mel bands", n_mels, 1024),
        ] {
            if v > max {
                return Err(ConvertError::Format {
                    path: self.path.clone(),
                    message: format!("implausible {what} {v}"),
                });
            }
        }
        Ok(WhisperHparams {
            n_vocab,
            n_audio_ctx,
            n_audio_state,
            n_audio_head: self.heads("encoder/num_heads", n_audio_state)?,
            n_audio_layer: self.layers("encoder")?,
            n_text_ctx,
            n_text_state,
            n_text_head: self.heads("decoder/num_heads", n_text_state)?,
            n_text_layer: self.layers("decoder")?,
            n_mels,
        })
    }

    /// 1 (float16 matrices) when every matrix is float16, as in the published
    /// models; otherwise 0 and everything is widened to float32.
    pub(super) fn ftype(&self) -> Result<u32, ConvertError> {
        let mut all_f16 = true;
        for v in self.vars.iter().filter(|v| !v.dims.is_empty()) {
            match v.dtype {
                DT_F16 => {}
                DT_F32 | DT_BF16 => all_f16 = false,
                DT_I8 => {
                    return Err(self.var_err(
                        v,
                        "int8-quantized weights are not supported; use a float16 or float32 CTranslate2 model",
                    ))
                }
                other => return Err(self.var_err(v, format!("dtype {other} is not a float type"))),
            }
        }
        Ok(if all_f16 { GGML_F16 } else { GGML_F32 })
    }

    pub(super) fn reader(&self) -> Result<BufReader<File>, ConvertError> {
        File::open(&self.path)
            .map(BufReader::new)
            .map_err(|source| ConvertError::Io {
                action: "open",
                path: self.path.clone(),
                source,
            })
    }

    pub(super) fn read_data(
        &self,
        reader: &mut BufReader<File>,
        var: &Var,
    ) -> Result<Vec<u8>, ConvertError> {
        let io_err = |source: io::Error| {
            var_error(
                &self.path,
                &var.name,
                format!("cannot read its data: {source}"),
            )
        };
        reader.seek(SeekFrom::Start(var.offset)).map_err(io_err)?;
        let mut buf = vec![0u8; var.nbytes as usize];
        reader.read_exact(&mut buf).map_err(io_err)?;
        Ok(buf)
    }
}

fn var_error(path: &Path, name: &str, message: String) -> ConvertError {
    ConvertError::Variable {
        path: path.to_path_buf(),
        name: name.to_string(),
        message,
    }
}

fn scalar_value(raw: &[u8], dtype: u8) -> Option<i64> {
    Some(match (dtype, raw.len()) {
        (DT_I8, 1) => i64::from(raw[0] as i8),
        (DT_I16, 2) => i64::from(i16::from_le_bytes([raw[0], raw[1]])),
        (DT_I32, 4) => i64::from(i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
        _ => return None,
    })
}

/// A byte reader that names the file and the field when the file ends early.
struct Reader {
    inner: BufReader<File>,
    pos: u64,
    len: u64,
    path: PathBuf,
}

impl Reader {
    fn format(&self, message: String) -> ConvertError {
        ConvertError::Format {
            path: self.path.clone(),
            message,
        }
    }

    fn bytes(&mut self, n: usize, what: &str) -> Result<Vec<u8>, ConvertError> {
        if self.pos + n as u64 > self.len {
            return Err(self.format(format!(
                "file ends at byte {} while reading {what}",
                self.len
            )));
        }
        let mut buf = vec![0u8; n];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| self.format(format!("cannot read {what}: {e}")))?;
        self.pos += n as u64;
        Ok(buf)
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), ConvertError> {
        let delta = i64::try_from(n).map_err(|_| self.format(format!("{what} is too large")))?;
        self.inner
            .seek_relative(delta)
            .map_err(|e| self.format(format!("cannot skip {what}: {e}")))?;
        self.pos += n;
        Ok(())
    }

    fn u8(&mut self, what: &str) -> Result<u8, ConvertError> {
        Ok(self.bytes(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, ConvertError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A u16 length (NUL included), then the bytes.
    fn string(&mut self, what: &str) -> Result<String, ConvertError> {
        let b = self.bytes(2, what)?;
        let n = u16::from_le_bytes([b[0], b[1]]) as usize;
        let mut raw = self.bytes(n, what)?;
        if raw.last() == Some(&0) {
            raw.pop();
        }
        String::from_utf8(raw).map_err(|_| self.format(format!("{what} is not UTF-8")))
    }
}
