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

use crate::node::NodeContext;
use arc_actors::audio::{AudioFrame, FRAME_SAMPLES_16K, STT_SAMPLE_RATE};
use arc_actors::node::{NodeError, SessionSpec};
use arc_actors::session::{AudioOutput, EndReason, SessionHandle, SessionNotice};
use arc_models::audio::StreamResampler;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The demo page, embedded in the binary.
const INDEX_HTML: &str = include_str!("web/index.html");

/// Largest binary message taken from a client (about 340 ms at 48 kHz).
pub const MAX_AUDIO_MESSAGE_BYTES: usize = 32 * 1024;
/// Largest text message taken from a client.
pub const MAX_TEXT_MESSAGE_BYTES: usize = 4 * 1024;
/// Above this the socket itself is dropped (tungstenite refuses the message).
const MAX_WS_MESSAGE_BYTES: usize = 1 << 20;
/// Agent audio waiting for a slow socket before new audio is dropped.
pub const MAX_QUEUED_AUDIO_MS: u64 = 60_000;
/// Control messages waiting for the socket before new ones are dropped.
const CONTROL_QUEUE: usize = 1024;
/// Client microphone rates accepted.
const INPUT_RATES: std::ops::RangeInclusive<u32> = 8_000..=192_000;
/// Longest allowed query-parameter identifier.
const MAX_ID_LEN: usize = 128;
/// How often the node pings the browser (a live one answers, which keeps the
/// socket from looking idle while the microphone is off).
const PING_EVERY: Duration = Duration::from_secs(15);

/// `GET /ws`, and the demo page at `GET /` and `GET /demo`.
pub fn routes(ctx: NodeContext) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/demo", get(index))
        .route("/ws", get(upgrade))
        .with_state(ctx)
}

/// `GET /` and `GET /demo`: the demo page.
async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Html(INDEX_HTML),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct WsQuery {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    agent_id: Option<String>,
}

/// `GET /ws`: upgrade, then run one session over the socket.
async fn upgrade(
    ws: WebSocketUpgrade,
    State(st): State<NodeContext>,
    Query(q): Query<WsQuery>,
) -> Response {
    ws.max_message_size(MAX_WS_MESSAGE_BYTES)
        .max_frame_size(MAX_WS_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve_socket(socket, st, q))
}

fn valid_id(id: Option<String>) -> Result<Option<String>, String> {
    match id {
        Some(s) if s.len() > MAX_ID_LEN || s.chars().any(char::is_control) => Err(format!(
            "identifiers are at most {MAX_ID_LEN} bytes without control characters"
        )),
        Some(s) if s.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// What goes to the socket.
enum Outgoing {
    Text(String),
    /// Agent audio of flush generation `epoch`.
    Audio {
        epoch: u64,
        rate: u32,
        pcm: Vec<u8>,
        samples: usize,
    },
    Close {
        code: u16,
        reason: String,
    },
    Ping,
}

const STATE_LISTENING: u8 = 0;
const STATE_USER: u8 = 1;
const STATE_THINKING: u8 = 2;
const STATE_AGENT: u8 = 3;
const STATE_ENDED: u8 = 4;

fn state_name(s: u8) -> &'static str {
    match s {
        STATE_USER => "user_speaking",
        STATE_THINKING => "thinking",
        STATE_AGENT => "agent_speaking",
        STATE_ENDED => "ended",
        _ => "listening",
    }
}

/// The writer's queue: unbounded as a channel, bounded by the audio
/// ([`MAX_QUEUED_AUDIO_MS`]) and text messages ([`CONTROL_QUEUE`]) it holds.
#[derive(Clone)]
struct Outbox {
    tx: mpsc::UnboundedSender<Outgoing>,
    samples: Arc<AtomicUsize>,
    texts: Arc<AtomicUsize>,
}

impl Outbox {
    fn new() -> (Self, mpsc::UnboundedReceiver<Outgoing>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let q = Self {
            tx,
            samples: Arc::new(AtomicUsize::new(0)),
            texts: Arc::new(AtomicUsize::new(0)),
        };
        (q, rx)
    }

    /// False when the queue is full (or the writer gone): the text is dropped.
    fn text(&self, text: String) -> bool {
        if self.texts.fetch_add(1, Ordering::Relaxed) >= CONTROL_QUEUE {
            self.texts.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        let ok = self.tx.send(Outgoing::Text(text)).is_ok();
        if !ok {
            self.texts.fetch_sub(1, Ordering::Relaxed);
        }
        ok
    }

    /// False when more than [`MAX_QUEUED_AUDIO_MS`] waits (or the writer is gone).
    fn audio(&self, epoch: u64, frame: &AudioFrame) -> bool {
        let limit = (MAX_QUEUED_AUDIO_MS * u64::from(frame.sample_rate) / 1000) as usize;
        let n = frame.samples.len();
        if self.samples.fetch_add(n, Ordering::Relaxed) + n > limit {
            self.samples.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        let ok = self
            .tx
            .send(Outgoing::Audio {
                epoch,
                rate: frame.sample_rate,
                pcm: pcm16_bytes(&frame.samples),
                samples: n,
            })
            .is_ok();
        if !ok {
            self.samples.fetch_sub(n, Ordering::Relaxed);
        }
        ok
    }

    /// Always queued: the writer sends it and stops.
    fn close(&self, code: u16, reason: String) {
        let _ = self.tx.send(Outgoing::Close { code, reason });
    }
}

/// The session's output side: one ordered queue for the socket writer (audio
/// and notices keep their order), bounded by what it holds, never blocking.
struct WsOutput {
    queue: Outbox,
    /// Bumped by `flush`: queued audio of an older epoch is not sent.
    epoch: Arc<AtomicU64>,
    state: AtomicU8,
    /// The turn whose audio is playing (so the first frame of a turn sets the state).
    audio_turn: AtomicU64,
    dropped: AtomicU64,
    session_id: String,
}

impl WsOutput {
    fn text(&self, v: Value) {
        if !self.queue.text(v.to_string()) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn set_state(&self, s: u8) {
        if self.state.swap(s, Ordering::Relaxed) != s {
            self.text(json!({ "type": "state", "state": state_name(s) }));
        }
    }
}

impl AudioOutput for WsOutput {
    fn play(&self, turn: u64, frame: AudioFrame) {
        if frame.samples.is_empty() {
            return;
        }
        if self.audio_turn.swap(turn, Ordering::Relaxed) != turn
            || self.state.load(Ordering::Relaxed) == STATE_THINKING
        {
            self.set_state(STATE_AGENT);
        }
        let epoch = self.epoch.load(Ordering::Relaxed);
        if !self.queue.audio(epoch, &frame) {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(session_id = %self.session_id, dropped, "browser is not taking agent audio: dropped");
            }
        }
    }

    fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }

    fn notice(&self, notice: SessionNotice) {
        let msg = match notice {
            SessionNotice::SpeechStarted => {
                self.set_state(STATE_USER);
                json!({ "type": "speech_started" })
            }
            SessionNotice::PartialTranscript { turn, text } => {
                json!({ "type": "partial_transcript", "turn": turn, "text": text })
            }
            SessionNotice::FinalTranscript { turn, text } => {
                self.set_state(STATE_THINKING);
                json!({ "type": "final_transcript", "turn": turn, "text": text })
            }
            SessionNotice::AgentSentence { turn, text } => {
                json!({ "type": "agent_sentence", "turn": turn, "text": text })
            }
            SessionNotice::AgentTurnDone { turn, interrupted } => {
                let msg =
                    json!({ "type": "agent_turn_done", "turn": turn, "interrupted": interrupted });
                self.text(msg);
                if self.state.load(Ordering::Relaxed) != STATE_USER {
                    self.set_state(STATE_LISTENING);
                }
                return;
            }
            SessionNotice::BargeIn { turn } => {
                self.set_state(STATE_USER);
                json!({ "type": "barge_in", "turn": turn })
            }
            SessionNotice::Ended { reason } => {
                self.text(json!({ "type": "ended", "reason": reason }));
                self.set_state(STATE_ENDED);
                self.queue.close(close_code(&reason), reason);
                return;
            }
        };
        self.text(msg);
    }
}

fn close_code(reason: &str) -> u16 {
    match reason {
        "error" => 1011,
        "node_shutdown" => 1001,
        _ => 1000,
    }
}

/// A close frame's reason holds at most 123 bytes.
fn close_reason(mut reason: String) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason.truncate(end);
    reason
}

/// f32 samples as PCM 16-bit little-endian (clamped; NaN becomes 0).
fn pcm16_bytes(samples: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * 2);
    for s in samples {
        let v = if s.is_finite() {
            s.clamp(-1.0, 1.0)
        } else {
            0.0
        };
        out.extend_from_slice(&((v * 32767.0).round() as i16).to_le_bytes());
    }
    out
}

/// The microphone side: rate, resampler and the partial 20 ms frame.
struct Inbound {
    resampler: Option<StreamResampler>,
    rate: u32,
    pending: Vec<f32>,
    scratch: Vec<f32>,
}

/// A bad client message: answered with an `error`, the session goes on.
#[derive(Debug)]
struct Refusal {
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// What a text message asks for.
enum Control {
    Started,
    Stop,
}

impl Inbound {
    fn new() -> Self {
        Self {
            resampler: None,
            rate: 0,
            pending: Vec::with_capacity(FRAME_SAMPLES_16K * 2),
            scratch: Vec::new(),
        }
    }

    fn text(&mut self, text: &str) -> Result<Control, Refusal> {
        if text.len() > MAX_TEXT_MESSAGE_BYTES {
            return Err(Refusal::new(
                "message_too_large",
                format!(
                    "text message of {} bytes (at most {MAX_TEXT_MESSAGE_BYTES})",
                    text.len()
                ),
            ));
        }
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Refusal::new("invalid_json", format!("not JSON: {e}")))?;
        match v.get("type").and_then(Value::as_str) {
            Some("start") => {
                let rate = v
                    .get("sample_rate")
                    .and_then(Value::as_u64)
                    .and_then(|r| u32::try_from(r).ok())
                    .filter(|r| INPUT_RATES.contains(r))
                    .ok_or_else(|| {
                        Refusal::new(
                            "bad_sample_rate",
                            format!(
                                "start needs an integer sample_rate in {}..={} Hz",
                                INPUT_RATES.start(),
                                INPUT_RATES.end()
                            ),
                        )
                    })?;
                let resampler = StreamResampler::new(rate, STT_SAMPLE_RATE)
                    .map_err(|e| Refusal::new("bad_sample_rate", e))?;
                self.resampler = Some(resampler);
                self.rate = rate;
                self.pending.clear();
                Ok(Control::Started)
            }
            Some("stop") => Ok(Control::Stop),
            Some(other) => Err(Refusal::new(
                "unknown_type",
                format!("unknown message type {other:?} (start, stop)"),
            )),
            None => Err(Refusal::new(
                "unknown_type",
                "a message needs a string \"type\" (start, stop)",
            )),
        }
    }

    /// PCM16 in, 20 ms 16 kHz frames out (pushed to the session).
    fn audio(&mut self, bytes: &[u8], session: &SessionHandle) -> Result<(), Refusal> {
        let Some(resampler) = self.resampler.as_mut() else {
            return Err(Refusal::new(
                "not_started",
                "audio before {\"type\":\"start\",\"sample_rate\":N}",
            ));
        };
        if bytes.len() > MAX_AUDIO_MESSAGE_BYTES {
            return Err(Refusal::new(
                "message_too_large",
                format!(
                    "audio message of {} bytes (at most {MAX_AUDIO_MESSAGE_BYTES})",
                    bytes.len()
                ),
            ));
        }
        if !bytes.len().is_multiple_of(2) {
            return Err(Refusal::new(
                "odd_length",
                format!(
                    "audio message of {} bytes: PCM16 needs an even count",
                    bytes.len()
                ),
            ));
        }
        let samples: Vec<f32> = bytes
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
            .collect();
        self.scratch.clear();
        resampler
            .push(&samples, &mut self.scratch)
            .map_err(|e| Refusal::new("resample_failed", e))?;
        self.pending.extend_from_slice(&self.scratch);
        let whole = self.pending.len() / FRAME_SAMPLES_16K * FRAME_SAMPLES_16K;
        for chunk in self.pending[..whole].chunks_exact(FRAME_SAMPLES_16K) {
            session.push_audio(AudioFrame::new(STT_SAMPLE_RATE, chunk.to_vec()));
        }
        self.pending.drain(..whole);
        Ok(())
    }
}

fn error_json(code: &str, message: &str) -> String {
    json!({ "type": "error", "code": code, "message": message }).to_string()
}

async fn refuse(mut socket: WebSocket, code: &str, message: String, close: u16) {
    let _ = socket
        .send(Message::Text(error_json(code, &message).into()))
        .await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: close,
            reason: Utf8Bytes::from(code.to_string()),
        })))
        .await;
}

async fn serve_socket(socket: WebSocket, st: NodeContext, q: WsQuery) {
    let (user_id, agent_id) = match (valid_id(q.user_id), valid_id(q.agent_id)) {
        (Ok(u), Ok(a)) => (u, a),
        (Err(e), _) | (_, Err(e)) => return refuse(socket, "bad_query", e, 1008).await,
    };
    if st.is_draining() {
        return refuse(socket, "unavailable", "node is draining".into(), 1013).await;
    }
    let mut config = st.cfg.session_config();
    config.connection_type = "websocket".into();
    if let Some(u) = user_id {
        config.user_id = u;
    }
    if let Some(a) = agent_id {
        config.agent_id = a;
    }
    config.room_name = format!("ws-{}", config.session_id);
    let session_id = config.session_id.clone();
    let hello = json!({
        "type": "session",
        "session_id": session_id,
        "conversation_id": config.conversation_id,
        "user_id": config.user_id,
        "agent_id": config.agent_id,
        "engines": st.cfg.engines.profile.as_str(),
        "input": { "format": "pcm_s16le", "channels": 1, "frame_ms": 20 },
        "output_sample_rate": st.cfg.session.tts.sample_rate,
        "output": { "format": "pcm_s16le", "channels": 1, "sample_rate": st.cfg.session.tts.sample_rate },
    });

    let (queue, queue_rx) = Outbox::new();
    let epoch = Arc::new(AtomicU64::new(0));
    queue.text(hello.to_string());
    let output = Arc::new(WsOutput {
        queue: queue.clone(),
        epoch: epoch.clone(),
        state: AtomicU8::new(STATE_LISTENING),
        audio_turn: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        session_id: session_id.clone(),
    });
    let spec = SessionSpec {
        config,
        output: output.clone(),
        script: Vec::new(),
    };
    let session = match st.node.start_session(spec).await {
        Ok(h) => h,
        Err(e) => {
            let (code, close) = match e {
                NodeError::AtCapacity { .. } | NodeError::Draining { .. } => ("unavailable", 1013),
                _ => ("session_failed", 1011),
            };
            return refuse(socket, code, e.to_string(), close).await;
        }
    };
    tracing::info!(session_id = %session_id, "browser connected");

    let (sink, mut stream) = socket.split();
    let sent_samples = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(write_loop(
        sink,
        queue_rx,
        queue.samples.clone(),
        queue.texts.clone(),
        epoch,
        st.cfg.session.tts.sample_rate,
        sent_samples.clone(),
    ));

    let mut inbound = Inbound::new();
    let done = session.wait();
    tokio::pin!(done);
    let idle = Duration::from_millis(st.cfg.http.ws_idle_timeout_ms);
    let mut refusals = 0u64;
    // Why the socket side ended the session (None: the session ended itself).
    let ended_by = loop {
        let msg = tokio::select! {
            _ = &mut done => break None,
            m = tokio::time::timeout(idle, stream.next()) => match m {
                Ok(m) => m,
                Err(_) => break Some(EndReason::Timeout),
            },
        };
        let result = match msg {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break Some(EndReason::UserLeft),
            Some(Ok(Message::Text(t))) => match inbound.text(t.as_str()) {
                Ok(Control::Started) => {
                    tracing::debug!(session_id = %session_id, rate = inbound.rate, "microphone started");
                    Ok(())
                }
                Ok(Control::Stop) => break Some(EndReason::UserLeft),
                Err(e) => Err(e),
            },
            Some(Ok(Message::Binary(b))) => inbound.audio(&b, &session),
            Some(Ok(_)) => Ok(()),
        };
        if let Err(r) = result {
            refusals += 1;
            // A client that only sends garbage still gets a bounded answer rate.
            if refusals <= 1000 {
                queue.text(error_json(r.code, &r.message));
            }
        }
    };
    let reason = ended_by.as_ref().map(|r| r.as_str().to_string());
    if let Some(r) = ended_by {
        session.end(r);
        // The session's `ended` notice closes the socket; wait for it briefly.
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut done).await;
    }
    // For a session that stopped without an `ended` notice (a no-op otherwise).
    queue.close(
        1000,
        reason.clone().unwrap_or_else(|| "session_ended".into()),
    );
    drop(output);
    let abort = writer.abort_handle();
    if tokio::time::timeout(Duration::from_secs(2), writer)
        .await
        .is_err()
    {
        abort.abort();
    }
    tracing::info!(
        session_id = %session_id,
        ended_by = reason.as_deref().unwrap_or("session"),
        agent_samples_sent = sent_samples.load(Ordering::Relaxed),
        "browser disconnected"
    );
}

async fn write_loop(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    queued_samples: Arc<AtomicUsize>,
    queued_texts: Arc<AtomicUsize>,
    epoch: Arc<AtomicU64>,
    announced_rate: u32,
    sent_samples: Arc<AtomicU64>,
) {
    let mut rate = announced_rate;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    loop {
        let out = tokio::select! {
            o = rx.recv() => match o {
                Some(o) => o,
                None => break,
            },
            _ = ping.tick() => Outgoing::Ping,
        };
        let msg = match out {
            Outgoing::Ping => Message::Ping(Default::default()),
            Outgoing::Text(t) => {
                queued_texts.fetch_sub(1, Ordering::Relaxed);
                Message::Text(t.into())
            }
            Outgoing::Audio {
                epoch: e,
                rate: r,
                pcm,
                samples,
            } => {
                queued_samples.fetch_sub(samples, Ordering::Relaxed);
                if e != epoch.load(Ordering::Relaxed) {
                    continue;
                }
                if r != rate {
                    rate = r;
                    let m = json!({ "type": "audio_format", "sample_rate": r });
                    if sink
                        .send(Message::Text(m.to_string().into()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                sent_samples.fetch_add(samples as u64, Ordering::Relaxed);
                Message::Binary(pcm.into())
            }
            Outgoing::Close { code, reason } => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code,
                        reason: close_reason(reason).into(),
                    })))
                    .await;
                break;
            }
        };
        if sink.send(msg).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm16_round_trips_and_clamps() {
        let b = pcm16_bytes(&[0.0, 1.0, -1.0, 2.0, f32::NAN, 0.5]);
        let v: Vec<i16> = b
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(v, vec![0, 32767, -32767, 32767, 0, 16384]);
    }

    #[test]
    fn control_messages_are_checked() {
        let mut i = Inbound::new();
        assert_eq!(i.text("{").err().map(|r| r.code), Some("invalid_json"));
        assert_eq!(
            i.text(r#"{"type":"dance"}"#).err().map(|r| r.code),
            Some("unknown_type")
        );
        assert_eq!(i.text("[1]").err().map(|r| r.code), Some("unknown_type"));
        for bad in [
            r#"{"type":"start"}"#,
            r#"{"type":"start","sample_rate":0}"#,
            r#"{"type":"start","sample_rate":1000000}"#,
            r#"{"type":"start","sample_rate":"48000"}"#,
            r#"{"type":"start","sample_rate":44100.5}"#,
        ] {
            assert_eq!(
                i.text(bad).err().map(|r| r.code),
                Some("bad_sample_rate"),
                "{bad}"
            );
        }
        assert!(i.resampler.is_none());
        assert!(matches!(
            i.text(r#"{"type":"start","sample_rate":48000}"#),
            Ok(Control::Started)
        ));
        assert_eq!(i.rate, 48_000);
        assert!(matches!(i.text(r#"{"type":"stop"}"#), Ok(Control::Stop)));
        let long = format!(r#"{{"type":"start","pad":"{}"}}"#, "x".repeat(5000));
        assert_eq!(
            i.text(&long).err().map(|r| r.code),
            Some("message_too_large")
        );
    }

    #[test]
    fn close_reasons_fit_a_frame() {
        assert_eq!(close_reason("user_left".into()), "user_left");
        let long = close_reason("é".repeat(100));
        assert!(long.len() <= 123 && long.chars().all(|c| c == 'é'));
    }

    #[test]
    fn identifiers_are_bounded() {
        assert_eq!(valid_id(None), Ok(None));
        assert_eq!(valid_id(Some(String::new())), Ok(None));
        assert_eq!(valid_id(Some("u-1".into())), Ok(Some("u-1".into())));
        assert!(valid_id(Some("x".repeat(129))).is_err());
        assert!(valid_id(Some("a\nb".into())).is_err());
    }

    #[test]
    fn the_page_is_self_contained() {
        assert!(INDEX_HTML.contains("/ws"));
        assert!(INDEX_HTML.contains("arcStats"));
        assert!(!INDEX_HTML.contains("<script src="));
    }
}
