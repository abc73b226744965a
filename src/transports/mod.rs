//! Transports: how a user's audio gets into a session and the agent's audio
//! gets back out. Every transport implements the one [`adapter::Transport`]
//! trait (its medium's `connection_type`, and the session's
//! [`arc_actors::session::AudioOutput`]), starts its session with
//! [`adapter::open_session`], and turns its medium's audio into 16 kHz,
//! 20 ms frames with [`adapter::MicFramer`].
//!
//! - [`ws`]: the browser's WebSocket (`/ws`, PCM16 both ways) and the demo page.
//! - [`room`]: a LiveKit room, through LiveKit's own FFI library (crate `arc-rooms`).
//! - [`file`]: a WAV file standing in for the room (`arc-agent converse`).
//! - [`detached`]: a track held with no medium (dispatch without a LiveKit server).
//!
//! Transports call the session core (`arc-actors`), `config` and `ops::metrics`;
//! they never call `cluster` or `app` (the node context comes in as a value).

pub(crate) mod adapter;
pub(crate) mod detached;
pub(crate) mod file;
pub mod room;
pub(crate) mod ws;
