//! Speech to text with whisper.cpp (through `whisper-rs`), behind
//! [`SttEngine`](arc_actors::engine::SttEngine).
//!
//! One model ([`WhisperContext`](whisper_rs::WhisperContext)) is shared by every session. Decoding needs a
//! [`WhisperState`](whisper_rs::WhisperState) (about 96 MB of buffers for tiny.en), so states are kept in
//! a small set created lazily and reused, at most one per inference-pool
//! thread: memory follows the pool size, never the number of sessions.
//!
//! Each utterance is decoded on the [`InferencePool`](crate::pool::InferencePool) with greedy search, no
//! timestamps and an encoder window (`audio_ctx`) cut to the utterance's
//! length (at least ~5 s), which makes a 4 s utterance several times cheaper
//! than whisper's fixed 30 s window. Audio longer than 30 s is cut at quiet
//! points into windows of at most 30 s whose texts are joined.

//!
//! One idea per file; callers use the re-exports below:
//! - `error`: [`SttLoadError`] and the engine's failure value.
//! - `options`: [`WhisperOptions`].
//! - `model_file`: checks of the ggml file before whisper.cpp reads it.
//! - `window`: the audio side of a decode: sanitising, 30 s windows cut at
//!   quiet points, the encoder window and the token limit.
//! - `text`: the text side: non-speech markers and repetition loops removed.
//! - `states`: the bounded set of reusable decoding states.
//! - `decode`: one utterance's decode on a pool thread, using the files above.
//! - `engine`: [`WhisperStt`], loading and the `SttEngine` impl.
//!
//! Each file imports only from files listed above it. Nothing here imports
//! `crate::install` (where the CTranslate2 -> ggml converter lives).

mod decode;
mod engine;
mod error;
mod model_file;
mod options;
mod states;
mod text;
mod window;

pub use engine::WhisperStt;
pub use error::SttLoadError;
pub use options::WhisperOptions;

/// The CTranslate2 model directory under the models dir (what `models fetch`
/// downloads).
pub const TINY_EN_CT2_DIR: &str = "whisper-tiny.en/ct2";
/// The converted ggml model under the models dir (what [`WhisperStt::load`]
/// reads).
pub const TINY_EN_GGML_FILE: &str = "whisper-tiny.en/ggml-tiny.en.bin";
