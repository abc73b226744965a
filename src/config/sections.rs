//! The node's own sections of the file: `[node]`, `[http]`, `[events]`,
//! `[nats]`, `[pulsar]`, `[heartbeat]`, `[analytics]`, `[models]`, `[privacy]`,
//! `[telemetry]`, `[log]`, `[livekit]`, `[webhook]` and `[dispatch]`, each
//! key documented in config/default.toml.

use super::choices::{Compression, LogFormat, OtlpProtocol, RedactField};
use serde::Deserialize;
use std::path::PathBuf;

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
    /// How often freed memory is given back to the kernel (0 = never).
    pub memory_trim_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    pub listen: String,
    /// Who may use `/v1/*`: see `app::auth`.
    pub auth: super::choices::HttpAuth,
    /// The environment variable holding the static admin token (never printed).
    pub admin_token_env: String,
    /// The environment variable holding the token `/metrics` asks for.
    pub metrics_token_env: String,
    pub fault_injection: bool,
    /// A browser socket (`/ws`) silent this long ends its session (`timeout`).
    pub ws_idle_timeout_ms: u64,
    /// Lifetime of a `/ws` token from `POST /v1/tokens`, unless asked shorter.
    pub ws_token_ttl_s: u64,
    pub ws_sessions_per_token: u32,
    pub ws_sessions_per_address: u32,
    /// Messages a `/ws` socket may send a second (beyond: refused, not processed).
    pub ws_max_messages_per_s: u32,
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
    /// Credentials: names of environment variables (values never in config).
    pub user: String,
    pub password_env: String,
    pub token_env: String,
    pub nkey_seed_env: String,
    pub creds_file: String,
    /// TLS: the server's CA, a client certificate and key; refuse plain.
    pub tls_ca_file: String,
    pub tls_cert_file: String,
    pub tls_key_file: String,
    pub tls_required: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PulsarSection {
    pub enabled: bool,
    pub url: String,
    /// Credentials (see `mirror::pulsar::access`): the variable holding a
    /// token, a token file, or OAuth2 client credentials.
    pub token_env: String,
    pub token_file: String,
    pub oauth2_issuer_url: String,
    pub oauth2_credentials_file: String,
    pub oauth2_audience: String,
    pub oauth2_scope: String,
    /// TLS (`pulsar+ssl://`): the broker's CA, and whether its name is checked.
    pub tls_ca_file: String,
    pub tls_hostname_verification: bool,
    pub max_attempts: u32,
    pub send_timeout_ms: u64,
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    pub batch_size: u32,
    pub batch_timeout_ms: u64,
    pub compression: Compression,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
    pub spool_segment_bytes: u64,
    pub spool_sync_interval_ms: u64,
    pub send_window: usize,
    /// Where every NATS-subject event is also written (empty: nowhere).
    pub realtime_topic: String,
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
    /// Of `realtime_topic`.
    pub realtime: u32,
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

/// `[analytics]`: the node's hourly `analytics/agent-performance` rollup.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsSection {
    pub agent_performance: bool,
    pub sample_interval_ms: u64,
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
pub struct PrivacySection {
    pub redact_pii: bool,
    pub kinds: Vec<String>,
    pub fields: Vec<RedactField>,
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
                    user_text: self.fields.contains(&RedactField::UserText),
                    agent_text: self.fields.contains(&RedactField::AgentText),
                },
            )
        })
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySection {
    pub otlp_endpoint: String,
    pub otlp_protocol: OtlpProtocol,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub level: String,
    pub format: LogFormat,
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

impl LivekitSection {
    /// Both halves of the API key pair are set.
    pub fn has_credentials(&self) -> bool {
        !self.api_key.is_empty() && !self.api_secret.is_empty()
    }
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
    pub offer_subject: String,
}

/// `[consumers]`: the Pulsar readers (`arc-agent consume`).
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConsumersSection {
    pub postgres_url: String,
    pub redis_url: String,
    pub archive_dir: PathBuf,
    pub archive_url: String,
    pub archive_batch_size: usize,
    pub archive_flush_ms: u64,
    pub subscription_prefix: String,
    pub batch_size: usize,
    pub batch_timeout_ms: u64,
    pub max_attempts: u32,
    pub retry_backoff_ms: u64,
    pub redis_ttl_s: u64,
    pub metrics_listen: String,
}

impl std::fmt::Debug for ConsumersSection {
    /// Database URLs are printed without their user info.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumersSection")
            .field("postgres_url", &super::redacted_url(&self.postgres_url))
            .field("redis_url", &super::redacted_url(&self.redis_url))
            .field("archive_dir", &self.archive_dir)
            .field("archive_url", &self.archive_url)
            .field("archive_batch_size", &self.archive_batch_size)
            .field("archive_flush_ms", &self.archive_flush_ms)
            .field("subscription_prefix", &self.subscription_prefix)
            .field("batch_size", &self.batch_size)
            .field("batch_timeout_ms", &self.batch_timeout_ms)
            .field("max_attempts", &self.max_attempts)
            .field("retry_backoff_ms", &self.retry_backoff_ms)
            .field("redis_ttl_s", &self.redis_ttl_s)
            .field("metrics_listen", &self.metrics_listen)
            .finish()
    }
}
