//! One conversation: a [`SessionSupervisor`] and its five children.
//!
//! Children find each other through the session's shared routing table, so a
//! child restarted after a crash is reachable again at once; the conversation
//! history also lives in the shared state, so a restarted Brain goes on where
//! the old one stopped.

mod archiver;
mod brain;
mod config;
mod messages;
mod shared;
mod stt;
mod supervisor;
mod transport;
mod tts;

pub(crate) use archiver::SessionStats;
pub use config::{AuditConfig, BargeInConfig, BrainConfig, SessionConfig, SttConfig, TtsConfig};
pub use messages::{AudioOutput, SessionNotice, SessionSummary};
pub use supervisor::{SessionArgs, SessionHandle, SessionMsg, SessionSupervisor};

/// The children of a session, by role. Also the `service.name` suffix of their
/// lifecycle events (`arc-agent/brain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildKind {
    Transport,
    Stt,
    Brain,
    Tts,
    Archiver,
}

impl ChildKind {
    pub const ALL: [ChildKind; 5] = [
        ChildKind::Archiver,
        ChildKind::Transport,
        ChildKind::Tts,
        ChildKind::Brain,
        ChildKind::Stt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChildKind::Transport => "transport",
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
