//! Messages between a session's actors, what the session tells its transport
//! (the [`AudioOutput`] side), and the vocabulary they share ([`ChildKind`],
//! [`EndReason`]). Depends on nothing else of the session: every file of the
//! folder may use it.

use crate::pcm16::Pcm16Frame;
use chrono::{DateTime, Utc};
use ractor::RpcReplyPort;
use std::time::Instant;

/// What the session tells the transport besides audio (a browser shows these).
#[derive(Debug, Clone, PartialEq)]
pub enum SessionNotice {
    SpeechStarted,
    PartialTranscript {
        turn: u64,
        text: String,
    },
    FinalTranscript {
        turn: u64,
        text: String,
    },
    AgentSentence {
        turn: u64,
        text: String,
    },
    /// The agent has finished (or abandoned) its reply to `turn`.
    AgentTurnDone {
        turn: u64,
        interrupted: bool,
    },
    BargeIn {
        turn: u64,
    },
    Ended {
        reason: String,
    },
}

/// The transport side of a session: where agent audio and notices go.
/// Implementations must not block (queue and return).
pub trait AudioOutput: Send + Sync {
    /// One frame of the agent's reply, at 16 bits (what transports send).
    fn play(&self, turn: u64, frame: Pcm16Frame);
    /// Drop queued, not yet played audio (barge-in).
    fn flush(&self);
    fn notice(&self, notice: SessionNotice);
}

/// Totals of a finished session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionSummary {
    pub turns: u64,
    pub interruptions: u64,
    pub total_tokens: u64,
    pub duration_seconds: u64,
}

/// What the outside world (and a child ending the call) tells a session.
pub enum SessionMsg {
    /// End the session (user left, room ended, node draining …).
    End(EndReason),
    /// Operator/chaos tool: make one child panic, to exercise supervision.
    InjectFault(ChildKind),
    /// Operator/chaos tool: make the session supervisor itself panic (the node
    /// must report the session as crashed and go on).
    Crash,
}

/// The children of a session, by role. [`ChildKind::as_str`] is also the
/// `service.name` suffix of their lifecycle events (`arc-agent/brain`) and the
/// name the HTTP fault-injection route takes: an external contract. The
/// Playout keeps its historical name there, `transport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildKind {
    /// Plays the agent's audio out (`transport` in events and routes).
    Playout,
    Stt,
    Brain,
    Tts,
    Archiver,
}

impl ChildKind {
    /// Every child, in start order.
    pub const ALL: [ChildKind; 5] = [
        ChildKind::Archiver,
        ChildKind::Playout,
        ChildKind::Tts,
        ChildKind::Brain,
        ChildKind::Stt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChildKind::Playout => "transport",
            ChildKind::Stt => "stt",
            ChildKind::Brain => "brain",
            ChildKind::Tts => "tts",
            ChildKind::Archiver => "archiver",
        }
    }

    pub fn parse(s: &str) -> Option<ChildKind> {
        ChildKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Why a session ended (the seed's `reason` of `agent.voice.session.ended`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    UserLeft,
    Timeout,
    NodeShutdown,
    RoomEnded,
    Error(String),
    Other(String),
}

impl EndReason {
    pub fn as_str(&self) -> &str {
        match self {
            EndReason::UserLeft => "user_left",
            EndReason::Timeout => "timeout",
            EndReason::NodeShutdown => "node_shutdown",
            EndReason::RoomEnded => "room_ended",
            EndReason::Error(_) => "error",
            EndReason::Other(s) => s,
        }
    }

    /// The seed's `final_status`.
    pub fn final_status(&self) -> &'static str {
        match self {
            EndReason::Error(_) => "failed",
            EndReason::NodeShutdown => "interrupted",
            _ => "completed",
        }
    }
}

/// A user utterance turned into text, on its way to the Brain.
#[derive(Debug, Clone)]
pub(crate) struct UserTurn {
    pub(crate) turn: u64,
    pub(crate) trace_id: String,
    pub(crate) text: String,
    /// The turn's root span (its trace id is `trace_id`).
    pub(crate) span: tracing::Span,
}

#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub(crate) turn: u64,
    pub(crate) trace_id: String,
    pub(crate) text: String,
    pub(crate) audio_ms: u64,
    pub(crate) stt_latency_ms: u64,
    pub(crate) stt_model: String,
    pub(crate) confidence: f64,
    /// End of the user's speech: the start of the voice-to-voice latency.
    pub(crate) eos_at: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct AgentRecord {
    pub(crate) turn: u64,
    pub(crate) text: String,
    pub(crate) llm_model: String,
    pub(crate) tokens: u64,
    pub(crate) llm_latency_ms: u64,
    /// Time from the request to the first sentence handed to TTS.
    pub(crate) first_sentence_ms: u64,
    pub(crate) context_tokens: u64,
    pub(crate) previous_turns: u64,
    pub(crate) tools: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct SpokenRecord {
    pub(crate) turn: u64,
    pub(crate) audio_ms: u64,
    /// Request of the first sentence → its first audio chunk.
    pub(crate) tts_latency_ms: u64,
    pub(crate) tts_model: String,
    pub(crate) requests: u64,
    pub(crate) interrupted: bool,
}

pub(crate) enum PlayoutMsg {
    Play {
        turn: u64,
        /// At 16 bits from the moment the Tts has it: it waits here for the
        /// speaker (up to `tts.max_ahead_ms` of it a session).
        frame: Pcm16Frame,
    },
    /// The frames that follow (until the next one) speak this sentence.
    Sentence {
        turn: u64,
        text: String,
    },
    /// Tts has sent all of `turn`'s audio (or abandoned it).
    TurnEnd {
        turn: u64,
        interrupted: bool,
    },
    /// Barge-in confirmed: drop every frame of turns up to `turn` not yet played.
    Flush {
        turn: u64,
    },
    /// The user may be talking: hold the agent's audio (it may resume).
    Pause,
    /// A false interruption: go on from where the audio paused.
    Resume,
    /// Release the next frame (paced playout).
    Tick,
    /// This Playout now has the route (sent once, after the swap): the turns
    /// whose end reached the Playout before it, or went to its mailbox, are
    /// over; it ends them.
    TakeOver,
    Notice(SessionNotice),
    Fault,
}

pub(crate) enum SttMsg {
    /// Frames arrived in the session's queue (told once until taken).
    FramesReady,
    Partial {
        seq: u64,
        text: String,
    },
    Final {
        turn: u64,
        trace_id: String,
        result: Result<crate::engine::Transcript, crate::engine::EngineError>,
        audio_ms: u64,
        eos_at: Instant,
        latency_ms: u64,
        span: tracing::Span,
    },
    /// The false-interruption window after barge-in `id` has passed.
    BargeInWindow {
        id: u64,
    },
    /// The turn engine's answer for pause `pause` (the probability that the
    /// turn is complete).
    TurnVerdict {
        pause: u64,
        result: Result<f32, crate::engine::EngineError>,
    },
    /// The speculative final's transcript for pause `pause` (None: it failed).
    SpeculativeText {
        pause: u64,
        heard: Option<crate::engine::Transcript>,
    },
    Fault,
}

pub(crate) struct LlmOutcome {
    pub(crate) turn: u64,
    pub(crate) trace_id: String,
    pub(crate) request_id: String,
    pub(crate) user_text: String,
    /// Everything handed to TTS.
    pub(crate) spoken: String,
    pub(crate) sentences: u64,
    pub(crate) first_sentence_ms: Option<u64>,
    /// Request to the first token of the reply.
    pub(crate) first_token_ms: Option<u64>,
    pub(crate) latency_ms: u64,
    pub(crate) result: Result<crate::engine::LlmUsage, crate::engine::EngineError>,
    pub(crate) context_tokens: u64,
    pub(crate) previous_turns: u64,
    pub(crate) span: tracing::Span,
    /// Names of the tools called in this turn, in order.
    pub(crate) tools: Vec<String>,
}

pub(crate) enum BrainMsg {
    UserTurn(UserTurn),
    Finished(Box<LlmOutcome>),
    /// The user spoke over the agent.
    BargeIn,
    /// A restarted Brain answers the turn its predecessor died on.
    Recover(UserTurn),
    /// The summary of the oldest turns (see [`crate::summary`]) is in, or failed.
    Summarized(Result<String, String>),
    Fault,
}

pub(crate) enum TtsMsg {
    Speak {
        turn: u64,
        trace_id: String,
        text: String,
        span: tracing::Span,
    },
    EndOfTurn {
        turn: u64,
    },
    SynthDone {
        /// Which synthesis (see `tts_book.rs`).
        job: u64,
        turn: u64,
        audio_ms: u64,
        first_chunk_ms: Option<u64>,
        cancelled: bool,
    },
    Cancel,
    Fault,
}

pub(crate) enum ArchiverMsg {
    /// A part of this turn's record arrived (in the shared state: see
    /// `turn_parts.rs`): archive the turn if it is complete.
    Turn(u64),
    Finish(DateTime<Utc>, RpcReplyPort<SessionSummary>),
    Fault,
}
