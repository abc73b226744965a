//! The engines sessions get, by `engines.profile`.
//!
//! - `synthetic`: zero-cost stand-ins (orchestration tests, scripted HTTP
//!   sessions, the load generator).
//! - `local`: real models on this machine. Each model is loaded once, at
//!   start, and shared by every session (a session only adds its own small
//!   VAD state), and all inference runs on one bounded [`InferencePool`].

pub(crate) mod nats_brain;

use crate::config::{Brain, Config, EngineProfile};
use arc_actors::endpoint::Endpointing;
use arc_actors::engine::{
    CancellationToken, EngineError, Engines, LlmEngine, LlmRequest, LlmUsage, SttEngine,
    ToolEngine, TtsEngine, TurnEngine, VadEngine,
};
use arc_actors::node::{EngineProvider, SessionSpec};
use arc_actors::synthetic::{EchoLlm, ScriptBook, SyntheticProvider};
use arc_models::llm::llama_server::{self, LlamaServer, LlamaServerOptions};
use arc_models::llm::openai::{OpenAiLlm, OpenAiOptions};
use arc_models::manifest::{self, Manifest, ModelFileError};
use arc_models::piper::{PiperOptions, PiperTts};
use arc_models::pool::InferencePool;
use arc_models::silero::{SileroOptions, SileroVad};
use arc_models::turn::SmartTurn;
use arc_models::whisper::{WhisperOptions, WhisperStt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Why the engines could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum EnginesError {
    #[error(transparent)]
    ModelFile(#[from] ModelFileError),
    #[error("models manifest: {0}")]
    Manifest(String),
    #[error("the nats brain cannot use nats.url: {0}")]
    Nats(String),
    #[error("{model}: the manifest lists no {what} file for it")]
    NoFile { model: String, what: &'static str },
    #[error("the local brain could not start: {0}")]
    LlamaServer(#[from] arc_models::llm::llama_server::LlamaServerError),
    #[error("loading {model} from {}: {message}", path.display())]
    Load {
        model: String,
        path: PathBuf,
        message: String,
    },
}

/// The real engines, loaded once.
#[derive(Clone)]
pub struct LocalEngines {
    pub vad: Arc<SileroVad>,
    /// Semantic end of turn (`[engines.turn]`), when enabled.
    pub turn: Option<Arc<SmartTurn>>,
    pub stt: Arc<WhisperStt>,
    pub tts: Arc<PiperTts>,
    pub llm: Arc<dyn LlmEngine>,
    pub pool: Arc<InferencePool>,
    /// The supervised model server behind a `local` brain (stopped when the
    /// last clone is dropped, and by the kernel if the node dies).
    pub llama_server: Option<Arc<LlamaServer>>,
    /// The HTTP tools of `[[session.brain.tools]]`.
    pub tools: Option<Arc<dyn ToolEngine>>,
}

impl std::fmt::Debug for LocalEngines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEngines")
            .field("vad", &self.vad.name())
            .field("stt", &self.stt.model())
            .field("tts", &self.tts.voice_id())
            .field("llm", &self.llm.model())
            .finish()
    }
}

/// The placeholder brain until the LLM engines land: it answers by quoting
/// the user ("You said: …"), and says so in its model name
/// (`agent.brain.response`, conversation-v1 `llm_model`).
#[derive(Debug, Default)]
pub(crate) struct PlaceholderBrain(EchoLlm);

#[async_trait::async_trait]
impl LlmEngine for PlaceholderBrain {
    fn model(&self) -> &str {
        "placeholder-echo"
    }
    async fn stream(
        &self,
        request: LlmRequest,
        tokens: mpsc::Sender<String>,
        cancel: CancellationToken,
    ) -> Result<LlmUsage, EngineError> {
        self.0.stream(request, tokens, cancel).await
    }
}

/// The brain of a node whose model server could not start (a missing
/// runtime, a damaged model): every turn fails at once with the reason, so
/// callers hear the fallback and observers see `agent.brain.error`, while the
/// rest of the node (and every other engine) goes on.
#[derive(Debug)]
pub(crate) struct UnavailableBrain {
    model: String,
    reason: String,
}

#[async_trait::async_trait]
impl LlmEngine for UnavailableBrain {
    fn model(&self) -> &str {
        &self.model
    }
    async fn stream(
        &self,
        _request: LlmRequest,
        _tokens: mpsc::Sender<String>,
        _cancel: CancellationToken,
    ) -> Result<LlmUsage, EngineError> {
        Err(EngineError::Failed {
            engine: "llm",
            message: format!("the local brain is not running: {}", self.reason),
        })
    }
}

fn placeholder_llm() -> Arc<dyn LlmEngine> {
    Arc::new(PlaceholderBrain::default())
}

/// The file of `model` whose manifest name ends with `suffix` (or its
/// converted output), checked to exist.
fn model_file(
    manifest: &Manifest,
    dir: &Path,
    model: &str,
    suffix: &str,
    what: &'static str,
) -> Result<PathBuf, EnginesError> {
    let entry = manifest.model(model)?;
    let name = entry
        .convert
        .as_ref()
        .map(|c| c.output.clone())
        .filter(|o| o.ends_with(suffix))
        .or_else(|| {
            entry
                .files
                .iter()
                .find(|f| f.dest.ends_with(suffix))
                .map(|f| f.dest.clone())
        })
        .ok_or_else(|| EnginesError::NoFile {
            model: model.to_string(),
            what,
        })?;
    Ok(manifest::require(dir, model, &name)?)
}

/// The folder of the llama.cpp libraries (`runtime`), checked to hold them.
fn runtime_dir(manifest: &Manifest, dir: &Path, runtime: &str) -> Result<PathBuf, EnginesError> {
    let entry = manifest.model(runtime)?;
    let mut folder = dir.join(&entry.name);
    for f in &entry.files {
        let path = manifest::require(dir, &entry.name, &f.dest)?;
        if let Some(parent) = path.parent() {
            folder = parent.to_path_buf();
        }
    }
    Ok(folder)
}

/// The llama.cpp libraries `arc-agent llm-server` loads (engines.llm.runtime
/// under the models directory), checked to be there.
pub(crate) fn llama_runtime_dir(cfg: &Config) -> Result<PathBuf, EnginesError> {
    let manifest = Manifest::embedded().map_err(|e| EnginesError::Manifest(e.to_string()))?;
    runtime_dir(
        &manifest,
        &cfg.models.resolved_dir(),
        &cfg.engines.llm.runtime,
    )
}

/// Starts the brain `engines.llm.brain` names.
pub(crate) async fn load_brain(
    cfg: &Config,
) -> Result<(Arc<dyn LlmEngine>, Option<Arc<LlamaServer>>), EnginesError> {
    let llm = &cfg.engines.llm;
    match llm.brain {
        Brain::Local => {
            let manifest =
                Manifest::embedded().map_err(|e| EnginesError::Manifest(e.to_string()))?;
            let dir = cfg.models.resolved_dir();
            let gguf = model_file(&manifest, &dir, &llm.model, ".gguf", "GGUF")?;
            let mut opts = if llm.server_binary.as_os_str().is_empty() {
                llama_server::builtin(&gguf, &runtime_dir(&manifest, &dir, &llm.runtime)?)
            } else {
                LlamaServerOptions::new(llm.server_binary.clone(), &gguf)
            };
            opts.threads = llm.threads;
            opts.ctx_size = llm.ctx_size;
            opts.parallel = llm.parallel;
            opts.min_p = Some(llm.min_p);
            opts.startup_timeout = Duration::from_millis(llm.startup_timeout_ms);
            opts.log_file = Some(cfg.node.data_dir.join("llama-server.log"));
            if let Some(parent) = opts.log_file.as_ref().and_then(|p| p.parent()) {
                let _ = std::fs::create_dir_all(parent);
            }
            let server = Arc::new(LlamaServer::start(opts).await?);
            let engine = OpenAiLlm::new(&OpenAiOptions {
                base_url: server.base_url().to_string(),
                model: llm.model.clone(),
                api_key: None,
                ..OpenAiOptions::default()
            });
            Ok((Arc::new(engine), Some(server)))
        }
        Brain::OpenAi => {
            let api_key = std::env::var(&llm.api_key_env)
                .ok()
                .filter(|k| !k.is_empty());
            let engine = OpenAiLlm::new(&OpenAiOptions {
                base_url: llm.base_url.clone(),
                model: llm.api_model.clone(),
                api_key,
                ..OpenAiOptions::default()
            });
            Ok((Arc::new(engine), None))
        }
        Brain::Nats => {
            // Connects in the background: a node with no NATS yet still starts,
            // and its turns get the fallback until the tier is reachable.
            let client = crate::mirror::nats_connect::options(&cfg.nats)
                .await
                .map_err(|e| EnginesError::Nats(e.to_string()))?
                .name(format!("{}-brain", cfg.nats.client_name))
                .retry_on_initial_connect()
                .connect(&cfg.nats.url)
                .await
                .map_err(|e| EnginesError::Nats(e.to_string()))?;
            let engine = nats_brain::NatsBrainLlm::new(client, &llm.nats_subject);
            Ok((Arc::new(engine), None))
        }
        Brain::Placeholder => Ok((placeholder_llm(), None)),
    }
}

/// The piper voice `voice` (a `tts` model of the manifest), with the
/// session's TTS rate and `engines.tts.espeak_data_dir`.
pub(crate) fn load_piper_voice(
    cfg: &Config,
    voice: &str,
    pool: Arc<InferencePool>,
) -> Result<PiperTts, EnginesError> {
    let manifest = Manifest::embedded().map_err(|e| EnginesError::Manifest(e.to_string()))?;
    let dir = cfg.models.resolved_dir();
    let model = model_file(&manifest, &dir, voice, ".onnx", "ONNX")?;
    let voice_cfg = model_file(&manifest, &dir, voice, ".onnx.json", "voice config")?;
    let mut opts = PiperOptions {
        sample_rate: cfg.session.tts.sample_rate,
        ..PiperOptions::default()
    };
    let espeak_dir = &cfg.engines.tts.espeak_data_dir;
    if !espeak_dir.as_os_str().is_empty() {
        opts.espeak_data_dir = Some(espeak_dir.clone());
    }
    PiperTts::load(&model, &voice_cfg, opts, pool).map_err(|err| EnginesError::Load {
        model: voice.to_string(),
        path: model.clone(),
        message: err.to_string(),
    })
}

impl LocalEngines {
    /// Loads Silero, whisper and piper from the models directory, and starts
    /// the brain.
    pub async fn load(cfg: &Config) -> Result<Self, EnginesError> {
        let manifest = Manifest::embedded().map_err(|e| EnginesError::Manifest(e.to_string()))?;
        let dir = cfg.models.resolved_dir();
        let e = &cfg.engines;
        let pool = if e.inference_threads == 0 {
            InferencePool::per_core()
        } else {
            InferencePool::new(e.inference_threads)
        };
        let load_err = |model: &str, path: &Path, err: &dyn std::fmt::Display| EnginesError::Load {
            model: model.to_string(),
            path: path.to_path_buf(),
            message: err.to_string(),
        };

        let t = Instant::now();
        let vad_path = model_file(&manifest, &dir, &e.vad.model, ".onnx", "ONNX")?;
        let vad = SileroVad::load(
            &vad_path,
            SileroOptions {
                threshold: e.vad.threshold,
                endpointing: Endpointing {
                    min_speech_ms: e.vad.min_speech_ms,
                    silence_ms: e.vad.silence_ms,
                },
                ..SileroOptions::default()
            },
            pool.clone(),
        )
        .map_err(|err| load_err(&e.vad.model, &vad_path, &err))?;
        tracing::info!(model = %e.vad.model, ms = t.elapsed().as_millis() as u64, "VAD loaded");

        let turn = if e.turn.enabled {
            let t = Instant::now();
            let path = model_file(&manifest, &dir, &e.turn.model, ".onnx", "ONNX")?;
            let model = SmartTurn::load(&path, &e.turn.model, pool.clone())
                .map_err(|err| load_err(&e.turn.model, &path, &err))?;
            tracing::info!(model = %e.turn.model, ms = t.elapsed().as_millis() as u64, "turn model loaded");
            Some(Arc::new(model))
        } else {
            None
        };

        let t = Instant::now();
        let stt_path = model_file(&manifest, &dir, &e.stt.model, ".bin", "ggml")?;
        let stt = WhisperStt::load(&stt_path, WhisperOptions::default(), pool.clone())
            .map_err(|err| load_err(&e.stt.model, &stt_path, &err))?;
        tracing::info!(model = %e.stt.model, ms = t.elapsed().as_millis() as u64, "STT loaded");

        let t = Instant::now();
        let tts = load_piper_voice(cfg, &e.tts.voice, pool.clone())?;
        tracing::info!(voice = %e.tts.voice, ms = t.elapsed().as_millis() as u64, "TTS loaded");

        let t = Instant::now();
        let (llm, llama_server) = match load_brain(cfg).await {
            Ok(b) => b,
            // The model server is a separate process: its failure to start
            // costs the answers, not the node. Said once, loudly.
            Err(e @ (EnginesError::LlamaServer(_) | EnginesError::ModelFile(_))) => {
                tracing::error!(error = %e, "the local brain could not start: every turn gets the fallback reply until the node is restarted with a working model");
                let engine = UnavailableBrain {
                    model: cfg.engines.llm.model.clone(),
                    reason: e.to_string(),
                };
                (Arc::new(engine) as Arc<dyn LlmEngine>, None)
            }
            Err(e) => return Err(e),
        };
        tracing::info!(brain = %cfg.engines.llm.brain, model = %llm.model(), ms = t.elapsed().as_millis() as u64, "brain ready");

        Ok(Self {
            vad: Arc::new(vad),
            turn,
            stt: Arc::new(stt),
            tts: Arc::new(tts),
            llm,
            pool,
            llama_server,
            tools: cfg.http_tools().map(|t| t as Arc<dyn ToolEngine>),
        })
    }

    pub fn engines(&self) -> Engines {
        Engines {
            vad: self.vad.clone() as Arc<dyn VadEngine>,
            stt: self.stt.clone() as Arc<dyn SttEngine>,
            llm: self.llm.clone(),
            tts: self.tts.clone() as Arc<dyn TtsEngine>,
            tools: self.tools.clone(),
            turn: self.turn.clone().map(|t| t as Arc<dyn TurnEngine>),
        }
    }
}

impl EngineProvider for LocalEngines {
    fn engines_for(&self, _spec: &SessionSpec) -> Result<Engines, EngineError> {
        Ok(self.engines())
    }
}

/// What a node runs its sessions with: the provider each session gets its
/// engines from, the real engines' inference pool (for metrics), and the
/// book the synthetic STT reads scripted callers' lines from (the
/// scripted-session API writes there; the real engines read nothing there).
pub struct NodeEngines {
    pub provider: Arc<dyn EngineProvider>,
    pub inference: Option<Arc<InferencePool>>,
    pub scripts: ScriptBook,
}

impl NodeEngines {
    /// `provider` with no inference pool, and a book of scripts of its own.
    pub fn new(provider: Arc<dyn EngineProvider>) -> Self {
        Self {
            provider,
            inference: None,
            scripts: ScriptBook::default(),
        }
    }

    /// The same, with the real engines' inference pool.
    pub fn with_inference(mut self, pool: Arc<InferencePool>) -> Self {
        self.inference = Some(pool);
        self
    }

    /// The same, with the book the provider's synthetic STT reads.
    pub fn with_scripts(mut self, scripts: ScriptBook) -> Self {
        self.scripts = scripts;
        self
    }
}

/// The engines for `engines.profile`.
pub(crate) async fn for_profile(cfg: &Config) -> Result<NodeEngines, EnginesError> {
    match cfg.engines.profile {
        EngineProfile::Local => {
            let engines = LocalEngines::load(cfg).await?;
            let pool = engines.pool.clone();
            Ok(NodeEngines::new(Arc::new(engines)).with_inference(pool))
        }
        EngineProfile::Synthetic => {
            let synthetic = SyntheticProvider::default();
            let scripts = synthetic.scripts.clone();
            Ok(NodeEngines::new(Arc::new(WithTools {
                inner: synthetic,
                tools: cfg.http_tools().map(|t| t as Arc<dyn ToolEngine>),
            }))
            .with_scripts(scripts))
        }
    }
}

/// Another provider's engines with the node's declared tools.
pub struct WithTools<P> {
    pub inner: P,
    pub tools: Option<Arc<dyn ToolEngine>>,
}

impl<P: EngineProvider> EngineProvider for WithTools<P> {
    fn engines_for(&self, spec: &SessionSpec) -> Result<Engines, EngineError> {
        let mut e = self.inner.engines_for(spec)?;
        if self.tools.is_some() {
            e.tools = self.tools.clone();
        }
        Ok(e)
    }
}
