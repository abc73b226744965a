//! The writer of the ggml file: header, mel filters, vocabulary, then every
//! tensor under its whisper.cpp name, shape and type.

use super::ct2::Ct2Model;
use super::dtype::convert_data;
use super::error::ConvertError;
use super::hparams::WhisperHparams;
use super::mel::mel_filters;
use super::names::{ct2_source_hint, expected_shape, expected_tensors, map_variable, Mapping};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// `ggml` in whisper.cpp's file magic (`GGML_FILE_MAGIC`).
pub(super) const GGML_MAGIC: u32 = 0x6767_6d6c;
/// FFT size whisper's log-mel front end uses at 16 kHz (25 ms windows).
const N_FFT: usize = 400;
/// Whisper's input sample rate.
const SAMPLE_RATE: f64 = 16_000.0;

pub(super) fn write_ggml(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
