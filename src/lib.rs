//! # arc-agent: the ARC node
//!
//! One process per node. The session core (actor trees, events, the sink)
//! is crate `arc-actors`; the speech and language engines are `arc-models`;
//! LiveKit's FFI is `arc-rooms`. This crate is the node around them, one
//! folder per part of the architecture:
//!
//! | folder | what lives there |
//! |---|---|
//! | `app/` | start-up in order, the HTTP server, shutdown in the reverse order |
//! | `node/` | what the node's parts share: the context, the identity, the shutdown stages |
//! | [`config`] | TOML + environment configuration, validated at load |
//! | `engines/` | which engines a session gets (local models, OpenAI, the NATS brain tier) |
//! | `transports/` | audio in and out: browser WebSocket, LiveKit room |
//! | `cluster/` | webhooks, dispatch across nodes, LiveKit agent worker, brain worker |
//! | `mirror/` | events to NATS and Pulsar, with the durable spool |
//! | `ops/` | metrics, heartbeats, telemetry, process figures |
//! | [`consumers`] | the readers of the durable log: KPI and billing into PostgreSQL and Redis |
//! | [`cli`] | the commands other than `serve` (converse, loadgen) |
//!
//! Calls go one way only: `cli` → `consumers`, `app` → `cluster` → `transports` → `node` →
//! `ops`, `mirror`, `engines` → `config` (`scripts/module-graph.py` draws the
//! graph and fails on a circle).
//!
//! The folders are private; what the binary, the tests and the benches use is
//! re-exported here: the node ([`App`], [`NodeContext`]), its configuration
//! ([`config`]), its engines, the commands ([`cli`]), the LiveKit room
//! transport ([`room`]), the brain worker, telemetry and process figures.
#![deny(unreachable_pub)]

mod app;
pub mod cli;
mod cluster;
pub mod config;
pub mod consumers;
mod engines;
#[doc(hidden)]
pub mod fuzzing;
mod mirror;
mod node;
mod ops;
mod transports;

pub use app::{App, AppError};
pub use cluster::brain_worker;
pub use engines::nats_brain::NatsBrainLlm;
pub use engines::{EnginesError, LocalEngines, NodeEngines, WithTools};
pub use node::NodeContext;
pub use ops::metrics::Metrics;
pub use ops::{allocator, procinfo, telemetry};
pub use transports::room;
