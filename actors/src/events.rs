//! Wire types for every event ARC exchanges with the rest of the A.R.C. platform.
//!
//! These structs are **external contracts**: other services (Go and Python SDKs,
//! analytics pipelines, the compliance exporter) read and write the same JSON.
//! The seed documents are the source of truth:
//!
//! * `shared/seeds/001_*.txt`: NATS subjects and payloads ([`nats`]),
//! * `shared/seeds/000_*.txt`: Pulsar topics and payloads ([`pulsar`]).
//!
//! Field names, nesting, units and JSON key spelling follow the seeds exactly
//! (including camelCase keys inside the LiveKit webhook payload). The only
//! deliberate addition is a top-level `trace_id` (defaulting to `""` when
//! absent) on payloads whose seed example carries no trace id anywhere, so that
//! every event can be correlated in traces. `tests/seed_events.rs` parses the
//! seed examples at test time and checks that they round-trip, so a seed
//! change that is not mirrored here fails the build's tests.
//!
//! Conventions:
//! * timestamps are [`chrono::DateTime<Utc>`], written as RFC 3339 with
//!   milliseconds and `Z` (see [`ts`]);
//! * `*_ms`, counts and byte sizes are `u64`; percents, scores, temperature
//!   and confidences are `f64`;
//! * enum-like strings (`event_type`, `status`, `severity`, ...) stay `String`
//!   so that a producer adding a new value never breaks our consumers; known
//!   seed values are exposed as associated `const`s.
//!
//! [`Event`] is the envelope the actors pass around; it knows its NATS subject
//! or Pulsar topic, partition key, trace id and timestamp.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Serde helpers for timestamps in the seeds' format: RFC 3339, millisecond
/// precision, `Z` suffix (e.g. `"2025-12-14T13:30:00.000Z"`).
///
/// Use with `#[serde(with = "crate::events::ts")]` on a `DateTime<Utc>` field,
/// or `#[serde(default, with = "crate::events::ts::option")]` on an
/// `Option<DateTime<Utc>>` field. Deserialization accepts any RFC 3339 offset
/// and converts it to UTC.
pub mod ts {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Formats `t` exactly like the seeds: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Parses an RFC 3339 timestamp (any offset) into UTC.
    pub fn parse(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    /// Same format for `Option<DateTime<Utc>>`; `None` is written as `null`
    /// (pair with `skip_serializing_if = "Option::is_none"` to omit it).
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::format(t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(s) => super::parse(&s).map(Some).map_err(serde::de::Error::custom),
                None => Ok(None),
            }
        }
    }
}

/// NATS payloads (seed `001`): ephemeral, low-latency coordination messages.
/// One struct per subject; each carries its subject as `SUBJECT`.
pub mod nats {
    use super::ts;
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Serialize};

    /// Every NATS subject in the seed, in seed order.
    pub const SUBJECTS: [&str; 11] = [
        TrackPublished::SUBJECT,
        TrackUnpublished::SUBJECT,
        SessionStarted::SUBJECT,
        SessionEnded::SUBJECT,
        BrainRequest::SUBJECT,
        BrainResponse::SUBJECT,
        BrainError::SUBJECT,
        TtsRequest::SUBJECT,
        TtsCompleted::SUBJECT,
        Heartbeat::SUBJECT,
        ServiceError::SUBJECT,
    ];

    /// Subjects ARC adds to the seed's (tool use; the seeds name none).
    pub const EXTENSION_SUBJECTS: [&str; 2] = [ToolCall::SUBJECT, ToolResult::SUBJECT];

    /// `agent.voice.track.published`: a participant's track was published in a
    /// LiveKit room (user starts speaking).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct TrackPublished {
        /// Always [`TrackPublished::EVENT`].
        pub event: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        pub trace_id: String,
        pub room_name: String,
        pub room_sid: String,
        pub participant_sid: String,
        pub participant_identity: String,
        pub track_sid: String,
        /// e.g. `"audio"`.
        pub track_kind: String,
        /// e.g. `"microphone"`.
        pub track_source: String,
        pub metadata: TrackMetadata,
    }

    impl TrackPublished {
        pub const SUBJECT: &'static str = "agent.voice.track.published";
        pub const EVENT: &'static str = "track_published";
    }

    /// `metadata` of [`TrackPublished`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct TrackMetadata {
        pub user_id: String,
        pub session_id: String,
    }

    /// `agent.voice.track.unpublished`: the user stopped speaking or left.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct TrackUnpublished {
        /// Always [`TrackUnpublished::EVENT`].
        pub event: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        pub trace_id: String,
        pub room_name: String,
        pub participant_sid: String,
        pub track_sid: String,
        /// e.g. [`TrackUnpublished::REASON_USER_DISCONNECTED`].
        pub reason: String,
        pub duration_seconds: u64,
    }

    impl TrackUnpublished {
        pub const SUBJECT: &'static str = "agent.voice.track.unpublished";
        pub const EVENT: &'static str = "track_unpublished";
        pub const REASON_USER_DISCONNECTED: &'static str = "user_disconnected";
    }

    /// `agent.voice.session.started`: the user joined the LiveKit room.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct SessionStarted {
        /// Always [`SessionStarted::EVENT`].
        pub event: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        pub trace_id: String,
        pub user_id: String,
        pub session_id: String,
        pub room_name: String,
        pub room_sid: String,
        pub participant_sid: String,
        pub agent_id: String,
    }

    impl SessionStarted {
        pub const SUBJECT: &'static str = "agent.voice.session.started";
        pub const EVENT: &'static str = "session_started";
    }

    /// `agent.voice.session.ended`: the user left or the session timed out.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct SessionEnded {
        /// Always [`SessionEnded::EVENT`].
        pub event: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        pub trace_id: String,
        pub user_id: String,
        pub session_id: String,
        pub room_name: String,
        pub duration_seconds: u64,
        pub total_turns: u64,
        /// e.g. [`SessionEnded::REASON_USER_LEFT`].
        pub reason: String,
        /// e.g. [`SessionEnded::FINAL_STATUS_COMPLETED`].
        pub final_status: String,
    }

    impl SessionEnded {
        pub const SUBJECT: &'static str = "agent.voice.session.ended";
        pub const EVENT: &'static str = "session_ended";
        pub const REASON_USER_LEFT: &'static str = "user_left";
        pub const FINAL_STATUS_COMPLETED: &'static str = "completed";
    }

    /// `agent.brain.request`: transcribed user input handed to the reasoning
    /// engine.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct BrainRequest {
        pub request_id: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        pub trace_id: String,
        pub user_id: String,
        pub session_id: String,
        pub conversation_id: String,
        pub turn_index: u64,
        pub user_input: String,
        pub context: Context,
        pub constraints: Constraints,
    }

    impl BrainRequest {
        pub const SUBJECT: &'static str = "agent.brain.request";
    }

    /// `context` of [`BrainRequest`]: conversation history and user profile.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Context {
        #[serde(default)]
        pub previous_turns: Vec<PreviousTurn>,
        /// Open-ended profile (location, preferences, ...); passed through to
        /// the brain untouched, hence untyped.
        #[serde(default)]
        pub user_profile: serde_json::Map<String, serde_json::Value>,
    }

    /// One earlier exchange in [`Context::previous_turns`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct PreviousTurn {
        pub user: String,
        pub agent: String,
    }

    /// `constraints` of [`BrainRequest`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Constraints {
        pub max_tokens: u64,
        pub temperature: f64,
        pub timeout_ms: u64,
    }

    /// `agent.brain.response`: the reasoning engine's answer for one turn.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct BrainResponse {
        pub request_id: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        pub trace_id: String,
        pub user_id: String,
        pub session_id: String,
        pub conversation_id: String,
        pub turn_index: u64,
        pub agent_response: String,
        pub metadata: BrainResponseMetadata,
        pub performance: BrainPerformance,
    }

    impl BrainResponse {
        pub const SUBJECT: &'static str = "agent.brain.response";
    }

    /// `metadata` of [`BrainResponse`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct BrainResponseMetadata {
        pub llm_model: String,
        pub tokens_used: u64,
        pub reasoning_steps: u64,
        #[serde(default)]
        pub tools_called: Vec<String>,
        pub confidence_score: f64,
    }

    /// `performance` of [`BrainResponse`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct BrainPerformance {
        pub llm_latency_ms: u64,
        pub total_processing_ms: u64,
        /// Not in the seed: request to the first streamed token (the LLM
        /// first-token stage of the dashboard). Left out when unknown.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub time_to_first_token_ms: Option<u64>,
    }

    /// `agent.brain.error`: the LLM call failed or timed out.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct BrainError {
        pub request_id: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        pub trace_id: String,
        /// e.g. [`BrainError::ERROR_TYPE_TIMEOUT`].
        pub error_type: String,
        pub error_message: String,
        pub retry_count: u64,
        /// What the agent says instead, when the brain has a canned fallback.
        #[serde(default)]
        pub fallback_response: Option<String>,
    }

    impl BrainError {
        pub const SUBJECT: &'static str = "agent.brain.error";
        pub const ERROR_TYPE_TIMEOUT: &'static str = "timeout";
    }

    /// `agent.brain.tool.call` (ARC extension; the seeds name no tool subject):
    /// the model asked for a tool during a turn.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ToolCall {
        /// The turn's `agent.brain.request` id.
        pub request_id: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        pub trace_id: String,
        pub session_id: String,
        pub conversation_id: String,
        pub turn_index: u64,
        pub call_id: String,
        pub tool: String,
        /// The JSON text the model wrote (not necessarily valid JSON).
        pub arguments: String,
    }

    impl ToolCall {
        pub const SUBJECT: &'static str = "agent.brain.tool.call";
    }

    /// `agent.brain.tool.result` (ARC extension): what the model was given back.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ToolResult {
        pub request_id: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        pub trace_id: String,
        pub session_id: String,
        pub conversation_id: String,
        pub turn_index: u64,
        pub call_id: String,
        pub tool: String,
        /// "ok", or why not: "timeout", "failed", "bad_output", "bad_arguments", "unknown_tool".
        pub outcome: String,
        /// The JSON text the model got (`{"error": "..."}` when the outcome is not "ok").
        pub result: String,
        pub latency_ms: u64,
    }

    impl ToolResult {
        pub const SUBJECT: &'static str = "agent.brain.tool.result";
        pub const OUTCOME_OK: &'static str = "ok";
    }

    /// `agent.tts.request`: text to synthesise into the target room.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct TtsRequest {
        pub request_id: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        pub trace_id: String,
        pub text: String,
        pub voice_id: String,
        pub session_id: String,
        pub target_room: String,
        pub constraints: TtsConstraints,
    }

    impl TtsRequest {
        pub const SUBJECT: &'static str = "agent.tts.request";
    }

    /// `constraints` of [`TtsRequest`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct TtsConstraints {
        pub max_latency_ms: u64,
        /// e.g. `"opus"`.
        pub format: String,
        /// Hz.
        pub sample_rate: u32,
    }

    /// `agent.tts.completed`: synthesised audio is ready for playback.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct TtsCompleted {
        pub request_id: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        pub trace_id: String,
        pub audio_track_sid: String,
        pub duration_ms: u64,
        pub synthesis_latency_ms: u64,
        pub audio_format: String,
        pub ready_for_playback: bool,
    }

    impl TtsCompleted {
        pub const SUBJECT: &'static str = "agent.tts.completed";
    }

    /// `system.health.heartbeat`: sent by every service every 30 s.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Heartbeat {
        pub service: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        /// Not in the seed; added so every event is traceable. Empty when a
        /// producer does not send it.
        #[serde(default)]
        pub trace_id: String,
        /// Not in the seed: which node of the service this is (a service runs
        /// many nodes; dispatch and operators tell them apart by it).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub instance_id: String,
        /// e.g. [`Heartbeat::STATUS_HEALTHY`].
        pub status: String,
        pub metrics: HeartbeatMetrics,
    }

    impl Heartbeat {
        pub const SUBJECT: &'static str = "system.health.heartbeat";
        pub const STATUS_HEALTHY: &'static str = "healthy";
    }

    /// `metrics` of [`Heartbeat`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct HeartbeatMetrics {
        pub active_sessions: u64,
        pub cpu_percent: f64,
        pub memory_mb: u64,
        /// Named after the Go services' goroutine count (seed key). This node
        /// reports its number of live tokio tasks here.
        pub goroutines: u64,
        /// Not in the seed: the session limit above which this node takes no
        /// new work, so `active_sessions / max_sessions` is its load.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_sessions: Option<u64>,
    }

    /// `system.service.error`: a critical service error.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ServiceError {
        pub service: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        /// Not in the seed; added so every event is traceable. Empty when a
        /// producer does not send it.
        #[serde(default)]
        pub trace_id: String,
        /// e.g. [`ServiceError::ERROR_TYPE_CONNECTION_LOST`].
        pub error_type: String,
        pub error_message: String,
        /// e.g. [`ServiceError::SEVERITY_CRITICAL`].
        pub severity: String,
        /// e.g. [`ServiceError::ACTION_AUTOMATIC_RESTART`].
        pub action_required: String,
    }

    impl ServiceError {
        pub const SUBJECT: &'static str = "system.service.error";
        pub const ERROR_TYPE_CONNECTION_LOST: &'static str = "connection_lost";
        pub const SEVERITY_CRITICAL: &'static str = "critical";
        pub const ACTION_AUTOMATIC_RESTART: &'static str = "automatic_restart";
    }
}

/// Pulsar payloads (seed `000`): durable events for analytics and audit.
/// One struct per topic; each carries its `SCHEMA` string and `TOPIC`.
pub mod pulsar {
    use super::{ts, PulsarTopic};
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    // ---------------------------------------------------------------------
    // persistent://arc/events/conversation
    // ---------------------------------------------------------------------

    /// One completed conversation turn (user input + agent response).
    /// Partition key: `conversation.user_id`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Conversation {
        /// Always [`Conversation::SCHEMA`].
        pub schema: String,
        pub message_id: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        /// e.g. [`Conversation::TURN_COMPLETED`].
        pub event_type: String,
        pub conversation: ConversationInfo,
        pub user_message: UserMessage,
        pub agent_response: AgentResponse,
        pub context: ConversationContext,
        pub performance: TurnPerformance,
        /// Holds the trace id (`metadata.trace_id`).
        pub metadata: ConversationMetadata,
    }

    impl Conversation {
        pub const SCHEMA: &'static str = "conversation-v1";
        pub const TOPIC: PulsarTopic = PulsarTopic::Conversation;
        pub const TURN_COMPLETED: &'static str = "conversation_turn_completed";
    }

    /// `conversation` of [`Conversation`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ConversationInfo {
        pub id: String,
        pub session_id: String,
        pub user_id: String,
        pub agent_id: String,
        pub turn_index: u64,
    }

    /// `user_message` of [`Conversation`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct UserMessage {
        pub text: String,
        pub audio_duration_ms: u64,
        pub stt_model: String,
        pub stt_confidence: f64,
        pub stt_latency_ms: u64,
    }

    /// `agent_response` of [`Conversation`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct AgentResponse {
        pub text: String,
        pub llm_model: String,
        pub llm_tokens_used: u64,
        pub llm_latency_ms: u64,
        pub tts_model: String,
        pub tts_audio_duration_ms: u64,
        pub tts_latency_ms: u64,
    }

    /// `context` of [`Conversation`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ConversationContext {
        pub previous_turn_count: u64,
        pub context_tokens_used: u64,
        #[serde(default)]
        pub tools_invoked: Vec<String>,
        /// `null` when the turn was not embedded (the key is always there: readers expect it).
        #[serde(default)]
        pub embedding_vector_id: Option<String>,
    }

    /// `performance` of [`Conversation`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct TurnPerformance {
        pub total_latency_ms: u64,
        pub stt_latency_ms: u64,
        pub llm_latency_ms: u64,
        pub tts_latency_ms: u64,
        pub network_overhead_ms: u64,
    }

    /// `metadata` of [`Conversation`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ConversationMetadata {
        pub room_name: String,
        pub participant_sid: String,
        pub trace_id: String,
        pub environment: String,
        pub region: String,
        /// Not in the seed (ARC extension): the user spoke over this reply, and
        /// `agent_response.text` is what they heard of it. Written only when true.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pub interrupted: bool,
    }

    // ---------------------------------------------------------------------
    // persistent://arc/events/agent-lifecycle
    // ---------------------------------------------------------------------

    /// Service start / stop / crash / health events. Partition key:
    /// `service.name`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct AgentLifecycle {
        /// Always [`AgentLifecycle::SCHEMA`].
        pub schema: String,
        pub message_id: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        /// Not in the seed; added so every event is traceable. Empty when a
        /// producer does not send it.
        #[serde(default)]
        pub trace_id: String,
        /// One of the `SERVICE_*` constants.
        pub event_type: String,
        pub service: ServiceInfo,
        pub event_details: LifecycleDetails,
        pub health: LifecycleHealth,
    }

    impl AgentLifecycle {
        pub const SCHEMA: &'static str = "agent-lifecycle-v1";
        pub const TOPIC: PulsarTopic = PulsarTopic::AgentLifecycle;
        pub const SERVICE_STARTED: &'static str = "service_started";
        pub const SERVICE_STOPPED: &'static str = "service_stopped";
        pub const SERVICE_CRASHED: &'static str = "service_crashed";
        pub const SERVICE_HEALTH_DEGRADED: &'static str = "service_health_degraded";
        pub const SERVICE_RECOVERED: &'static str = "service_recovered";
        /// All event types listed in the seed.
        pub const EVENT_TYPES: [&'static str; 5] = [
            Self::SERVICE_STARTED,
            Self::SERVICE_STOPPED,
            Self::SERVICE_CRASHED,
            Self::SERVICE_HEALTH_DEGRADED,
            Self::SERVICE_RECOVERED,
        ];
    }

    /// `service` of [`AgentLifecycle`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ServiceInfo {
        pub name: String,
        pub instance_id: String,
        pub version: String,
        pub node: String,
    }

    /// `event_details` of [`AgentLifecycle`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct LifecycleDetails {
        /// JSON key `type`, e.g. `"started"`.
        #[serde(rename = "type")]
        pub kind: String,
        pub reason: String,
        pub previous_state: String,
        pub current_state: String,
    }

    /// `health` of [`AgentLifecycle`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct LifecycleHealth {
        /// Kubernetes quantity, e.g. `"2000m"`.
        pub cpu_limit: String,
        /// Kubernetes quantity, e.g. `"4Gi"`.
        pub memory_limit: String,
        /// Seed key from the Go services. This node reports its number of live
        /// tokio tasks at start-up here.
        pub initial_goroutines: u64,
        pub dependencies_healthy: bool,
    }

    // ---------------------------------------------------------------------
    // persistent://arc/events/livekit-webhooks
    // ---------------------------------------------------------------------

    /// A raw LiveKit webhook, wrapped. Partition key: the room name, when the
    /// webhook has a room.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct LivekitWebhook {
        /// Always [`LivekitWebhook::SCHEMA`].
        pub schema: String,
        pub message_id: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        /// Not in the seed; added so every event is traceable. Empty when a
        /// producer does not send it.
        #[serde(default)]
        pub trace_id: String,
        /// LiveKit event name, e.g. `"track_published"`.
        pub event: String,
        pub webhook_payload: WebhookPayload,
        pub metadata: WebhookMetadata,
    }

    impl LivekitWebhook {
        pub const SCHEMA: &'static str = "livekit-webhook-v1";
        pub const TOPIC: PulsarTopic = PulsarTopic::LivekitWebhooks;
    }

    /// LiveKit's own webhook JSON (camelCase keys). Which of room /
    /// participant / track is present depends on the event; keys we do not
    /// model (LiveKit sends many more: `id`, `createdAt`, ...) are kept in
    /// `extra` so that re-publishing loses nothing.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct WebhookPayload {
        #[serde(default)]
        pub event: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub room: Option<WebhookRoom>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub participant: Option<WebhookParticipant>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub track: Option<WebhookTrack>,
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }

    /// `webhook_payload.room`. LiveKit omits default-valued fields, so every
    /// field defaults to empty and is omitted again when empty.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct WebhookRoom {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub sid: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub name: String,
        /// Unix seconds as a decimal string (protobuf int64 JSON encoding).
        #[serde(
            rename = "createdAt",
            default,
            skip_serializing_if = "String::is_empty"
        )]
        pub created_at: String,
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }

    /// `webhook_payload.participant`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct WebhookParticipant {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub sid: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub identity: String,
        /// e.g. `"ACTIVE"`.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub state: String,
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }

    /// `webhook_payload.track`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct WebhookTrack {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub sid: String,
        /// JSON key `type`, e.g. `"AUDIO"`.
        #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
        pub kind: String,
        /// e.g. `"MICROPHONE"`.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub source: String,
        #[serde(rename = "mimeType", default, skip_serializing_if = "String::is_empty")]
        pub mime_type: String,
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }

    /// `metadata` of [`LivekitWebhook`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct WebhookMetadata {
        pub webhook_id: String,
        #[serde(with = "ts")]
        pub received_at: DateTime<Utc>,
        pub processing_latency_ms: u64,
    }

    // ---------------------------------------------------------------------
    // persistent://arc/analytics/session-metrics
    // ---------------------------------------------------------------------

    /// Per-session aggregates, published when a session ends. Partition key:
    /// `date(timestamp)` as `YYYY-MM-DD`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct SessionMetrics {
        /// Always [`SessionMetrics::SCHEMA`].
        pub schema: String,
        pub message_id: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        /// Not in the seed; added so every event is traceable. Empty when a
        /// producer does not send it.
        #[serde(default)]
        pub trace_id: String,
        /// e.g. [`SessionMetrics::SESSION_ENDED`].
        pub event_type: String,
        pub session: SessionInfo,
        pub conversation_stats: ConversationStats,
        pub performance_metrics: PerformanceMetrics,
        pub connection_quality: ConnectionQuality,
        pub resource_usage: SessionResourceUsage,
        pub user_experience: UserExperience,
    }

    impl SessionMetrics {
        pub const SCHEMA: &'static str = "session-metrics-v1";
        pub const TOPIC: PulsarTopic = PulsarTopic::SessionMetrics;
        pub const SESSION_ENDED: &'static str = "session_ended";
    }

    /// `session` of [`SessionMetrics`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct SessionInfo {
        pub id: String,
        pub user_id: String,
        pub agent_id: String,
        pub room_name: String,
        pub room_sid: String,
        #[serde(with = "ts")]
        pub started_at: DateTime<Utc>,
        #[serde(with = "ts")]
        pub ended_at: DateTime<Utc>,
        pub duration_seconds: u64,
    }

    /// `conversation_stats` of [`SessionMetrics`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ConversationStats {
        pub total_turns: u64,
        pub user_messages: u64,
        pub agent_messages: u64,
        /// Rounded average (the seed shows an integer).
        pub avg_turn_length_words: u64,
        pub total_tokens_used: u64,
    }

    /// `performance_metrics` of [`SessionMetrics`]; all latencies in ms.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct PerformanceMetrics {
        pub avg_latency_ms: u64,
        pub p50_latency_ms: u64,
        pub p95_latency_ms: u64,
        pub p99_latency_ms: u64,
        pub max_latency_ms: u64,
        pub avg_stt_latency_ms: u64,
        pub avg_llm_latency_ms: u64,
        pub avg_tts_latency_ms: u64,
        pub sla_compliance_percent: f64,
        pub target_latency_ms: u64,
    }

    /// `connection_quality` of [`SessionMetrics`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ConnectionQuality {
        pub avg_packet_loss_percent: f64,
        pub avg_jitter_ms: u64,
        /// e.g. `"udp"`.
        pub connection_type: String,
        pub reconnect_count: u64,
        /// e.g. `"excellent"`.
        pub quality_rating: String,
    }

    /// `resource_usage` of [`SessionMetrics`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct SessionResourceUsage {
        pub total_audio_bytes: u64,
        pub total_llm_tokens: u64,
        pub api_calls: ApiCalls,
    }

    /// `resource_usage.api_calls`: call counts per backend. The pipeline
    /// stages are fixed; tool calls (e.g. `weather_api`) vary, so they are
    /// kept by name in `tools`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ApiCalls {
        pub stt: u64,
        pub llm: u64,
        pub tts: u64,
        #[serde(flatten)]
        pub tools: BTreeMap<String, u64>,
    }

    /// `user_experience` of [`SessionMetrics`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct UserExperience {
        pub interruptions: u64,
        #[serde(default)]
        pub silence_gaps_ms: Vec<u64>,
        pub user_satisfaction_score: f64,
    }

    // ---------------------------------------------------------------------
    // persistent://arc/analytics/agent-performance
    // ---------------------------------------------------------------------

    /// Per-agent hourly rollup. Partition key: `agent_id`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct AgentPerformance {
        /// Always [`AgentPerformance::SCHEMA`].
        pub schema: String,
        pub message_id: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        /// Not in the seed; added so every event is traceable. Empty when a
        /// producer does not send it.
        #[serde(default)]
        pub trace_id: String,
        /// e.g. [`AgentPerformance::HOURLY`].
        pub aggregation_period: String,
        /// Start of the aggregation window.
        #[serde(with = "ts")]
        pub time_bucket: DateTime<Utc>,
        pub agent_id: String,
        pub instance_id: String,
        pub metrics: AgentMetrics,
        pub resource_usage: AgentResourceUsage,
    }

    impl AgentPerformance {
        pub const SCHEMA: &'static str = "agent-performance-v1";
        pub const TOPIC: PulsarTopic = PulsarTopic::AgentPerformance;
        pub const HOURLY: &'static str = "hourly";
    }

    /// `metrics` of [`AgentPerformance`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct AgentMetrics {
        pub total_sessions: u64,
        pub total_conversations: u64,
        pub avg_session_duration_seconds: u64,
        pub avg_latency_ms: u64,
        pub p95_latency_ms: u64,
        pub sla_violations: u64,
        pub error_rate_percent: f64,
        pub uptime_percent: f64,
    }

    /// `resource_usage` of [`AgentPerformance`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct AgentResourceUsage {
        pub avg_cpu_percent: f64,
        pub avg_memory_mb: u64,
        pub peak_memory_mb: u64,
        /// Seed key from the Go services. This node reports its average
        /// number of live tokio tasks here.
        pub avg_goroutines: u64,
    }

    // ---------------------------------------------------------------------
    // persistent://arc/audit/compliance-events
    // ---------------------------------------------------------------------

    /// Immutable audit record (GDPR / HIPAA / SOC2). Partition key:
    /// `action.resource_id` (the user id). The trace id lives in
    /// `context.trace_id`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ComplianceAudit {
        /// Always [`ComplianceAudit::SCHEMA`].
        pub schema: String,
        pub message_id: String,
        #[serde(with = "ts")]
        pub timestamp: DateTime<Utc>,
        /// One of the event-type constants (see [`ComplianceAudit::EVENT_TYPES`]).
        pub event_type: String,
        pub actor: AuditActor,
        pub action: AuditAction,
        /// Absent for events that touch no stored data (e.g. consent changes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub data_accessed: Option<DataAccessed>,
        pub compliance: ComplianceInfo,
        pub context: AuditContext,
    }

    impl ComplianceAudit {
        pub const SCHEMA: &'static str = "compliance-audit-v1";
        pub const TOPIC: PulsarTopic = PulsarTopic::ComplianceEvents;
        pub const USER_DATA_ACCESSED: &'static str = "user_data_accessed";
        pub const USER_DATA_MODIFIED: &'static str = "user_data_modified";
        pub const USER_DATA_DELETED: &'static str = "user_data_deleted";
        pub const USER_CONSENT_GRANTED: &'static str = "user_consent_granted";
        pub const USER_CONSENT_REVOKED: &'static str = "user_consent_revoked";
        pub const DATA_EXPORT_REQUESTED: &'static str = "data_export_requested";
        pub const DATA_ANONYMIZATION_EXECUTED: &'static str = "data_anonymization_executed";
        /// All event types listed in the seed.
        pub const EVENT_TYPES: [&'static str; 7] = [
            Self::USER_DATA_ACCESSED,
            Self::USER_DATA_MODIFIED,
            Self::USER_DATA_DELETED,
            Self::USER_CONSENT_GRANTED,
            Self::USER_CONSENT_REVOKED,
            Self::DATA_EXPORT_REQUESTED,
            Self::DATA_ANONYMIZATION_EXECUTED,
        ];
    }

    /// `actor` of [`ComplianceAudit`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct AuditActor {
        /// JSON key `type`, e.g. `"service"`.
        #[serde(rename = "type")]
        pub kind: String,
        pub service_name: String,
        pub instance_id: String,
        pub authenticated_as: String,
    }

    /// `action` of [`ComplianceAudit`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct AuditAction {
        /// JSON key `type`, e.g. `"data_access"`.
        #[serde(rename = "type")]
        pub kind: String,
        /// e.g. `"read"`.
        pub operation: String,
        pub resource: String,
        /// The subject user's id; also the partition key.
        pub resource_id: String,
        pub reason: String,
    }

    /// `data_accessed` of [`ComplianceAudit`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct DataAccessed {
        #[serde(default)]
        pub tables: Vec<String>,
        pub row_count: u64,
        #[serde(default)]
        pub columns: Vec<String>,
        #[serde(default)]
        pub pii_fields: Vec<String>,
    }

    /// `compliance` of [`ComplianceAudit`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ComplianceInfo {
        pub legal_basis: String,
        pub data_retention_policy: String,
        pub encryption: String,
        pub anonymization: bool,
    }

    /// `context` of [`ComplianceAudit`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct AuditContext {
        pub trace_id: String,
        pub user_consent_id: String,
        pub session_id: String,
    }
}

/// The six Pulsar topics of seed `000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PulsarTopic {
    Conversation,
    AgentLifecycle,
    LivekitWebhooks,
    SessionMetrics,
    AgentPerformance,
    ComplianceEvents,
}

impl PulsarTopic {
    pub const ALL: [PulsarTopic; 6] = [
        PulsarTopic::Conversation,
        PulsarTopic::AgentLifecycle,
        PulsarTopic::LivekitWebhooks,
        PulsarTopic::SessionMetrics,
        PulsarTopic::AgentPerformance,
        PulsarTopic::ComplianceEvents,
    ];

    /// Full topic name, as in the seed.
    pub fn name(self) -> &'static str {
        match self {
            PulsarTopic::Conversation => "persistent://arc/events/conversation",
            PulsarTopic::AgentLifecycle => "persistent://arc/events/agent-lifecycle",
            PulsarTopic::LivekitWebhooks => "persistent://arc/events/livekit-webhooks",
            PulsarTopic::SessionMetrics => "persistent://arc/analytics/session-metrics",
            PulsarTopic::AgentPerformance => "persistent://arc/analytics/agent-performance",
            PulsarTopic::ComplianceEvents => "persistent://arc/audit/compliance-events",
        }
    }

    /// Inverse of [`PulsarTopic::name`].
    pub fn from_name(name: &str) -> Option<PulsarTopic> {
        PulsarTopic::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Dead-letter topic, following the seed's `<topic>-dlq` convention.
    pub fn dlq_name(self) -> String {
        format!("{}-dlq", self.name())
    }

    /// Partition count from the seed's partitioning table; `0` means the seed
    /// gives none and the topic is non-partitioned.
    pub fn seed_partitions(self) -> u32 {
        match self {
            PulsarTopic::Conversation => 16,
            PulsarTopic::SessionMetrics => 8,
            PulsarTopic::AgentLifecycle => 4,
            PulsarTopic::ComplianceEvents => 32,
            PulsarTopic::LivekitWebhooks | PulsarTopic::AgentPerformance => 0,
        }
    }

    /// Key used for per-topic settings in the node's configuration.
    pub fn config_key(self) -> &'static str {
        match self {
            PulsarTopic::Conversation => "conversation",
            PulsarTopic::AgentLifecycle => "agent_lifecycle",
            PulsarTopic::LivekitWebhooks => "livekit_webhooks",
            PulsarTopic::SessionMetrics => "session_metrics",
            PulsarTopic::AgentPerformance => "agent_performance",
            PulsarTopic::ComplianceEvents => "compliance_events",
        }
    }
}

/// Error from [`Event::from_nats`] / [`Event::from_pulsar_name`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown NATS subject {0:?}")]
    UnknownSubject(String),
    #[error("unknown Pulsar topic {0:?}")]
    UnknownTopic(String),
    #[error("invalid payload: {0}")]
    Json(#[from] serde_json::Error),
}

/// Envelope for every event the node handles, so actors, routers and metrics
/// can treat NATS and Pulsar payloads uniformly. Large Pulsar payloads are
/// boxed to keep the enum small.
///
/// Its own serde form is externally tagged (`{"brain_response": {...}}`, tag =
/// [`Event::kind`]), for local use only; on the wire use [`Event::to_json`],
/// which writes the bare payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    TrackPublished(nats::TrackPublished),
    TrackUnpublished(nats::TrackUnpublished),
    SessionStarted(nats::SessionStarted),
    SessionEnded(nats::SessionEnded),
    BrainRequest(nats::BrainRequest),
    BrainResponse(nats::BrainResponse),
    BrainError(nats::BrainError),
    TtsRequest(nats::TtsRequest),
    TtsCompleted(nats::TtsCompleted),
    Heartbeat(nats::Heartbeat),
    ServiceError(nats::ServiceError),
    ToolCall(nats::ToolCall),
    ToolResult(nats::ToolResult),
    Conversation(Box<pulsar::Conversation>),
    AgentLifecycle(pulsar::AgentLifecycle),
    LivekitWebhook(Box<pulsar::LivekitWebhook>),
    SessionMetrics(Box<pulsar::SessionMetrics>),
    AgentPerformance(pulsar::AgentPerformance),
    ComplianceAudit(pulsar::ComplianceAudit),
}

/// Applies `$body` to the inner payload of every variant (boxed or not).
macro_rules! with_payload {
    ($event:expr, $p:ident => $body:expr) => {
        match $event {
            Event::TrackPublished($p) => $body,
            Event::TrackUnpublished($p) => $body,
            Event::SessionStarted($p) => $body,
            Event::SessionEnded($p) => $body,
            Event::BrainRequest($p) => $body,
            Event::BrainResponse($p) => $body,
            Event::BrainError($p) => $body,
            Event::TtsRequest($p) => $body,
            Event::TtsCompleted($p) => $body,
            Event::Heartbeat($p) => $body,
            Event::ServiceError($p) => $body,
            Event::ToolCall($p) => $body,
            Event::ToolResult($p) => $body,
            Event::Conversation($p) => $body,
            Event::AgentLifecycle($p) => $body,
            Event::LivekitWebhook($p) => $body,
            Event::SessionMetrics($p) => $body,
            Event::AgentPerformance($p) => $body,
            Event::ComplianceAudit($p) => $body,
        }
    };
}

impl Event {
    /// Short snake_case label, stable, for metrics labels and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::TrackPublished(_) => "track_published",
            Event::TrackUnpublished(_) => "track_unpublished",
            Event::SessionStarted(_) => "session_started",
            Event::SessionEnded(_) => "session_ended",
            Event::BrainRequest(_) => "brain_request",
            Event::BrainResponse(_) => "brain_response",
            Event::BrainError(_) => "brain_error",
            Event::TtsRequest(_) => "tts_request",
            Event::TtsCompleted(_) => "tts_completed",
            Event::Heartbeat(_) => "heartbeat",
            Event::ServiceError(_) => "service_error",
            Event::ToolCall(_) => "tool_call",
            Event::ToolResult(_) => "tool_result",
            Event::Conversation(_) => "conversation",
            Event::AgentLifecycle(_) => "agent_lifecycle",
            Event::LivekitWebhook(_) => "livekit_webhook",
            Event::SessionMetrics(_) => "session_metrics",
            Event::AgentPerformance(_) => "agent_performance",
            Event::ComplianceAudit(_) => "compliance_audit",
        }
    }

    /// The seed's NATS subject for NATS events; `None` for Pulsar-only events.
    pub fn nats_subject(&self) -> Option<&'static str> {
        Some(match self {
            Event::TrackPublished(_) => nats::TrackPublished::SUBJECT,
            Event::TrackUnpublished(_) => nats::TrackUnpublished::SUBJECT,
            Event::SessionStarted(_) => nats::SessionStarted::SUBJECT,
            Event::SessionEnded(_) => nats::SessionEnded::SUBJECT,
            Event::BrainRequest(_) => nats::BrainRequest::SUBJECT,
            Event::BrainResponse(_) => nats::BrainResponse::SUBJECT,
            Event::BrainError(_) => nats::BrainError::SUBJECT,
            Event::TtsRequest(_) => nats::TtsRequest::SUBJECT,
            Event::TtsCompleted(_) => nats::TtsCompleted::SUBJECT,
            Event::Heartbeat(_) => nats::Heartbeat::SUBJECT,
            Event::ServiceError(_) => nats::ServiceError::SUBJECT,
            Event::ToolCall(_) => nats::ToolCall::SUBJECT,
            Event::ToolResult(_) => nats::ToolResult::SUBJECT,
            _ => return None,
        })
    }

    /// The Pulsar topic for the six Pulsar payloads; `None` for NATS events.
    pub fn pulsar_topic(&self) -> Option<PulsarTopic> {
        Some(match self {
            Event::Conversation(_) => PulsarTopic::Conversation,
            Event::AgentLifecycle(_) => PulsarTopic::AgentLifecycle,
            Event::LivekitWebhook(_) => PulsarTopic::LivekitWebhooks,
            Event::SessionMetrics(_) => PulsarTopic::SessionMetrics,
            Event::AgentPerformance(_) => PulsarTopic::AgentPerformance,
            Event::ComplianceAudit(_) => PulsarTopic::ComplianceEvents,
            _ => return None,
        })
    }

    /// Pulsar partition key as specified by the seed (keeps per-user /
    /// per-service ordering). `None` for NATS events, and for a webhook
    /// without a room name.
    pub fn partition_key(&self) -> Option<String> {
        match self {
            Event::Conversation(e) => Some(e.conversation.user_id.clone()),
            Event::AgentLifecycle(e) => Some(e.service.name.clone()),
            Event::ComplianceAudit(e) => Some(e.action.resource_id.clone()),
            Event::SessionMetrics(e) => Some(e.timestamp.format("%Y-%m-%d").to_string()),
            Event::LivekitWebhook(e) => e
                .webhook_payload
                .room
                .as_ref()
                .map(|r| r.name.clone())
                .filter(|n| !n.is_empty()),
            Event::AgentPerformance(e) => Some(e.agent_id.clone()),
            _ => None,
        }
    }

    /// The Pulsar payload's `message_id` (used for producer deduplication);
    /// `None` for NATS events.
    pub fn message_id(&self) -> Option<&str> {
        match self {
            Event::Conversation(e) => Some(&e.message_id),
            Event::AgentLifecycle(e) => Some(&e.message_id),
            Event::LivekitWebhook(e) => Some(&e.message_id),
            Event::SessionMetrics(e) => Some(&e.message_id),
            Event::AgentPerformance(e) => Some(&e.message_id),
            Event::ComplianceAudit(e) => Some(&e.message_id),
            _ => None,
        }
    }

    /// The trace id, wherever the contract puts it (top level,
    /// `metadata.trace_id` for conversations, `context.trace_id` for audit).
    pub fn trace_id(&self) -> &str {
        match self {
            Event::Conversation(e) => &e.metadata.trace_id,
            Event::ComplianceAudit(e) => &e.context.trace_id,
            Event::TrackPublished(e) => &e.trace_id,
            Event::TrackUnpublished(e) => &e.trace_id,
            Event::SessionStarted(e) => &e.trace_id,
            Event::SessionEnded(e) => &e.trace_id,
            Event::BrainRequest(e) => &e.trace_id,
            Event::BrainResponse(e) => &e.trace_id,
            Event::BrainError(e) => &e.trace_id,
            Event::TtsRequest(e) => &e.trace_id,
            Event::TtsCompleted(e) => &e.trace_id,
            Event::Heartbeat(e) => &e.trace_id,
            Event::ServiceError(e) => &e.trace_id,
            Event::ToolCall(e) => &e.trace_id,
            Event::ToolResult(e) => &e.trace_id,
            Event::AgentLifecycle(e) => &e.trace_id,
            Event::LivekitWebhook(e) => &e.trace_id,
            Event::SessionMetrics(e) => &e.trace_id,
            Event::AgentPerformance(e) => &e.trace_id,
        }
    }

    /// The payload's `timestamp`.
    pub fn timestamp(&self) -> DateTime<Utc> {
        with_payload!(self, p => p.timestamp)
    }

    /// The bare payload as JSON bytes (what goes on the wire; no enum tag).
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        with_payload!(self, p => serde_json::to_vec(p))
    }

    /// Decodes a NATS message by subject.
    pub fn from_nats(subject: &str, payload: &[u8]) -> Result<Event, DecodeError> {
        use serde_json::from_slice;
        Ok(match subject {
            nats::TrackPublished::SUBJECT => Event::TrackPublished(from_slice(payload)?),
            nats::TrackUnpublished::SUBJECT => Event::TrackUnpublished(from_slice(payload)?),
            nats::SessionStarted::SUBJECT => Event::SessionStarted(from_slice(payload)?),
            nats::SessionEnded::SUBJECT => Event::SessionEnded(from_slice(payload)?),
            nats::BrainRequest::SUBJECT => Event::BrainRequest(from_slice(payload)?),
            nats::BrainResponse::SUBJECT => Event::BrainResponse(from_slice(payload)?),
            nats::BrainError::SUBJECT => Event::BrainError(from_slice(payload)?),
            nats::TtsRequest::SUBJECT => Event::TtsRequest(from_slice(payload)?),
            nats::TtsCompleted::SUBJECT => Event::TtsCompleted(from_slice(payload)?),
            nats::Heartbeat::SUBJECT => Event::Heartbeat(from_slice(payload)?),
            nats::ServiceError::SUBJECT => Event::ServiceError(from_slice(payload)?),
            nats::ToolCall::SUBJECT => Event::ToolCall(from_slice(payload)?),
            nats::ToolResult::SUBJECT => Event::ToolResult(from_slice(payload)?),
            other => return Err(DecodeError::UnknownSubject(other.to_owned())),
        })
    }

    /// Decodes a Pulsar message of `topic`.
    pub fn from_pulsar(topic: PulsarTopic, payload: &[u8]) -> Result<Event, serde_json::Error> {
        use serde_json::from_slice;
        Ok(match topic {
            PulsarTopic::Conversation => Event::Conversation(from_slice(payload)?),
            PulsarTopic::AgentLifecycle => Event::AgentLifecycle(from_slice(payload)?),
            PulsarTopic::LivekitWebhooks => Event::LivekitWebhook(from_slice(payload)?),
            PulsarTopic::SessionMetrics => Event::SessionMetrics(from_slice(payload)?),
            PulsarTopic::AgentPerformance => Event::AgentPerformance(from_slice(payload)?),
            PulsarTopic::ComplianceEvents => Event::ComplianceAudit(from_slice(payload)?),
        })
    }

    /// Decodes a Pulsar message by full topic name.
    pub fn from_pulsar_name(topic: &str, payload: &[u8]) -> Result<Event, DecodeError> {
        let t = PulsarTopic::from_name(topic)
            .ok_or_else(|| DecodeError::UnknownTopic(topic.to_owned()))?;
        Ok(Event::from_pulsar(t, payload)?)
    }
}

macro_rules! impl_from {
    ($($variant:ident($ty:ty)),* $(,)?) => {$(
        impl From<$ty> for Event {
            fn from(e: $ty) -> Self {
                Event::$variant(e)
            }
        }
    )*};
}

macro_rules! impl_from_boxed {
    ($($variant:ident($ty:ty)),* $(,)?) => {$(
        impl From<$ty> for Event {
            fn from(e: $ty) -> Self {
                Event::$variant(Box::new(e))
            }
        }
        impl From<Box<$ty>> for Event {
            fn from(e: Box<$ty>) -> Self {
                Event::$variant(e)
            }
        }
    )*};
}

impl_from!(
    TrackPublished(nats::TrackPublished),
    TrackUnpublished(nats::TrackUnpublished),
    SessionStarted(nats::SessionStarted),
    SessionEnded(nats::SessionEnded),
    BrainRequest(nats::BrainRequest),
    BrainResponse(nats::BrainResponse),
    BrainError(nats::BrainError),
    TtsRequest(nats::TtsRequest),
    TtsCompleted(nats::TtsCompleted),
    Heartbeat(nats::Heartbeat),
    ServiceError(nats::ServiceError),
    ToolCall(nats::ToolCall),
    ToolResult(nats::ToolResult),
    AgentLifecycle(pulsar::AgentLifecycle),
    AgentPerformance(pulsar::AgentPerformance),
    ComplianceAudit(pulsar::ComplianceAudit),
);

impl_from_boxed!(
    Conversation(pulsar::Conversation),
    LivekitWebhook(pulsar::LivekitWebhook),
    SessionMetrics(pulsar::SessionMetrics),
);

/// A fresh Pulsar `message_id`: `"msg-"` + hyphenated UUID v4, as in the seed
/// (`msg-550e8400-e29b-41d4-a716-446655440000`).
pub fn new_message_id() -> String {
    format!("msg-{}", uuid::Uuid::new_v4().hyphenated())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn conversation() -> pulsar::Conversation {
        serde_json::from_value(json!({
            "schema": "conversation-v1",
            "message_id": "msg-550e8400-e29b-41d4-a716-446655440000",
            "timestamp": "2025-12-14T13:30:06.500Z",
            "event_type": "conversation_turn_completed",
            "conversation": {"id": "conv-789", "session_id": "session-456", "user_id": "user-123",
                             "agent_id": "arc-scarlett-voice", "turn_index": 3},
            "user_message": {"text": "hi", "audio_duration_ms": 1200, "stt_model": "whisper-large-v3",
                             "stt_confidence": 0.98, "stt_latency_ms": 150},
            "agent_response": {"text": "hello", "llm_model": "gpt-4-turbo", "llm_tokens_used": 45,
                               "llm_latency_ms": 450, "tts_model": "piper", "tts_audio_duration_ms": 2500,
                               "tts_latency_ms": 200},
            "context": {"previous_turn_count": 2, "context_tokens_used": 120, "tools_invoked": []},
            "performance": {"total_latency_ms": 800, "stt_latency_ms": 150, "llm_latency_ms": 450,
                            "tts_latency_ms": 200, "network_overhead_ms": 50},
            "metadata": {"room_name": "room-1", "participant_sid": "PA_1", "trace_id": "trace-conv",
                         "environment": "production", "region": "us-west-2"}
        }))
        .unwrap()
    }

    fn lifecycle() -> pulsar::AgentLifecycle {
        serde_json::from_value(json!({
            "schema": "agent-lifecycle-v1",
            "message_id": "msg-lifecycle-123",
            "timestamp": "2025-12-14T13:25:00.000Z",
            "event_type": "service_started",
            "service": {"name": "arc-scarlett-voice", "instance_id": "pod-1", "version": "v1.2.3",
                        "node": "k8s-node-05"},
            "event_details": {"type": "started", "reason": "scheduled_deployment",
                              "previous_state": "stopped", "current_state": "running"},
            "health": {"cpu_limit": "2000m", "memory_limit": "4Gi", "initial_goroutines": 12,
                       "dependencies_healthy": true}
        }))
        .unwrap()
    }

    fn webhook(with_room: bool) -> pulsar::LivekitWebhook {
        let mut payload =
            json!({"event": "track_published", "id": "EV_1", "createdAt": "1702563001"});
        if with_room {
            payload["room"] = json!({"sid": "RM_1", "name": "room-user-123", "createdAt": "1702563000",
                                     "emptyTimeout": 300});
        }
        serde_json::from_value(json!({
            "schema": "livekit-webhook-v1",
            "message_id": "msg-webhook-456",
            "timestamp": "2025-12-14T13:30:01.000Z",
            "trace_id": "trace-wh",
            "event": "track_published",
            "webhook_payload": payload,
            "metadata": {"webhook_id": "wh-123", "received_at": "2025-12-14T13:30:01.050Z",
                         "processing_latency_ms": 5}
        }))
        .unwrap()
    }

    fn session_metrics() -> pulsar::SessionMetrics {
        serde_json::from_value(json!({
            "schema": "session-metrics-v1",
            "message_id": "msg-metrics-789",
            "timestamp": "2025-12-14T23:59:59.999Z",
            "event_type": "session_ended",
            "session": {"id": "session-456", "user_id": "user-123", "agent_id": "arc", "room_name": "r",
                        "room_sid": "RM_1", "started_at": "2025-12-14T13:30:00.000Z",
                        "ended_at": "2025-12-14T13:35:00.000Z", "duration_seconds": 300},
            "conversation_stats": {"total_turns": 12, "user_messages": 12, "agent_messages": 12,
                                   "avg_turn_length_words": 18, "total_tokens_used": 540},
            "performance_metrics": {"avg_latency_ms": 750, "p50_latency_ms": 700, "p95_latency_ms": 1200,
                                    "p99_latency_ms": 1500, "max_latency_ms": 1800,
                                    "avg_stt_latency_ms": 140, "avg_llm_latency_ms": 430,
                                    "avg_tts_latency_ms": 180, "sla_compliance_percent": 95.5,
                                    "target_latency_ms": 2000},
            "connection_quality": {"avg_packet_loss_percent": 0.2, "avg_jitter_ms": 5,
                                   "connection_type": "udp", "reconnect_count": 0,
                                   "quality_rating": "excellent"},
            "resource_usage": {"total_audio_bytes": 7200000, "total_llm_tokens": 540,
                               "api_calls": {"stt": 12, "llm": 12, "tts": 12, "weather_api": 2}},
            "user_experience": {"interruptions": 1, "silence_gaps_ms": [500, 300],
                                "user_satisfaction_score": 4.5}
        }))
        .unwrap()
    }

    fn agent_performance() -> pulsar::AgentPerformance {
        serde_json::from_value(json!({
            "schema": "agent-performance-v1",
            "message_id": "msg-perf-001",
            "timestamp": "2025-12-14T14:00:00.000Z",
            "aggregation_period": "hourly",
            "time_bucket": "2025-12-14T13:00:00.000Z",
            "agent_id": "arc-scarlett-voice",
            "instance_id": "pod-1",
            "metrics": {"total_sessions": 156, "total_conversations": 1872,
                        "avg_session_duration_seconds": 245, "avg_latency_ms": 780,
                        "p95_latency_ms": 1250, "sla_violations": 8, "error_rate_percent": 0.5,
                        "uptime_percent": 99.8},
            "resource_usage": {"avg_cpu_percent": 42, "avg_memory_mb": 1024, "peak_memory_mb": 1536,
                               "avg_goroutines": 250}
        }))
        .unwrap()
    }

    fn compliance() -> pulsar::ComplianceAudit {
        serde_json::from_value(json!({
            "schema": "compliance-audit-v1",
            "message_id": "msg-audit-001",
            "timestamp": "2025-12-14T13:30:00.000Z",
            "event_type": "user_consent_granted",
            "actor": {"type": "service", "service_name": "arc-sherlock-brain", "instance_id": "pod-2",
                      "authenticated_as": "system-service-account"},
            "action": {"type": "consent", "operation": "write", "resource": "user_consent",
                       "resource_id": "user-123", "reason": "user_request"},
            "compliance": {"legal_basis": "consent", "data_retention_policy": "30_days",
                           "encryption": "AES-256", "anonymization": false},
            "context": {"trace_id": "trace-audit", "user_consent_id": "consent-789",
                        "session_id": "session-456"}
        }))
        .unwrap()
    }

    fn heartbeat() -> nats::Heartbeat {
        serde_json::from_value(json!({
            "service": "arc-agent",
            "timestamp": "2025-12-14T13:30:00.000Z",
            "status": "healthy",
            "metrics": {"active_sessions": 42, "cpu_percent": 23.5, "memory_mb": 512, "goroutines": 156}
        }))
        .unwrap()
    }

    #[test]
    fn partition_key_for_each_pulsar_event() {
        let cases: Vec<(Event, Option<&str>)> = vec![
            (conversation().into(), Some("user-123")),
            (lifecycle().into(), Some("arc-scarlett-voice")),
            (compliance().into(), Some("user-123")),
            (session_metrics().into(), Some("2025-12-14")),
            (webhook(true).into(), Some("room-user-123")),
            (webhook(false).into(), None),
            (agent_performance().into(), Some("arc-scarlett-voice")),
            (heartbeat().into(), None),
        ];
        for (event, want) in cases {
            assert_eq!(event.partition_key().as_deref(), want, "{}", event.kind());
        }
    }

    #[test]
    fn topics_subjects_and_message_ids() {
        let pulsar_events: Vec<Event> = vec![
            conversation().into(),
            lifecycle().into(),
            webhook(true).into(),
            session_metrics().into(),
            agent_performance().into(),
            compliance().into(),
        ];
        let topics: Vec<_> = pulsar_events
            .iter()
            .map(|e| e.pulsar_topic().unwrap())
            .collect();
        assert_eq!(topics, PulsarTopic::ALL);
        for e in &pulsar_events {
            assert!(e.nats_subject().is_none());
            assert!(e.message_id().unwrap().starts_with("msg-"));
            let topic = e.pulsar_topic().unwrap();
            let back = Event::from_pulsar_name(topic.name(), &e.to_json().unwrap()).unwrap();
            assert_eq!(&back, e);
        }
        let hb: Event = heartbeat().into();
        assert_eq!(hb.nats_subject(), Some("system.health.heartbeat"));
        assert_eq!(hb.pulsar_topic(), None);
        assert_eq!(hb.message_id(), None);
        assert_eq!(hb.trace_id(), "", "missing trace_id defaults to empty");
        assert!(matches!(
            Event::from_nats("agent.nope", b"{}"),
            Err(DecodeError::UnknownSubject(_))
        ));
    }

    #[test]
    fn trace_id_from_nested_locations() {
        assert_eq!(Event::from(conversation()).trace_id(), "trace-conv");
        assert_eq!(Event::from(compliance()).trace_id(), "trace-audit");
        assert_eq!(Event::from(webhook(true)).trace_id(), "trace-wh");
    }

    #[test]
    fn pulsar_topic_tables() {
        let t = PulsarTopic::Conversation;
        assert_eq!(t.name(), "persistent://arc/events/conversation");
        assert_eq!(t.dlq_name(), "persistent://arc/events/conversation-dlq");
        let parts: Vec<u32> = PulsarTopic::ALL
            .iter()
            .map(|t| t.seed_partitions())
            .collect();
        assert_eq!(parts, [16, 4, 0, 8, 0, 32]);
        for t in PulsarTopic::ALL {
            assert_eq!(PulsarTopic::from_name(t.name()), Some(t));
        }
        assert_eq!(PulsarTopic::from_name("persistent://arc/events/nope"), None);
        assert_eq!(
            PulsarTopic::ComplianceEvents.config_key(),
            "compliance_events"
        );
    }

    #[test]
    fn timestamp_format_round_trip() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct T {
            #[serde(with = "ts")]
            at: DateTime<Utc>,
            #[serde(default, with = "ts::option", skip_serializing_if = "Option::is_none")]
            maybe: Option<DateTime<Utc>>,
        }
        let at = Utc.with_ymd_and_hms(2025, 12, 14, 13, 30, 0).unwrap();
        let t = T { at, maybe: None };
        let s = serde_json::to_string(&t).unwrap();
        assert_eq!(s, r#"{"at":"2025-12-14T13:30:00.000Z"}"#);
        assert_eq!(serde_json::from_str::<T>(&s).unwrap(), t);

        // Milliseconds are kept, sub-millisecond digits are dropped on output,
        // and other offsets are normalised to UTC `Z`.
        let t: T = serde_json::from_str(
            r#"{"at":"2025-12-14T14:30:06.5+01:00","maybe":"2025-12-14T13:30:06.123456Z"}"#,
        )
        .unwrap();
        assert_eq!(ts::format(&t.at), "2025-12-14T13:30:06.500Z");
        let s = serde_json::to_string(&t).unwrap();
        assert_eq!(
            s,
            r#"{"at":"2025-12-14T13:30:06.500Z","maybe":"2025-12-14T13:30:06.123Z"}"#
        );
        assert!(serde_json::from_str::<T>(r#"{"at":"14/12/2025"}"#).is_err());

        assert_eq!(Event::from(heartbeat()).timestamp(), at);
    }

    #[test]
    fn message_id_format() {
        let id = new_message_id();
        let rest = id.strip_prefix("msg-").expect("msg- prefix");
        let uuid = uuid::Uuid::parse_str(rest).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(rest, uuid.hyphenated().to_string());
        assert_eq!(id.len(), "msg-550e8400-e29b-41d4-a716-446655440000".len());
        assert_ne!(id, new_message_id());
    }

    #[test]
    fn to_json_is_bare_payload_and_enum_tag_matches_kind() {
        let e: Event = heartbeat().into();
        let v: serde_json::Value = serde_json::from_slice(&e.to_json().unwrap()).unwrap();
        assert_eq!(v["service"], "arc-agent");
        let tagged = serde_json::to_value(&e).unwrap();
        assert!(tagged.get(e.kind()).is_some());
        let webhook_event: Event = webhook(true).into();
        let tagged = serde_json::to_value(&webhook_event).unwrap();
        assert!(tagged.get(webhook_event.kind()).is_some());
        // Unknown LiveKit keys survive a round trip.
        let v: serde_json::Value =
            serde_json::from_slice(&webhook_event.to_json().unwrap()).unwrap();
        assert_eq!(v["webhook_payload"]["id"], "EV_1");
        assert_eq!(v["webhook_payload"]["room"]["emptyTimeout"], 300);
    }
}
