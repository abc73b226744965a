//! The NATS events of a session: started and ended, and per turn the brain
//! request, response or error, the tool calls and results, the TTS requests
//! and completions.

use super::super::config::SessionConfig;
use crate::context::Exchange;
use crate::events::{nats, Event};
use chrono::Utc;

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
    session_id: &str,
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
        session_id: session_id.into(),
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
        session_id: cfg.session_id.clone(),
    })
}
