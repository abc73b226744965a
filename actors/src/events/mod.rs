//! Wire types for every event ARC exchanges with the rest of the A.R.C. platform.
//!
//! These structs are **external contracts**: other services (Go and Python SDKs,
//! analytics pipelines, the compliance exporter) read and write the same JSON.
//! The seed documents are the source of truth:
//!
//! * `shared/seeds/001_*.txt`: NATS subjects and payloads ([`nats`]),
//! * `shared/seeds/000_*.txt`: Pulsar topics and payloads ([`pulsar`]).
//!
//! Field names, nesting, units and JSON key spelling follow the seeds exactly
//! (including camelCase keys inside the LiveKit webhook payload). The only
//! deliberate addition is a top-level `trace_id` (defaulting to `""` when
//! absent) on payloads whose seed example carries no trace id anywhere, so that
//! every event can be correlated in traces. `tests/seed_events.rs` parses the
//! seed examples at test time and checks that they round-trip, so a seed
//! change that is not mirrored here fails the build's tests.
//!
//! Conventions:
//! * timestamps are [`chrono::DateTime<Utc>`](chrono::DateTime), written as
//!   RFC 3339 with milliseconds and `Z` (see [`ts`]);
//! * `*_ms`, counts and byte sizes are `u64`; percents, scores, temperature
//!   and confidences are `f64`;
//! * enum-like strings (`event_type`, `status`, `severity`, ...) stay `String`
//!   so that a producer adding a new value never breaks our consumers; known
//!   seed values are exposed as associated `const`s.
//!
//! [`Event`] is the envelope the actors pass around; it knows its NATS subject
//! or Pulsar topic, partition key, trace id and timestamp.
//!
//! Files, and what may use what:
//! - `table.rs`: every event listed once (variant, payload, subject or topic,
//!   partitions, trace id and partition key); it generates [`Event`] and
//!   [`PulsarTopic`] through the macro of `generate.rs`. Adding an event is one
//!   entry there plus its payload type.
//! - [`nats`], [`pulsar`]: the payload types, one per subject / topic; they use
//!   only [`ts`] (and `pulsar` re-exports LiveKit's webhook JSON from
//!   `livekit.rs`). They never use the table.
//! - [`ts`]: the seeds' timestamp format (serde helpers).
//! - `error.rs`: [`DecodeError`].

mod error;
mod generate;
mod livekit;
pub mod nats;
pub mod pulsar;
mod table;
pub mod ts;

pub use error::DecodeError;
pub use pulsar::new_message_id;
pub use table::{Event, PulsarTopic};

/// The durable copy of every NATS-subject event (seed 001: "duplicate events
/// to Pulsar topics"): one partitioned topic keyed by session, the NATS
/// subject in the message property [`REALTIME_SUBJECT_PROPERTY`], the payload
/// the NATS payload byte for byte. Not a seed topic; ARC's default name.
pub const REALTIME_TOPIC: &str = "persistent://arc/events/realtime";
/// The message property holding the NATS subject on [`REALTIME_TOPIC`].
pub const REALTIME_SUBJECT_PROPERTY: &str = "subject";

impl Event {
    /// The session the event belongs to, where it names one.
    pub fn session_id(&self) -> Option<&str> {
        let id = match self {
            Event::TrackPublished(e) => &e.metadata.session_id,
            Event::TrackUnpublished(e) => &e.session_id,
            Event::SessionStarted(e) => &e.session_id,
            Event::SessionEnded(e) => &e.session_id,
            Event::BrainRequest(e) => &e.session_id,
            Event::BrainResponse(e) => &e.session_id,
            Event::BrainError(e) => &e.session_id,
            Event::TtsRequest(e) => &e.session_id,
            Event::TtsCompleted(e) => &e.session_id,
            Event::ToolCall(e) => &e.session_id,
            Event::ToolResult(e) => &e.session_id,
            Event::Conversation(e) => &e.conversation.session_id,
            Event::SessionMetrics(e) => &e.session.id,
            Event::Heartbeat(_)
            | Event::ServiceError(_)
            | Event::AgentLifecycle(_)
            | Event::LivekitWebhook(_)
            | Event::AgentPerformance(_)
            | Event::ComplianceAudit(_) => return None,
        };
        (!id.is_empty()).then_some(id.as_str())
    }
}

#[cfg(test)]
mod tests;
