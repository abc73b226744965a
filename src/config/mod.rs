//! Node configuration: the embedded `config/default.toml`, an optional file
//! over it, then `ARC__SECTION__KEY` environment variables over both. Unknown
//! keys and bad values are refused at start, naming the key and the reason.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The embedded default, documented key by key.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
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
    pub webhook: WebhookSection,
    pub dispatch: DispatchSection,
}

impl LivekitSection {
    /// Both halves of the API key pair are set.
    pub fn has_credentials(&self) -> bool {
        !self.api_key.is_empty() && !self.api_secret.is_empty()
    }
}

/// LiveKit's own environment variables and the keys they set.
pub const LIVEKIT_ENV: [(&str, &str); 3] = [
    ("LIVEKIT_URL", "ARC__LIVEKIT__URL"),
    ("LIVEKIT_API_KEY", "ARC__LIVEKIT__API_KEY"),
    ("LIVEKIT_API_SECRET", "ARC__LIVEKIT__API_SECRET"),
];

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookSection {
    pub dedup_window_s: u64,
    pub dedup_capacity: usize,
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DispatchSection {
    pub enabled: bool,
    pub queue_group: String,
    pub max_sessions: usize,
    pub offer_timeout_ms: u64,
    pub max_offers: u32,
    pub retry_backoff_ms: u64,
    pub livekit_worker: bool,
    pub livekit_agent_name: String,
    pub load_subject: String,
}

/// LiveKit rooms: the server, the key pair tokens are minted with, the FFI
/// library, and how hard to try to join.
#[derive(Clone, Deserialize, PartialEq)]
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

impl std::fmt::Debug for LivekitSection {
    /// The secret never reaches a log line or `arc-agent config`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivekitSection")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .field(
                "api_secret",
                &if self.api_secret.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("ffi_library", &self.ffi_library)
            .field("agent_identity", &self.agent_identity)
            .field("agent_name", &self.agent_name)
            .field("token_ttl_s", &self.token_ttl_s)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("max_connect_attempts", &self.max_connect_attempts)
            .field("retry_backoff_ms", &self.retry_backoff_ms)
            .field("max_retry_backoff_ms", &self.max_retry_backoff_ms)
            .field("user_join_timeout_ms", &self.user_join_timeout_ms)
            .field("output_queue_ms", &self.output_queue_ms)
            .finish()
    }
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
    /// A browser socket (`/ws`) silent this long ends its session (`timeout`).
    pub ws_idle_timeout_ms: u64,
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
    pub barge_in: BargeInSection,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BargeInSection {
    pub false_interruption_ms: u64,
    pub paced_playout: bool,
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
    pub turn_timeout_ms: u64,
    pub max_tool_rounds: u32,
    pub builtin_tools: Vec<String>,
    pub tools: Vec<ToolSection>,
}

/// One `[[session.brain.tools]]` entry: an HTTP endpoint the model may call.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ToolSection {
    pub name: String,
    pub description: String,
    #[serde(default = "http_kind")]
    pub kind: String,
    pub url: String,
    #[serde(default = "post_method")]
    pub method: String,
    /// JSON schema of the arguments: a TOML table, or a JSON string.
    pub parameters: serde_json::Value,
    #[serde(default = "tool_timeout_ms")]
    pub timeout_ms: u64,
}

fn http_kind() -> String {
    "http".into()
}
fn post_method() -> String {
    "POST".into()
}
fn tool_timeout_ms() -> u64 {
    2000
}

impl ToolSection {
    /// The argument schema as JSON (a JSON string is parsed).
    pub fn schema(&self) -> Result<serde_json::Value, String> {
        let v = match &self.parameters {
            serde_json::Value::String(s) => {
                serde_json::from_str(s).map_err(|e| format!("not valid JSON: {e}"))?
            }
            v => v.clone(),
        };
        if v.get("type").and_then(|t| t.as_str()) != Some("object") {
            return Err("must be a JSON schema with \"type\" = \"object\"".into());
        }
        if v.get("properties").is_some_and(|p| !p.is_object()) {
            return Err("\"properties\" must be a table".into());
        }
        Ok(v)
    }

    /// The tool for the engine (call after `validate`).
    pub fn http_tool(&self) -> arc_models::tools::HttpTool {
        arc_models::tools::HttpTool {
            name: self.name.clone(),
            description: self.description.clone(),
            url: self.url.clone(),
            method: self.method.to_ascii_uppercase(),
            parameters: self
                .schema()
                .unwrap_or_else(|_| serde_json::json!({"type": "object"})),
            timeout: std::time::Duration::from_millis(self.timeout_ms),
        }
    }
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
        // LiveKit's own variables first, so that ARC__LIVEKIT__* wins over them.
        let (livekit, arc): (Vec<_>, Vec<_>) = env
            .into_iter()
            .partition(|(k, _)| LIVEKIT_ENV.iter().any(|(name, _)| name == k));
        let livekit = livekit.into_iter().filter_map(|(k, v)| {
            LIVEKIT_ENV
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, key)| (key.to_string(), v))
        });
        apply_env(&mut table, livekit.chain(arc))?;
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
        positive("http.ws_idle_timeout_ms", self.http.ws_idle_timeout_ms)?;
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
        if !self.livekit.url.is_empty()
            && !["ws://", "wss://", "http://", "https://"]
                .iter()
                .any(|p| self.livekit.url.starts_with(p))
        {
            return Err(invalid(
                "livekit.url",
                format!(
                    "{:?} must start with ws://, wss://, http:// or https://",
                    self.livekit.url
                ),
            ));
        }
        positive("webhook.dedup_capacity", self.webhook.dedup_capacity as u64)?;
        positive("webhook.max_body_bytes", self.webhook.max_body_bytes as u64)?;
        if self.dispatch.load_subject.trim().is_empty()
            || self.dispatch.load_subject.contains(['*', '>', ' '])
        {
            return Err(invalid(
                "dispatch.load_subject",
                "must be a plain NATS subject (no wildcards, no spaces)",
            ));
        }
        if self.dispatch.queue_group.trim().is_empty() {
            return Err(invalid("dispatch.queue_group", "must not be empty"));
        }
        positive("dispatch.offer_timeout_ms", self.dispatch.offer_timeout_ms)?;
        positive("dispatch.max_offers", u64::from(self.dispatch.max_offers))?;
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
        positive("session.brain.turn_timeout_ms", s.brain.turn_timeout_ms)?;
        if s.barge_in.false_interruption_ms > 10_000 {
            return Err(invalid(
                "session.barge_in.false_interruption_ms",
                "must be at most 10000 (0 = no resume)",
            ));
        }
        if s.brain.max_tool_rounds > 16 {
            return Err(invalid(
                "session.brain.max_tool_rounds",
                "must be between 0 and 16",
            ));
        }
        for b in &s.brain.builtin_tools {
            if !arc_actors::tools::BUILTINS.contains(&b.as_str()) {
                return Err(invalid(
                    "session.brain.builtin_tools",
                    format!(
                        "{b:?} is not a built-in tool ({})",
                        arc_actors::tools::BUILTINS.join(", ")
                    ),
                ));
            }
        }
        let mut names: Vec<&str> = s.brain.builtin_tools.iter().map(String::as_str).collect();
        for (i, t) in s.brain.tools.iter().enumerate() {
            let key = |field: &str| format!("session.brain.tools[{i}].{field}");
            let valid_name = !t.name.is_empty()
                && t.name.len() <= 64
                && t.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid_name {
                return Err(invalid(
                    &key("name"),
                    format!("{:?} must be 1-64 of a-z, A-Z, 0-9, _ or -", t.name),
                ));
            }
            if names.contains(&t.name.as_str()) {
                return Err(invalid(
                    &key("name"),
                    format!("{:?} is declared twice", t.name),
                ));
            }
            names.push(&t.name);
            if t.kind != "http" {
                return Err(invalid(
                    &key("kind"),
                    format!("{:?} is not a tool kind (http)", t.kind),
                ));
            }
            if !(t.url.starts_with("http://") || t.url.starts_with("https://"))
                || t.url.split("://").nth(1).is_none_or(|h| h.is_empty())
            {
                return Err(invalid(
                    &key("url"),
                    format!("{:?} must be an http:// or https:// URL", t.url),
                ));
            }
            if !["GET", "POST", "PUT", "PATCH", "DELETE"]
                .contains(&t.method.to_ascii_uppercase().as_str())
            {
                return Err(invalid(
                    &key("method"),
                    format!("{:?} is not GET, POST, PUT, PATCH or DELETE", t.method),
                ));
            }
            t.schema().map_err(|r| invalid(&key("parameters"), r))?;
            if t.timeout_ms == 0 || t.timeout_ms > s.brain.turn_timeout_ms {
                return Err(invalid(
                    &key("timeout_ms"),
                    format!(
                        "{} must be between 1 and session.brain.turn_timeout_ms ({})",
                        t.timeout_ms, s.brain.turn_timeout_ms
                    ),
                ));
            }
        }
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

    /// Sessions above which this node takes no new work (dispatch, LiveKit jobs).
    pub fn dispatch_max_sessions(&self) -> usize {
        match self.dispatch.max_sessions {
            0 => self.node.max_sessions,
            n => n.min(self.node.max_sessions),
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

    /// The HTTP tools of `[[session.brain.tools]]`, if any are declared.
    pub fn http_tools(&self) -> Option<std::sync::Arc<arc_models::tools::HttpTools>> {
        let tools = &self.session.brain.tools;
        (!tools.is_empty()).then(|| {
            std::sync::Arc::new(arc_models::tools::HttpTools::new(
                tools.iter().map(ToolSection::http_tool).collect(),
            ))
        })
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
                builtin_tools: s.brain.builtin_tools.clone(),
                max_tool_rounds: s.brain.max_tool_rounds,
                turn_timeout_ms: s.brain.turn_timeout_ms,
            },
            tts: TtsConfig {
                max_latency_ms: s.tts.max_latency_ms,
                format: s.tts.format.clone(),
                sample_rate: s.tts.sample_rate,
            },
            barge_in: arc_actors::session::BargeInConfig {
                false_interruption_ms: s.barge_in.false_interruption_ms,
                paced_playout: s.barge_in.paced_playout,
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
    fn livekit_env_vars_follow_livekit_conventions() {
        let c = Config::load_with(
            None,
            env(&[
                ("LIVEKIT_URL", "wss://lk.example.com"),
                ("LIVEKIT_API_KEY", "APIkey"),
                ("LIVEKIT_API_SECRET", "s3cret"),
                ("ARC__LIVEKIT__URL", "ws://127.0.0.1:7880"),
            ]),
        )
        .unwrap();
        assert_eq!(c.livekit.url, "ws://127.0.0.1:7880", "ARC__ wins");
        assert_eq!(c.livekit.api_key, "APIkey");
        assert!(c.livekit.has_credentials());
        assert!(!format!("{c:?}").contains("s3cret"), "secret never printed");
        // Half a key pair is not refused here (the secret may come from
        // LIVEKIT_API_SECRET at use); webhooks need both and say so.
        let half = Config::load_with(None, env(&[("LIVEKIT_API_KEY", "only-key")])).unwrap();
        assert!(!half.livekit.has_credentials());
        let e = Config::load_with(None, env(&[("LIVEKIT_URL", "lk.example.com")])).unwrap_err();
        assert!(e.to_string().contains("livekit.url"), "{e}");
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

    #[test]
    fn declared_tools_are_checked_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.toml");
        let tool = |extra: &str| {
            format!(
                "[session.brain]\nbuiltin_tools = [\"current_time\"]\n[[session.brain.tools]]\nname = \"weather\"\ndescription = \"d\"\nurl = \"http://h/w\"\nparameters = {{ type = \"object\" }}\n{extra}"
            )
        };
        std::fs::write(&p, tool("method = \"GET\"\n")).unwrap();
        let c = Config::load_with(Some(&p), env(&[])).unwrap();
        assert_eq!(c.session.brain.tools[0].timeout_ms, 2000);
        assert_eq!(c.session_config().brain.builtin_tools, ["current_time"]);
        assert!(c.http_tools().is_some());
        for (extra, key) in [
            ("method = \"FETCH\"\n", "session.brain.tools[0].method"),
            ("kind = \"grpc\"\n", "session.brain.tools[0].kind"),
            ("timeout_ms = 0\n", "session.brain.tools[0].timeout_ms"),
            ("timeout_ms = 60000\n", "session.brain.tools[0].timeout_ms"),
        ] {
            std::fs::write(&p, tool(extra)).unwrap();
            let e = Config::load_with(Some(&p), env(&[])).unwrap_err();
            assert!(e.to_string().contains(key), "{extra}: {e}");
        }
        for (bad, key) in [
            ("url = \"http://h/w\"", "url = \"ftp://h\""),
            (
                "parameters = { type = \"object\" }",
                "parameters = '{not json'",
            ),
            (
                "parameters = { type = \"object\" }",
                "parameters = { type = \"string\" }",
            ),
            ("name = \"weather\"", "name = \"current_time\""),
            ("name = \"weather\"", "name = \"the weather\""),
        ] {
            std::fs::write(&p, tool("").replace(bad, key)).unwrap();
            let e = Config::load_with(Some(&p), env(&[])).unwrap_err();
            let field = key.split(' ').next().unwrap();
            assert!(
                e.to_string()
                    .contains(&format!("session.brain.tools[0].{field}")),
                "{key}: {e}"
            );
        }
        std::fs::write(
            &p,
            "[session.brain]\nbuiltin_tools = [\"launch_rockets\"]\n",
        )
        .unwrap();
        let e = Config::load_with(Some(&p), env(&[])).unwrap_err();
        assert!(e.to_string().contains("session.brain.builtin_tools"), "{e}");
        let e = Config::load_with(
            None,
            env(&[("ARC__SESSION__BARGE_IN__FALSE_INTERRUPTION_MS", "99999")]),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("session.barge_in.false_interruption_ms"),
            "{e}"
        );
    }
}
