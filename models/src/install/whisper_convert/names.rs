//! Names: CTranslate2 variables to whisper.cpp tensors, and the tensors and
//! shapes whisper.cpp's loader requires.

use super::hparams::WhisperHparams;

/// `encoder/layer_12/...` -> 12 for prefix `encoder`; `layer_norm` is no layer.
pub(super) fn layer_index(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?.strip_prefix("/layer_")?;
    let digits = rest.split('/').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Where one CT2 variable goes in the ggml file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Mapping {
    One(String),
    /// Split by rows into equal parts; `None` parts are dropped.
    Rows(Vec<Option<String>>),
}

/// The ggml tensor name(s) for a CT2 whisper variable, `None` when unknown.
pub(super) fn map_variable(name: &str) -> Option<Mapping> {
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
pub(super) fn expected_tensors(n_audio_layer: u32, n_text_layer: u32) -> Vec<String> {
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
pub(super) fn expected_shape(name: &str, hp: &WhisperHparams) -> Option<Vec<u32>> {
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
pub(super) fn ct2_source_hint(ggml: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
