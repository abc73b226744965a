//! One conversation: a [`SessionSupervisor`] and its five children.
//!
//! ```text
//! SessionSupervisor   supervisor.rs: starts, restarts and ends the children
//! ├── Playout         playout.rs: agent audio out to the transport; playout clock
//! ├── Stt             stt/: frames from the FrameQueue → VAD → turn end → transcripts
//! ├── Brain           brain/: context, streaming LLM, tools, sentences; summary.rs: a long call's summary
//! ├── Tts             tts.rs: sentences → audio chunks
//! └── Archiver        archiver.rs: conversation-v1 per turn, session-metrics
//! ```
//!
//! The transport itself (browser socket, LiveKit room, file) is not in this
//! crate: it lives in the root crate's `src/transports/`, implements
//! [`AudioOutput`] for what the Playout plays, and pushes incoming audio
//! straight into the session's [`FrameQueue`](crate::audio::FrameQueue),
//! which the Stt reads; no actor stands between them.
//!
//! Children find each other through the session's shared routing table, so a
//! child restarted after a crash is reachable again at once; the conversation
//! history also lives in the shared state, so a restarted Brain goes on where
//! the old one stopped; so do the parts of each turn's record
//! (`turn_parts.rs`, for the Archiver), the audio each turn queued and played
//! (`turn_audio.rs`, for the Playout), the utterance an Stt was hearing
//! when it died (`stt_carry.rs`), and the sentences a Tts still owed
//! (`tts_book.rs`).
//!
//! What may use what (no file uses one that uses it back):
//! - `config.rs`, `messages.rs`, `stats.rs`, `turn_audio.rs`, `turn_parts.rs`,
//!   `pcm16.rs`, `stt_carry.rs`, `tts_book.rs`: plain data, used by everything here; they use no other
//!   file of the session but `messages.rs`.
//! - [`emit`]: builds the session's events from `config` and `stats`.
//! - `pacer.rs`: the node's playout pacer (one timer for every speaking
//!   Playout; the node starts it); uses only `messages.rs`.
//! - `shared.rs`: the state the children share; uses only the plain data
//!   and the pacer.
//! - the five children use `shared`, `messages`, `emit` and the plain data,
//!   never each other (they talk through `shared`'s routes).
//! - `supervisor.rs` uses all of the above; nothing here uses it.

mod archiver;
mod brain;
mod children;
mod config;
pub mod emit;
mod messages;
mod pacer;
mod pcm16;
mod playout;
mod reply;
mod shared;
mod stats;
mod stt;
mod stt_carry;
mod supervisor;
mod tts;
mod tts_book;
mod tts_lead;
mod turn_audio;
mod turn_parts;

pub use config::{
    AuditConfig, BargeInConfig, BrainConfig, SessionConfig, SttConfig, TtsConfig, TurnConfig,
};
pub use messages::{AudioOutput, ChildKind, EndReason, SessionMsg, SessionNotice, SessionSummary};
pub(crate) use pacer::Pacer;
pub(crate) use supervisor::TotalsSlot;
pub use supervisor::{SessionArgs, SessionHandle, SessionSupervisor};
