//! Silero VAD (v5, ONNX) behind [`VadEngine`].
//!
//! One loaded model serves every session: a few ONNX sessions (one per pool
//! thread, since `Session::run` needs `&mut`) sit behind mutexes, and each
//! [`VadStream`] keeps only its own recurrent state, the 64-sample context the
//! model expects in front of every window, and the samples not yet windowed.
//! 20 ms frames (320 samples) are gathered into the model's 512-sample (32 ms)
//! windows; each window's speech probability, with hysteresis, drives the shared
//! [`Endpointer`], so boundaries come out in audio time like every other VAD.

use crate::onnx::{self, SessionSet};
use crate::pool::InferencePool;
use arc_actors::audio::{AudioFrame, STT_SAMPLE_RATE};
use arc_actors::endpoint::{Endpointer, Endpointing};
use arc_actors::engine::{EngineError, VadEngine, VadEvent, VadStream};
use async_trait::async_trait;
use ort::session::Session;
use ort::value::Tensor;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Samples per model window at 16 kHz (Silero v5 accepts only this size).
pub const WINDOW_SAMPLES: usize = 512;
/// Milliseconds per window (512 / 16 kHz).
pub const WINDOW_MS: u64 = 32;
/// Samples of the previous window the model sees in front of each window.
const CONTEXT_SAMPLES: usize = 64;
/// Size of the recurrent state tensor `[2, 1, 128]`.
const STATE_LEN: usize = 2 * 128;
const ENGINE: &str = "silero-vad";

/// Why the Silero model could not be loaded. Every message names the file and
/// the command that puts a good copy in place.
#[derive(Debug, thiserror::Error)]
pub enum VadLoadError {
    #[error("Silero VAD model {} is missing; run: arc-agent models fetch", path.display())]
    Missing { path: PathBuf },
    #[error(
        "Silero VAD model {} could not be loaded (corrupt or truncated?): {reason}; \
         run: arc-agent models fetch",
        path.display()
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "{} is not a Silero v5 VAD model: {detail}; run: arc-agent models fetch",
        path.display()
    )]
    WrongModel { path: PathBuf, detail: String },
    #[error("invalid Silero VAD options: {0}")]
    BadOptions(String),
}

/// Decision thresholds and endpointing for [`SileroVad`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SileroOptions {
    /// A window at or above this probability is speech (when not in speech).
    pub threshold: f32,
    /// While in speech, a window stays speech until its probability drops
    /// below this (hysteresis: keeps soft syllables from chopping utterances).
    pub neg_threshold: f32,
    /// Minimum speech / trailing silence that make a boundary.
    pub endpointing: Endpointing,
    /// ONNX sessions to keep; `None` = one per pool thread.
    pub sessions: Option<usize>,
}

impl Default for SileroOptions {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            neg_threshold: 0.35,
            endpointing: Endpointing::default(),
            sessions: None,
        }
    }
}

impl SileroOptions {
    fn validate(&self) -> Result<(), VadLoadError> {
        let ok = |t: f32| t.is_finite() && t > 0.0 && t < 1.0;
        if !ok(self.threshold) || !ok(self.neg_threshold) {
            return Err(VadLoadError::BadOptions(format!(
                "thresholds must be in (0, 1), got threshold {} and neg_threshold {}",
                self.threshold, self.neg_threshold
            )));
        }
        if self.neg_threshold > self.threshold {
            return Err(VadLoadError::BadOptions(format!(
                "neg_threshold {} is above threshold {}",
                self.neg_threshold, self.threshold
            )));
        }
        if self.sessions == Some(0) {
            return Err(VadLoadError::BadOptions(
                "sessions must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// What all streams share: the sessions, the pool and the options.
struct Shared {
    /// One per pool thread, single-threaded each: the pool already runs one
    /// job per core and a window is far too small to split.
    sessions: SessionSet,
    pool: Arc<InferencePool>,
    options: SileroOptions,
}

/// The Silero VAD model, shared by all sessions; see the module docs.
pub struct SileroVad {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SileroVad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SileroVad")
            .field("sessions", &self.shared.sessions.len())
            .field("options", &self.shared.options)
            .finish()
    }
}

impl SileroVad {
    /// Loads `silero_vad.onnx` (blocking: tens of milliseconds; call it at
    /// startup or inside `spawn_blocking`) and checks it has Silero v5's
    /// inputs and outputs.
    pub fn load(
        path: &Path,
        options: SileroOptions,
        pool: Arc<InferencePool>,
    ) -> Result<Self, VadLoadError> {
        options.validate()?;
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => VadLoadError::Missing {
                path: path.to_path_buf(),
            },
            _ => VadLoadError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("cannot read it: {e}"),
            },
        })?;
        let count = options.sessions.unwrap_or(pool.threads()).max(1);
        let mut sessions = Vec::with_capacity(count);
        for _ in 0..count {
            let session = onnx::session(&bytes, 1).map_err(|reason| VadLoadError::Corrupt {
                path: path.to_path_buf(),
                reason,
            })?;
            check_signature(&session).map_err(|detail| VadLoadError::WrongModel {
                path: path.to_path_buf(),
                detail,
            })?;
            sessions.push(session);
        }
        Ok(Self {
            shared: Arc::new(Shared {
                sessions: SessionSet::new(sessions),
                pool,
                options,
            }),
        })
    }

    /// A stream with its own state, as a concrete type (tests and benches
    /// that want [`SileroStream::probabilities`]).
    pub fn silero_stream(&self) -> SileroStream {
        self.silero_stream_with(self.shared.options.endpointing)
    }

    fn silero_stream_with(&self, endpointing: Endpointing) -> SileroStream {
        SileroStream {
            shared: self.shared.clone(),
            state: vec![0.0; STATE_LEN],
            context: vec![0.0; CONTEXT_SAMPLES],
            buf: Vec::with_capacity(2 * WINDOW_SAMPLES),
            ep: Endpointer::new(endpointing),
            speaking: false,
            pending: VecDeque::new(),
            last_probs: Vec::new(),
        }
    }
}

fn check_signature(session: &Session) -> Result<(), String> {
    let has = |outlets: &[ort::value::Outlet], name: &str| outlets.iter().any(|o| o.name() == name);
    for name in ["input", "state", "sr"] {
        if !has(session.inputs(), name) {
            return Err(format!("it has no input named {name:?}"));
        }
    }
    for name in ["output", "stateN"] {
        if !has(session.outputs(), name) {
            return Err(format!("it has no output named {name:?}"));
        }
    }
    Ok(())
}

impl VadEngine for SileroVad {
    fn name(&self) -> &str {
        ENGINE
    }

    fn stream(&self) -> Box<dyn VadStream> {
        Box::new(self.silero_stream())
    }

    fn stream_with_silence(&self, silence_ms: u64) -> Box<dyn VadStream> {
        Box::new(self.silero_stream_with(Endpointing {
            silence_ms,
            ..self.shared.options.endpointing
        }))
    }
}

/// One session's VAD state: recurrent state, context, unwindowed samples.
pub struct SileroStream {
    shared: Arc<Shared>,
    state: Vec<f32>,
    context: Vec<f32>,
    buf: Vec<f32>,
    ep: Endpointer,
    /// The hysteresis decision of the last window.
    speaking: bool,
    /// Boundaries found but not returned yet (a long frame can hold several).
    pending: VecDeque<VadEvent>,
    last_probs: Vec<f32>,
}

impl std::fmt::Debug for SileroStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SileroStream")
            .field("buffered", &self.buf.len())
            .field("speaking", &self.speaking)
            .finish()
    }
}

impl SileroStream {
    /// Speech probabilities of the windows the last `push` completed (for
    /// tests, benches and level meters).
    pub fn probabilities(&self) -> &[f32] {
        &self.last_probs
    }

    fn decide(&mut self, prob: f32) -> Option<VadEvent> {
        let opts = &self.shared.options;
        self.speaking = if self.speaking {
            prob >= opts.neg_threshold
        } else {
            prob >= opts.threshold
        };
        self.ep.push(self.speaking, WINDOW_MS)
    }
}

/// Runs the model over whole windows, carrying state and context across them.
/// Returns one probability per window.
fn run_windows(
    shared: &Shared,
    samples: &[f32],
    state: &mut [f32],
    context: &mut [f32],
) -> Result<Vec<f32>, String> {
    let mut guard = shared.sessions.lock();
    let session = &mut *guard;
    let mut probs = Vec::with_capacity(samples.len() / WINDOW_SAMPLES);
    let mut input = vec![0.0f32; CONTEXT_SAMPLES + WINDOW_SAMPLES];
    for window in samples.chunks_exact(WINDOW_SAMPLES) {
        input[..CONTEXT_SAMPLES].copy_from_slice(context);
        input[CONTEXT_SAMPLES..].copy_from_slice(window);
        let input_t =
            Tensor::from_array(([1usize, CONTEXT_SAMPLES + WINDOW_SAMPLES], input.clone()))
                .map_err(|e| e.to_string())?;
        let state_t =
            Tensor::from_array(([2usize, 1, 128], state.to_vec())).map_err(|e| e.to_string())?;
        let sr_t = Tensor::from_array(((), vec![i64::from(STT_SAMPLE_RATE)]))
            .map_err(|e| e.to_string())?;
        let outputs = session
            .run(ort::inputs!["input" => input_t, "state" => state_t, "sr" => sr_t])
            .map_err(|e| e.to_string())?;
        let prob = outputs
            .get("output")
            .ok_or("no `output` in the model's results")?
            .try_extract_tensor::<f32>()
            .map_err(|e| e.to_string())?
            .1
            .first()
            .copied()
            .ok_or("empty `output` tensor")?;
        let (_, new_state) = outputs
            .get("stateN")
            .ok_or("no `stateN` in the model's results")?
            .try_extract_tensor::<f32>()
            .map_err(|e| e.to_string())?;
        if new_state.len() != STATE_LEN {
            return Err(format!(
                "`stateN` has {} values, expected {STATE_LEN}",
                new_state.len()
            ));
        }
        state.copy_from_slice(new_state);
        context.copy_from_slice(&input[WINDOW_SAMPLES..]);
        probs.push(if prob.is_finite() { prob } else { 0.0 });
    }
    Ok(probs)
}

#[async_trait]
impl VadStream for SileroStream {
    async fn push(&mut self, frame: &AudioFrame) -> Result<Option<VadEvent>, EngineError> {
        if frame.sample_rate != STT_SAMPLE_RATE {
            return Err(EngineError::BadInput {
                engine: ENGINE,
                message: format!(
                    "frame is at {} Hz; Silero VAD needs {STT_SAMPLE_RATE} Hz",
                    frame.sample_rate
                ),
            });
        }
        // NaN/inf would poison the recurrent state for the rest of the stream.
        self.buf.extend(frame.samples.iter().map(|s| {
            if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        }));
        self.last_probs.clear();
        let whole = self.buf.len() / WINDOW_SAMPLES * WINDOW_SAMPLES;
        if whole > 0 {
            let samples: Vec<f32> = self.buf.drain(..whole).collect();
            let mut state = std::mem::take(&mut self.state);
            let mut context = std::mem::take(&mut self.context);
            let shared = self.shared.clone();
            let job = self
                .shared
                .pool
                .run(move || {
                    let r = run_windows(&shared, &samples, &mut state, &mut context);
                    (r, state, context)
                })
                .await;
            let (probs, state, context) = match job {
                Ok(out) => out,
                Err(e) => {
                    self.reset_model_state();
                    return Err(EngineError::Failed {
                        engine: ENGINE,
                        message: e.to_string(),
                    });
                }
            };
            self.state = state;
            self.context = context;
            let probs = probs.map_err(|message| {
                self.reset_model_state();
                EngineError::Failed {
                    engine: ENGINE,
                    message,
                }
            })?;
            for p in &probs {
                if let Some(ev) = self.decide(*p) {
                    self.pending.push_back(ev);
                }
            }
            self.last_probs = probs;
        }
        Ok(self.pending.pop_front())
    }

    fn pausing(&self) -> bool {
        self.pending.is_empty() && self.ep.pausing()
    }

    fn silence_ms(&self) -> u64 {
        self.ep.silence_ms()
    }

    fn end_turn(&mut self) {
        self.pending.clear();
        self.ep.end_turn();
    }
}

impl SileroStream {
    /// After a failed window the state is unknown: start the model afresh
    /// (the endpointer keeps its audio clock).
    fn reset_model_state(&mut self) {
        self.state = vec![0.0; STATE_LEN];
        self.context = vec![0.0; CONTEXT_SAMPLES];
    }
}
