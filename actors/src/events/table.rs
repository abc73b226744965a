//! The event table: every event ARC knows, listed once. It generates
//! [`Event`] (the envelope), [`PulsarTopic`], their per-variant methods, the
//! payloads' `SUBJECT` / `TOPIC` constants and the `From` conversions (see
//! `generate.rs`).
//!
//! Adding an event is one entry here plus its payload type in `nats.rs` or
//! `pulsar.rs`. An entry reads:
//!
//! - NATS: `Variant(payload type) = "kind", subject "nats.subject";`
//! - Pulsar: `Variant(payload type[, boxed]) = "kind", topic TopicVariant
//!   "persistent://…", partitions N (0: not partitioned), config "key in
//!   pulsar.partitions", trace(e) <where the trace id is>, key(e) <the
//!   partition key>;`
//!
//! `kind` is the stable label of metrics and logs, and the tag of the
//! envelope's own serde form. Subjects, topics and partitions follow the seeds
//! (`shared/seeds/001_*.txt` for NATS, `000_*.txt` for Pulsar).

use super::generate::{count, event_table, payload_from, payload_type};
use super::{nats, pulsar, DecodeError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

event_table! {
    nats_seed {
        TrackPublished(nats::TrackPublished) = "track_published", subject "agent.voice.track.published";
        TrackUnpublished(nats::TrackUnpublished) = "track_unpublished", subject "agent.voice.track.unpublished";
        SessionStarted(nats::SessionStarted) = "session_started", subject "agent.voice.session.started";
        SessionEnded(nats::SessionEnded) = "session_ended", subject "agent.voice.session.ended";
        BrainRequest(nats::BrainRequest) = "brain_request", subject "agent.brain.request";
        BrainResponse(nats::BrainResponse) = "brain_response", subject "agent.brain.response";
        BrainError(nats::BrainError) = "brain_error", subject "agent.brain.error";
        TtsRequest(nats::TtsRequest) = "tts_request", subject "agent.tts.request";
        TtsCompleted(nats::TtsCompleted) = "tts_completed", subject "agent.tts.completed";
        Heartbeat(nats::Heartbeat) = "heartbeat", subject "system.health.heartbeat";
        ServiceError(nats::ServiceError) = "service_error", subject "system.service.error";
    }
    nats_extension {
        ToolCall(nats::ToolCall) = "tool_call", subject "agent.brain.tool.call";
        ToolResult(nats::ToolResult) = "tool_result", subject "agent.brain.tool.result";
    }
    pulsar {
        Conversation(pulsar::Conversation, boxed) = "conversation",
            topic Conversation "persistent://arc/events/conversation",
            partitions 16, config "conversation",
            trace(e) &e.metadata.trace_id,
            key(e) Some(e.conversation.user_id.clone());
        AgentLifecycle(pulsar::AgentLifecycle) = "agent_lifecycle",
            topic AgentLifecycle "persistent://arc/events/agent-lifecycle",
            partitions 4, config "agent_lifecycle",
            trace(e) &e.trace_id,
            key(e) Some(e.service.name.clone());
        LivekitWebhook(pulsar::LivekitWebhook, boxed) = "livekit_webhook",
            topic LivekitWebhooks "persistent://arc/events/livekit-webhooks",
            partitions 0, config "livekit_webhooks",
            trace(e) &e.trace_id,
            key(e) e.webhook_payload.room.as_ref().map(|r| r.name.clone()).filter(|n| !n.is_empty());
        SessionMetrics(pulsar::SessionMetrics, boxed) = "session_metrics",
            topic SessionMetrics "persistent://arc/analytics/session-metrics",
            partitions 8, config "session_metrics",
            trace(e) &e.trace_id,
            key(e) Some(e.timestamp.format("%Y-%m-%d").to_string());
        AgentPerformance(pulsar::AgentPerformance) = "agent_performance",
            topic AgentPerformance "persistent://arc/analytics/agent-performance",
            partitions 0, config "agent_performance",
            trace(e) &e.trace_id,
            key(e) Some(e.agent_id.clone());
        ComplianceAudit(pulsar::ComplianceAudit) = "compliance_audit",
            topic ComplianceEvents "persistent://arc/audit/compliance-events",
            partitions 32, config "compliance_events",
            trace(e) &e.context.trace_id,
            key(e) Some(e.action.resource_id.clone());
    }
}
