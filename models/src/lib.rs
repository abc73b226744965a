//! Real engines for ARC, behind the engine traits of `arc-actors`
//! (`VadEngine`, `SttEngine`, `LlmEngine`, `TtsEngine`), plus the audio
//! utilities those engines and the transports share.
//!
//! The session actors only know the traits, so an engine here can be swapped
//! for a synthetic one in tests. Engines such as whisper, piper and Silero VAD
//! will live here; today the crate holds the [`audio`] module: WAV decoding
//! and encoding, resampling, and cutting audio into the 20 ms frames the VAD
//! and STT expect.
//!
//! Model weights are never committed to the repository: engines load them
//! from paths given in configuration at run time.

#![deny(unreachable_pub)]

pub mod audio;
pub mod install;
pub mod llm;
pub mod manifest;
pub mod opus;
pub mod piper;
pub mod pool;
pub mod silero;
pub mod tools;
pub mod wer;
pub mod whisper;
