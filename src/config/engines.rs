//! `[engines]`: which engines sessions get, and the settings of each
//! (`[engines.vad]`, `[engines.turn]`, `[engines.stt]`, `[engines.tts]`, `[engines.llm]`).

use super::choices::{Brain, EngineProfile, WorkerBrain};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnginesSection {
    pub profile: EngineProfile,
    /// Inference jobs running at once (0 = one per core).
    pub inference_threads: usize,
    pub vad: VadEngineSection,
    pub turn: TurnEngineSection,
    pub stt: SttEngineSection,
    pub tts: TtsEngineSection,
    pub llm: LlmEngineSection,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VadEngineSection {
    pub model: String,
    pub threshold: f32,
    pub min_speech_ms: u64,
    pub silence_ms: u64,
}

impl EnginesSection {
    /// The silence after which a session's turn ends at the latest: the
    /// turn model's limit when it is on, else the VAD's silence rule.
    pub fn turn_silence_limit_ms(&self) -> u64 {
        if self.turn.enabled && self.profile == EngineProfile::Local {
            self.turn.max_silence_ms
        } else {
            self.vad.silence_ms
        }
    }
}

/// `[engines.turn]`: semantic end of turn on top of the VAD (local profile).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TurnEngineSection {
    pub enabled: bool,
    pub model: String,
    pub pause_ms: u64,
    pub max_silence_ms: u64,
    pub threshold: f32,
    pub near_threshold: f32,
    pub min_word_confidence: f64,
    pub uncertain_silence_ms: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SttEngineSection {
    pub model: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TtsEngineSection {
    pub voice: String,
    /// Folder holding `espeak-ng-data`; empty = found automatically.
    pub espeak_data_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LlmEngineSection {
    pub brain: Brain,
    pub model: String,
    pub server_binary: PathBuf,
    /// The llama.cpp libraries of the built-in server (a manifest "runtime").
    pub runtime: String,
    pub threads: usize,
    pub ctx_size: u32,
    pub parallel: u32,
    /// local: the sampling floor (`--min-p`) of the model server.
    pub min_p: f32,
    pub startup_timeout_ms: u64,
    pub base_url: String,
    pub api_model: String,
    pub api_key_env: String,
    pub nats_subject: String,
    pub nats_queue: String,
    pub worker_brain: WorkerBrain,
}
