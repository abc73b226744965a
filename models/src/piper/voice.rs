//! [`PiperTts`] loaded: the voice config checked, espeak-ng checked, and the
//! ONNX instances every synthesis shares.

use super::error::TtsLoadError;
use super::espeak::init_espeak;
use super::options::PiperOptions;
use crate::pool::InferencePool;
use ort::session::Session;
use parking_lot::Mutex;
use piper_rs::ModelConfig;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// What every synthesis shares: the instances, the voice and the options.
pub(super) struct Inner {
    /// Free instances; `permits` counts them, so a job that holds a permit
    /// always finds one here.
    pub(super) free: Mutex<Vec<Session>>,
    pub(super) permits: Arc<Semaphore>,
    pub(super) config: ModelConfig,
    pub(super) multi_speaker: bool,
    pub(super) output_name: String,
    pub(super) pool: Arc<InferencePool>,
    pub(super) options: PiperOptions,
    pub(super) voice_id: String,
}

/// A Piper voice; see the module docs.
pub struct PiperTts {
    pub(super) inner: Arc<Inner>,
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

        init_espeak(options.espeak_data_dir.as_deref(), &voice.espeak.voice)
            .map_err(TtsLoadError::Espeak)?;

        let count = options.instances.unwrap_or(pool.threads().min(4)).max(1);
        let threads = options.threads_per_instance;
        let built: Vec<Result<Session, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..count)
                .map(|_| s.spawn(|| crate::onnx::session(&bytes, threads)))
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

    /// The voice's own sample rate (before resampling to [`TtsEngine::sample_rate`](arc_actors::engine::TtsEngine::sample_rate)).
    pub fn voice_sample_rate(&self) -> u32 {
        self.inner.config.audio.sample_rate
    }

    pub fn options(&self) -> &PiperOptions {
        &self.inner.options
    }
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
