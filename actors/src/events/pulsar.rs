//! Pulsar payloads (seed `000`): durable events for analytics and audit.
//! One struct per topic; each carries its `SCHEMA` string. The topics (name,
//! partitions, partition key) are given once, in the event table
//! (`table.rs`), which also gives each struct its `TOPIC` constant.
//!
//! The LiveKit webhook's own JSON, wrapped by [`LivekitWebhook`], is LiveKit's
//! contract, not ours: it lives in `livekit.rs` and is re-exported here.

use super::ts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use super::livekit::{WebhookParticipant, WebhookPayload, WebhookRoom, WebhookTrack};

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
    /// `null` unless the transport measured it (the node alone cannot know).
    pub avg_packet_loss_percent: Option<f64>,
    /// `null` unless the transport measured it.
    pub avg_jitter_ms: Option<u64>,
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
    /// `null` until someone rates the call (the node does not ask).
    pub user_satisfaction_score: Option<f64>,
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

/// A fresh Pulsar `message_id`: `"msg-"` + hyphenated UUID v4, as in the seed
/// (`msg-550e8400-e29b-41d4-a716-446655440000`).
pub fn new_message_id() -> String {
    format!("msg-{}", uuid::Uuid::new_v4().hyphenated())
}
