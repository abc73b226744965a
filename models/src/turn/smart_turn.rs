//! Smart Turn v3.2 on onnxruntime: the last 8 s of the turn → log-mel
//! features → the probability that the speaker has finished.
//!
//! As with Silero, one ONNX session per pool thread sits behind a mutex
//! (`Session::run` needs `&mut`), single-threaded: the pool already runs one
//! job per core. Features and inference both run on the pool, never on the
//! session's actor.

use super::features::{last_window, log_mel, N_FRAMES, N_MELS};
use crate::onnx::{self, SessionSet};
use crate::pool::InferencePool;
use arc_actors::engine::{EngineError, TurnEngine};
use async_trait::async_trait;
use ort::session::Session;
use ort::value::Tensor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const ENGINE: &str = "smart-turn";
const INPUT: &str = "input_features";
const OUTPUT: &str = "logits";

/// Why the model could not be loaded; each names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum TurnLoadError {
    #[error("Smart Turn model {} is missing; run: arc-agent models fetch", path.display())]
    Missing { path: PathBuf },
    #[error(
        "Smart Turn model {} could not be loaded (corrupt or truncated?): {reason}; \
         run: arc-agent models fetch",
        path.display()
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("{} is not a Smart Turn v3 model: {detail}; run: arc-agent models fetch", path.display())]
    WrongModel { path: PathBuf, detail: String },
}

struct Shared {
    sessions: SessionSet,
    pool: Arc<InferencePool>,
}

/// The loaded model, shared by every session.
pub struct SmartTurn {
    shared: Arc<Shared>,
    name: String,
}

impl std::fmt::Debug for SmartTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartTurn")
            .field("name", &self.name)
            .field("sessions", &self.shared.sessions.len())
            .finish()
    }
}

impl SmartTurn {
    /// Loads the ONNX file (blocking: about a hundred milliseconds) with one
    /// session per pool thread, and checks its input and output.
    pub fn load(path: &Path, name: &str, pool: Arc<InferencePool>) -> Result<Self, TurnLoadError> {
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TurnLoadError::Missing {
                path: path.to_path_buf(),
            },
            _ => TurnLoadError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("cannot read it: {e}"),
            },
        })?;
        let mut sessions = Vec::new();
        for _ in 0..pool.threads().max(1) {
            let session = onnx::session(&bytes, 1).map_err(|reason| TurnLoadError::Corrupt {
                path: path.to_path_buf(),
                reason,
            })?;
            check_signature(&session).map_err(|detail| TurnLoadError::WrongModel {
                path: path.to_path_buf(),
                detail,
            })?;
            sessions.push(session);
        }
        let shared = Arc::new(Shared {
            sessions: SessionSet::new(sessions),
            pool,
        });
        // A first run per session: onnxruntime sizes its buffers on the first
        // call (several times slower), which the first caller must not pay.
        for _ in 0..shared.sessions.len() {
            predict(&shared, &[0.0; 1600]).map_err(|reason| TurnLoadError::Corrupt {
                path: path.to_path_buf(),
                reason,
            })?;
        }
        Ok(Self {
            shared,
            name: name.to_string(),
        })
    }

    /// The probability that the turn in `audio` (16 kHz) is complete, on the
    /// calling thread (tests and benchmarks; sessions go through the pool).
    pub fn predict_blocking(&self, audio: &[f32]) -> Result<f32, String> {
        predict(&self.shared, audio)
    }
}

fn check_signature(session: &Session) -> Result<(), String> {
    if !session.inputs().iter().any(|o| o.name() == INPUT) {
        return Err(format!("it has no input named {INPUT:?}"));
    }
    if !session.outputs().iter().any(|o| o.name() == OUTPUT) {
        return Err(format!("it has no output named {OUTPUT:?}"));
    }
    Ok(())
}

fn predict(shared: &Shared, audio: &[f32]) -> Result<f32, String> {
    let clean: Vec<f32> = audio
        .iter()
        .map(|s| {
            if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        })
        .collect();
    let features = log_mel(&last_window(&clean));
    let input =
        Tensor::from_array(([1usize, N_MELS, N_FRAMES], features)).map_err(|e| e.to_string())?;
    let mut session = shared.sessions.lock();
    let outputs = session
        .run(ort::inputs![INPUT => input])
        .map_err(|e| e.to_string())?;
    let p = outputs
        .get(OUTPUT)
        .ok_or("no `logits` in the model's results")?
        .try_extract_tensor::<f32>()
        .map_err(|e| e.to_string())?
        .1
        .first()
        .copied()
        .ok_or("empty `logits` tensor")?;
    // The exported graph ends in a sigmoid: `logits` is a probability.
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("the model answered {p}, not a probability"));
    }
    Ok(p)
}

#[async_trait]
impl TurnEngine for SmartTurn {
    fn name(&self) -> &str {
        &self.name
    }

    async fn completion(&self, audio: Arc<[f32]>) -> Result<f32, EngineError> {
        let shared = self.shared.clone();
        let job = self.shared.pool.run(move || predict(&shared, &audio)).await;
        match job {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(message)) => Err(EngineError::Failed {
                engine: ENGINE,
                message,
            }),
            Err(e) => Err(EngineError::Failed {
                engine: ENGINE,
                message: e.to_string(),
            }),
        }
    }
}
