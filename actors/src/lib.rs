//! # arc-actors: the orchestration core of ARC
//!
//! One conversation is one supervised actor tree (ractor on tokio):
//!
//! ```text
//! NodeSupervisor
//! └── SessionSupervisor (one per conversation)
//!     ├── Playout     agent audio out to the transport; first-audio timing; playout clock
//!     ├── Stt         VAD + endpointing + transcription → partial/final transcripts
//!     ├── Brain       context, streaming LLM, sentence chunking, timeout → fallback
//!     ├── Tts         sentence → audio chunks, streamed, cancellable
//!     └── Archiver    conversation-v1 per turn, session-metrics at the end
//! ```
//!
//! The transports (browser socket, LiveKit room, file) are not here: they
//! live in the root crate's `src/transports/`. A transport pushes incoming
//! audio straight into the session's [`audio::FrameQueue`] (the Stt reads it)
//! and implements [`session::AudioOutput`] for the audio the Playout plays.
//!
//! The latency-critical loop (FrameQueue → Stt → Brain → Tts → Playout) is
//! in-process messages only. Every actor emits typed [`events::Event`]s into one
//! bounded, non-blocking [`sink::EventSink`]; the node (crate `arc-agent`) mirrors
//! them to NATS and Pulsar. This crate depends on no broker, HTTP or model crate:
//! engines come in through the traits of [`engine`], so the whole tree can be
//! tested with the [`synthetic`] engines and an in-memory sink.
//!
//! Module map (lower modules never use higher ones):
//! - [`events`]: the wire types of the seeds (NATS subjects, Pulsar topics),
//!   generated from one table of events; the [`events::Event`] envelope.
//! - [`ids`], [`telemetry`]: ids (trace, session, request) and tracing spans.
//! - [`audio`]: audio frames and the bounded frame queue (backpressure).
//! - [`pcm16`]: 16-bit audio: the frame agent audio travels in to the transport.
//! - [`engine`]: the Vad, Stt, Llm and Tts traits (streaming, cancellable).
//! - [`endpoint`]: the endpointing rules every VAD applies (speech start/end).
//! - [`tools`]: the built-in tools offered to the model.
//! - [`histogram`]: durations counted in atomics, for process-wide metrics.
//! - [`turn_stats`]: why turns ended and how fast, for the node's metrics.
//! - [`playout_gaps`]: silences inside the agent's speech, and why.
//! - [`dangling`]: does a transcript stop mid-sentence ("a table for")?
//! - [`facts`]: what the caller stated (names, numbers), kept word for word.
//! - [`context`]: the rolling conversation history that survives a Brain restart.
//! - [`summary`]: the oldest turns of a long call folded into a summary by the LLM.
//! - [`sentence`]: cutting a token stream into speakable sentences.
//! - [`redact`]: PII masking of event texts before they leave the node.
//! - [`sink`]: the bounded event sink and its fan-out to mirror queues.
//! - [`emit`]: the node's own events (identity, lifecycle, service errors).
//! - [`session`]: the per-conversation supervisor, its five children and the
//!   builders of a conversation's events ([`session::emit`]).
//! - [`node`]: the node supervisor that owns every session.
//! - [`sparse`]: tables a burst grew, given back once mostly empty.
//! - [`synthetic`]: zero-cost engines and a simulated caller, for load, the
//!   scripted-session API, tests and benches.
#![deny(unreachable_pub)]

pub mod audio;
pub mod context;
pub mod dangling;
pub mod emit;
pub mod endpoint;
pub mod engine;
pub mod events;
pub mod facts;
pub mod histogram;
pub mod ids;
pub mod node;
pub mod pcm16;
pub mod playout_gaps;
pub mod redact;
pub mod sentence;
pub mod session;
pub mod sink;
pub mod sparse;
pub mod summary;
pub mod synthetic;
pub mod telemetry;
pub mod tools;
pub mod turn_stats;
