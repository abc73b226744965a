//! The binary's commands other than `serve`: each file is one command that
//! `main.rs` calls.
//!
//! - [`converse`]: talk to the agent with a WAV file, or a question as text
//!   spoken by ARC's own TTS (the file transport).
//! - [`loadgen`]: many simulated sessions in one process; throughput, latency, memory.
//! - [`models`]: fetch and list the model files.
//! - [`replay`]: a finished conversation read back from the durable log.
//! - [`llm_server`]: the local brain's model server (a child of the node).
//!
//! Commands sit on top: they may call anything below them (`app`, `engines`,
//! `transports`, `config`, `ops`); nothing in the library calls back into `cli`.

pub mod converse;
pub mod llm_server;
pub mod loadgen;
pub mod models;
pub mod replay;
