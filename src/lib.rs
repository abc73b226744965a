//! # arc-agent: the ARC node
//!
//! One process per node. It loads the configuration ([`config`]), starts the
//! node supervisor of `arc-actors` with the engines the configuration names,
//! mirrors every event to NATS and Pulsar ([`mirror`], with the durable
//! [`spool`]), sends heartbeats ([`heartbeat`]) and serves health, readiness,
//! metrics and the session API over HTTP ([`http`], [`metrics`]). [`app`]
//! wires it together and shuts it down in order on SIGTERM.
#![deny(unreachable_pub)]

pub mod agent_worker;
pub mod app;
pub mod brain_tier;
pub mod config;
pub mod converse;
pub mod dispatch;
pub mod engines;
pub mod heartbeat;
pub mod http;
pub mod loadgen;
pub mod metrics;
pub mod mirror;
pub mod procinfo;
pub mod room_transport;
pub mod spool;
pub mod telemetry;
pub mod webhook;
pub mod ws;
