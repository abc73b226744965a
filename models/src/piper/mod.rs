//! Piper (VITS, ONNX) text-to-speech behind [`TtsEngine`](arc_actors::engine::TtsEngine).
//!
//! Text is cut into pieces of bounded length (at sentence ends, else clause
//! punctuation, else spaces), each piece is phonemized by espeak-ng clause by
//! clause into sentences (piper-phonemize's format, punctuation kept), and
//! each sentence is synthesized on the inference pool and sent as soon as it
//! is ready: the first audio goes out after one sentence, not after the whole
//! reply. A stateful resampler converts the voice's rate
//! (22,050 Hz for most voices) to the output rate across sentence boundaries,
//! so the joins have no edge effects. Cancellation is checked before every
//! chunk, and a cancelled sentence's ONNX run is told to stop.
//!
//! The model runs through `ort` directly (the voice config is parsed with
//! `piper-rs`'s `ModelConfig`): that gives control over threads per instance
//! and lets a run be terminated on barge-in.

//!
//! One idea per file; callers use the re-exports below:
//! - `espeak`: espeak-ng, found, initialised once and called under one lock.
//! - `error`: [`TtsLoadError`] and the engine's failure value.
//! - `espeak_voice`: [`EspeakVoice`], espeak-ng's own voice, in process.
//! - `options`: [`PiperOptions`] and their checks.
//! - `text`: [`split_text`], text cut into pieces of bounded length.
//! - `phonemize`: text to phoneme sentences in piper-phonemize's shape.
//! - `voice`: [`PiperTts`] loaded: the voice config, the ONNX instances.
//! - `infer`: one ONNX run of the voice on a sentence's phonemes.
//! - `stream`: the `TtsEngine` impl: sentences synthesized on the pool,
//!   resampled and sent in fixed-size chunks as soon as each is ready.
//!
//! Each file imports only from files listed above it.

mod error;
mod espeak;
mod espeak_voice;
mod infer;
mod options;
mod phonemize;
mod stream;
mod text;
mod voice;

pub use error::TtsLoadError;
pub use espeak_voice::{EspeakSpeech, EspeakSpeechError, EspeakVoice};
pub use options::PiperOptions;
pub use text::split_text;
pub use voice::PiperTts;
