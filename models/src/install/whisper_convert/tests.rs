//! End-to-end tests of the converter on a miniature CT2 model written here.

use super::convert_ct2_to_ggml;
use super::dtype::{f16_to_f32, DT_F16, DT_I16};
use super::ggml::GGML_MAGIC;
use super::names::expected_tensors;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
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
