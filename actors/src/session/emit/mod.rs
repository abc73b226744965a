//! Builders of the events one conversation emits: the one place that knows how
//! a session's facts map onto the seeds' payloads. The session's actors call
//! them; they use only the session's configuration and totals
//! ([`SessionConfig`](super::SessionConfig), `stats.rs`), never an actor. The
//! node's own events (lifecycle, service errors) are built in [`crate::emit`].
//!
//! - `nats.rs`: session started/ended; per turn brain, tool and TTS events.
//! - `conversation.rs`: conversation-v1 for one finished turn ([`TurnFacts`]).
//! - `audit.rs`: compliance-audit-v1 records ([`DataAccess`]).
//! - `metrics.rs`: session-metrics-v1 at the end, and [`percentile`].

mod audit;
mod conversation;
mod metrics;
mod nats;

pub use audit::{audit, DataAccess};
pub use conversation::{conversation, TurnFacts};
pub use metrics::percentile;
pub(crate) use metrics::{session_metrics, SessionFacts};
pub use nats::{
    brain_error, brain_request, brain_response, session_ended, session_started, tool_call,
    tool_result, tts_completed, tts_request, ToolCallRef,
};
