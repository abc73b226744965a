//! The LiveKit room transport: one ARC session per room the agent joins.
//!
//! The node mints its own agent token, joins through LiveKit's FFI library
//! (crate `arc-rooms`), publishes the agent's track from a 48 kHz audio
//! source, and listens to the user's audio track. Room audio (48 kHz) becomes
//! the 16 kHz, 20 ms frames the VAD and STT take; the TTS output (24 kHz)
//! becomes 48 kHz 10 ms frames for the source. Both directions use the
//! node's one streaming resampler ([`StreamResampler`]), so a stream cut into
//! frames sounds like one pass over it. The room's events end the session
//! with the seed's reasons: the user leaving is `user_left`, the room closing
//! `room_ended`, nobody coming `timeout`; reconnects are LiveKit's own (the
//! session lives on through them).

use super::adapter::{open_session, MicFramer, Transport};
use crate::node::NodeContext;
use arc_actors::audio::AudioFrame;
use arc_actors::node::NodeError;
use arc_actors::pcm16::Pcm16Frame;
use arc_actors::session::{AudioOutput, EndReason, SessionHandle, SessionNotice};
use arc_models::audio::StreamResampler;
use arc_rooms::proto::DisconnectReason;
use arc_rooms::room::disconnect_reason_name;
use arc_rooms::{
    AgentIdentity, AudioSource, ConnectOptions, LiveKitFfi, PcmFrame, RemoteAudioTrack, Room,
    RoomError, RoomSignal, StreamEvent,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The rate audio has in the room (WebRTC's Opus runs at 48 kHz).
pub const ROOM_SAMPLE_RATE: u32 = 48_000;
/// Agent audio goes to LiveKit in 10 ms frames (WebRTC's own unit).
const OUT_FRAME_MS: u32 = 10;
/// Remote audio frames buffered between the library and the session.
const IN_STREAM_FRAMES: usize = 64;
/// Resampler block for the user's audio: 5 ms at 48 kHz, so the STT gets
/// each frame soon after the room does (the TTS side keeps the sharper default).
const IN_RESAMPLE_CHUNK: usize = 256;
/// Most agent audio queued before the speaker, beyond which it is dropped.
const MAX_QUEUED_OUT_MS: u64 = 120_000;

/// Why a room session could not start.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error("the session did not start: {0}")]
    Session(#[from] NodeError),
}

/// Who to meet where.
#[derive(Debug, Clone, Default)]
pub struct JoinRequest {
    pub room_name: String,
    /// The user to listen to; `None`: the first non-agent participant who
    /// publishes audio.
    pub user_identity: Option<String>,
    /// Overrides `livekit.url` / LIVEKIT_URL for this join.
    pub url: Option<String>,
    /// The session's id (a dispatched track's); `None`: a new one.
    pub session_id: Option<String>,
    /// A join token LiveKit gave (an agent job's); `None`: the node mints one.
    pub token: Option<String>,
}

/// A running room session.
pub struct RoomSession {
    pub session: SessionHandle,
    pub room_name: String,
    pub room_sid: String,
    /// Attempts the join took.
    pub attempts: u32,
    task: JoinHandle<EndReason>,
}

impl RoomSession {
    /// Waits for the session to end; why it ended.
    pub async fn wait(self) -> EndReason {
        self.task
            .await
            .unwrap_or_else(|e| EndReason::Error(format!("room task failed: {e}")))
    }
}

/// The connect policy of `livekit.*`.
pub fn connect_options(cfg: &crate::config::LivekitSection) -> ConnectOptions {
    ConnectOptions {
        connect_timeout: Duration::from_millis(cfg.connect_timeout_ms),
        max_attempts: cfg.max_connect_attempts,
        initial_backoff: Duration::from_millis(cfg.retry_backoff_ms),
        max_backoff: Duration::from_millis(cfg.max_retry_backoff_ms),
        auto_subscribe: true,
    }
}

/// Loads (once per process) the FFI library `livekit.ffi_library` names.
pub fn load_ffi(cfg: &crate::config::LivekitSection) -> Result<Arc<LiveKitFfi>, RoomError> {
    LiveKitFfi::load(&arc_rooms::ffi::library_path(&cfg.ffi_library))
}

/// Joins `req.room_name` as the agent and runs one ARC session there: the
/// entry point for `arc-agent join` and for dispatchers (webhooks, NATS).
/// Returns once the agent is in the room with its track published and the
/// session started; [`RoomSession::wait`] gives the end reason.
pub async fn join_room(ctx: &NodeContext, req: JoinRequest) -> Result<RoomSession, JoinError> {
    let (cfg, metrics) = (&*ctx.cfg, &ctx.metrics);
    let lk = &cfg.livekit;
    let mut creds = cfg.livekit_credentials();
    if let Some(url) = &req.url {
        creds.url = url.clone();
    }
    let ffi = load_ffi(lk)?;
    let mut config = cfg.session_config();
    if let Some(id) = req.session_id.clone().filter(|s| !s.is_empty()) {
        config.conversation_id = format!("conv-{id}");
        config.session_id = id;
    }
    config.room_name = req.room_name.clone();
    if let Some(u) = &req.user_identity {
        config.user_id = u.clone();
    }
    let agent = AgentIdentity {
        identity: format!("{}-{}", lk.agent_identity, config.session_id),
        name: lk.agent_name.clone(),
        ttl: Duration::from_secs(lk.token_ttl_s),
    };
    let token = match &req.token {
        Some(t) => t.clone(),
        None => arc_rooms::mint_agent_token(&creds, &req.room_name, &agent)?,
    };
    let room = match Room::connect(&ffi, &creds.url, &token, &connect_options(lk)).await {
        Ok(room) => {
            metrics.livekit_join(true, room.attempts);
            room
        }
        Err(e) => {
            let attempts = match &e {
                RoomError::Connect { attempts, .. } => *attempts,
                _ => 0,
            };
            metrics.livekit_join(false, attempts);
            return Err(e.into());
        }
    };
    let source = AudioSource::new(
        &ffi,
        ROOM_SAMPLE_RATE,
        1,
        Duration::from_millis(lk.output_queue_ms),
    )?;
    let track = source.create_track("arc-agent-voice")?;
    let track_sid = room.publish_audio(&track).await?;

    let source = Arc::new(source);
    let (output, speaker_rx) = RoomOutput::new();
    let output = Arc::new(output);
    config.room_sid = room.sid.clone();
    config.agent_track_sid = track_sid;
    let session_id = config.session_id.clone();
    let session = open_session(ctx, output.clone(), config).await?;
    let speaker = tokio::spawn(speak(
        speaker_rx,
        source.clone(),
        output.clone(),
        session_id.clone(),
    ));
    let room_name = room.name.clone();
    let room_sid = room.sid.clone();
    let attempts = room.attempts;
    let ctl = Controller {
        metrics: metrics.clone(),
        session: session.clone(),
        user: req.user_identity,
        user_wait: Duration::from_millis(lk.user_join_timeout_ms),
    };
    let task = tokio::spawn(async move {
        let reason = ctl.run(room).await;
        speaker.abort();
        drop(track);
        drop(source);
        reason
    });
    Ok(RoomSession {
        session,
        room_name,
        room_sid,
        attempts,
        task,
    })
}

/// Drives the session from the room's events.
struct Controller {
    metrics: Arc<crate::ops::metrics::Metrics>,
    session: SessionHandle,
    user: Option<String>,
    user_wait: Duration,
}

impl Controller {
    async fn run(mut self, mut room: Room) -> EndReason {
        let sid = self.session.session_id.clone();
        let mut listener: Option<JoinHandle<()>> = None;
        let waiting = tokio::time::sleep(self.user_wait);
        tokio::pin!(waiting);
        let ended = self.session.clone();
        let ended = ended.wait();
        tokio::pin!(ended);
        let reason = loop {
            tokio::select! {
                _ = &mut ended => break None, // ended by itself (timeout, drain …)
                _ = &mut waiting, if listener.is_none() => {
                    tracing::warn!(session_id = %sid, room = %room.name, "no user audio within livekit.user_join_timeout_ms");
                    break Some(EndReason::Timeout);
                }
                sig = room.next_signal() => {
                    let Some(sig) = sig else { break Some(EndReason::RoomEnded) };
                    match sig {
                        RoomSignal::ParticipantJoined { identity, is_agent } => {
                            tracing::info!(session_id = %sid, %identity, is_agent, "participant joined");
                        }
                        RoomSignal::AudioTrackSubscribed(track) => {
                            if !self.is_user(&track) {
                                continue;
                            }
                            self.user.get_or_insert_with(|| track.participant_identity.clone());
                            match room.audio_stream(&track, ROOM_SAMPLE_RATE, 1, IN_STREAM_FRAMES) {
                                Ok(stream) => {
                                    tracing::info!(session_id = %sid, user = %track.participant_identity, track = %track.sid, "listening to the user");
                                    if let Some(old) = listener.take() {
                                        old.abort();
                                    }
                                    listener = Some(tokio::spawn(listen(stream, track, self.session.clone())));
                                }
                                Err(e) => tracing::error!(session_id = %sid, "cannot open the user's audio: {e}"),
                            }
                        }
                        RoomSignal::TrackUnsubscribed { identity, sid: track } => {
                            tracing::info!(session_id = %sid, %identity, %track, "track unsubscribed");
                        }
                        RoomSignal::ParticipantLeft { identity, reason } => {
                            tracing::info!(session_id = %sid, %identity, reason = disconnect_reason_name(reason), "participant left");
                            if self.user.as_deref() == Some(identity.as_str()) {
                                break Some(EndReason::UserLeft);
                            }
                        }
                        RoomSignal::Reconnecting => {
                            self.metrics.livekit_reconnect();
                            tracing::warn!(session_id = %sid, room = %room.name, "LiveKit connection lost; reconnecting");
                        }
                        RoomSignal::Reconnected => {
                            tracing::info!(session_id = %sid, room = %room.name, "LiveKit connection back");
                        }
                        RoomSignal::Disconnected { reason } => {
                            break Some(end_reason_for_disconnect(reason));
                        }
                        RoomSignal::Closed => break Some(EndReason::RoomEnded),
                    }
                }
            }
        };
        if let Some(h) = listener.take() {
            h.abort();
        }
        let reason = match reason {
            Some(r) => {
                self.session.end(r.clone());
                let _ = tokio::time::timeout(Duration::from_secs(10), self.session.wait()).await;
                r
            }
            None => EndReason::Other("session_ended".into()),
        };
        if let Err(e) = room.disconnect().await {
            tracing::warn!(session_id = %sid, "leaving the room: {e}");
        }
        reason
    }

    fn is_user(&self, track: &RemoteAudioTrack) -> bool {
        match &self.user {
            Some(u) => *u == track.participant_identity,
            None => true,
        }
    }
}

/// The session's end for LiveKit's reason of having left the room.
pub fn end_reason_for_disconnect(reason: i32) -> EndReason {
    match DisconnectReason::try_from(reason) {
        Ok(DisconnectReason::RoomDeleted | DisconnectReason::RoomClosed) => EndReason::RoomEnded,
        Ok(DisconnectReason::ClientInitiated) => EndReason::Other("agent_left".into()),
        _ => EndReason::Error(format!(
            "disconnected from the room: {}",
            disconnect_reason_name(reason)
        )),
    }
}

/// The user's audio into the session: 48 kHz PCM → 16 kHz 20 ms frames.
async fn listen(
    mut stream: arc_rooms::AudioStream,
    track: RemoteAudioTrack,
    session: SessionHandle,
) {
    let mut conv = RoomAudioIn::new(ROOM_SAMPLE_RATE);
    while let Some(ev) = stream.recv().await {
        match ev {
            StreamEvent::Frame(pcm) => match conv.push(&pcm) {
                Ok(frames) => {
                    for f in frames {
                        session.push_audio(f);
                    }
                }
                Err(e) => {
                    tracing::error!(session_id = %session.session_id, "room audio: {e}");
                    return;
                }
            },
            StreamEvent::Eos => break,
        }
    }
    tracing::info!(session_id = %session.session_id, track = %track.sid, "user audio ended");
}

/// Room audio → the STT's frames: downmix, then the transports' [`MicFramer`]
/// (resample to 16 kHz, cut 20 ms).
pub struct RoomAudioIn {
    framer: MicFramer,
}

impl RoomAudioIn {
    pub fn new(rate: u32) -> Self {
        let mut framer = MicFramer::new(Some(IN_RESAMPLE_CHUNK));
        // Made ahead for the usual rate; a frame at another rate makes its own.
        let _ = framer.set_rate(rate);
        Self { framer }
    }

    /// The whole 20 ms frames `pcm` completes.
    pub fn push(&mut self, pcm: &PcmFrame) -> Result<Vec<AudioFrame>, RoomError> {
        let channels = pcm.num_channels.max(1) as usize;
        if pcm.sample_rate == 0 {
            return Err(audio_err("room audio frame with a zero sample rate"));
        }
        let mono: Vec<f32> = pcm
            .samples
            .chunks(channels)
            .map(|c| c.iter().map(|s| f32::from(*s) / 32768.0).sum::<f32>() / c.len() as f32)
            .collect();
        self.framer
            .push(pcm.sample_rate, &mono)
            .map_err(|e| audio_err(&e))
    }
}

/// Agent audio → the room: resample to 48 kHz, cut 10 ms frames of 16-bit PCM.
pub struct RoomAudioOut {
    room_rate: u32,
    from: u32,
    resampler: Option<StreamResampler>,
    pending: Vec<f32>,
}

impl RoomAudioOut {
    pub fn new(room_rate: u32) -> Self {
        Self {
            room_rate,
            from: 0,
            resampler: None,
            pending: Vec::new(),
        }
    }

    fn frame_len(&self) -> usize {
        (self.room_rate * OUT_FRAME_MS / 1000) as usize
    }

    pub fn push(&mut self, frame: &AudioFrame) -> Result<(), RoomError> {
        if frame.sample_rate == 0 {
            return Err(audio_err("agent audio frame with a zero sample rate"));
        }
        if frame.sample_rate != self.from || self.resampler.is_none() {
            self.finish()?;
            self.from = frame.sample_rate;
            self.resampler =
                Some(StreamResampler::new(self.from, self.room_rate).map_err(|e| audio_err(&e))?);
        }
        if let Some(r) = self.resampler.as_mut() {
            r.push(&frame.samples, &mut self.pending)
                .map_err(|e| audio_err(&e))?;
        }
        Ok(())
    }

    /// The end of a reply: flush the resampler and pad the last frame, so
    /// nothing of the reply waits for the next one.
    pub fn finish(&mut self) -> Result<(), RoomError> {
        if let Some(mut r) = self.resampler.take() {
            r.finish(&mut self.pending).map_err(|e| audio_err(&e))?;
            let n = self.frame_len();
            let rem = self.pending.len() % n;
            if rem != 0 {
                self.pending.resize(self.pending.len() + n - rem, 0.0);
            }
        }
        Ok(())
    }

    /// Barge-in: forget everything not yet sent.
    pub fn reset(&mut self) {
        self.resampler = None;
        self.pending.clear();
    }

    /// The next whole 10 ms frame, as 16-bit samples.
    pub fn next_frame(&mut self) -> Option<Vec<i16>> {
        let n = self.frame_len();
        if self.pending.len() < n {
            return None;
        }
        let frame = self
            .pending
            .drain(..n)
            .map(|s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
            .collect();
        Some(frame)
    }
}

fn audio_err(reason: &str) -> RoomError {
    RoomError::Ffi {
        request: "audio conversion",
        reason: reason.to_string(),
    }
}

enum OutCmd {
    /// Held at 16 bits while it waits; resampled to the room's rate when sent.
    Frame(u64, Pcm16Frame),
    TurnDone(u64),
}

/// The session's output side in a room: queues agent audio for the speaker
/// task without ever blocking the Playout actor.
pub struct RoomOutput {
    tx: mpsc::UnboundedSender<OutCmd>,
    generation: AtomicU64,
    queued_ms: Arc<AtomicU64>,
    dropped_ms: AtomicU64,
    source: parking_lot::Mutex<Option<Arc<AudioSource>>>,
}

impl RoomOutput {
    fn new() -> (Self, mpsc::UnboundedReceiver<OutCmd>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                tx,
                generation: AtomicU64::new(0),
                queued_ms: Arc::new(AtomicU64::new(0)),
                dropped_ms: AtomicU64::new(0),
                source: parking_lot::Mutex::new(None),
            },
            rx,
        )
    }
}

impl Transport for RoomOutput {
    const CONNECTION_TYPE: &'static str = "udp";
}

impl AudioOutput for RoomOutput {
    fn play(&self, _turn: u64, frame: Pcm16Frame) {
        let ms = frame.duration_ms();
        // The queue is bounded by duration: an unread backlog is dropped, counted.
        if self.queued_ms.load(Ordering::Relaxed) + ms > MAX_QUEUED_OUT_MS {
            self.dropped_ms.fetch_add(ms, Ordering::Relaxed);
            return;
        }
        self.queued_ms.fetch_add(ms, Ordering::Relaxed);
        let g = self.generation.load(Ordering::Acquire);
        let _ = self.tx.send(OutCmd::Frame(g, frame));
    }

    fn flush(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(src) = self.source.lock().as_ref() {
            if let Err(e) = src.clear() {
                tracing::warn!("clearing the agent's queued audio: {e}");
            }
        }
    }

    fn notice(&self, notice: SessionNotice) {
        if let SessionNotice::AgentTurnDone { .. } = notice {
            let g = self.generation.load(Ordering::Acquire);
            let _ = self.tx.send(OutCmd::TurnDone(g));
        }
    }
}

/// Feeds agent audio to the room's source at the pace LiveKit takes it.
async fn speak(
    mut rx: mpsc::UnboundedReceiver<OutCmd>,
    source: Arc<AudioSource>,
    output: Arc<RoomOutput>,
    session_id: String,
) {
    *output.source.lock() = Some(source.clone());
    let mut conv = RoomAudioOut::new(source.sample_rate);
    let mut current = 0u64;
    while let Some(cmd) = rx.recv().await {
        let (generation, frame) = match cmd {
            OutCmd::Frame(g, f) => {
                output.queued_ms.fetch_sub(
                    f.duration_ms()
                        .min(output.queued_ms.load(Ordering::Relaxed)),
                    Ordering::Relaxed,
                );
                (g, Some(f))
            }
            OutCmd::TurnDone(g) => (g, None),
        };
        let live = output.generation.load(Ordering::Acquire);
        if generation != live {
            continue; // flushed (barge-in) before it was spoken
        }
        if generation != current {
            conv.reset();
            current = generation;
        }
        let step = match &frame {
            Some(f) => conv.push(&f.to_frame()),
            None => conv.finish(),
        };
        if let Err(e) = step {
            tracing::error!(%session_id, "agent audio: {e}");
            continue;
        }
        while let Some(chunk) = conv.next_frame() {
            if output.generation.load(Ordering::Acquire) != current {
                conv.reset();
                break;
            }
            if let Err(e) = source.capture(&chunk).await {
                tracing::warn!(%session_id, "agent audio to the room: {e}");
                break;
            }
        }
    }
}
