//! The speech models of tests (installed by `arc-agent models fetch`; a
//! missing one fails with that command), the sentences they are tried on,
//! and what whisper hears in a WAV.

use crate::wav::load_16k;
use arc_actors::engine::{CancellationToken, SttEngine, TranscribeKind};
use arc_models::manifest;
use arc_models::piper::{PiperOptions, PiperTts};
use arc_models::pool::InferencePool;
use arc_models::silero::{SileroOptions, SileroVad};
use arc_models::turn::SmartTurn;
use arc_models::whisper::{WhisperOptions, WhisperStt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Known sentences: spoken by espeak-ng or piper, then transcribed and
/// scored by word error rate.
pub const SENTENCES: &[&str] = &[
    "The quick brown fox jumps over the lazy dog.",
    "Please call me back when you get home tonight.",
    "I would like to book a table for two people.",
    "What time does the train leave for the city?",
    "The weather is nice and warm today.",
    "Can you help me find my keys?",
    "We need to buy some milk and bread.",
    "Turn off the lights in the kitchen, please.",
    "My favorite color is blue.",
    "How much does this ticket cost?",
];

/// Smart Turn's model, below the models dir.
pub const SMART_TURN_FILE: &str = "smart-turn-v3.2/smart-turn-v3.2-cpu.onnx";

/// Silero VAD's model, below the models dir.
pub const SILERO_FILE: &str = "silero-vad/silero_vad.onnx";
/// The piper voice and its config, below the models dir.
pub const PIPER_MODEL: &str = "piper-en_US-joe-medium/en_US-joe-medium.onnx";
pub const PIPER_CONFIG: &str = "piper-en_US-joe-medium/en_US-joe-medium.onnx.json";

/// The model file `rel` (below the models dir), or a failure saying how to
/// get it (never a skip).
pub fn model_file(rel: &str) -> PathBuf {
    let path = manifest::default_models_dir().join(rel);
    assert!(
        path.is_file(),
        "model file {} is missing; run: arc-agent models fetch",
        path.display()
    );
    path
}

/// whisper tiny.en (the installed ggml file), default options.
pub fn whisper(pool: Arc<InferencePool>) -> WhisperStt {
    let dir = manifest::default_models_dir();
    let model = manifest::require(&dir, "whisper-tiny.en", "ggml-tiny.en.bin")
        .unwrap_or_else(|e| panic!("{e}"));
    WhisperStt::load(&model, WhisperOptions::default(), pool).unwrap_or_else(|e| panic!("{e}"))
}

/// The piper voice en_US-joe-medium, default options.
pub fn piper(pool: Arc<InferencePool>) -> PiperTts {
    PiperTts::load(
        &model_file(PIPER_MODEL),
        &model_file(PIPER_CONFIG),
        PiperOptions::default(),
        pool,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Silero VAD, default options.
pub fn silero(pool: Arc<InferencePool>) -> SileroVad {
    SileroVad::load(&model_file(SILERO_FILE), SileroOptions::default(), pool)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Smart Turn v3.2 (semantic end of turn).
pub fn smart_turn(pool: Arc<InferencePool>) -> SmartTurn {
    SmartTurn::load(&model_file(SMART_TURN_FILE), "smart-turn-v3.2", pool)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// What `stt` hears in `samples` (16 kHz): the final transcript's text.
pub async fn hear<S: SttEngine + ?Sized>(stt: &S, samples: Vec<f32>) -> String {
    stt.transcribe(
        samples.into(),
        TranscribeKind::Final,
        CancellationToken::new(),
    )
    .await
    .expect("transcribes")
    .text
}

/// What `stt` hears in the WAV at `path` (resampled to 16 kHz).
pub async fn transcribe_wav<S: SttEngine + ?Sized>(stt: &S, path: &Path) -> String {
    hear(stt, load_16k(path)).await
}
