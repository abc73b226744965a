//! conversation-v1: the durable record of one finished turn.

use super::super::config::SessionConfig;
use crate::events::{new_message_id, pulsar, Event};
use chrono::Utc;

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
