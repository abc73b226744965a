//! Builders for the events the actors emit: one place that knows how session
//! facts map onto the seeds' payloads.

use crate::context::Exchange;
use crate::events::{nats, new_message_id, pulsar, Event};
use crate::session::SessionConfig;
use chrono::{DateTime, Utc};

/// Who is emitting: the node process (the seeds' `service` blocks).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceIdentity {
    /// `service.name` / `service` (e.g. "arc-agent").
    pub service_name: String,
    pub instance_id: String,
    pub version: String,
    /// Host or Kubernetes node name.
    pub node: String,
    pub cpu_limit: String,
    pub memory_limit: String,
}

impl ServiceIdentity {
    /// An identity for tests and tools.
    pub fn local(service_name: &str) -> Self {
        Self {
            service_name: service_name.to_string(),
            instance_id: crate::ids::prefixed(service_name),
            version: env!("CARGO_PKG_VERSION").to_string(),
            node: "localhost".into(),
            cpu_limit: String::new(),
            memory_limit: String::new(),
        }
    }
}

/// A change of a service's state (agent-lifecycle-v1 `event_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleChange {
    Started,
    Stopped,
    Crashed,
    Degraded,
    Recovered,
}

impl LifecycleChange {
    fn parts(self) -> (&'static str, &'static str, &'static str, &'static str) {
        // (event_type, details.type, previous_state, current_state)
        match self {
            LifecycleChange::Started => ("service_started", "started", "stopped", "running"),
            LifecycleChange::Stopped => ("service_stopped", "stopped", "running", "stopped"),
            LifecycleChange::Crashed => ("service_crashed", "crashed", "running", "crashed"),
            LifecycleChange::Degraded => {
                ("service_health_degraded", "degraded", "running", "degraded")
            }
            LifecycleChange::Recovered => ("service_recovered", "recovered", "crashed", "running"),
        }
    }
}

/// An `events/agent-lifecycle` event for `service` (the node, or one of its
/// actors as "arc-agent/brain").
pub fn lifecycle(
    id: &ServiceIdentity,
    service: &str,
    change: LifecycleChange,
    reason: &str,
    trace_id: &str,
) -> Event {
    lifecycle_with_health(id, service, change, reason, trace_id, 0, true)
}

/// Like [`lifecycle`], with the task count and dependency health filled in.
pub fn lifecycle_with_health(
    id: &ServiceIdentity,
    service: &str,
    change: LifecycleChange,
    reason: &str,
    trace_id: &str,
    tasks: u64,
    dependencies_healthy: bool,
) -> Event {
    let (event_type, kind, prev, cur) = change.parts();
    Event::AgentLifecycle(pulsar::AgentLifecycle {
        schema: pulsar::AgentLifecycle::SCHEMA.into(),
        message_id: new_message_id(),
        timestamp: Utc::now(),
        trace_id: trace_id.into(),
        event_type: event_type.into(),
        service: pulsar::ServiceInfo {
            name: service.into(),
            instance_id: id.instance_id.clone(),
            version: id.version.clone(),
            node: id.node.clone(),
        },
        event_details: pulsar::LifecycleDetails {
            kind: kind.into(),
            reason: reason.into(),
            previous_state: prev.into(),
            current_state: cur.into(),
        },
        health: pulsar::LifecycleHealth {
            cpu_limit: id.cpu_limit.clone(),
            memory_limit: id.memory_limit.clone(),
            initial_goroutines: tasks,
            dependencies_healthy,
        },
    })
}

/// A `system.service.error` event: an error a user would feel.
pub fn service_error(
    id: &ServiceIdentity,
    error_type: &str,
    message: &str,
    severity: &str,
    action_required: &str,
    trace_id: &str,
) -> Event {
    Event::ServiceError(nats::ServiceError {
        service: id.service_name.clone(),
        timestamp: Utc::now(),
        trace_id: trace_id.into(),
        error_type: error_type.into(),
        error_message: message.into(),
        severity: severity.into(),
        action_required: action_required.into(),
    })
}

pub fn session_started(cfg: &SessionConfig, trace_id: &str) -> Event {
    Event::SessionStarted(nats::SessionStarted {
        event: nats::SessionStarted::EVENT.into(),
        timestamp: Utc::now(),
        trace_id: trace_id.into(),
        user_id: cfg.user_id.clone(),
        session_id: cfg.session_id.clone(),
        room_name: cfg.room_name.clone(),
        room_sid: cfg.room_sid.clone(),
        participant_sid: cfg.participant_sid.clone(),
        agent_id: cfg.agent_id.clone(),
    })
}

pub fn session_ended(
    cfg: &SessionConfig,
    trace_id: &str,
    duration_seconds: u64,
    total_turns: u64,
    reason: &str,
    final_status: &str,
) -> Event {
    Event::SessionEnded(nats::SessionEnded {
        event: nats::SessionEnded::EVENT.into(),
        timestamp: Utc::now(),
        trace_id: trace_id.into(),
        user_id: cfg.user_id.clone(),
        session_id: cfg.session_id.clone(),
        room_name: cfg.room_name.clone(),
        duration_seconds,
        total_turns,
        reason: reason.into(),
        final_status: final_status.into(),
    })
}

pub fn brain_request(
    cfg: &SessionConfig,
    request_id: &str,
    trace_id: &str,
    turn: u64,
    user_input: &str,
    previous: &[Exchange],
) -> Event {
    Event::BrainRequest(nats::BrainRequest {
        request_id: request_id.into(),
        timestamp: Utc::now(),
        trace_id: trace_id.into(),
        user_id: cfg.user_id.clone(),
        session_id: cfg.session_id.clone(),
        conversation_id: cfg.conversation_id.clone(),
        turn_index: turn,
        user_input: user_input.into(),
        context: nats::Context {
            previous_turns: previous
                .iter()
                .map(|e| nats::PreviousTurn {
                    user: e.user.clone(),
                    agent: e.agent.clone(),
                })
                .collect(),
            user_profile: {
                let mut p = serde_json::Map::new();
                p.insert("location".into(), cfg.user_location.clone().into());
                p.insert("preferences".into(), cfg.user_preferences.clone().into());
                p
            },
        },
        constraints: nats::Constraints {
            max_tokens: cfg.brain.max_tokens as u64,
            temperature: cfg.brain.temperature,
            timeout_ms: cfg.brain.timeout_ms,
        },
    })
}

#[allow(clippy::too_many_arguments)]
pub fn brain_response(
    cfg: &SessionConfig,
    request_id: &str,
    trace_id: &str,
    turn: u64,
    text: &str,
    model: &str,
    tokens: u64,
    llm_latency_ms: u64,
    first_token_ms: Option<u64>,
    tools_called: &[String],
) -> Event {
    Event::BrainResponse(nats::BrainResponse {
        request_id: request_id.into(),
        timestamp: Utc::now(),
        trace_id: trace_id.into(),
        user_id: cfg.user_id.clone(),
        session_id: cfg.session_id.clone(),
        conversation_id: cfg.conversation_id.clone(),
        turn_index: turn,
        agent_response: text.into(),
        metadata: nats::BrainResponseMetadata {
            llm_model: model.into(),
            tokens_used: tokens,
            reasoning_steps: 1 + tools_called.len() as u64,
            tools_called: tools_called.to_vec(),
            confidence_score: 1.0,
        },
        performance: nats::BrainPerformance {
            llm_latency_ms,
            total_processing_ms: llm_latency_ms,
            time_to_first_token_ms: first_token_ms,
        },
    })
}

/// Which tool call of which turn (the fields `agent.brain.tool.*` share).
pub struct ToolCallRef<'a> {
    pub request_id: &'a str,
    pub trace_id: &'a str,
    pub turn: u64,
    pub call_id: &'a str,
    pub tool: &'a str,
}

pub fn tool_call(cfg: &SessionConfig, c: &ToolCallRef<'_>, arguments: &str) -> Event {
    Event::ToolCall(nats::ToolCall {
        request_id: c.request_id.into(),
        timestamp: Utc::now(),
        trace_id: c.trace_id.into(),
        session_id: cfg.session_id.clone(),
        conversation_id: cfg.conversation_id.clone(),
        turn_index: c.turn,
        call_id: c.call_id.into(),
        tool: c.tool.into(),
        arguments: arguments.into(),
    })
}

pub fn tool_result(
    cfg: &SessionConfig,
    c: &ToolCallRef<'_>,
    outcome: &str,
    result: &str,
    latency_ms: u64,
) -> Event {
    Event::ToolResult(nats::ToolResult {
        request_id: c.request_id.into(),
        timestamp: Utc::now(),
        trace_id: c.trace_id.into(),
        session_id: cfg.session_id.clone(),
        conversation_id: cfg.conversation_id.clone(),
        turn_index: c.turn,
        call_id: c.call_id.into(),
        tool: c.tool.into(),
        outcome: outcome.into(),
        result: result.into(),
        latency_ms,
    })
}

pub fn brain_error(
    request_id: &str,
    trace_id: &str,
    error_type: &str,
    message: &str,
    retry_count: u64,
    fallback: &str,
) -> Event {
    Event::BrainError(nats::BrainError {
        request_id: request_id.into(),
        timestamp: Utc::now(),
        trace_id: trace_id.into(),
        error_type: error_type.into(),
        error_message: message.into(),
        retry_count,
        fallback_response: Some(fallback.into()),
    })
}

pub fn tts_request(
    cfg: &SessionConfig,
    request_id: &str,
    trace_id: &str,
    text: &str,
    voice_id: &str,
) -> Event {
    Event::TtsRequest(nats::TtsRequest {
        request_id: request_id.into(),
        timestamp: Utc::now(),
        trace_id: trace_id.into(),
        text: text.into(),
        voice_id: voice_id.into(),
        session_id: cfg.session_id.clone(),
        target_room: cfg.room_name.clone(),
        constraints: nats::TtsConstraints {
            max_latency_ms: cfg.tts.max_latency_ms,
            format: cfg.tts.format.clone(),
            sample_rate: cfg.tts.sample_rate,
        },
    })
}

pub fn tts_completed(
    cfg: &SessionConfig,
    request_id: &str,
    trace_id: &str,
    duration_ms: u64,
    synthesis_latency_ms: u64,
) -> Event {
    Event::TtsCompleted(nats::TtsCompleted {
        request_id: request_id.into(),
        timestamp: Utc::now(),
        trace_id: trace_id.into(),
        audio_track_sid: cfg.agent_track_sid.clone(),
        duration_ms,
        synthesis_latency_ms,
        audio_format: cfg.tts.format.clone(),
        ready_for_playback: true,
    })
}

/// Everything known about one finished turn.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnFacts {
    pub turn: u64,
    pub trace_id: String,
    pub user_text: String,
    pub audio_ms: u64,
    pub stt_model: String,
    pub stt_confidence: f64,
    pub stt_latency_ms: u64,
    pub agent_text: String,
    pub llm_model: String,
    pub llm_tokens: u64,
    pub llm_latency_ms: u64,
    pub tts_model: String,
    pub tts_audio_ms: u64,
    pub tts_latency_ms: u64,
    pub previous_turns: u64,
    pub context_tokens: u64,
    pub tools: Vec<String>,
    /// End of user speech → first agent audio out.
    pub total_latency_ms: u64,
    pub network_overhead_ms: u64,
    pub interrupted: bool,
}

/// conversation-v1 for one turn.
pub fn conversation(cfg: &SessionConfig, t: &TurnFacts) -> Event {
    Event::Conversation(Box::new(pulsar::Conversation {
        schema: pulsar::Conversation::SCHEMA.into(),
        message_id: new_message_id(),
        timestamp: Utc::now(),
        event_type: pulsar::Conversation::TURN_COMPLETED.into(),
        conversation: pulsar::ConversationInfo {
            id: cfg.conversation_id.clone(),
            session_id: cfg.session_id.clone(),
            user_id: cfg.user_id.clone(),
            agent_id: cfg.agent_id.clone(),
            turn_index: t.turn,
        },
        user_message: pulsar::UserMessage {
            text: t.user_text.clone(),
            audio_duration_ms: t.audio_ms,
            stt_model: t.stt_model.clone(),
            stt_confidence: t.stt_confidence,
            stt_latency_ms: t.stt_latency_ms,
        },
        agent_response: pulsar::AgentResponse {
            text: t.agent_text.clone(),
            llm_model: t.llm_model.clone(),
            llm_tokens_used: t.llm_tokens,
            llm_latency_ms: t.llm_latency_ms,
            tts_model: t.tts_model.clone(),
            tts_audio_duration_ms: t.tts_audio_ms,
            tts_latency_ms: t.tts_latency_ms,
        },
        context: pulsar::ConversationContext {
            previous_turn_count: t.previous_turns,
            context_tokens_used: t.context_tokens,
            tools_invoked: t.tools.clone(),
            embedding_vector_id: None,
        },
        performance: pulsar::TurnPerformance {
            total_latency_ms: t.total_latency_ms,
            stt_latency_ms: t.stt_latency_ms,
            llm_latency_ms: t.llm_latency_ms,
            tts_latency_ms: t.tts_latency_ms,
            network_overhead_ms: t.network_overhead_ms,
        },
        metadata: pulsar::ConversationMetadata {
            room_name: cfg.room_name.clone(),
            participant_sid: cfg.participant_sid.clone(),
            trace_id: t.trace_id.clone(),
            environment: cfg.environment.clone(),
            region: cfg.region.clone(),
            interrupted: t.interrupted,
        },
    }))
}

/// What a piece of user data access was.
#[derive(Debug, Clone, PartialEq)]
pub struct DataAccess<'a> {
    /// compliance-audit-v1 `event_type`, e.g. "user_data_accessed".
    pub event_type: &'a str,
    /// "read" or "write".
    pub operation: &'a str,
    pub resource: &'a str,
    pub reason: &'a str,
    pub tables: &'a [&'a str],
    pub row_count: u64,
    pub columns: &'a [&'a str],
    pub pii_fields: &'a [&'a str],
}

/// An `audit/compliance-events` record: who touched whose data, and why.
pub fn audit(
    id: &ServiceIdentity,
    cfg: &SessionConfig,
    access: &DataAccess<'_>,
    trace_id: &str,
) -> Event {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Event::ComplianceAudit(pulsar::ComplianceAudit {
        schema: pulsar::ComplianceAudit::SCHEMA.into(),
        message_id: new_message_id(),
        timestamp: Utc::now(),
        event_type: access.event_type.into(),
        actor: pulsar::AuditActor {
            kind: "service".into(),
            service_name: id.service_name.clone(),
            instance_id: id.instance_id.clone(),
            authenticated_as: format!("{}-service-account", id.service_name),
        },
        action: pulsar::AuditAction {
            kind: if access.operation == "read" {
                "data_access".into()
            } else {
                "data_write".into()
            },
            operation: access.operation.into(),
            resource: access.resource.into(),
            resource_id: cfg.user_id.clone(),
            reason: access.reason.into(),
        },
        data_accessed: Some(pulsar::DataAccessed {
            tables: strings(access.tables),
            row_count: access.row_count,
            columns: strings(access.columns),
            pii_fields: strings(access.pii_fields),
        }),
        compliance: pulsar::ComplianceInfo {
            legal_basis: cfg.audit.legal_basis.clone(),
            data_retention_policy: cfg.audit.data_retention_policy.clone(),
            encryption: cfg.audit.encryption.clone(),
            anonymization: cfg.audit.anonymization,
        },
        context: pulsar::AuditContext {
            trace_id: trace_id.into(),
            user_consent_id: cfg.audit.user_consent_id.clone(),
            session_id: cfg.session_id.clone(),
        },
    })
}

/// A session's facts at its end.
#[derive(Debug, Clone)]
pub(crate) struct SessionFacts {
    pub(crate) config: SessionConfig,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) ended_at: DateTime<Utc>,
    pub(crate) duration_seconds: u64,
    pub(crate) stats: crate::session::SessionStats,
}

/// The value at percentile `p` (0..=100) by nearest rank; 0 for no data.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn avg(v: &[u64]) -> u64 {
    if v.is_empty() {
        0
    } else {
        v.iter().sum::<u64>() / v.len() as u64
    }
}

/// session-metrics-v1 at the end of a session.
pub(crate) fn session_metrics(f: &SessionFacts) -> Event {
    let s = &f.stats;
    let cfg = &f.config;
    let mut lat = s.latencies_ms.clone();
    lat.sort_unstable();
    let within = lat.iter().filter(|l| **l <= cfg.target_latency_ms).count();
    let sla = if lat.is_empty() {
        100.0
    } else {
        (within as f64 * 1000.0 / lat.len() as f64).round() / 10.0
    };
    let messages = s.user_messages + s.agent_messages;
    let quality = if sla >= 95.0 {
        "excellent"
    } else if sla >= 80.0 {
        "good"
    } else {
        "poor"
    };
    Event::SessionMetrics(Box::new(pulsar::SessionMetrics {
        schema: pulsar::SessionMetrics::SCHEMA.into(),
        message_id: new_message_id(),
        timestamp: f.ended_at,
        trace_id: String::new(),
        event_type: pulsar::SessionMetrics::SESSION_ENDED.into(),
        session: pulsar::SessionInfo {
            id: cfg.session_id.clone(),
            user_id: cfg.user_id.clone(),
            agent_id: cfg.agent_id.clone(),
            room_name: cfg.room_name.clone(),
            room_sid: cfg.room_sid.clone(),
            started_at: f.started_at,
            ended_at: f.ended_at,
            duration_seconds: f.duration_seconds,
        },
        conversation_stats: pulsar::ConversationStats {
            total_turns: s.turns,
            user_messages: s.user_messages,
            agent_messages: s.agent_messages,
            avg_turn_length_words: s.words.checked_div(messages).unwrap_or(0),
            total_tokens_used: s.tokens,
        },
        performance_metrics: pulsar::PerformanceMetrics {
            avg_latency_ms: avg(&lat),
            p50_latency_ms: percentile(&lat, 50.0),
            p95_latency_ms: percentile(&lat, 95.0),
            p99_latency_ms: percentile(&lat, 99.0),
            max_latency_ms: lat.last().copied().unwrap_or(0),
            avg_stt_latency_ms: avg(&s.stt_ms),
            avg_llm_latency_ms: avg(&s.llm_ms),
            avg_tts_latency_ms: avg(&s.tts_ms),
            sla_compliance_percent: sla,
            target_latency_ms: cfg.target_latency_ms,
        },
        connection_quality: pulsar::ConnectionQuality {
            avg_packet_loss_percent: 0.0,
            avg_jitter_ms: 0,
            connection_type: cfg.connection_type.clone(),
            reconnect_count: 0,
            quality_rating: quality.into(),
        },
        resource_usage: pulsar::SessionResourceUsage {
            total_audio_bytes: s.audio_bytes,
            total_llm_tokens: s.tokens,
            api_calls: pulsar::ApiCalls {
                stt: s.stt_calls,
                llm: s.llm_calls,
                tts: s.tts_calls,
                tools: Default::default(),
            },
        },
        user_experience: pulsar::UserExperience {
            interruptions: s.interruptions,
            silence_gaps_ms: s.silence_gaps_ms.clone(),
            user_satisfaction_score: 0.0,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 95.0), 95);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(percentile(&[7], 99.0), 7);
    }

    #[test]
    fn lifecycle_pairs() {
        let id = ServiceIdentity::local("arc-agent");
        let e = lifecycle(
            &id,
            "arc-agent/brain",
            LifecycleChange::Crashed,
            "boom",
            "t",
        );
        match e {
            Event::AgentLifecycle(l) => {
                assert_eq!(l.event_type, "service_crashed");
                assert_eq!(l.service.name, "arc-agent/brain");
                assert_eq!(l.event_details.current_state, "crashed");
            }
            _ => panic!("wrong event"),
        }
    }
}
