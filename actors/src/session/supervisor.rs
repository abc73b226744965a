//! The SessionSupervisor: starts the five children, restarts a crashed one
//! with the shared state it needs (ractor's default would stop the whole
//! session), and ends the session cleanly: session-metrics, session.ended, stop.

use super::archiver::ArchiverActor;
use super::brain::BrainActor;
use super::children::Children;
use super::config::SessionConfig;
use super::emit;
use super::messages::{
    ArchiverMsg, AudioOutput, BrainMsg, ChildKind, EndReason, PlayoutMsg, SessionMsg,
    SessionNotice, SessionSummary, SttMsg, TtsMsg,
};
use super::pacer::Pacer;
use super::playout::PlayoutActor;
use super::shared::Shared;
use super::stt::SttActor;
use super::tts::TtsActor;
use crate::audio::{AudioFrame, FrameQueue};
use crate::emit::{lifecycle, service_error, LifecycleChange, ServiceIdentity};
use crate::engine::Engines;
use crate::sink::EventSink;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub struct SessionSupervisor;

/// Everything a session needs to start.
pub struct SessionArgs {
    /// Shared with the node's table of sessions: one copy a session.
    pub config: Arc<SessionConfig>,
    /// The node's, shared.
    pub identity: Arc<ServiceIdentity>,
    pub engines: Engines,
    pub sink: EventSink,
    pub output: Arc<dyn AudioOutput>,
    /// The inbound audio queue (made by the caller, who hands it to the transport).
    pub frames: Arc<FrameQueue>,
    /// Set to the summary when the session has stopped.
    pub done: watch::Sender<Option<SessionSummary>>,
    /// Filled with the session's shared state at start, so that whoever
    /// outlives a supervisor that panicked (the node) can still report the
    /// session's totals.
    pub(crate) totals: TotalsSlot,
    /// The node's playout pacer.
    pub(crate) pacer: Pacer,
}

/// Where a session leaves its shared state for the node.
pub(crate) type TotalsSlot = Arc<OnceLock<Arc<Shared>>>;

pub struct SessionState {
    shared: Arc<Shared>,
    children: Children,
    restarts: VecDeque<Instant>,
    ending: bool,
    done: watch::Sender<Option<SessionSummary>>,
    summary: Option<SessionSummary>,
    trace_id: String,
}

/// The outside world's handle on a running session.
#[derive(Clone)]
pub struct SessionHandle {
    pub session_id: String,
    pub actor: ActorRef<SessionMsg>,
    frames: Arc<FrameQueue>,
    done: watch::Receiver<Option<SessionSummary>>,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("session_id", &self.session_id)
            .finish()
    }
}

impl SessionHandle {
    /// Audio from a live source: never waits (drops the oldest frame when full).
    pub fn push_audio(&self, frame: AudioFrame) {
        self.frames.push(frame);
    }

    /// Audio from a source that can wait (a file): loses nothing.
    pub async fn push_audio_wait(&self, frame: AudioFrame) -> bool {
        self.frames.push_wait(frame).await
    }

    pub fn frames(&self) -> &Arc<FrameQueue> {
        &self.frames
    }

    pub fn end(&self, reason: EndReason) {
        let _ = self.actor.cast(SessionMsg::End(reason));
    }

    pub fn inject_fault(&self, kind: ChildKind) {
        let _ = self.actor.cast(SessionMsg::InjectFault(kind));
    }

    /// Make the session's supervisor itself panic (chaos testing).
    pub fn crash(&self) {
        let _ = self.actor.cast(SessionMsg::Crash);
    }

    pub fn is_done(&self) -> bool {
        self.done.borrow().is_some()
    }

    /// Wait until the session has stopped; its summary (None if it died without one).
    pub async fn wait(&self) -> Option<SessionSummary> {
        let mut rx = self.done.clone();
        loop {
            if let Some(s) = rx.borrow().clone() {
                return Some(s);
            }
            if rx.changed().await.is_err() {
                return rx.borrow().clone();
            }
        }
    }

    pub fn new(
        session_id: String,
        actor: ActorRef<SessionMsg>,
        frames: Arc<FrameQueue>,
        done: watch::Receiver<Option<SessionSummary>>,
    ) -> Self {
        Self {
            session_id,
            actor,
            frames,
            done,
        }
    }
}

async fn spawn_child(
    kind: ChildKind,
    sup: ActorCell,
    shared: &Arc<Shared>,
) -> Result<ActorCell, ActorProcessingErr> {
    let name = None;
    let s = shared.clone();
    let routes = &shared.routes;
    let cell = match kind {
        ChildKind::Playout => {
            let (r, _) = Actor::spawn_linked(name, PlayoutActor, s, sup).await?;
            *routes.playout.write() = Some(r.clone());
            // Only now: a turn's end sent before the swap went to the
            // Playout that died (see `Shared::send_turn_end`).
            let _ = r.cast(PlayoutMsg::TakeOver);
            r.get_cell()
        }
        ChildKind::Stt => {
            let (r, _) = Actor::spawn_linked(name, SttActor, s, sup).await?;
            *routes.stt.write() = Some(r.clone());
            r.get_cell()
        }
        ChildKind::Brain => {
            let (r, _) = Actor::spawn_linked(name, BrainActor, s, sup).await?;
            *routes.brain.write() = Some(r.clone());
            r.get_cell()
        }
        ChildKind::Tts => {
            let (r, _) = Actor::spawn_linked(name, TtsActor, s, sup).await?;
            *routes.tts.write() = Some(r.clone());
            r.get_cell()
        }
        ChildKind::Archiver => {
            let (r, _) = Actor::spawn_linked(name, ArchiverActor, s, sup).await?;
            *routes.archiver.write() = Some(r.clone());
            r.get_cell()
        }
    };
    Ok(cell)
}

impl Actor for SessionSupervisor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SessionArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let shared = Arc::new(Shared::new(
            args.config,
            args.identity,
            args.engines,
            args.sink,
            args.output,
            args.frames,
            args.pacer,
        ));
        let _ = shared.supervisor.set(myself.clone());
        let _ = args.totals.set(shared.clone());
        let mut children = Children::default();
        for kind in ChildKind::ALL {
            let cell = spawn_child(kind, myself.get_cell(), &shared).await?;
            children.insert(cell.get_id(), kind);
        }
        let trace_id = crate::ids::new_trace_id();
        shared
            .sink
            .emit(emit::session_started(&shared.config, &trace_id));
        tracing::info!(session_id = %shared.config.session_id, %trace_id, user_id = %shared.config.user_id, "session started");
        Ok(SessionState {
            shared,
            children,
            restarts: VecDeque::new(),
            ending: false,
            done: args.done,
            summary: None,
            trace_id,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        st.shared.frames.close();
        let summary = st.summary.clone().unwrap_or_default();
        let _ = st.done.send(Some(summary));
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SessionMsg::End(reason) => st.end(&myself, reason).await,
            SessionMsg::Crash => panic!("fault injected into session supervisor"),
            SessionMsg::InjectFault(kind) => {
                tracing::warn!(session_id = %st.shared.config.session_id, child = kind.as_str(), "fault injected on request");
                let s = &st.shared;
                match kind {
                    ChildKind::Playout => s.to_playout(PlayoutMsg::Fault),
                    ChildKind::Stt => s.to_stt(SttMsg::Fault),
                    ChildKind::Brain => s.to_brain(BrainMsg::Fault),
                    ChildKind::Tts => s.to_tts(TtsMsg::Fault),
                    ChildKind::Archiver => s.to_archiver(ArchiverMsg::Fault),
                };
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, reason) = match event {
            SupervisionEvent::ActorFailed(cell, err) => (cell, err.to_string()),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                if st.ending {
                    return Ok(());
                }
                (
                    cell,
                    reason.unwrap_or_else(|| "stopped unexpectedly".into()),
                )
            }
            _ => return Ok(()),
        };
        let Some(kind) = st.children.remove(&cell.get_id()) else {
            return Ok(());
        };
        if st.ending {
            return Ok(());
        }
        st.restart(&myself, kind, &reason).await;
        Ok(())
    }
}

impl SessionState {
    async fn restart(&mut self, myself: &ActorRef<SessionMsg>, kind: ChildKind, reason: &str) {
        let cfg = &self.shared.config;
        let service = format!("{}/{}", self.shared.identity.service_name, kind.as_str());
        tracing::error!(session_id = %cfg.session_id, trace_id = %self.trace_id, child = kind.as_str(), %reason, "session child crashed");
        let sink = &self.shared.sink;
        sink.emit(lifecycle(
            &self.shared.identity,
            &service,
            LifecycleChange::Crashed,
            &format!("session {}: {reason}", cfg.session_id),
            &self.trace_id,
        ));
        sink.emit(service_error(
            &self.shared.identity,
            "actor_crashed",
            &format!(
                "{} actor of session {} crashed: {reason}",
                kind.as_str(),
                cfg.session_id
            ),
            "error",
            "automatic_restart",
            &self.trace_id,
        ));
        let now = Instant::now();
        let window = Duration::from_millis(cfg.restart_window_ms);
        while self
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            self.restarts.pop_front();
        }
        if self.restarts.len() as u32 >= cfg.max_restarts {
            let msg = format!(
                "{} crashed {} times within {} ms: giving up on the session",
                kind.as_str(),
                self.restarts.len() + 1,
                cfg.restart_window_ms
            );
            tracing::error!(session_id = %cfg.session_id, "{msg}");
            self.end(myself, EndReason::Error(msg)).await;
            return;
        }
        self.restarts.push_back(now);
        match spawn_child(kind, myself.get_cell(), &self.shared).await {
            Ok(cell) => {
                self.children.insert(cell.get_id(), kind);
                tracing::info!(session_id = %cfg.session_id, child = kind.as_str(), "session child restarted");
                self.shared.sink.emit(lifecycle(
                    &self.shared.identity,
                    &service,
                    LifecycleChange::Recovered,
                    &format!("session {}: restarted after crash", cfg.session_id),
                    &self.trace_id,
                ));
            }
            Err(e) => {
                let msg = format!("could not restart {}: {e}", kind.as_str());
                self.end(myself, EndReason::Error(msg)).await;
            }
        }
    }

    async fn end(&mut self, myself: &ActorRef<SessionMsg>, reason: EndReason) {
        if self.ending {
            return;
        }
        self.ending = true;
        let ended_at = chrono::Utc::now();
        let cfg = &self.shared.config;
        // Ask the Archiver for session-metrics; don't wait long on a sick one.
        let archiver = self.shared.routes.archiver.read().clone();
        let summary = match archiver {
            Some(a) => ractor::call_t!(a, ArchiverMsg::Finish, 2000, ended_at).ok(),
            None => None,
        };
        // No answer (the Archiver crashed for good, or is stuck): the
        // session-metrics come from the shared totals, still exactly once.
        let summary = summary.unwrap_or_else(|| self.shared.finish_metrics(ended_at));
        self.shared.sink.emit(emit::session_ended(
            cfg,
            &self.trace_id,
            summary.duration_seconds,
            summary.turns,
            reason.as_str(),
            reason.final_status(),
        ));
        self.shared.output.notice(SessionNotice::Ended {
            reason: reason.as_str().to_string(),
        });
        tracing::info!(session_id = %cfg.session_id, reason = reason.as_str(), turns = summary.turns, "session ended");
        self.summary = Some(summary);
        self.shared.frames.close();
        myself.stop(Some(reason.as_str().to_string()));
    }
}
