//! Piper (VITS, ONNX) text-to-speech behind [`TtsEngine`].
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

use crate::audio::StreamResampler;
use crate::pool::InferencePool;
use arc_actors::audio::AudioFrame;
use arc_actors::engine::{CancellationToken, EngineError, TtsEngine, TtsOutcome};
use async_trait::async_trait;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{RunOptions, Session};
use ort::value::Tensor;
use piper_rs::ModelConfig;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

const ENGINE: &str = "piper";
/// What espeak-rs reads to find espeak-ng's data: a directory *containing*
/// `espeak-ng-data`.
const ESPEAK_ENV: &str = "PIPER_ESPEAKNG_DATA_DIRECTORY";
/// Where distributions install espeak-ng's data (each holds `espeak-ng-data`).
const ESPEAK_DIRS: [&str; 6] = [
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib",
    "/usr/share",
    "/usr/local/share",
    "/usr/local/lib",
];

/// espeak-ng keeps global state and is not thread-safe: every call into it
/// (phonemization, and its one-time initialization) holds this lock.
static ESPEAK: Mutex<()> = Mutex::new(());
/// The espeak data directory chosen by the first successful load (espeak
/// reads it once per process).
static ESPEAK_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Why a Piper voice could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TtsLoadError {
    #[error("Piper {what} {} is missing; run: arc-agent models fetch", path.display())]
    Missing { what: &'static str, path: PathBuf },
    #[error(
        "Piper voice config {} is not valid: {reason}; run: arc-agent models fetch",
        path.display()
    )]
    BadConfig { path: PathBuf, reason: String },
    #[error(
        "Piper voice model {} could not be loaded (corrupt or truncated?): {reason}; \
         run: arc-agent models fetch",
        path.display()
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("{} is not a Piper voice model: {detail}; run: arc-agent models fetch", path.display())]
    WrongModel { path: PathBuf, detail: String },
    #[error(
        "espeak-ng (piper's phonemizer) is not usable: {0}; install espeak-ng-data \
         (apt-get install espeak-ng-data) or set PiperOptions::espeak_data_dir \
         or {ESPEAK_ENV} to the directory that contains `espeak-ng-data`"
    )]
    Espeak(String),
    #[error("invalid Piper options: {0}")]
    BadOptions(String),
}

/// How [`PiperTts`] synthesizes and chunks audio.
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
    fn validate(&self) -> Result<(), TtsLoadError> {
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

/// What every synthesis shares: the instances, the voice and the options.
struct Inner {
    /// Free instances; `permits` counts them, so a job that holds a permit
    /// always finds one here.
    free: Mutex<Vec<Session>>,
    permits: Arc<Semaphore>,
    config: ModelConfig,
    multi_speaker: bool,
    output_name: String,
    pool: Arc<InferencePool>,
    options: PiperOptions,
    voice_id: String,
}

/// A Piper voice; see the module docs.
pub struct PiperTts {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PiperTts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperTts")
            .field("voice_id", &self.inner.voice_id)
            .field("voice_rate", &self.inner.config.audio.sample_rate)
            .field("options", &self.inner.options)
            .finish()
    }
}

impl PiperTts {
    /// Loads a voice (`<voice>.onnx` and `<voice>.onnx.json`) and checks that
    /// espeak-ng works. Blocking (about a second per instance, instances load
    /// in parallel): call it at startup or inside `spawn_blocking`.
    pub fn load(
        model: &Path,
        config: &Path,
        options: PiperOptions,
        pool: Arc<InferencePool>,
    ) -> Result<Self, TtsLoadError> {
        options.validate()?;
        let config_text = std::fs::read_to_string(config).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TtsLoadError::Missing {
                what: "voice config",
                path: config.to_path_buf(),
            },
            _ => TtsLoadError::BadConfig {
                path: config.to_path_buf(),
                reason: format!("cannot read it: {e}"),
            },
        })?;
        let voice: ModelConfig =
            serde_json::from_str(&config_text).map_err(|e| TtsLoadError::BadConfig {
                path: config.to_path_buf(),
                reason: e.to_string(),
            })?;
        if !(1_000..=192_000).contains(&voice.audio.sample_rate) {
            return Err(TtsLoadError::BadConfig {
                path: config.to_path_buf(),
                reason: format!("audio.sample_rate {} Hz", voice.audio.sample_rate),
            });
        }
        for key in ['^', '$', '_'] {
            if voice.phoneme_id_map.get(&key).is_none_or(|v| v.is_empty()) {
                return Err(TtsLoadError::BadConfig {
                    path: config.to_path_buf(),
                    reason: format!("phoneme_id_map has no id for {key:?}"),
                });
            }
        }
        let bytes = std::fs::read(model).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TtsLoadError::Missing {
                what: "voice model",
                path: model.to_path_buf(),
            },
            _ => TtsLoadError::Corrupt {
                path: model.to_path_buf(),
                reason: format!("cannot read it: {e}"),
            },
        })?;

        init_espeak(options.espeak_data_dir.as_deref(), &voice.espeak.voice)?;

        let count = options.instances.unwrap_or(pool.threads().min(4)).max(1);
        let threads = options.threads_per_instance;
        let built: Vec<Result<Session, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..count)
                .map(|_| s.spawn(|| build_session(&bytes, threads)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("onnxruntime panicked while loading".into()))
                })
                .collect()
        });
        let mut sessions = Vec::with_capacity(count);
        for session in built {
            sessions.push(session.map_err(|reason| TtsLoadError::Corrupt {
                path: model.to_path_buf(),
                reason,
            })?);
        }
        let multi_speaker = voice.num_speakers > 1;
        let output_name = check_signature(&sessions[0], multi_speaker).map_err(|detail| {
            TtsLoadError::WrongModel {
                path: model.to_path_buf(),
                detail,
            }
        })?;
        let voice_id = model
            .file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.strip_suffix(".onnx").unwrap_or(n).to_string())
            .unwrap_or_else(|| "piper".into());
        Ok(Self {
            inner: Arc::new(Inner {
                free: Mutex::new(sessions),
                permits: Arc::new(Semaphore::new(count)),
                config: voice,
                multi_speaker,
                output_name,
                pool,
                options,
                voice_id,
            }),
        })
    }

    /// The voice's own sample rate (before resampling to [`TtsEngine::sample_rate`]).
    pub fn voice_sample_rate(&self) -> u32 {
        self.inner.config.audio.sample_rate
    }

    pub fn options(&self) -> &PiperOptions {
        &self.inner.options
    }
}

fn build_session(bytes: &[u8], threads: usize) -> Result<Session, String> {
    Session::builder()
        .map_err(|e| e.to_string())?
        .with_intra_threads(threads)
        .map_err(|e| e.to_string())?
        .with_inter_threads(1)
        .map_err(|e| e.to_string())?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| e.to_string())?
        .commit_from_memory(bytes)
        .map_err(|e| e.to_string())
}

/// Checks the inputs piper voices have and returns the audio output's name.
fn check_signature(session: &Session, multi_speaker: bool) -> Result<String, String> {
    let inputs: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
    let mut needed = vec!["input", "input_lengths", "scales"];
    if multi_speaker {
        needed.push("sid");
    }
    for name in needed {
        if !inputs.contains(&name) {
            return Err(format!(
                "it has no input named {name:?} (inputs: {inputs:?})"
            ));
        }
    }
    session
        .outputs()
        .first()
        .map(|o| o.name().to_string())
        .ok_or_else(|| "it has no outputs".into())
}

/// Points espeak-rs at espeak-ng's data (once per process) and phonemizes a
/// word, so a broken install fails at load rather than at the first reply.
fn init_espeak(configured: Option<&Path>, voice: &str) -> Result<(), TtsLoadError> {
    let dir = match ESPEAK_DIR.get() {
        Some(dir) => dir,
        None => {
            let found = find_espeak_data(configured).map_err(TtsLoadError::Espeak)?;
            let _guard = ESPEAK.lock().unwrap_or_else(|p| p.into_inner());
            ESPEAK_DIR.get_or_init(|| {
                // espeak-rs reads the variable when it initializes espeak-ng,
                // which happens under the lock held here, after this. Set only
                // when needed: writing the environment races with readers.
                if std::env::var_os(ESPEAK_ENV).as_deref() != Some(found.as_os_str()) {
                    std::env::set_var(ESPEAK_ENV, &found);
                }
                found
            })
        }
    };
    if let Some(wanted) = configured {
        if wanted != dir {
            tracing::warn!(
                wanted = %wanted.display(),
                using = %dir.display(),
                "espeak-ng data directory is fixed by the first voice loaded"
            );
        }
    }
    phonemize("test", voice)
        .map(|_| ())
        .map_err(|e| TtsLoadError::Espeak(format!("{e} (data from {})", dir.display())))
}

/// The directory holding `espeak-ng-data`: the configured one, else
/// `$PIPER_ESPEAKNG_DATA_DIRECTORY`, else the usual install places.
fn find_espeak_data(configured: Option<&Path>) -> Result<PathBuf, String> {
    let has_data = |d: &Path| d.join("espeak-ng-data").join("phontab").is_file();
    if let Some(d) = configured {
        return if has_data(d) {
            Ok(d.to_path_buf())
        } else {
            Err(format!("{} has no espeak-ng-data/phontab", d.display()))
        };
    }
    std::env::var_os(ESPEAK_ENV)
        .map(PathBuf::from)
        .filter(|d| has_data(d))
        .or_else(|| ESPEAK_DIRS.iter().map(PathBuf::from).find(|d| has_data(d)))
        .ok_or_else(|| format!("no espeak-ng-data found in ${ESPEAK_ENV} or {ESPEAK_DIRS:?}"))
}

/// espeak-ng phonemes of `text`, one string per sentence.
fn phonemize(text: &str, voice: &str) -> Result<Vec<String>, String> {
    let _guard = ESPEAK.lock().unwrap_or_else(|p| p.into_inner());
    espeak_rs::text_to_phonemes(text, voice, None).map_err(|e| e.to_string())
}

/// Punctuation that ends a clause (when followed by a space or the end) and
/// that piper voices have phonemes for, as piper-phonemize emits them.
const CLAUSE_ENDS: [char; 6] = ['.', ',', ';', ':', '!', '?'];
/// Closing marks that may trail a clause's punctuation (`"Hi."`, `(ok.)`).
const CLOSERS: [char; 8] = ['"', '\'', ')', ']', '\u{201d}', '\u{2019}', '\u{bb}', '}'];

/// Text in, one phoneme string per sentence out, in piper-phonemize's shape:
/// each clause's phonemes followed by its punctuation, clauses joined by a
/// space (`həlˈoʊ, wˈɜːld.`).
///
/// espeak-rs hands back one sentence with the clauses glued together (no
/// punctuation, no space: "hello, world" would come out as one word), so
/// clauses are cut here and phonemized one by one. Marks espeak-ng would
/// itself treat as clause breaks (dashes, brackets, quotes) are turned into
/// commas or spaces first, so it never cuts (and glues) inside a clause.
fn phonemize_sentences(text: &str, voice: &str) -> Result<Vec<String>, String> {
    let mut sentences = Vec::new();
    let mut current = String::new();
    for (clause, end) in clauses(&normalize_for_espeak(text)) {
        if clause.chars().any(char::is_alphanumeric) {
            let phonemes = phonemize(&clause, voice)?.join(" ");
            let phonemes = phonemes.trim();
            if !phonemes.is_empty() {
                if !current.is_empty() {
                    current.push(' ');
                }
                current.push_str(phonemes);
                if let Some(c) = end {
                    current.push(c);
                }
            }
        }
        let sentence_end = matches!(end, Some('.' | '!' | '?') | None);
        if sentence_end && !current.is_empty() {
            sentences.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        sentences.push(current);
    }
    Ok(sentences)
}

/// Dashes and brackets become clause commas, quotes become spaces, the
/// ellipsis a period.
fn normalize_for_espeak(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\u{2014}' | '\u{2013}' | '(' | ')' | '[' | ']' | '{' | '}' => out.push_str(" , "),
            '"' | '\u{201c}' | '\u{201d}' | '\u{ab}' | '\u{bb}' => out.push(' '),
            '\u{2026}' => out.push('.'),
            c if c.is_control() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Cuts text into clauses at [`CLAUSE_ENDS`] punctuation followed by a space
/// or the end (so "3.50" and "12,000" stay whole) and at line breaks. Each
/// clause comes with the punctuation that ended it (the first of a run such
/// as `?!` or `...`); `None` for a line break or the end of the text.
fn clauses(text: &str) -> Vec<(String, Option<char>)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut clause = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            out.push((std::mem::take(&mut clause), None));
            i += 1;
            continue;
        }
        if CLAUSE_ENDS.contains(&c) {
            let mut j = i + 1;
            while j < chars.len()
                && (CLAUSE_ENDS.contains(&chars[j]) || CLOSERS.contains(&chars[j]))
            {
                j += 1;
            }
            if j == chars.len() || chars[j].is_whitespace() {
                out.push((std::mem::take(&mut clause), Some(c)));
                i = j;
                continue;
            }
        }
        clause.push(c);
        i += 1;
    }
    if !clause.trim().is_empty() {
        out.push((clause, None));
    }
    out
}

/// Cuts text into pieces of at most `max_chars` characters, preferring to cut
/// after a sentence end, then after clause punctuation, then at a space, and
/// only then inside a word. Pieces are trimmed; blank ones are dropped.
pub fn split_text(text: &str, max_chars: usize) -> Vec<&str> {
    let max_chars = max_chars.max(1);
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((limit, _)) = rest.char_indices().nth(max_chars) else {
            pieces.push(rest);
            break;
        };
        let cut = best_cut(rest, limit);
        let piece = rest[..cut].trim();
        if !piece.is_empty() {
            pieces.push(piece);
        }
        rest = rest[cut..].trim_start();
    }
    pieces
}

/// Byte index to cut `text` at, at most `limit` (a char boundary), never 0.
fn best_cut(text: &str, limit: usize) -> usize {
    // A candidate cut follows punctuation and precedes whitespace.
    let after_punct = |set: &[char]| {
        text[..limit]
            .char_indices()
            .filter(|(i, c)| {
                set.contains(c)
                    && text[i + c.len_utf8()..]
                        .chars()
                        .next()
                        .is_some_and(char::is_whitespace)
            })
            .map(|(i, c)| i + c.len_utf8())
            .next_back()
    };
    after_punct(&['.', '!', '?', '\n'])
        .or_else(|| after_punct(&[',', ';', ':', '\u{2014}', '\u{2013}']))
        .or_else(|| {
            text[..limit]
                .char_indices()
                .filter(|(i, c)| c.is_whitespace() && *i > 0)
                .map(|(i, _)| i)
                .next_back()
        })
        .filter(|&i| i > 0)
        .unwrap_or(limit)
}

/// Splits an over-long phoneme string at word gaps (or anywhere, failing
/// that) so one ONNX run stays bounded even when espeak expands a short text
/// (long numbers) into many phonemes.
fn bound_phonemes(phonemes: String, max_chars: usize) -> Vec<String> {
    if phonemes.chars().count() <= max_chars {
        return vec![phonemes];
    }
    split_text(&phonemes, max_chars)
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// piper-phonemize's id sequence: BOS, pad, then each phoneme's ids followed
/// by pad, then EOS. Phonemes the voice does not know are skipped.
fn phoneme_ids(config: &ModelConfig, phonemes: &str) -> Vec<i64> {
    let map = &config.phoneme_id_map;
    let id = |c: char| map.get(&c).cloned().unwrap_or_default();
    let pad = id('_');
    let mut ids = Vec::with_capacity(phonemes.len() * 2 + 4);
    ids.extend(id('^'));
    ids.extend(&pad);
    for c in phonemes.chars() {
        if let Some(v) = map.get(&c) {
            ids.extend(v);
            ids.extend(&pad);
        }
    }
    ids.extend(id('$'));
    ids
}

impl Inner {
    /// Runs the voice on one sentence's phonemes; `run` can terminate it.
    fn infer(&self, phonemes: &str, run: &RunOptions) -> Result<Vec<f32>, String> {
        let ids = phoneme_ids(&self.config, phonemes);
        let n = ids.len();
        let inf = &self.config.inference;
        let scales = vec![
            inf.noise_scale,
            self.options.length_scale.unwrap_or(inf.length_scale),
            inf.noise_w,
        ];
        let input = Tensor::from_array(([1usize, n], ids)).map_err(|e| e.to_string())?;
        let lengths = Tensor::from_array(([1usize], vec![n as i64])).map_err(|e| e.to_string())?;
        let scales = Tensor::from_array(([3usize], scales)).map_err(|e| e.to_string())?;
        let mut session = self.take_session()?;
        let outputs = if self.multi_speaker {
            let sid = Tensor::from_array(([1usize], vec![self.options.speaker_id]))
                .map_err(|e| e.to_string())?;
            session.get()?.run_with_options(
                ort::inputs![
                    "input" => input,
                    "input_lengths" => lengths,
                    "scales" => scales,
                    "sid" => sid
                ],
                run,
            )
        } else {
            session.get()?.run_with_options(
                ort::inputs!["input" => input, "input_lengths" => lengths, "scales" => scales],
                run,
            )
        }
        .map_err(|e| e.to_string())?;
        let (_, audio) = outputs
            .get(&self.output_name)
            .ok_or_else(|| format!("no {:?} in the model's results", self.output_name))?
            .try_extract_tensor::<f32>()
            .map_err(|e| e.to_string())?;
        Ok(audio
            .iter()
            .map(|s| {
                if s.is_finite() {
                    s.clamp(-1.0, 1.0)
                } else {
                    0.0
                }
            })
            .collect())
    }

    fn take_session(&self) -> Result<SessionGuard<'_>, String> {
        let session = self
            .free
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .ok_or("no free piper instance (a job ran without a permit)")?;
        Ok(SessionGuard {
            inner: self,
            session: Some(session),
        })
    }
}

/// Puts an instance back on the free list when a job ends, even by panic.
struct SessionGuard<'a> {
    inner: &'a Inner,
    session: Option<Session>,
}

impl SessionGuard<'_> {
    fn get(&mut self) -> Result<&mut Session, String> {
        // Only `drop` takes the session out, so this never fails in practice.
        self.session
            .as_mut()
            .ok_or_else(|| "piper instance already returned".to_string())
    }
}

impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            self.inner
                .free
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(s);
        }
    }
}

/// One sentence's pool job: synthesize, add the pause after it, resample.
struct SentenceJob {
    phonemes: String,
    /// Last sentence of the reply: no pause after it, and the resampler is flushed.
    last: bool,
    resampler: StreamResampler,
}

fn run_sentence(
    inner: &Inner,
    mut job: SentenceJob,
    run: &RunOptions,
) -> (Result<Vec<f32>, String>, StreamResampler) {
    let result = (|| {
        let started = Instant::now();
        let mut audio = inner.infer(&job.phonemes, run)?;
        let voice_ms = audio.len() as u64 * 1000 / u64::from(inner.config.audio.sample_rate);
        tracing::debug!(
            phonemes = job.phonemes.chars().count(),
            audio_ms = voice_ms,
            synth_ms = started.elapsed().as_millis() as u64,
            "piper sentence"
        );
        if !job.last {
            let pause = inner.config.audio.sample_rate as usize
                * inner.options.sentence_silence_ms as usize
                / 1000;
            audio.resize(audio.len() + pause, 0.0);
        }
        let mut out = Vec::with_capacity(audio.len() * 2);
        job.resampler.push(&audio, &mut out)?;
        if job.last {
            job.resampler.finish(&mut out)?;
        }
        Ok(out)
    })();
    (result, job.resampler)
}

/// Accumulates output samples and sends them as fixed-size chunks.
struct Chunker {
    rate: u32,
    chunk: usize,
    pending: Vec<f32>,
    sent: u64,
}

impl Chunker {
    /// Sends every whole chunk; with `flush`, the remainder too.
    async fn send(
        &mut self,
        samples: Vec<f32>,
        flush: bool,
        tx: &mpsc::Sender<AudioFrame>,
        cancel: &CancellationToken,
    ) -> Result<(), EngineError> {
        self.pending.extend(samples);
        let mut start = 0;
        while self.pending.len() - start >= self.chunk || (flush && start < self.pending.len()) {
            let end = (start + self.chunk).min(self.pending.len());
            let frame = AudioFrame::new(self.rate, self.pending[start..end].to_vec());
            let len = (end - start) as u64;
            start = end;
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(EngineError::Cancelled),
                sent = tx.send(frame) => sent.map_err(|_| EngineError::Cancelled)?,
            }
            self.sent += len;
        }
        self.pending.drain(..start);
        Ok(())
    }
}

impl PiperTts {
    /// Phonemizes one piece of text on the pool.
    async fn phonemize_piece(&self, piece: &str) -> Result<Vec<String>, EngineError> {
        let text = piece.to_string();
        let voice = self.inner.config.espeak.voice.clone();
        let max = self.inner.options.max_clause_chars * 2;
        let sentences = self
            .inner
            .pool
            .run(move || phonemize_sentences(&text, &voice))
            .await
            .map_err(failed)?
            .map_err(failed)?;
        Ok(sentences
            .into_iter()
            .filter(|s| s.chars().any(|c| !c.is_whitespace()))
            .flat_map(|s| bound_phonemes(s, max))
            .collect())
    }

    /// Synthesizes one sentence on the pool; on cancel the ONNX run is
    /// terminated and the job awaited (so the pool's books stay right).
    async fn synthesize_sentence(
        &self,
        job: SentenceJob,
        cancel: &CancellationToken,
    ) -> Result<(Vec<f32>, StreamResampler), EngineError> {
        let run = Arc::new(RunOptions::new().map_err(failed)?);
        let permit: OwnedSemaphorePermit = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(EngineError::Cancelled),
            p = self.inner.permits.clone().acquire_owned() => p.map_err(failed)?,
        };
        let inner = self.inner.clone();
        let run_job = run.clone();
        let work = self.inner.pool.run(move || {
            let out = run_sentence(&inner, job, &run_job);
            drop(permit);
            out
        });
        tokio::pin!(work);
        let done = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                if let Err(e) = run.terminate() {
                    tracing::warn!(error = %e, "could not terminate a piper run");
                }
                let _ = (&mut work).await;
                return Err(EngineError::Cancelled);
            }
            done = &mut work => done,
        };
        let (audio, resampler) = done.map_err(failed)?;
        Ok((audio.map_err(failed)?, resampler))
    }
}

fn failed(e: impl std::fmt::Display) -> EngineError {
    EngineError::Failed {
        engine: ENGINE,
        message: e.to_string(),
    }
}

#[async_trait]
impl TtsEngine for PiperTts {
    fn model(&self) -> &str {
        ENGINE
    }

    fn voice_id(&self) -> &str {
        &self.inner.voice_id
    }

    fn sample_rate(&self) -> u32 {
        self.inner.options.sample_rate
    }

    async fn synthesize(
        &self,
        text: &str,
        chunks: mpsc::Sender<AudioFrame>,
        cancel: CancellationToken,
    ) -> Result<TtsOutcome, EngineError> {
        let opts = &self.inner.options;
        let rate = opts.sample_rate;
        let mut chunker = Chunker {
            rate,
            chunk: (rate as usize * opts.chunk_ms as usize / 1000).max(1),
            pending: Vec::new(),
            sent: 0,
        };
        let mut resampler =
            Some(StreamResampler::new(self.inner.config.audio.sample_rate, rate).map_err(failed)?);
        let mut fed = false;
        let pieces = split_text(text, opts.max_clause_chars);
        let n_pieces = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let sentences = self.phonemize_piece(piece).await?;
            let n = sentences.len();
            for (j, phonemes) in sentences.into_iter().enumerate() {
                if cancel.is_cancelled() {
                    return Err(EngineError::Cancelled);
                }
                let job = SentenceJob {
                    phonemes,
                    last: i + 1 == n_pieces && j + 1 == n,
                    resampler: resampler.take().ok_or_else(|| failed("resampler lost"))?,
                };
                let (audio, r) = self.synthesize_sentence(job, &cancel).await?;
                resampler = Some(r);
                fed = true;
                chunker.send(audio, true, &chunks, &cancel).await?;
            }
        }
        // When the text ended in pieces without speech, the last sentence was
        // not known to be last: flush the resampler's tail now.
        if let Some(mut r) = resampler.filter(|r| fed && r.has_tail()) {
            let tail = self
                .inner
                .pool
                .run(move || {
                    let mut out = Vec::new();
                    r.finish(&mut out).map(|()| out)
                })
                .await
                .map_err(failed)?
                .map_err(failed)?;
            chunker.send(tail, true, &chunks, &cancel).await?;
        }
        Ok(TtsOutcome {
            audio_ms: chunker.sent * 1000 / u64::from(rate),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_text_bounds_every_piece_and_keeps_the_words() {
        let prose = "Hello there. This is a test, with a clause; and more! ".repeat(100);
        for text in [
            prose.as_str(),
            &"word ".repeat(1000),
            &"x".repeat(5000),
            &"é".repeat(777),
            "",
            "   ",
        ] {
            let pieces = split_text(text, 120);
            for p in &pieces {
                assert!(p.chars().count() <= 120, "piece too long: {p:?}");
                assert!(!p.trim().is_empty());
            }
            let joined: String = pieces.concat().split_whitespace().collect();
            let original: String = text.split_whitespace().collect();
            assert_eq!(joined, original);
        }
    }

    #[test]
    fn split_text_prefers_sentence_ends_then_commas() {
        let s = "One two three. Four five, six seven eight nine";
        assert_eq!(
            split_text(s, 20),
            vec!["One two three.", "Four five,", "six seven eight nine"]
        );
        assert_eq!(split_text("short", 20), vec!["short"]);
    }

    #[test]
    fn clauses_keep_their_punctuation_and_numbers_stay_whole() {
        let got = clauses("Hello, world. It costs 3.50, or 12,000?! Fine\nNext");
        let want: Vec<(String, Option<char>)> = vec![
            ("Hello".into(), Some(',')),
            (" world".into(), Some('.')),
            (" It costs 3.50".into(), Some(',')),
            (" or 12,000".into(), Some('?')),
            (" Fine".into(), None),
            ("Next".into(), None),
        ];
        assert_eq!(got, want);
        assert_eq!(
            clauses("He said \"stop.\" Then"),
            vec![("He said \"stop".into(), Some('.')), (" Then".into(), None)]
        );
        assert_eq!(
            normalize_for_espeak("a \u{2014} b (c) \"d\"\u{2026}"),
            "a  ,  b  , c ,   d ."
        );
    }
}
