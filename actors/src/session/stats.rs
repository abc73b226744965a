//! The running totals of a session: what the Archiver counts turn by turn
//! and session-metrics reports at the end. They live in the shared state, so
//! a restarted Archiver keeps counting.

use std::time::Instant;

/// Running totals of a session.
#[derive(Debug, Default, Clone)]
pub(crate) struct SessionStats {
    pub(crate) turns: u64,
    pub(crate) user_messages: u64,
    pub(crate) agent_messages: u64,
    pub(crate) words: u64,
    pub(crate) tokens: u64,
    pub(crate) latencies_ms: Vec<u64>,
    pub(crate) stt_ms: Vec<u64>,
    pub(crate) llm_ms: Vec<u64>,
    pub(crate) tts_ms: Vec<u64>,
    pub(crate) interruptions: u64,
    pub(crate) stt_calls: u64,
    pub(crate) llm_calls: u64,
    pub(crate) tts_calls: u64,
    pub(crate) audio_bytes: u64,
    pub(crate) silence_gaps_ms: Vec<u64>,
    /// When the last turn was archived (a silence gap runs from there).
    pub(crate) last_agent_done: Option<Instant>,
}
