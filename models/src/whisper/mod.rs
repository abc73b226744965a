//! Speech to text with whisper.cpp (through `whisper-rs`), behind
//! [`SttEngine`].
//!
//! One model ([`WhisperContext`]) is shared by every session. Decoding needs a
//! [`WhisperState`] (about 96 MB of buffers for tiny.en), so states are kept in
//! a small set created lazily and reused, at most one per inference-pool
//! thread: memory follows the pool size, never the number of sessions.
//!
//! Each utterance is decoded on the [`InferencePool`] with greedy search, no
//! timestamps and an encoder window (`audio_ctx`) cut to the utterance's
//! length (at least ~5 s), which makes a 4 s utterance several times cheaper
//! than whisper's fixed 30 s window. Audio longer than 30 s is cut at quiet
//! points into windows of at most 30 s whose texts are joined.

use crate::pool::{InferencePool, PoolError};
use arc_actors::engine::{CancellationToken, EngineError, SttEngine, TranscribeKind, Transcript};
use async_trait::async_trait;
use std::ffi::c_void;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

/// The CTranslate2 model directory under the models dir (what `models fetch`
/// downloads).
pub const TINY_EN_CT2_DIR: &str = "whisper-tiny.en/ct2";
/// The converted ggml model under the models dir (what [`WhisperStt::load`]
/// reads).
pub const TINY_EN_GGML_FILE: &str = "whisper-tiny.en/ggml-tiny.en.bin";

const ENGINE: &str = "whisper";
const SAMPLE_RATE: usize = 16_000;
/// Whisper's longest input: one 30 s window.
const WINDOW_SAMPLES: usize = 30 * SAMPLE_RATE;
/// How far back from a window's 30 s end to look for a quiet cut.
const CUT_SEARCH_SAMPLES: usize = 3 * SAMPLE_RATE;
/// Shorter than any word; whisper.cpp refuses input under 100 ms anyway.
const MIN_SAMPLES: usize = SAMPLE_RATE / 10;
/// Whisper is trained on windows with some context; pad tiny inputs to 1 s.
const MIN_DECODE_SAMPLES: usize = SAMPLE_RATE;
/// Audio samples per encoder position (whisper's encoder runs at 50 Hz).
const SAMPLES_PER_AUDIO_CTX: usize = SAMPLE_RATE / 50;
/// Faster than anyone speaks (about twice a brisk speaker's rate), counting
/// only voiced time: a window whose text exceeds it has looped.
const MAX_WORDS_PER_VOICED_SECOND: f64 = 6.0;
/// Windows longer than this (10 s) may fall back to sampling on a final pass.
const FALLBACK_MIN_SAMPLES: usize = 10 * SAMPLE_RATE;
/// Encoder positions added past the audio so the last word is not cut off.
const AUDIO_CTX_MARGIN: usize = 64;
/// Smallest encoder window of a final pass by default (~5 s). Cut to the bare
/// utterance, tiny.en loops and mishears short clips more (whisper is trained
/// on 30 s windows). Measured on our espeak set of 3 s clips: 33 % WER at the
/// bare cut (loops), 17.9 % from 256, 15.4 % from 500 up (the same as the
/// full 1500), with 500 costing about twice 256.
const MIN_AUDIO_CTX: usize = 256;
/// `ggml` file magic, checked before whisper.cpp reads a byte.
const GGML_MAGIC: u32 = 0x6767_6d6c;

/// How [`WhisperStt`] decodes.
#[derive(Debug, Clone, PartialEq)]
pub struct WhisperOptions {
    /// What [`SttEngine::model`] reports; `None` derives it from the file
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

/// Why the whisper model could not be loaded. Each names the file and what to
/// run to get a good one.
#[derive(Debug, thiserror::Error)]
pub enum SttLoadError {
    #[error("whisper model {} is missing; run: arc-agent models fetch", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read whisper model {}: {source}; run: arc-agent models fetch", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("whisper model {} is corrupt or not a ggml whisper model ({reason}); run: arc-agent models fetch", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("whisper model {} loaded but a decoding state could not be allocated: {reason}", path.display())]
    State { path: PathBuf, reason: String },
}

/// Whisper speech to text: one shared model, a bounded set of reusable decoding
/// states, and every decode on the inference pool.
pub struct WhisperStt {
    inner: Arc<Inner>,
    pool: Arc<InferencePool>,
}

impl std::fmt::Debug for WhisperStt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperStt")
            .field("model", &self.inner.model_name)
            .field("path", &self.inner.path)
            .field("threads_per_job", &self.inner.threads)
            .field("max_states", &self.inner.states.max)
            .finish()
    }
}

struct Inner {
    ctx: WhisperContext,
    states: StatePool,
    model_name: String,
    path: PathBuf,
    language: String,
    threads: usize,
    silence_peak: f32,
    audio_ctx_margin: usize,
    min_audio_ctx: usize,
    /// The model's full encoder window (1500 positions = 30 s).
    n_audio_ctx: usize,
}

impl WhisperStt {
    /// Loads the ggml model at `model_path` (blocking: call it at start-up or
    /// from a blocking context) and allocates the first decoding state, so a bad
    /// file fails here rather than on the first utterance.
    pub fn load(
        model_path: &Path,
        options: WhisperOptions,
        pool: Arc<InferencePool>,
    ) -> Result<Self, SttLoadError> {
        check_ggml_header(model_path)?;
        // whisper.cpp logs every load to stderr; route it into the (silent)
        // hooks, errors here are reported through our own types instead.
        whisper_rs::install_logging_hooks();
        let mut params = WhisperContextParameters::default();
        params.use_gpu(false);
        let ctx = WhisperContext::new_with_params(model_path, params).map_err(|e| {
            SttLoadError::Corrupt {
                path: model_path.to_path_buf(),
                reason: format!("whisper.cpp refused it: {e:?}"),
            }
        })?;

        let slots = pool.threads();
        let max_states = options.max_states.unwrap_or(slots).max(1);
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let threads = options.threads_per_job.unwrap_or(cores / slots).max(1);
        let n_audio_ctx = usize::try_from(ctx.model_n_audio_ctx()).unwrap_or(0).max(1);
        let model_name = options
            .model_name
            .clone()
            .unwrap_or_else(|| model_name_from_path(model_path));

        let inner = Inner {
            ctx,
            states: StatePool::new(max_states),
            model_name,
            path: model_path.to_path_buf(),
            language: options.language,
            threads,
            silence_peak: options.silence_peak,
            audio_ctx_margin: options.audio_ctx_margin,
            min_audio_ctx: options.min_audio_ctx,
            n_audio_ctx,
        };
        let first = inner
            .states
            .take(&inner.ctx)
            .map_err(|e| SttLoadError::State {
                path: model_path.to_path_buf(),
                reason: e.to_string(),
            })?;
        drop(first);
        Ok(Self {
            inner: Arc::new(inner),
            pool,
        })
    }

    /// Decoding states alive now (idle or in use); never above `max_states`.
    pub fn states_alive(&self) -> usize {
        self.inner.states.lock().live
    }
}

#[async_trait]
impl SttEngine for WhisperStt {
    fn model(&self) -> &str {
        &self.inner.model_name
    }

    async fn transcribe(
        &self,
        audio: Arc<[f32]>,
        kind: TranscribeKind,
        cancel: CancellationToken,
    ) -> Result<Transcript, EngineError> {
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let inner = self.inner.clone();
        let job = move || inner.transcribe_blocking(&audio, kind, &cancel);
        match self.pool.run(job).await {
            Ok(result) => result,
            Err(PoolError::Closed) => Err(failed("the inference pool is shut down")),
            Err(PoolError::Panicked(m)) => Err(failed(format!("decode panicked: {m}"))),
        }
    }
}

fn failed(message: impl Into<String>) -> EngineError {
    EngineError::Failed {
        engine: ENGINE,
        message: message.into(),
    }
}

fn empty_transcript() -> Transcript {
    Transcript {
        text: String::new(),
        confidence: 0.0,
    }
}

impl Inner {
    /// The whole decode of one utterance, on a pool thread.
    fn transcribe_blocking(
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
            if !window_text.is_empty() {
                texts.push(window_text);
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
        Ok(Transcript { text, confidence })
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

/// Encoder positions for `n_samples` of audio plus a margin, at least `min`,
/// within the model's window.
fn audio_ctx_for(n_samples: usize, margin: usize, min: usize, n_audio_ctx: usize) -> usize {
    (n_samples.div_ceil(SAMPLES_PER_AUDIO_CTX) + margin)
        .max(min)
        .min(n_audio_ctx)
}

/// Most text tokens a window of `n_samples` may produce (6 per second, plus
/// room for punctuation on very short clips).
fn max_tokens_for(n_samples: usize) -> usize {
    n_samples.div_ceil(SAMPLE_RATE) * 6 + 12
}

/// Seconds of `pcm` (20 ms frames) louder than 2 % of its loudest frame
/// (-34 dB, so quiet consonants count) and than the silence level.
fn voiced_seconds(pcm: &[f32], silence_peak: f32) -> f64 {
    const FRAME: usize = SAMPLE_RATE / 50;
    let rms: Vec<f32> = pcm
        .chunks(FRAME)
        .map(|f| (f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32).sqrt())
        .collect();
    let loudest = rms.iter().copied().fold(0.0f32, f32::max);
    let floor = (loudest * 0.02).max(silence_peak / 4.0);
    rms.iter().filter(|&&r| r > floor).count() as f64 / 50.0
}

/// Removes whisper's repetition loops from a window's text: a run of 2+ words
/// repeated back to back is kept once, and a trailing restart of the run just
/// before it (the loop cut off by the token limit) is dropped. Only called when
/// the text has more words than its speech can hold, so a phrase the speaker
/// really said twice is left alone.
fn collapse_repeats(text: &str) -> String {
    const MIN_RUN: usize = 2;
    let mut words: Vec<&str> = text.split_whitespace().collect();
    // Compared without case and punctuation: "cost?" repeats "cost?" or "cost.".
    let mut keys: Vec<String> = words
        .iter()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        })
        .collect();
    'again: loop {
        for len in MIN_RUN..=keys.len() / 2 {
            for start in 0..=keys.len() - 2 * len {
                if keys[start..start + len] == keys[start + len..start + 2 * len] {
                    // Keep the second copy's last word: it carries the final punctuation.
                    words.drain(start + 1..start + len + 1);
                    keys.drain(start + 1..start + len + 1);
                    continue 'again;
                }
            }
        }
        break;
    }
    // "A B C D. A B C" -> "A B C D.": after a sentence end, the tail restarts
    // the sentence before it and covers at least half of it.
    let n = keys.len();
    for len in (1..=n / 2).rev() {
        let tail = n - len;
        if !words[tail - 1].ends_with(['.', '?', '!']) {
            continue;
        }
        for period in len + 1..=(2 * len).min(tail) {
            if keys[tail - period..tail - period + len] == keys[tail..] {
                words.truncate(tail);
                return words.join(" ");
            }
        }
    }
    words.join(" ")
}

/// NaN and infinities become silence, the rest is clamped to [-1, 1].
fn sanitize(audio: &[f32]) -> Vec<f32> {
    audio
        .iter()
        .map(|&s| {
            if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        })
        .collect()
}

fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |m, s| m.max(s.abs()))
}

/// Cuts audio into windows of at most `max` samples (whisper's 30 s), each
/// as full as possible (whisper transcribes best with the most context) and cut
/// at the quietest 20 ms within the last `search` samples, so words are rarely
/// split.
fn split_windows(samples: &[f32], max: usize, search: usize) -> Vec<Range<usize>> {
    const FRAME: usize = 320;
    let mut out = Vec::new();
    let mut start = 0;
    while samples.len() - start > max {
        let hi = start + max;
        let lo = hi.saturating_sub(search).max(start + 1);
        let mut best = (f32::INFINITY, hi);
        let mut pos = lo;
        while pos + FRAME <= hi {
            let energy: f32 = samples[pos..pos + FRAME].iter().map(|s| s * s).sum();
            if energy < best.0 {
                best = (energy, pos + FRAME / 2);
            }
            pos += FRAME / 2;
        }
        out.push(start..best.1);
        start = best.1;
    }
    if start < samples.len() {
        out.push(start..samples.len());
    }
    out
}

/// Whisper's text minus what it writes for non-speech (`[BLANK_AUDIO]`,
/// `(silence)`, `[Music]`, `♪`), with whitespace tidied. Text with no letter or
/// digit left is empty.
fn clean_text(raw: &str) -> String {
    let mut kept = String::with_capacity(raw.len());
    let (mut square, mut round) = (0usize, 0usize);
    for c in raw.chars() {
        match c {
            '[' => square += 1,
            ']' => square = square.saturating_sub(1),
            '(' => round += 1,
            ')' => round = round.saturating_sub(1),
            '♪' | '♫' | '♬' => {}
            _ if square == 0 && round == 0 => kept.push(c),
            _ => {}
        }
    }
    let text = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().any(char::is_alphanumeric) {
        text
    } else {
        String::new()
    }
}

/// `.../ggml-tiny.en.bin` -> `whisper-tiny.en`.
fn model_name_from_path(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = stem.strip_prefix("ggml-").unwrap_or(&stem);
    if base.starts_with("whisper") {
        base.to_string()
    } else {
        format!("whisper-{base}")
    }
}

/// Checks the magic and the hyperparameters before whisper.cpp sees the file:
/// its loader trusts them (a wild size would be allocated, a short file read
/// as garbage), and this way the error names the file.
fn check_ggml_header(path: &Path) -> Result<(), SttLoadError> {
    let corrupt = |reason: String| SttLoadError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SttLoadError::Missing {
                path: path.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(SttLoadError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let len = file
        .metadata()
        .map_err(|source| SttLoadError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    let mut header = [0u8; 48];
    file.read_exact(&mut header)
        .map_err(|_| corrupt(format!("only {len} bytes, too short for a header")))?;
    let word = |i: usize| {
        u32::from_le_bytes([
            header[4 * i],
            header[4 * i + 1],
            header[4 * i + 2],
            header[4 * i + 3],
        ])
    };
    if word(0) != GGML_MAGIC {
        return Err(corrupt(format!("bad magic {:#010x}", word(0))));
    }
    let names = [
        "n_vocab",
        "n_audio_ctx",
        "n_audio_state",
        "n_audio_head",
        "n_audio_layer",
        "n_text_ctx",
        "n_text_state",
        "n_text_head",
        "n_text_layer",
        "n_mels",
    ];
    let hp: Vec<u64> = (1..=10).map(|i| u64::from(word(i))).collect();
    for (name, &v) in names.iter().zip(&hp) {
        if v == 0 || v > 1 << 20 {
            return Err(corrupt(format!("implausible {name} = {v}")));
        }
    }
    let (n_vocab, n_audio_ctx, n_audio_state, n_text_state) = (hp[0], hp[1], hp[2], hp[6]);
    if n_audio_state != n_text_state {
        return Err(corrupt(format!(
            "encoder width {n_audio_state} differs from decoder width {n_text_state}"
        )));
    }
    // The token embedding alone is n_vocab x width (at least half a byte per
    // weight even quantized): a file smaller than that is cut short.
    let min_bytes = n_vocab * n_text_state / 2 + n_audio_ctx * n_audio_state * 4;
    if len < min_bytes {
        return Err(corrupt(format!(
            "{len} bytes, but its header describes a model of at least {min_bytes} bytes"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Decoding states

/// A bounded set of whisper states, created on demand up to `max` and reused.
struct StatePool {
    slots: Mutex<Slots>,
    freed: Condvar,
    max: usize,
}

struct Slots {
    idle: Vec<WhisperState>,
    /// States in existence (idle + leased).
    live: usize,
}

impl StatePool {
    fn new(max: usize) -> Self {
        Self {
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                live: 0,
            }),
            freed: Condvar::new(),
            max,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        // A panic while holding the lock cannot leave the Vec inconsistent.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle state, a new one while under `max`, or waits for one to come
    /// back (only if more decodes run than the pool has threads).
    fn take<'a>(&'a self, ctx: &WhisperContext) -> Result<Lease<'a>, EngineError> {
        let mut slots = self.lock();
        loop {
            if let Some(state) = slots.idle.pop() {
                return Ok(Lease {
                    pool: self,
                    state: Some(state),
                });
            }
            if slots.live < self.max {
                slots.live += 1;
                drop(slots);
                return match ctx.create_state() {
                    Ok(state) => Ok(Lease {
                        pool: self,
                        state: Some(state),
                    }),
                    Err(e) => {
                        self.lock().live -= 1;
                        self.freed.notify_one();
                        Err(failed(format!("cannot allocate a whisper state: {e:?}")))
                    }
                };
            }
            slots = self.freed.wait(slots).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A state on loan; it goes back to the pool when dropped, unless discarded
/// (after a failed decode, or a panic, its buffers are not trusted).
struct Lease<'a> {
    pool: &'a StatePool,
    state: Option<WhisperState>,
}

impl Lease<'_> {
    fn discard(&mut self) {
        if self.state.take().is_some() {
            self.pool.lock().live -= 1;
            self.pool.freed.notify_one();
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.discard();
            return;
        }
        if let Some(state) = self.state.take() {
            self.pool.lock().idle.push(state);
            self.pool.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_speech_markers_are_stripped() {
        assert_eq!(clean_text(" [BLANK_AUDIO]"), "");
        assert_eq!(clean_text("(silence)"), "");
        assert_eq!(clean_text(" ♪ ♪ "), "");
        assert_eq!(clean_text(" Hello [Music] there. "), "Hello there.");
        assert_eq!(clean_text(" (coughs) Yes, please."), "Yes, please.");
        assert_eq!(clean_text(" ... "), "");
        assert_eq!(clean_text("Unbalanced ] bracket"), "Unbalanced bracket");
    }

    #[test]
    fn repetition_loops_are_collapsed() {
        let looped = "How much does this ticket cost? How much does this ticket cost? How much does this ticket cost?";
        assert_eq!(collapse_repeats(looped), "How much does this ticket cost?");
        let cut = "Please call me back when you get home tonight. Please call me back when you get home tonight. \
                   Please call me back when you get";
        assert_eq!(
            collapse_repeats(cut),
            "Please call me back when you get home tonight."
        );
        assert_eq!(
            collapse_repeats("Thank you. Thank you. Thank you. Thank"),
            "Thank you."
        );
        // Ordinary text is left alone.
        for keep in [
            "Can you help me find my keys?",
            "the cat and the dog and the bird",
            "I think that you think that",
            "put it in the kitchen and then clean the table in the kitchen",
            "",
        ] {
            assert_eq!(
                collapse_repeats(keep),
                keep.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
        assert_eq!(max_tokens_for(3 * 16_000), 30);
    }

    #[test]
    fn voiced_time_ignores_silence() {
        let mut pcm = vec![0.0f32; 3 * 16_000];
        for (i, s) in pcm[16_000..32_000].iter_mut().enumerate() {
            *s = (i as f32 * 0.05).sin() * 0.3;
        }
        let v = voiced_seconds(&pcm, 1e-3);
        assert!((v - 1.0).abs() < 0.05, "{v}");
        assert_eq!(voiced_seconds(&[], 1e-3), 0.0);
    }

    #[test]
    fn audio_ctx_follows_the_utterance() {
        // 4 s: 200 positions plus the margin
        assert_eq!(audio_ctx_for(4 * 16_000, 64, 0, 1500), 264);
        assert_eq!(audio_ctx_for(1, 64, 0, 1500), 65);
        assert_eq!(audio_ctx_for(1, 64, 300, 1500), 300);
        assert_eq!(audio_ctx_for(30 * 16_000, 64, 0, 1500), 1500);
    }

    #[test]
    fn nan_and_out_of_range_samples_are_sanitised() {
        let s = sanitize(&[f32::NAN, f32::INFINITY, 2.0, -3.0, 0.5]);
        assert_eq!(s, vec![0.0, 0.0, 1.0, -1.0, 0.5]);
    }

    #[test]
    fn long_audio_is_cut_at_a_quiet_point() {
        let rate = 16_000;
        let mut samples = vec![0.5f32; 70 * rate];
        // a quiet gap at 28.5 s
        samples[28 * rate + rate / 2..29 * rate].fill(0.0);
        let windows = split_windows(&samples, 30 * rate, 3 * rate);
        assert_eq!(windows.len(), 3);
        let cut = windows[0].end;
        assert!(
            cut > 28 * rate + rate / 2 && cut < 29 * rate,
            "cut at {cut}"
        );
        assert_eq!(windows[1].start, cut);
        assert_eq!(windows[2].end, samples.len());
        assert!(windows.iter().all(|w| w.len() <= 30 * rate));
        // 30 s or less is one window; nothing is no window.
        assert_eq!(
            split_windows(&samples[..30 * rate], 30 * rate, 3 * rate),
            vec![0..30 * rate]
        );
        assert!(split_windows(&[], 30 * rate, 3 * rate).is_empty());
    }

    #[test]
    fn model_names_come_from_the_file() {
        assert_eq!(
            model_name_from_path(Path::new("/m/whisper-tiny.en/ggml-tiny.en.bin")),
            "whisper-tiny.en"
        );
        assert_eq!(
            model_name_from_path(Path::new("ggml-base.bin")),
            "whisper-base"
        );
        assert_eq!(
            model_name_from_path(Path::new("whisper-small.bin")),
            "whisper-small"
        );
    }

    #[test]
    fn bad_files_are_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let pool = InferencePool::new(1);
        let missing = dir.path().join("ggml-none.bin");
        let err = WhisperStt::load(&missing, WhisperOptions::default(), pool.clone()).unwrap_err();
        assert!(matches!(err, SttLoadError::Missing { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("ggml-none.bin") && msg.contains("run: arc-agent models fetch"),
            "{msg}"
        );

        let junk = dir.path().join("junk.bin");
        std::fs::write(
            &junk,
            b"not a model at all, just some bytes that are long enough",
        )
        .unwrap();
        let err = WhisperStt::load(&junk, WhisperOptions::default(), pool.clone()).unwrap_err();
        assert!(matches!(err, SttLoadError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("bad magic"), "{err}");

        // A good header on a file cut short.
        let mut b = GGML_MAGIC.to_le_bytes().to_vec();
        for v in [51864u32, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1] {
            b.extend(v.to_le_bytes());
        }
        b.extend([0u8; 1000]);
        let short = dir.path().join("short.bin");
        std::fs::write(&short, &b).unwrap();
        let err = WhisperStt::load(&short, WhisperOptions::default(), pool).unwrap_err();
        assert!(err.to_string().contains("at least"), "{err}");
    }
}
