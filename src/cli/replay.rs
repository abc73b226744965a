//! `arc-agent replay`: a finished conversation read back from the durable
//! log (conversation-v1 and session-metrics-v1 on Pulsar), turn by turn with
//! its timings, each turn once (a message delivered twice is one turn) and
//! in order; a turn index with no record is reported as missing.

use crate::config::Config;
use crate::consumers::{read_log, ConsumeError};
use arc_actors::events::pulsar::{Conversation, SessionMetrics};
use arc_actors::events::{Event, PulsarTopic};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;
use std::time::Duration;

/// Which conversations to print (all given filters must match).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReplayFilter {
    /// The session's id.
    #[arg(long)]
    pub session: Option<String>,
    /// The conversation's id (`conversation.id`).
    #[arg(long)]
    pub conversation: Option<String>,
    /// Only turns at or after this time (RFC 3339, e.g. 2026-12-02T13:00:00Z).
    #[arg(long)]
    pub since: Option<DateTime<Utc>>,
}

impl ReplayFilter {
    fn wants(&self, c: &Conversation) -> bool {
        self.session
            .as_ref()
            .is_none_or(|s| *s == c.conversation.session_id)
            && self
                .conversation
                .as_ref()
                .is_none_or(|id| *id == c.conversation.id)
            && self.since.is_none_or(|t| c.timestamp >= t)
    }

    fn is_empty(&self) -> bool {
        self.session.is_none() && self.conversation.is_none() && self.since.is_none()
    }
}

/// Why nothing could be printed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("give --session, --conversation or --since")]
    NoFilter,
    #[error(transparent)]
    Log(#[from] ConsumeError),
    #[error("no conversation turn in the log matches {0}")]
    NothingFound(String),
}

/// Reads the log at `cfg.pulsar.url` and renders the matching conversations.
pub async fn run(cfg: &Config, filter: &ReplayFilter) -> Result<String, ReplayError> {
    if filter.is_empty() {
        return Err(ReplayError::NoFilter);
    }
    let records = read_log(
        &cfg.pulsar,
        &[PulsarTopic::Conversation, PulsarTopic::SessionMetrics],
        Duration::from_millis(1500),
        Duration::from_secs(120),
    )
    .await?;
    let mut turns = Vec::new();
    let mut ends = Vec::new();
    for r in records {
        match r.event {
            Event::Conversation(c) if filter.wants(&c) => turns.push(*c),
            Event::SessionMetrics(m) => ends.push(*m),
            _ => {}
        }
    }
    if turns.is_empty() {
        return Err(ReplayError::NothingFound(format!("{filter:?}")));
    }
    Ok(render(turns, &ends))
}

/// The text of the conversations in `turns`, one block per session.
pub fn render(turns: Vec<Conversation>, ends: &[SessionMetrics]) -> String {
    let mut seen = HashSet::new();
    let mut by_session: BTreeMap<String, BTreeMap<u64, Conversation>> = BTreeMap::new();
    for c in turns {
        if seen.insert(c.message_id.clone()) {
            by_session
                .entry(c.conversation.session_id.clone())
                .or_default()
                .insert(c.conversation.turn_index, c);
        }
    }
    let mut out = String::new();
    for (session, turns) in &by_session {
        let Some(first) = turns.values().next() else {
            continue;
        };
        let c = &first.conversation;
        let _ = writeln!(
            out,
            "session {session}  conversation {}  user {}  agent {}  room {}",
            c.id, c.user_id, c.agent_id, first.metadata.room_name
        );
        let end = ends.iter().find(|m| m.session.id == *session);
        if let Some(m) = end {
            let _ = writeln!(
                out,
                "  {} → {}  ({} s, {} turns, latency avg {} ms p95 {} ms)",
                iso(m.session.started_at),
                iso(m.session.ended_at),
                m.session.duration_seconds,
                m.conversation_stats.total_turns,
                m.performance_metrics.avg_latency_ms,
                m.performance_metrics.p95_latency_ms
            );
        }
        let last = turns.keys().next_back().copied().unwrap_or(0);
        let expected = end.map_or(last, |m| m.conversation_stats.total_turns.max(last));
        for index in 1..=expected {
            let Some(t) = turns.get(&index) else {
                let _ = writeln!(
                    out,
                    "turn {index}  MISSING: no record of this turn in the log"
                );
                continue;
            };
            let p = &t.performance;
            let _ = writeln!(
                out,
                "turn {index}  {}  voice-to-voice {} ms (stt {} ms, llm {} ms, tts {} ms, other {} ms){}",
                iso(t.timestamp),
                p.total_latency_ms,
                p.stt_latency_ms,
                p.llm_latency_ms,
                p.tts_latency_ms,
                p.network_overhead_ms,
                if t.metadata.interrupted { "  [interrupted]" } else { "" }
            );
            let u = &t.user_message;
            let _ = writeln!(
                out,
                "  user:  {:?}  ({} ms of speech, {}, confidence {:.2})",
                u.text, u.audio_duration_ms, u.stt_model, u.stt_confidence
            );
            let a = &t.agent_response;
            let tools = if t.context.tools_invoked.is_empty() {
                String::new()
            } else {
                format!(", tools {}", t.context.tools_invoked.join(", "))
            };
            let _ = writeln!(
                out,
                "  agent: {:?}  ({}, {} tokens; {}, {} ms of audio{tools})",
                a.text, a.llm_model, a.llm_tokens_used, a.tts_model, a.tts_audio_duration_ms
            );
        }
    }
    out
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
