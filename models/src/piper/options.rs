//! [`PiperOptions`]: how [`PiperTts`](super::PiperTts) synthesizes and
//! chunks audio, and their checks.

use super::error::TtsLoadError;
use std::path::PathBuf;

/// How [`PiperTts`](super::PiperTts) synthesizes and chunks audio.
#[derive(Debug, Clone, PartialEq)]
pub struct PiperOptions {
    /// Rate of the chunks sent (the seed's TTS rate).
    pub sample_rate: u32,
    /// Length of each chunk sent, in ms (the last chunk of a sentence may be shorter).
    pub chunk_ms: u32,
    /// Silence between sentences, as piper itself adds.
    pub sentence_silence_ms: u32,
    /// Longest piece of text phonemized and synthesized at once: bounds the
    /// time (and memory) of one ONNX run, and so the latency of a cancel.
    pub max_clause_chars: usize,
    /// Directory containing `espeak-ng-data`; `None`: `$PIPER_ESPEAKNG_DATA_DIRECTORY`,
    /// else the distribution's usual places (Debian: /usr/lib/x86_64-linux-gnu).
    /// espeak reads it once per process, so the first voice loaded decides.
    pub espeak_data_dir: Option<PathBuf>,
    /// Model instances (each can synthesize one sentence at a time);
    /// `None`: one per pool thread, at most 4 (each costs ~100 MB).
    pub instances: Option<usize>,
    /// onnxruntime threads per instance. 1 suits a server (the pool already
    /// runs one job per core); more lowers one reply's latency on an idle box.
    pub threads_per_instance: usize,
    /// Speaking rate: above 1 is slower. `None`: the voice's own.
    pub length_scale: Option<f32>,
    /// Speaker of a multi-speaker voice (ignored by single-speaker voices).
    pub speaker_id: i64,
}

impl Default for PiperOptions {
    fn default() -> Self {
        Self {
            sample_rate: 24_000,
            chunk_ms: 160,
            sentence_silence_ms: 200,
            max_clause_chars: 300,
            espeak_data_dir: None,
            instances: None,
            threads_per_instance: 1,
            length_scale: None,
            speaker_id: 0,
        }
    }
}

impl PiperOptions {
    pub(super) fn validate(&self) -> Result<(), TtsLoadError> {
        let bad = |m: String| Err(TtsLoadError::BadOptions(m));
        if !(8_000..=192_000).contains(&self.sample_rate) {
            return bad(format!(
                "sample_rate {} Hz is outside 8000..=192000",
                self.sample_rate
            ));
        }
        if !(10..=2_000).contains(&self.chunk_ms) {
            return bad(format!("chunk_ms {} is outside 10..=2000", self.chunk_ms));
        }
        if self.sentence_silence_ms > 5_000 {
            return bad(format!(
                "sentence_silence_ms {} is over 5000",
                self.sentence_silence_ms
            ));
        }
        if !(20..=5_000).contains(&self.max_clause_chars) {
            return bad(format!(
                "max_clause_chars {} is outside 20..=5000",
                self.max_clause_chars
            ));
        }
        if self.instances == Some(0) {
            return bad("instances must be at least 1".into());
        }
        if !(1..=64).contains(&self.threads_per_instance) {
            return bad(format!(
                "threads_per_instance {} is outside 1..=64",
                self.threads_per_instance
            ));
        }
        if let Some(s) = self.length_scale {
            if !(s.is_finite() && (0.1..=10.0).contains(&s)) {
                return bad(format!("length_scale {s} is outside 0.1..=10"));
            }
        }
        Ok(())
    }
}
