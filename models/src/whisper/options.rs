//! [`WhisperOptions`]: how [`WhisperStt`](super::WhisperStt) decodes.

/// Encoder positions added past the audio so the last word is not cut off.
const AUDIO_CTX_MARGIN: usize = 64;
/// Smallest encoder window of a final pass by default (~5 s). Cut to the bare
/// utterance, tiny.en loops and mishears short clips more (whisper is trained
/// on 30 s windows). Measured on our espeak set of 3 s clips: 33 % WER at the
/// bare cut (loops), 17.9 % from 256, 15.4 % from 500 up (the same as the
/// full 1500), with 500 costing about twice 256.
const MIN_AUDIO_CTX: usize = 256;

/// How [`WhisperStt`](super::WhisperStt) decodes.
#[derive(Debug, Clone, PartialEq)]
pub struct WhisperOptions {
    /// What [`SttEngine::model`](arc_actors::engine::SttEngine::model) reports; `None` derives it from the file
    /// name (`ggml-tiny.en.bin` -> `whisper-tiny.en`).
    pub model_name: Option<String>,
    /// Spoken language for multilingual models; English-only (`.en`) models
    /// ignore it.
    pub language: String,
    /// CPU threads one decode uses; `None` splits the cores between the pool's
    /// slots, so concurrent decodes never oversubscribe the machine.
    pub threads_per_job: Option<usize>,
    /// Most decoding states kept alive; `None` is the pool's thread count (more
    /// could never run at once).
    pub max_states: Option<usize>,
    /// Audio whose peak stays below this is silence: empty transcript, and no
    /// decode (whisper tends to invent a word or two for silence).
    pub silence_peak: f32,
    /// Encoder positions (50 per second) decoded past the end of the audio.
    pub audio_ctx_margin: usize,
    /// Smallest encoder window of a final pass, in positions (50 per second;
    /// the full window is 1500 = 30 s). Larger is slower but closer to how
    /// whisper was trained. Partial passes use the utterance's own length.
    pub min_audio_ctx: usize,
}

impl Default for WhisperOptions {
    fn default() -> Self {
        Self {
            model_name: None,
            language: "en".into(),
            threads_per_job: None,
            max_states: None,
            silence_peak: 1e-3,
            audio_ctx_margin: AUDIO_CTX_MARGIN,
            min_audio_ctx: MIN_AUDIO_CTX,
        }
    }
}
