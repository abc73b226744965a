//! Transports: how a user's audio gets into a session and the agent's audio
//! gets back out. Each one turns its medium into 16 kHz frames pushed into a
//! session and implements [`arc_actors::session::AudioOutput`] for the reply.
//!
//! - [`ws`]: the browser's WebSocket (`/ws`, PCM16 both ways) and the demo page.
//! - [`room`]: a LiveKit room, through LiveKit's own FFI library (crate `arc-rooms`).
//!
//! Transports call the session core (`arc-actors`), `config` and `ops::metrics`;
//! they never call `cluster` or `app` (the node context comes in as a value).

pub mod detached;
pub mod file;
pub mod room;
pub mod ws;
