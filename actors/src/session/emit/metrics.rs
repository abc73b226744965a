//! session-metrics-v1: a session's aggregates at its end, and the percentile
//! they use.

use super::super::config::SessionConfig;
use super::super::stats::SessionStats;
use crate::events::{new_message_id, pulsar, Event};
use chrono::{DateTime, Utc};

/// A session's facts at its end.
#[derive(Debug, Clone)]
pub(crate) struct SessionFacts {
    pub(crate) config: std::sync::Arc<SessionConfig>,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) ended_at: DateTime<Utc>,
    pub(crate) duration_seconds: u64,
    pub(crate) stats: SessionStats,
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
            // Not measured by the node: null, not a made-up 0.
            avg_packet_loss_percent: None,
            avg_jitter_ms: None,
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
            user_satisfaction_score: None,
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
}
