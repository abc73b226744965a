//! The browser transport: `GET /ws` (WebSocket) and the demo page on `GET /`.
//!
//! One socket is one session (`connection_type = "websocket"`), started on
//! connect with the optional query parameters `user_id` and `agent_id`.
//!
//! Client → server:
//! - text `{"type":"start","sample_rate":48000}` first: the rate of the
//!   microphone audio that follows (8000..=192000 Hz; sent again, it changes
//!   the rate);
//! - binary: PCM 16-bit little-endian mono at that rate, any length up to
//!   [`MAX_AUDIO_MESSAGE_BYTES`] (the page sends 20 ms). It is resampled to
//!   16 kHz with a stateful resampler, cut into 20 ms frames and pushed as a
//!   live source (a full queue drops the oldest frame);
//! - text `{"type":"stop"}`: end the session (as closing the socket does, with
//!   `reason = user_left`).
//!
//! Server → client:
//! - text `{"type":"session", "session_id", "conversation_id", "engines",
//!   "output_sample_rate", ...}` first;
//! - binary: the agent's voice, PCM 16-bit little-endian mono at
//!   `output_sample_rate` (the TTS rate, 24 kHz by default; an
//!   `{"type":"audio_format","sample_rate"}` message comes first if it ever
//!   changes);
//! - text, one per session notice: `speech_started`, `partial_transcript` and
//!   `final_transcript` (`turn`, `text`), `agent_sentence` (`turn`, `text`),
//!   `agent_turn_done` (`turn`, `interrupted`), `barge_in` (`turn`: drop the
//!   agent audio not yet played), `ended` (`reason`); and `state` (`listening`,
//!   `user_speaking`, `thinking`, `agent_speaking`, `ended`) when it changes;
//! - text `{"type":"error","code","message"}` for a bad message (invalid JSON,
//!   an unknown type, audio before `start`, an odd byte count, an oversized
//!   message, a bad rate): the session goes on.
//!
//! When the session ends the socket is closed with the end reason; when the
//! socket closes the session ends (`user_left`), and a socket silent for
//! `http.ws_idle_timeout_ms` (the node pings every 15 s; a live browser
//! answers) ends it with `timeout`. A message over 1 MiB drops the socket.
//!
//! Audio and notices go to the socket in order through one queue bounded by
//! what it holds (at most [`MAX_QUEUED_AUDIO_MS`] of audio; past that new
//! audio is dropped and logged), so a slow browser never blocks the
//! session's actors.
//!
//! # Files here
//!
//! - `routes`: the routes, the demo page and the upgrade.
//! - `session`: one socket's session, from the hello to the close.
//! - `inbound`: the microphone side (control messages, PCM16 to 16 kHz frames).
//! - `output`: the session's output side (notices, state, agent audio).
//! - `outbox`: the bounded queue to the socket; `writer`: its consumer.
//! - `protocol`: the wire's small pieces (query, errors, close codes).
//!
//! `routes` → `session` → `inbound`, `output`, `writer` → `outbox` →
//! `protocol` and the limits here; nothing calls back up.

mod inbound;
mod outbox;
mod output;
mod protocol;
mod routes;
mod session;
mod writer;

pub(crate) use inbound::{parse_client_messages, ClientMessage};
pub(crate) use routes::routes;

/// Largest binary message taken from a client (about 340 ms at 48 kHz).
pub(crate) const MAX_AUDIO_MESSAGE_BYTES: usize = 32 * 1024;
/// Largest text message taken from a client.
pub(crate) const MAX_TEXT_MESSAGE_BYTES: usize = 4 * 1024;
/// Agent audio waiting for a slow socket before new audio is dropped.
pub(crate) const MAX_QUEUED_AUDIO_MS: u64 = 60_000;
