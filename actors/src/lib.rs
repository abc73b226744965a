//! # arc-actors: the orchestration core of ARC
//!
//! One conversation is one supervised actor tree (ractor on tokio):
//!
//! ```text
//! NodeSupervisor
//! └── SessionSupervisor (one per conversation)
//!     ├── Transport   audio out to the room / file / socket; first-audio timing
//!     ├── Stt         VAD + endpointing + transcription → partial/final transcripts
//!     ├── Brain       context, streaming LLM, sentence chunking, timeout → fallback
//!     ├── Tts         sentence → audio chunks, streamed, cancellable
//!     └── Archiver    conversation-v1 per turn, session-metrics at the end
//! ```
//!
//! The latency-critical loop (Transport → Stt → Brain → Tts → Transport) is
//! in-process messages only. Every actor emits typed [`events::Event`]s into one
//! bounded, non-blocking [`sink::EventSink`]; the node (crate `arc-agent`) mirrors
//! them to NATS and Pulsar. This crate depends on no broker, HTTP or model crate:
//! engines come in through the traits of [`engine`], so the whole tree can be
//! tested with the [`synthetic`] engines and an in-memory sink.
//!
//! Module map:
//! - [`events`]: one serde type per NATS subject and Pulsar topic of the seeds.
//! - [`sink`]: the bounded event sink and its fan-out to mirror queues.
//! - [`engine`]: the Vad, Stt, Llm and Tts traits (streaming, cancellable).
//! - [`audio`]: audio frames and the bounded frame queue (backpressure).
//! - [`session`]: the per-conversation supervisor and its five children.
//! - [`node`]: the node supervisor that owns every session.
//! - [`sentence`]: cutting a token stream into speakable sentences.
//! - [`redact`]: PII masking of event texts before they leave the node.
//! - [`context`]: the rolling conversation history that survives a Brain restart.
//! - [`synthetic`]: zero-cost engines and a simulated caller, for load, the
//!   scripted-session API, tests and benches.
#![deny(unreachable_pub)]

pub mod audio;
pub mod context;
pub mod emit;
pub mod engine;
pub mod events;
pub mod ids;
pub mod node;
pub mod redact;
pub mod sentence;
pub mod session;
pub mod sink;
pub mod synthetic;
pub mod telemetry;
pub mod tools;
