//! One utterance's decode on an inference-pool thread: windows, a leased
//! state, whisper.cpp's parameters and its abort hook, and the text cleaned.

use super::error::failed;
use super::states::StatePool;
use super::text::{
    clean_text, collapse_repeats, drop_echoed_tail, last_word_confidence, token_words,
};
use super::window::{
    audio_ctx_for, max_tokens_for, peak, sanitize, split_windows, voiced_seconds,
    CUT_SEARCH_SAMPLES, MIN_DECODE_SAMPLES, MIN_SAMPLES, SAMPLE_RATE, WINDOW_SAMPLES,
};
use arc_actors::engine::{CancellationToken, EngineError, TranscribeKind, Transcript};
use std::ffi::c_void;
use std::path::PathBuf;
use std::time::Instant;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext};

/// Faster than anyone speaks (about twice a brisk speaker's rate), counting
/// only voiced time: a window whose text exceeds it has looped.
const MAX_WORDS_PER_VOICED_SECOND: f64 = 6.0;
/// Windows longer than this (10 s) may fall back to sampling on a final pass.
const FALLBACK_MIN_SAMPLES: usize = 10 * SAMPLE_RATE;

pub(super) struct Inner {
    pub(super) ctx: WhisperContext,
    pub(super) states: StatePool,
    pub(super) model_name: String,
    pub(super) path: PathBuf,
    pub(super) language: String,
    pub(super) threads: usize,
    pub(super) silence_peak: f32,
    pub(super) audio_ctx_margin: usize,
    pub(super) min_audio_ctx: usize,
    /// The model's full encoder window (1500 positions = 30 s).
    pub(super) n_audio_ctx: usize,
}

fn empty_transcript() -> Transcript {
    Transcript {
        text: String::new(),
        confidence: 0.0,
        last_word_confidence: None,
    }
}

impl Inner {
    /// The whole decode of one utterance, on a pool thread.
    pub(super) fn transcribe_blocking(
        &self,
        audio: &[f32],
        kind: TranscribeKind,
        cancel: &CancellationToken,
    ) -> Result<Transcript, EngineError> {
        // It may have waited in the pool's queue: cancelled meanwhile?
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let started = Instant::now();
        let samples = sanitize(audio);
        if samples.len() < MIN_SAMPLES || peak(&samples) < self.silence_peak {
            return Ok(empty_transcript());
        }

        let mut lease = self.states.take(&self.ctx)?;
        let mut texts = Vec::new();
        let (mut p_sum, mut p_count) = (0f64, 0usize);
        // The words of the last window with text, and their probabilities.
        let mut last_words = Vec::new();
        for window in split_windows(&samples, WINDOW_SAMPLES, CUT_SEARCH_SAMPLES) {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let mut pcm = samples[window].to_vec();
            if pcm.len() < MIN_SAMPLES || peak(&pcm) < self.silence_peak {
                continue;
            }
            let voiced = voiced_seconds(&pcm, self.silence_peak);
            if pcm.len() < MIN_DECODE_SAMPLES {
                pcm.resize(MIN_DECODE_SAMPLES, 0.0);
            }
            let params = self.params(kind, pcm.len(), cancel);
            let state = lease
                .state
                .as_mut()
                .ok_or_else(|| failed("whisper state was discarded"))?;
            if let Err(e) = state.full(params, &pcm) {
                if cancel.is_cancelled() {
                    // An aborted decode leaves the state reusable: keep it.
                    return Err(EngineError::Cancelled);
                }
                lease.discard();
                return Err(failed(format!("decode failed: {e:?}")));
            }
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let eot = self.ctx.token_eot();
            let mut window_text = String::new();
            let mut tokens = Vec::new();
            for segment in state.as_iter() {
                if let Ok(text) = segment.to_str_lossy() {
                    window_text.push_str(&text);
                    window_text.push(' ');
                }
                for i in 0..segment.n_tokens() {
                    let Some(token) = segment.get_token(i) else {
                        continue;
                    };
                    if token.token_id() >= eot {
                        continue; // specials carry no text
                    }
                    let p = token.token_probability();
                    if let Ok(t) = token.to_str_lossy() {
                        tokens.push((t.into_owned(), p));
                    }
                    if p.is_finite() {
                        p_sum += f64::from(p.clamp(0.0, 1.0));
                        p_count += 1;
                    }
                }
            }
            let mut window_text = clean_text(&window_text);
            // More words than the speech can hold: whisper looped.
            let words = window_text.split_whitespace().count();
            if words as f64 > MAX_WORDS_PER_VOICED_SECOND * voiced.max(1.0) {
                window_text = collapse_repeats(&window_text);
            }
            let window_text = drop_echoed_tail(&window_text);
            if !window_text.is_empty() {
                texts.push(window_text);
                last_words = token_words(&tokens);
            }
        }
        drop(lease);

        let text = texts.join(" ");
        let confidence = if text.is_empty() || p_count == 0 {
            0.0
        } else {
            (p_sum / p_count as f64).clamp(0.0, 1.0)
        };
        tracing::debug!(
            model = %self.model_name,
            audio_ms = samples.len() * 1000 / SAMPLE_RATE,
            decode_ms = started.elapsed().as_millis() as u64,
            ?kind,
            "whisper transcribed"
        );
        let last_word_confidence = last_word_confidence(&text, &last_words);
        Ok(Transcript {
            text,
            confidence,
            last_word_confidence,
        })
    }

    fn params<'a>(
        &'a self,
        kind: TranscribeKind,
        n_samples: usize,
        cancel: &CancellationToken,
    ) -> FullParams<'a, 'a> {
        // Temperature fallback (re-decoding at 0.4 then 0.8, two samples each,
        // when the text loops or is very unlikely) only pays off on a long
        // window of a final pass: a loop there can swallow the speech after it.
        // On a short utterance the loop starts once everything was said, and
        // `collapse_repeats` trims it for free instead of up to 4 more decodes.
        let fallback = kind == TranscribeKind::Final && n_samples > FALLBACK_MIN_SAMPLES;
        let mut p = FullParams::new(SamplingStrategy::Greedy {
            best_of: if fallback { 2 } else { 1 },
        });
        p.set_n_threads(self.threads as i32);
        p.set_language(Some(&self.language));
        p.set_translate(false);
        p.set_no_timestamps(true);
        p.set_no_context(true);
        p.set_single_segment(true);
        p.set_print_special(false);
        p.set_print_progress(false);
        p.set_print_realtime(false);
        p.set_print_timestamps(false);
        p.set_suppress_blank(true);
        p.set_suppress_nst(true);
        p.set_temperature(0.0);
        p.set_temperature_inc(if fallback { 0.4 } else { 0.0 });
        // Partials are frequent previews: the bare utterance's window is enough.
        let min_ctx = match kind {
            TranscribeKind::Final => self.min_audio_ctx,
            TranscribeKind::Partial => 0,
        };
        let audio_ctx = audio_ctx_for(n_samples, self.audio_ctx_margin, min_ctx, self.n_audio_ctx);
        p.set_audio_ctx(audio_ctx as i32);
        // Even fast speech stays under ~5 tokens/s: a decoder stuck repeating
        // itself is stopped near the audio's length instead of at 220 tokens.
        p.set_max_tokens(max_tokens_for(n_samples) as i32);
        // SAFETY: the callback only reads the token, which outlives the
        // `full` call these params are consumed by (the caller holds it).
        unsafe {
            p.set_abort_callback(Some(abort_if_cancelled));
            p.set_abort_callback_user_data(cancel as *const CancellationToken as *mut c_void);
        }
        p
    }
}

/// whisper.cpp's abort hook. This whisper.cpp polls it after the encoder pass
/// and before each decoder step (not inside the encoder graph), so a cancelled
/// decode stops after at most one encoder pass instead of finishing its window
/// (and the window loop checks the token between windows).
unsafe extern "C" fn abort_if_cancelled(data: *mut c_void) -> bool {
    if data.is_null() {
        return false;
    }
    // SAFETY: `data` is the `&CancellationToken` set in `Inner::params`, alive
    // for the whole `full` call.
    let token = unsafe { &*(data as *const CancellationToken) };
    token.is_cancelled()
}
