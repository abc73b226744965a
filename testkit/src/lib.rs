//! # arc-testkit: what the tests and benches of every ARC crate share
//!
//! A workspace crate, never published, taken as a dev-dependency by the
//! root crate's tests and benches, by arc-actors' tests and by arc-models'
//! tests and benches (as nats.rs keeps its test server in a crate of its
//! own). It depends on arc-actors (and, with the `models` feature, on
//! arc-models; with the `node` feature, which only the root crate's own tests
//! turn on, on arc-agent). The node binary is the caller's
//! (`env!("CARGO_BIN_EXE_arc-agent")`). Each integration test keeps only what
//! it tests; the setup lives here, one idea per file:
//!
//! Processes and brokers
//! - [`wait`]: free ports, waiting for a port, polling until something holds.
//! - [`process`]: stopping a child (SIGTERM and a grace period, or SIGKILL).
//! - [`http`]: a minimal HTTP client; a value out of a metrics scrape.
//! - [`nats`]: the machine's shared NATS, and a private `nats-server`.
//! - [`pulsar`]: pulsar-lite brokers on their own port and data dir.
//! - [`tls`]: a CA and a server certificate a test makes with openssl.
//! - [`pulsar_gate`]: a real broker's TLS and token check in front of pulsar-lite.
//! - [`prometheus`]: a real Prometheus server and its HTTP API.
//! - [`node`]: [`node::TestNode`], the `arc-agent` binary as a child process,
//!   and the settings of a node under test ([`node::node_env`],
//!   [`node::speech_env`]).
//!
//! The Python witnesses (`python/*.py`, found by [`python::script`])
//! - [`python`]: where the helpers are, and running one.
//! - [`conversations`]: made-up conversation-v1 events in bulk.
//! - [`postgres`]: the machine's PostgreSQL, a database of the test's own.
//! - [`pulsar_read`]: what a Pulsar broker holds, read by pulsar-client; messages sent with it.
//! - [`s3`]: an S3-compatible store (moto's server) and an independent reader of it.
//! - [`livekit`]: webhooks signed by LiveKit's own packages, posted like LiveKit.
//!
//! Sessions in the test's process
//! - [`recording`]: [`recording::RecordingOutput`], the output that records
//!   what a session sent.
//! - [`with_llm`]: the synthetic engines around a real brain.
//! - [`scripted`]: [`scripted::ScriptedCall`], a session whose simulated
//!   caller says a script.
//! - [`in_process`]: [`in_process::InProcessNode`], a NodeSupervisor with an
//!   in-memory event sink (synthetic engines unless the test gives others).
//! - [`events`]: looking up what a session emitted.
//! - [`seeds`]: the seed documents' JSON examples.
//! - [`logs`]: a node's logs in the test's output.
//!
//! The real models (feature `models`)
//! - [`wav`]: a WAV file as 16 kHz samples or session frames.
//! - [`utterance`]: speech made by espeak-ng, as a WAV, samples or frames.
//! - [`synthesis`]: everything a TTS engine (piper) produced for a text.
//! - [`speech`]: the speech models, the known sentences, what whisper hears.
//! - [`llm`]: the local LLM (the `llm-server` child with SmolLM2) and a question for it.
//! - [`turn_taking`]: the turn-taking corpus (pauses inside sentences and at
//!   their ends) and a real-time run of one item through a session.
//!
//! The node in the test's process (feature `node`, the root crate's tests)
//! - [`app`]: a node started from its settings; a session of a unique user.
//!
//! What may call what: a file uses only files listed above it, in its own
//! group or an earlier one; no file calls back up.

#![deny(unreachable_pub)]

pub mod conversations;
pub mod events;
pub mod http;
pub mod in_process;
pub mod livekit;
pub mod logs;
pub mod nats;
pub mod node;
pub mod postgres;
pub mod process;
pub mod prometheus;
pub mod pulsar;
pub mod pulsar_gate;
pub mod pulsar_read;
pub mod python;
pub mod recording;
pub mod s3;
pub mod scripted;
pub mod seeds;
pub mod tls;
pub mod wait;
pub mod with_llm;

#[cfg(feature = "node")]
pub mod app;
#[cfg(feature = "models")]
pub mod llm;
#[cfg(feature = "models")]
pub mod speech;
#[cfg(feature = "models")]
pub mod synthesis;
#[cfg(feature = "models")]
pub mod turn_taking;
#[cfg(feature = "models")]
pub mod utterance;
#[cfg(feature = "models")]
pub mod wav;

pub use conversations::{synthetic_conversations, CONVERSATION_TOPIC};
pub use events::find_event;
pub use http::{http, http_with, metric};
pub use in_process::InProcessNode;
pub use livekit::{livekit_signed, livekit_tokens, post_webhook};
pub use logs::init_logs;
pub use nats::{subscribed, NatsServer, SHARED_NATS};
pub use node::{node_env, speech_env, vars, TestNode};
pub use postgres::{pg, TestDb, ADMIN_DB};
pub use pulsar::PulsarLite;
pub use pulsar_read::{
    partitions, read_conversations, read_pulsar, send_pulsar, send_pulsar_batched, ReadMessage,
    SendMessage,
};
pub use recording::RecordingOutput;
pub use s3::MotoS3;
pub use scripted::{lines, ScriptedCall};
pub use seeds::{missing_paths, seed_example};
pub use wait::{eventually, free_port, nobody_at, wait_port};
pub use with_llm::WithLlm;

#[cfg(feature = "node")]
pub use app::{start_app, user_session};
