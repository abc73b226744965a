//! Node configuration: the embedded `config/default.toml`, an optional file
//! over it, then `ARC__SECTION__KEY` environment variables over both. Unknown
//! keys and bad values are refused at start, naming the key and the reason.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The embedded default, documented key by key.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");
/// Prefix of environment overrides.
pub const ENV_PREFIX: &str = "ARC__";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: String, message: String },
    #[error("config key `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        reason: reason.into(),
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub node: NodeSection,
    pub http: HttpSection,
    pub events: EventsSection,
    pub nats: NatsSection,
    pub pulsar: PulsarSection,
    pub heartbeat: HeartbeatSection,
    pub models: ModelsSection,
    pub privacy: PrivacySection,
    pub engines: EnginesSection,
    pub session: SessionSection,
    pub telemetry: TelemetrySection,
    pub log: LogSection,
    pub livekit: LivekitSection,
}

/// LiveKit rooms: the server, the key pair tokens are minted with, the FFI
/// library, and how hard to try to join.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LivekitSection {
    pub url: String,
    pub api_key: String,
    pub api_secret: String,
    pub ffi_library: String,
    pub agent_identity: String,
    pub agent_name: String,
    pub token_ttl_s: u64,
    pub connect_timeout_ms: u64,
    pub max_connect_attempts: u32,
    pub retry_backoff_ms: u64,
    pub max_retry_backoff_ms: u64,
    pub user_join_timeout_ms: u64,
    pub output_queue_ms: u64,
}

/// Where the LiveKit server is when neither the config nor LIVEKIT_URL says.
pub const LIVEKIT_DEFAULT_URL: &str = "ws://127.0.0.1:7880";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySection {
    pub otlp_endpoint: String,
    pub otlp_protocol: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    pub service_name: String,
    pub instance_id: String,
    pub node_name: String,
    pub environment: String,
    pub region: String,
    pub cpu_limit: String,
    pub memory_limit: String,
    pub max_sessions: usize,
    pub drain_timeout_ms: u64,
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    pub listen: String,
    pub fault_injection: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventsSection {
    pub sink_capacity: usize,
    pub nats_queue: usize,
    pub pulsar_queue: usize,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NatsSection {
    pub enabled: bool,
    pub url: String,
    pub client_name: String,
    pub connect_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PulsarSection {
    pub enabled: bool,
    pub url: String,
    pub max_attempts: u32,
    pub send_timeout_ms: u64,
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    pub batch_size: u32,
    pub batch_timeout_ms: u64,
    pub compression: String,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
    pub spool_segment_bytes: u64,
    pub spool_sync_interval_ms: u64,
    pub send_window: usize,
    pub partitions: PartitionsSection,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PartitionsSection {
    pub conversation: u32,
    pub agent_lifecycle: u32,
    pub livekit_webhooks: u32,
    pub session_metrics: u32,
    pub agent_performance: u32,
    pub compliance_events: u32,
}

impl PartitionsSection {
    /// Configured partitions of a topic.
    pub fn of(&self, topic: arc_actors::events::PulsarTopic) -> u32 {
        use arc_actors::events::PulsarTopic::*;
        match topic {
            Conversation => self.conversation,
            AgentLifecycle => self.agent_lifecycle,
            LivekitWebhooks => self.livekit_webhooks,
            SessionMetrics => self.session_metrics,
            AgentPerformance => self.agent_performance,
            ComplianceEvents => self.compliance_events,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatSection {
    pub interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnginesSection {
    pub profile: String,
    /// Inference jobs running at once (0 = one per core).
    pub inference_threads: usize,
    pub vad: VadEngineSection,
    pub stt: SttEngineSection,
    pub tts: TtsEngineSection,
    pub llm: LlmEngineSection,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LlmEngineSection {
    /// "local", "openai" or "placeholder".
    pub brain: String,
    pub model: String,
    pub server_binary: PathBuf,
    pub threads: usize,
    pub ctx_size: u32,
    pub parallel: u32,
    pub startup_timeout_ms: u64,
    pub base_url: String,
    pub api_model: String,
    pub api_key_env: String,
    pub nats_subject: String,
    pub nats_queue: String,
    pub worker_brain: String,
}

/// The brains `engines.llm.brain` may name.
pub const BRAINS: [&str; 4] = ["local", "openai", "nats", "placeholder"];

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrivacySection {
    pub redact_pii: bool,
    pub kinds: Vec<String>,
    pub fields: Vec<String>,
}

impl PrivacySection {
    /// The redactor to install, when redaction is on.
    pub fn redactor(&self) -> Option<arc_actors::redact::Redactor> {
        use arc_actors::redact::{PiiKind, RedactFields, Redactor};
        self.redact_pii.then(|| {
            Redactor::new(
                self.kinds
                    .iter()
                    .filter_map(|k| PiiKind::parse(k))
                    .collect(),
                RedactFields {
                    user_text: self.fields.iter().any(|f| f == "user_text"),
                    agent_text: self.fields.iter().any(|f| f == "agent_text"),
                },
            )
        })
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelsSection {
    /// Where `arc-agent models fetch` installs models; empty = the default
    /// (`$ARC_MODELS_DIR`, else `~/.cache/arc/models`).
    pub dir: PathBuf,
}

impl ModelsSection {
    pub fn resolved_dir(&self) -> PathBuf {
        if self.dir.as_os_str().is_empty() {
            arc_models::manifest::default_models_dir()
        } else {
            self.dir.clone()
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VadEngineSection {
    pub model: String,
    pub threshold: f32,
    pub min_speech_ms: u64,
    pub silence_ms: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SttEngineSection {
    pub model: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TtsEngineSection {
    pub voice: String,
    /// Folder holding `espeak-ng-data`; empty = found automatically.
    pub espeak_data_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SessionSection {
    pub agent_id: String,
    pub target_latency_ms: u64,
    pub audio_queue_frames: usize,
    pub frame_credits: usize,
    pub max_restarts: u32,
    pub restart_window_ms: u64,
    pub stt: SttSection,
    pub brain: BrainSection,
    pub tts: TtsSection,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SttSection {
    pub partial_interval_ms: u64,
    pub preroll_ms: u64,
    pub max_utterance_ms: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BrainSection {
    pub system_prompt: String,
    pub max_tokens: u32,
    pub temperature: f64,
    pub timeout_ms: u64,
    pub fallback_text: String,
    pub context_token_budget: usize,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TtsSection {
    pub max_latency_ms: u64,
    pub format: String,
    pub sample_rate: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub level: String,
    pub format: String,
}

fn parse_toml(text: &str, origin: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            path: origin.to_string(),
            message: e.to_string(),
        })
}

/// Merge `over` into `base`, refusing keys the default does not have.
fn merge(base: &mut toml::Table, over: toml::Table, prefix: &str) -> Result<(), ConfigError> {
    for (k, v) in over {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o, &key)?,
            (Some(toml::Value::Table(_)), _) => {
                return Err(invalid(&key, "is a section, not a value"))
            }
            (Some(slot), v) => {
                if std::mem::discriminant(slot) != std::mem::discriminant(&v)
                    && !matches!(
                        (&*slot, &v),
                        (toml::Value::Float(_), toml::Value::Integer(_))
                    )
                {
                    return Err(invalid(
                        &key,
                        format!("expected {}, got {}", slot.type_str(), v.type_str()),
                    ));
                }
                *slot = match (&*slot, v) {
                    (toml::Value::Float(_), toml::Value::Integer(i)) => {
                        toml::Value::Float(i as f64)
                    }
                    (_, v) => v,
                };
            }
            (None, _) => return Err(invalid(&key, "unknown setting (see config/default.toml)")),
        }
    }
    Ok(())
}

/// Apply `ARC__A__B=value` overrides, typed like the default's value at a.b.
fn apply_env(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (name, raw) in vars {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let parts: Vec<String> = path.split("__").map(|p| p.to_ascii_lowercase()).collect();
        let key = parts.join(".");
        let mut cur = &mut *table;
        for p in &parts[..parts.len() - 1] {
            cur = match cur.get_mut(p) {
                Some(toml::Value::Table(t)) => t,
                _ => {
                    return Err(invalid(
                        &key,
                        format!("unknown setting (from environment variable {name})"),
                    ))
                }
            };
        }
        let leaf = &parts[parts.len() - 1];
        let slot = cur.get_mut(leaf).ok_or_else(|| {
            invalid(
                &key,
                format!("unknown setting (from environment variable {name})"),
            )
        })?;
        let bad = |what: &str| {
            invalid(
                &key,
                format!("environment variable {name}={raw:?} is not {what}"),
            )
        };
        *slot = match slot {
            toml::Value::String(_) => toml::Value::String(raw.clone()),
            toml::Value::Integer(_) => {
                toml::Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?)
            }
            toml::Value::Float(_) => {
                toml::Value::Float(raw.trim().parse().map_err(|_| bad("a number"))?)
            }
            toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => return Err(bad("a boolean")),
            }),
            toml::Value::Table(_) => return Err(invalid(&key, "is a section, not a value")),
            other => {
                return Err(invalid(
                    &key,
                    format!("cannot be set from the environment ({})", other.type_str()),
                ))
            }
        };
    }
    Ok(())
}

impl Config {
    /// Load the default, then `file` (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with(file, std::env::vars())
    }

    /// Like [`Config::load`] with explicit environment variables (for tests).
    pub fn load_with(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = parse_toml(DEFAULT_TOML, "config/default.toml (embedded)")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let over = parse_toml(&text, &path.display().to_string())?;
            merge(&mut table, over, "")?;
        }
        apply_env(&mut table, env)?;
        let cfg: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| invalid("?", e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Range and format checks serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = |key: &str, v: u64| {
            if v == 0 {
                Err(invalid(key, "must be greater than 0"))
            } else {
                Ok(())
            }
        };
        if self.node.service_name.trim().is_empty() {
            return Err(invalid("node.service_name", "must not be empty"));
        }
        positive("node.max_sessions", self.node.max_sessions as u64)?;
        self.http
            .listen
            .parse::<std::net::SocketAddr>()
            .map_err(|e| {
                invalid(
                    "http.listen",
                    format!("{:?} is not host:port ({e})", self.http.listen),
                )
            })?;
        positive("events.sink_capacity", self.events.sink_capacity as u64)?;
        positive("events.nats_queue", self.events.nats_queue as u64)?;
        positive("events.pulsar_queue", self.events.pulsar_queue as u64)?;
        if !self.nats.url.starts_with("nats://") && !self.nats.url.starts_with("tls://") {
            return Err(invalid(
                "nats.url",
                format!("{:?} must start with nats:// or tls://", self.nats.url),
            ));
        }
        if !self.pulsar.url.starts_with("pulsar://")
            && !self.pulsar.url.starts_with("pulsar+ssl://")
        {
            return Err(invalid(
                "pulsar.url",
                format!(
                    "{:?} must start with pulsar:// or pulsar+ssl://",
                    self.pulsar.url
                ),
            ));
        }
        positive("pulsar.max_attempts", self.pulsar.max_attempts as u64)?;
        positive("pulsar.send_timeout_ms", self.pulsar.send_timeout_ms)?;
        positive("pulsar.send_window", self.pulsar.send_window as u64)?;
        if self.pulsar.reconnect_min_ms == 0
            || self.pulsar.reconnect_min_ms > self.pulsar.reconnect_max_ms
        {
            return Err(invalid(
                "pulsar.reconnect_min_ms",
                "must be > 0 and <= pulsar.reconnect_max_ms",
            ));
        }
        if !["lz4", "zlib", "zstd", "snappy", "none"].contains(&self.pulsar.compression.as_str()) {
            return Err(invalid(
                "pulsar.compression",
                format!(
                    "{:?} is not one of lz4, zlib, zstd, snappy, none",
                    self.pulsar.compression
                ),
            ));
        }
        if self.pulsar.spool_segment_bytes < 4096
            || self.pulsar.spool_segment_bytes > self.pulsar.spool_max_bytes
        {
            return Err(invalid(
                "pulsar.spool_segment_bytes",
                "must be at least 4096 and at most pulsar.spool_max_bytes",
            ));
        }
        positive(
            "pulsar.spool_sync_interval_ms",
            self.pulsar.spool_sync_interval_ms,
        )?;
        for topic in arc_actors::events::PulsarTopic::ALL {
            if self.pulsar.partitions.of(topic) > 1024 {
                return Err(invalid(
                    &format!("pulsar.partitions.{}", topic.config_key()),
                    "must be at most 1024",
                ));
            }
        }
        positive("heartbeat.interval_ms", self.heartbeat.interval_ms)?;
        if !["synthetic", "local"].contains(&self.engines.profile.as_str()) {
            return Err(invalid(
                "engines.profile",
                format!(
                    "{:?} is not a known engine profile (synthetic, local)",
                    self.engines.profile
                ),
            ));
        }
        if self.engines.inference_threads > 256 {
            return Err(invalid("engines.inference_threads", "must be at most 256"));
        }
        let vad = &self.engines.vad;
        if !(vad.threshold > 0.0 && vad.threshold < 1.0) {
            return Err(invalid(
                "engines.vad.threshold",
                format!("{} is outside 0.0..1.0 (exclusive)", vad.threshold),
            ));
        }
        positive("engines.vad.silence_ms", vad.silence_ms)?;
        for k in &self.privacy.kinds {
            if arc_actors::redact::PiiKind::parse(k).is_none() {
                return Err(invalid(
                    "privacy.kinds",
                    format!("{k:?} is not a PII kind (email, card, ssn, phone)"),
                ));
            }
        }
        for f in &self.privacy.fields {
            if !["user_text", "agent_text"].contains(&f.as_str()) {
                return Err(invalid(
                    "privacy.fields",
                    format!("{f:?} is not a field (user_text, agent_text)"),
                ));
            }
        }
        let llm = &self.engines.llm;
        if !BRAINS.contains(&llm.brain.as_str()) {
            return Err(invalid(
                "engines.llm.brain",
                format!(
                    "{:?} is not a known brain ({})",
                    llm.brain,
                    BRAINS.join(", ")
                ),
            ));
        }
        if llm.brain == "openai"
            && !(llm.base_url.starts_with("http://") || llm.base_url.starts_with("https://"))
        {
            return Err(invalid(
                "engines.llm.base_url",
                format!("{:?} is not an http(s) URL", llm.base_url),
            ));
        }
        if llm.brain == "nats" && !self.nats.enabled {
            return Err(invalid(
                "engines.llm.brain",
                "\"nats\" needs NATS (nats.enabled = true)",
            ));
        }
        if !["local", "openai", "placeholder"].contains(&llm.worker_brain.as_str()) {
            return Err(invalid(
                "engines.llm.worker_brain",
                format!(
                    "{:?} is not a brain a worker can run (local, openai, placeholder)",
                    llm.worker_brain
                ),
            ));
        }
        if llm.nats_subject.is_empty() || llm.nats_queue.is_empty() {
            return Err(invalid(
                "engines.llm.nats_subject",
                "the subject and engines.llm.nats_queue must not be empty",
            ));
        }
        if llm.ctx_size < 256 {
            return Err(invalid("engines.llm.ctx_size", "must be at least 256"));
        }
        positive("engines.llm.parallel", u64::from(llm.parallel))?;
        positive("engines.llm.startup_timeout_ms", llm.startup_timeout_ms)?;
        positive("engines.vad.min_speech_ms", vad.min_speech_ms)?;
        let manifest = arc_models::manifest::Manifest::embedded()
            .map_err(|e| invalid("engines", e.to_string()))?;
        for (key, name, kind) in [
            ("engines.vad.model", &vad.model, "vad"),
            ("engines.stt.model", &self.engines.stt.model, "stt"),
            ("engines.tts.voice", &self.engines.tts.voice, "tts"),
            ("engines.llm.model", &self.engines.llm.model, "llm"),
        ] {
            match manifest.model(name) {
                Ok(m) if m.kind == kind => {}
                _ => {
                    let known: Vec<&str> = manifest
                        .models
                        .iter()
                        .filter(|m| m.kind == kind)
                        .map(|m| m.name.as_str())
                        .collect();
                    return Err(invalid(
                        key,
                        format!(
                            "{name:?} is not a {kind} model of models/manifest.toml (known: {})",
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        let s = &self.session;
        positive("session.target_latency_ms", s.target_latency_ms)?;
        positive("session.audio_queue_frames", s.audio_queue_frames as u64)?;
        positive("session.frame_credits", s.frame_credits as u64)?;
        positive("session.restart_window_ms", s.restart_window_ms)?;
        positive("session.stt.max_utterance_ms", s.stt.max_utterance_ms)?;
        if s.brain.max_tokens == 0 || s.brain.max_tokens > 4096 {
            return Err(invalid(
                "session.brain.max_tokens",
                "must be between 1 and 4096",
            ));
        }
        if !(0.0..=2.0).contains(&s.brain.temperature) {
            return Err(invalid(
                "session.brain.temperature",
                format!("{} is outside 0.0..=2.0", s.brain.temperature),
            ));
        }
        positive("session.brain.timeout_ms", s.brain.timeout_ms)?;
        if s.brain.fallback_text.trim().is_empty() {
            return Err(invalid("session.brain.fallback_text", "must not be empty"));
        }
        positive(
            "session.brain.context_token_budget",
            s.brain.context_token_budget as u64,
        )?;
        if !["opus", "pcm", "wav"].contains(&s.tts.format.as_str()) {
            return Err(invalid(
                "session.tts.format",
                format!("{:?} is not one of opus, pcm, wav", s.tts.format),
            ));
        }
        if ![8000, 12000, 16000, 22050, 24000, 48000].contains(&s.tts.sample_rate) {
            return Err(invalid(
                "session.tts.sample_rate",
                format!("{} is not a supported rate", s.tts.sample_rate),
            ));
        }
        let ep = self.telemetry.otlp_endpoint.trim();
        if !ep.is_empty() && !ep.starts_with("http://") && !ep.starts_with("https://") {
            return Err(invalid(
                "telemetry.otlp_endpoint",
                format!("{ep:?} must be an http:// or https:// URL (or empty)"),
            ));
        }
        if !["http/protobuf", "http/json"].contains(&self.telemetry.otlp_protocol.as_str()) {
            return Err(invalid(
                "telemetry.otlp_protocol",
                format!(
                    "{:?} is not http/protobuf or http/json",
                    self.telemetry.otlp_protocol
                ),
            ));
        }
        if !["text", "json"].contains(&self.log.format.as_str()) {
            return Err(invalid(
                "log.format",
                format!("{:?} is not text or json", self.log.format),
            ));
        }
        self.validate_livekit()?;
        Ok(())
    }

    fn validate_livekit(&self) -> Result<(), ConfigError> {
        let lk = &self.livekit;
        let url = lk.url.trim();
        if !url.is_empty()
            && !["ws://", "wss://", "http://", "https://"]
                .iter()
                .any(|p| url.starts_with(p))
        {
            return Err(invalid(
                "livekit.url",
                format!("{url:?} must start with ws://, wss://, http:// or https:// (or be empty)"),
            ));
        }
        if lk.agent_identity.trim().is_empty() {
            return Err(invalid("livekit.agent_identity", "must not be empty"));
        }
        for (key, v) in [
            ("livekit.token_ttl_s", lk.token_ttl_s),
            ("livekit.connect_timeout_ms", lk.connect_timeout_ms),
            ("livekit.user_join_timeout_ms", lk.user_join_timeout_ms),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be greater than 0"));
            }
        }
        if !(1..=100).contains(&lk.max_connect_attempts) {
            return Err(invalid(
                "livekit.max_connect_attempts",
                format!("{} is outside 1..=100", lk.max_connect_attempts),
            ));
        }
        if lk.retry_backoff_ms > lk.max_retry_backoff_ms {
            return Err(invalid(
                "livekit.retry_backoff_ms",
                format!(
                    "{} is above livekit.max_retry_backoff_ms ({})",
                    lk.retry_backoff_ms, lk.max_retry_backoff_ms
                ),
            ));
        }
        if !(10..=10_000).contains(&lk.output_queue_ms) {
            return Err(invalid(
                "livekit.output_queue_ms",
                format!("{} is outside 10..=10000", lk.output_queue_ms),
            ));
        }
        Ok(())
    }

    /// The LiveKit server and key pair: the config's values, else LiveKit's
    /// own LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET, else (url only)
    /// [`LIVEKIT_DEFAULT_URL`].
    pub fn livekit_credentials(&self) -> arc_rooms::Credentials {
        self.livekit_credentials_from(|k| std::env::var(k).ok())
    }

    /// [`Config::livekit_credentials`] with the environment given.
    pub fn livekit_credentials_from(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> arc_rooms::Credentials {
        let pick = |configured: &str, var: &str| {
            let c = configured.trim();
            if !c.is_empty() {
                return c.to_string();
            }
            env(var).map(|v| v.trim().to_string()).unwrap_or_default()
        };
        let mut url = pick(&self.livekit.url, "LIVEKIT_URL");
        if url.is_empty() {
            url = LIVEKIT_DEFAULT_URL.to_string();
        }
        arc_rooms::Credentials {
            url,
            api_key: pick(&self.livekit.api_key, "LIVEKIT_API_KEY"),
            api_secret: pick(&self.livekit.api_secret, "LIVEKIT_API_SECRET"),
        }
    }

    /// The spool directory (explicit, or `<data_dir>/spool`).
    pub fn spool_dir(&self) -> PathBuf {
        if self.pulsar.spool_dir.as_os_str().is_empty() {
            self.node.data_dir.join("spool")
        } else {
            self.pulsar.spool_dir.clone()
        }
    }

    /// Session settings for a new conversation.
    pub fn session_config(&self) -> arc_actors::session::SessionConfig {
        use arc_actors::session::{BrainConfig, SessionConfig, SttConfig, TtsConfig};
        let s = &self.session;
        SessionConfig {
            agent_id: s.agent_id.clone(),
            environment: self.node.environment.clone(),
            region: self.node.region.clone(),
            target_latency_ms: s.target_latency_ms,
            audio_queue_frames: s.audio_queue_frames,
            frame_credits: s.frame_credits,
            max_restarts: s.max_restarts,
            restart_window_ms: s.restart_window_ms,
            stt: SttConfig {
                partial_interval_ms: s.stt.partial_interval_ms,
                preroll_ms: s.stt.preroll_ms,
                max_utterance_ms: s.stt.max_utterance_ms,
            },
            brain: BrainConfig {
                system_prompt: s.brain.system_prompt.clone(),
                max_tokens: s.brain.max_tokens,
                temperature: s.brain.temperature,
                timeout_ms: s.brain.timeout_ms,
                fallback_text: s.brain.fallback_text.clone(),
                context_token_budget: s.brain.context_token_budget,
            },
            tts: TtsConfig {
                max_latency_ms: s.tts.max_latency_ms,
                format: s.tts.format.clone(),
                sample_rate: s.tts.sample_rate,
            },
            audit: arc_actors::session::AuditConfig {
                anonymization: self.privacy.redact_pii,
                ..Default::default()
            },
            ..SessionConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn default_loads_with_seed_values() {
        let c = Config::load_with(None, env(&[])).unwrap();
        assert_eq!(c.session.brain.max_tokens, 150);
        assert_eq!(c.session.brain.timeout_ms, 2000);
        assert_eq!(c.pulsar.partitions.conversation, 16);
        assert_eq!(c.heartbeat.interval_ms, 30_000);
    }

    #[test]
    fn env_overrides_are_typed() {
        let c = Config::load_with(
            None,
            env(&[
                ("ARC__NATS__URL", "nats://10.0.0.1:4222"),
                ("ARC__SESSION__BRAIN__TEMPERATURE", "0.2"),
                ("ARC__PULSAR__ENABLED", "false"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.nats.url, "nats://10.0.0.1:4222");
        assert_eq!(c.session.brain.temperature, 0.2);
        assert!(!c.pulsar.enabled);
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = Config::load_with(None, env(&[("ARC__SESSION__BRAIN__TIMEOUT_MS", "soon")]))
            .unwrap_err();
        assert!(e.to_string().contains("session.brain.timeout_ms"), "{e}");
        let e =
            Config::load_with(None, env(&[("ARC__SESSION__BRAIN__TEMPERATURE", "7")])).unwrap_err();
        assert!(e.to_string().contains("session.brain.temperature"), "{e}");
        let e = Config::load_with(None, env(&[("ARC__NATS__NOPE", "1")])).unwrap_err();
        assert!(
            e.to_string().contains("nats.nope") && e.to_string().contains("unknown"),
            "{e}"
        );
        let e = Config::load_with(None, env(&[("ARC__HTTP__LISTEN", "localhost")])).unwrap_err();
        assert!(e.to_string().contains("http.listen"), "{e}");
    }

    #[test]
    fn file_overrides_and_rejects_unknown_or_mistyped_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[nats]\nenabled = false\n[session.brain]\ntemperature = 1\n",
        )
        .unwrap();
        let c = Config::load_with(Some(&p), env(&[])).unwrap();
        assert!(!c.nats.enabled);
        assert_eq!(c.session.brain.temperature, 1.0);
        std::fs::write(&p, "[nats]\nurl = 5\n").unwrap();
        let e = Config::load_with(Some(&p), env(&[])).unwrap_err();
        assert!(
            e.to_string().contains("nats.url") && e.to_string().contains("expected string"),
            "{e}"
        );
        std::fs::write(&p, "[natz]\nurl = \"x\"\n").unwrap();
        assert!(Config::load_with(Some(&p), env(&[]))
            .unwrap_err()
            .to_string()
            .contains("natz"));
        std::fs::write(&p, "[nats\n").unwrap();
        assert!(matches!(
            Config::load_with(Some(&p), env(&[])),
            Err(ConfigError::Syntax { .. })
        ));
        let e = Config::load_with(Some(&dir.path().join("missing.toml")), env(&[])).unwrap_err();
        assert!(e.to_string().contains("missing.toml"), "{e}");
    }
}
