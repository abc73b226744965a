//! The NodeSupervisor: owns every session of this process. A session that
//! crashes is reported (lifecycle + session.ended) and removed; the node and
//! the other sessions go on.

use crate::audio::FrameQueue;
use crate::emit::{self, ServiceIdentity};
use crate::engine::{EngineError, Engines};
use crate::session::emit::session_ended;
use crate::session::{
    AudioOutput, EndReason, SessionArgs, SessionConfig, SessionHandle, SessionSupervisor,
};
use crate::session::{Pacer, TotalsSlot};
use crate::sink::EventSink;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Makes the engines for a new session (shared models, per-session state).
pub trait EngineProvider: Send + Sync {
    fn engines_for(&self, spec: &SessionSpec) -> Result<Engines, EngineError>;
}

/// A request to start a conversation.
pub struct SessionSpec {
    pub config: SessionConfig,
    pub output: Arc<dyn AudioOutput>,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("node is at its session limit ({limit}): not taking session {session_id}")]
    AtCapacity { limit: usize, session_id: String },
    #[error("node is draining: not taking session {session_id}")]
    Draining { session_id: String },
    #[error("session {session_id} already exists on this node")]
    Duplicate { session_id: String },
    #[error("engines for session {session_id} unavailable: {source}")]
    Engines {
        session_id: String,
        source: EngineError,
    },
    #[error("session {session_id} failed to start: {message}")]
    Spawn { session_id: String, message: String },
    #[error("node supervisor is not running")]
    Stopped,
}

/// Live counters the node's metrics and readiness read.
#[derive(Debug, Default)]
pub struct NodeStats {
    pub active_sessions: AtomicUsize,
    pub sessions_started: AtomicU64,
    pub sessions_crashed: AtomicU64,
}

pub struct NodeArgs {
    /// Shared with every session (one copy a node).
    pub identity: Arc<ServiceIdentity>,
    pub sink: EventSink,
    pub provider: Arc<dyn EngineProvider>,
    pub max_sessions: usize,
    pub stats: Arc<NodeStats>,
}

pub enum NodeMsg {
    Start(
        Box<SessionSpec>,
        RpcReplyPort<Result<SessionHandle, NodeError>>,
    ),
    /// Stop taking sessions and end every live one; replies with the handles to wait on.
    Drain(EndReason, RpcReplyPort<Vec<SessionHandle>>),
    List(RpcReplyPort<Vec<SessionHandle>>),
    Get(String, RpcReplyPort<Option<SessionHandle>>),
}

pub struct NodeSupervisor;

struct Entry {
    handle: SessionHandle,
    /// The same configuration the session holds (one copy a session).
    config: Arc<SessionConfig>,
    /// The session's shared state (its totals), once it started.
    totals: TotalsSlot,
}

pub struct NodeState {
    args: NodeArgs,
    sessions: HashMap<ActorId, Entry>,
    draining: bool,
    /// One frame clock for every session's Playout.
    pacer: Pacer,
    pacer_task: tokio::task::JoinHandle<()>,
}

impl Actor for NodeSupervisor {
    type Msg = NodeMsg;
    type State = NodeState;
    type Arguments = NodeArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: NodeArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let (pacer, pacer_task) = Pacer::start();
        Ok(NodeState {
            args,
            sessions: HashMap::new(),
            draining: false,
            pacer,
            pacer_task,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        st.pacer_task.abort();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            NodeMsg::Start(spec, reply) => {
                let r = st.start(&myself, *spec).await;
                let _ = reply.send(r);
            }
            NodeMsg::Drain(reason, reply) => {
                st.draining = true;
                let handles: Vec<SessionHandle> =
                    st.sessions.values().map(|e| e.handle.clone()).collect();
                for h in &handles {
                    h.end(reason.clone());
                }
                let _ = reply.send(handles);
            }
            NodeMsg::List(reply) => {
                let _ = reply.send(st.sessions.values().map(|e| e.handle.clone()).collect());
            }
            NodeMsg::Get(id, reply) => {
                let _ = reply.send(
                    st.sessions
                        .values()
                        .find(|e| e.handle.session_id == id)
                        .map(|e| e.handle.clone()),
                );
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                st.sessions.remove(&cell.get_id());
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                // A session died without ending itself: report it for it.
                let removed = st.sessions.remove(&cell.get_id());
                if let Some(e) = removed {
                    st.args
                        .stats
                        .sessions_crashed
                        .fetch_add(1, Ordering::Relaxed);
                    let trace_id = crate::ids::new_trace_id();
                    let reason = format!("session {} crashed: {err}", e.config.session_id);
                    tracing::error!(session_id = %e.config.session_id, %trace_id, "{reason}");
                    let sink = &st.args.sink;
                    sink.emit(emit::lifecycle(
                        &st.args.identity,
                        &format!("{}/session", st.args.identity.service_name),
                        emit::LifecycleChange::Crashed,
                        &reason,
                        &trace_id,
                    ));
                    sink.emit(emit::service_error(
                        &st.args.identity,
                        "session_crashed",
                        &reason,
                        "error",
                        "session_ended",
                        &trace_id,
                    ));
                    // Its session-metrics from the totals it left (exactly once:
                    // not if it sent them before it died).
                    let (duration, turns) = match e.totals.get() {
                        Some(shared) => {
                            let s = shared.finish_metrics(chrono::Utc::now());
                            (s.duration_seconds, s.turns)
                        }
                        None => (0, 0),
                    };
                    sink.emit(session_ended(
                        &e.config, &trace_id, duration, turns, "error", "failed",
                    ));
                }
            }
            _ => {}
        }
        // A burst's table gives back what it grew by as sessions end.
        crate::sparse::shrink_if_sparse(&mut st.sessions);
        st.args
            .stats
            .active_sessions
            .store(st.sessions.len(), Ordering::Relaxed);
        Ok(())
    }
}

impl NodeState {
    async fn start(
        &mut self,
        myself: &ActorRef<NodeMsg>,
        spec: SessionSpec,
    ) -> Result<SessionHandle, NodeError> {
        let session_id = spec.config.session_id.clone();
        if self.draining {
            return Err(NodeError::Draining { session_id });
        }
        if self.sessions.len() >= self.args.max_sessions {
            return Err(NodeError::AtCapacity {
                limit: self.args.max_sessions,
                session_id,
            });
        }
        if self
            .sessions
            .values()
            .any(|e| e.handle.session_id == session_id)
        {
            return Err(NodeError::Duplicate { session_id });
        }
        let engines =
            self.args
                .provider
                .engines_for(&spec)
                .map_err(|source| NodeError::Engines {
                    session_id: session_id.clone(),
                    source,
                })?;
        let frames = Arc::new(FrameQueue::new(spec.config.audio_queue_frames));
        let (done_tx, done_rx) = watch::channel(None);
        let totals = TotalsSlot::default();
        let config = Arc::new(spec.config);
        let args = SessionArgs {
            config: config.clone(),
            identity: self.args.identity.clone(),
            engines,
            sink: self.args.sink.clone(),
            output: spec.output,
            frames: frames.clone(),
            done: done_tx,
            totals: totals.clone(),
            pacer: self.pacer.clone(),
        };
        let (actor, _) = Actor::spawn_linked(None, SessionSupervisor, args, myself.get_cell())
            .await
            .map_err(|e| NodeError::Spawn {
                session_id: session_id.clone(),
                message: e.to_string(),
            })?;
        let handle = SessionHandle::new(session_id, actor.clone(), frames, done_rx);
        self.sessions.insert(
            actor.get_id(),
            Entry {
                handle: handle.clone(),
                config,
                totals,
            },
        );
        self.args
            .stats
            .sessions_started
            .fetch_add(1, Ordering::Relaxed);
        self.args
            .stats
            .active_sessions
            .store(self.sessions.len(), Ordering::Relaxed);
        Ok(handle)
    }
}

/// A cheap, cloneable handle on the node supervisor.
#[derive(Clone)]
pub struct NodeHandle {
    pub actor: ActorRef<NodeMsg>,
    pub stats: Arc<NodeStats>,
}

impl NodeHandle {
    /// Spawn the node supervisor.
    pub async fn start(
        args: NodeArgs,
    ) -> Result<(NodeHandle, tokio::task::JoinHandle<()>), NodeError> {
        let stats = args.stats.clone();
        let (actor, join) = Actor::spawn(None, NodeSupervisor, args)
            .await
            .map_err(|_| NodeError::Stopped)?;
        Ok((NodeHandle { actor, stats }, join))
    }

    pub async fn start_session(&self, spec: SessionSpec) -> Result<SessionHandle, NodeError> {
        ractor::call!(self.actor, NodeMsg::Start, Box::new(spec)).map_err(|_| NodeError::Stopped)?
    }

    pub async fn sessions(&self) -> Vec<SessionHandle> {
        ractor::call!(self.actor, NodeMsg::List).unwrap_or_default()
    }

    pub async fn session(&self, id: &str) -> Option<SessionHandle> {
        ractor::call!(self.actor, NodeMsg::Get, id.to_string()).unwrap_or(None)
    }

    pub fn active_sessions(&self) -> usize {
        self.stats.active_sessions.load(Ordering::Relaxed)
    }

    /// End every session with `reason` and wait (up to `timeout`) for them to stop.
    /// Returns how many did not stop in time.
    pub async fn drain(&self, reason: EndReason, timeout: Duration) -> usize {
        let handles = match ractor::call!(self.actor, NodeMsg::Drain, reason) {
            Ok(h) => h,
            Err(_) => return 0,
        };
        let wait_all = futures::future::join_all(handles.iter().map(|h| h.wait()));
        match tokio::time::timeout(timeout, wait_all).await {
            Ok(_) => 0,
            Err(_) => handles.iter().filter(|h| !h.is_done()).count(),
        }
    }

    /// Stop the supervisor (after a drain).
    pub fn stop(&self) {
        self.actor.stop(Some("node stopping".into()));
    }
}
