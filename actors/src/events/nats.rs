//! NATS payloads (seed `001`): ephemeral, low-latency coordination messages.
//! One struct per subject. Each subject is given once, in the event table
//! (`table.rs`), which also gives each struct its `SUBJECT` constant.

use super::ts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    /// Not in the seed: the session it belongs to (the key of the durable
    /// realtime log). Empty (and left out) when unknown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session_id: String,
}

impl TrackUnpublished {
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
    /// Not in the seed: the session it belongs to (the key of the durable
    /// realtime log). Empty (and left out) when unknown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session_id: String,
}

impl BrainError {
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
    /// Not in the seed: the session it belongs to (the key of the durable
    /// realtime log). Empty (and left out) when unknown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session_id: String,
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
    pub const ERROR_TYPE_CONNECTION_LOST: &'static str = "connection_lost";
    pub const SEVERITY_CRITICAL: &'static str = "critical";
    pub const ACTION_AUTOMATIC_RESTART: &'static str = "automatic_restart";
}
