//! Cluster: how work reaches this node when there are many.
//!
//! - [`webhook`]: LiveKit's signed webhooks (`POST /livekit/webhook`).
//! - [`dispatch`]: tracks offered across nodes by a NATS queue group.
//! - [`agent_worker`]: LiveKit agent dispatch (the node registers as a worker).
//! - [`brain_worker`]: `arc-agent brain`, a brain-only worker answering over NATS.
//!
//! Cluster code may call `transports` (to join a room), `config` and
//! `ops::metrics`; nothing below it calls back into `cluster`.

pub(crate) mod agent_worker;
pub mod brain_worker;
pub(crate) mod dispatch;
pub(crate) mod webhook;
