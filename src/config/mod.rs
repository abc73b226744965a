//! Node configuration: the embedded `config/default.toml`, an optional file
//! over it, then `ARC__SECTION__KEY` environment variables over both. Unknown
//! keys and bad values are refused at start, naming the key and the reason.
//!
//! - [`Config`] (here) holds one struct per section: `sections` (the node's
//!   own), `engines` and `session`; the settings with a fixed list of
//!   words are the enums of `choices`.
//! - `load` layers default, file and environment (`env`), then serde
//!   reads the table; `validate` checks what serde cannot.
//! - `resolved`: values the rest of the node derives from a `Config`.
//! - `url`: [`redacted_url`], how any URL with credentials is printed.
//!
//! Calls go one way: `load`, `validate`, `resolved` → `Config` → the section
//! files → `choices`; everything → `error`. `config` calls nothing else of the
//! node.

mod choices;
mod engines;
mod env;
mod error;
mod load;
mod resolved;
mod sections;
mod session;
mod url;
mod validate;

pub use choices::{
    Brain, Compression, EngineProfile, HttpAuth, HttpMethod, LogFormat, OtlpProtocol, RedactField,
    ToolKind, TtsFormat, WorkerBrain,
};
pub use engines::{
    EnginesSection, LlmEngineSection, SttEngineSection, TtsEngineSection, VadEngineSection,
};
pub use env::{secret_from_env, ECOSYSTEM_ENV, ENV_PREFIX};
pub use error::ConfigError;
pub use resolved::LIVEKIT_DEFAULT_URL;
pub use sections::{
    AnalyticsSection, ConsumersSection, DispatchSection, EventsSection, HeartbeatSection,
    HttpSection, LivekitSection, LogSection, ModelsSection, NatsSection, NodeSection,
    PartitionsSection, PrivacySection, PulsarSection, TelemetrySection, WebhookSection,
};
pub use session::{
    BargeInSection, BrainSection, SessionSection, SttSection, ToolSection, TtsSection,
};
pub use url::redacted_url;

use serde::Deserialize;

/// The embedded default, documented key by key.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub node: NodeSection,
    pub http: HttpSection,
    pub events: EventsSection,
    pub nats: NatsSection,
    pub pulsar: PulsarSection,
    pub heartbeat: HeartbeatSection,
    pub analytics: AnalyticsSection,
    pub models: ModelsSection,
    pub privacy: PrivacySection,
    pub engines: EnginesSection,
    pub session: SessionSection,
    pub telemetry: TelemetrySection,
    pub log: LogSection,
    pub livekit: LivekitSection,
    pub webhook: WebhookSection,
    pub dispatch: DispatchSection,
    pub consumers: ConsumersSection,
}

#[cfg(test)]
mod tests;
