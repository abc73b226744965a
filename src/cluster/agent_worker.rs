//! LiveKit agent dispatch: the node registers with a LiveKit server as an
//! agent worker, the way LiveKit's own agent SDKs do, and LiveKit hands it
//! rooms.
//!
//! The worker protocol is LiveKit's (`livekit.agent` protobufs from
//! `livekit-protocol`, binary WebSocket messages on `<livekit.url>/agent`,
//! a token with the `agent` grant): the worker sends `RegisterWorkerRequest`;
//! for each job the server asks `AvailabilityRequest` and the node answers
//! `available` while it is below its session limit (dispatch.max_sessions);
//! on `JobAssignment` it joins the job's room with the token LiveKit gave
//! (`room_transport`) and reports `UpdateJobStatus` (running, then success
//! or failed with the reason); `JobTermination` ends that session. The load
//! goes out in `UpdateWorkerStatus` after every change. A lost connection is
//! retried with back-off until the node stops.
//!
//! On by `dispatch.livekit_worker = true` with a LiveKit server and key pair
//! configured; `dispatch.livekit_agent_name` empty takes every new room
//! (LiveKit's automatic dispatch), a name takes only rooms explicitly
//! dispatched to that agent.

use crate::node::NodeContext;
use crate::transports::room::{join_room, JoinRequest};
use arc_actors::session::{EndReason, SessionHandle};
use futures::{SinkExt, StreamExt};
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as proto;
use parking_lot::Mutex;
use prost::Message as _;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::sync::CancellationToken;

/// Why the worker is not connected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkerError {
    #[error("LiveKit agent worker needs livekit.url and the API key pair (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET)")]
    NotConfigured,
    #[error("cannot sign the worker token: {0}")]
    Token(String),
    #[error("cannot connect to LiveKit's agent endpoint {url}: {message}")]
    Connect { url: String, message: String },
    #[error("LiveKit agent endpoint {url}: {message}")]
    Protocol { url: String, message: String },
}

/// The `/agent` endpoint of a LiveKit server URL (ws(s):// or http(s)://).
pub(crate) fn agent_url(url: &str) -> String {
    let base = url.trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_string()
    };
    format!("{base}/agent")
}

/// The agent worker of this node.
pub(crate) struct AgentWorker {
    ctx: NodeContext,
    max_sessions: usize,
    /// Sessions started for LiveKit jobs, by job id.
    jobs: Arc<Mutex<HashMap<String, SessionHandle>>>,
}

fn encode(m: proto::worker_message::Message) -> WsMessage {
    WsMessage::Binary(
        proto::WorkerMessage { message: Some(m) }
            .encode_to_vec()
            .into(),
    )
}

impl AgentWorker {
    /// The worker of the node `ctx`, with `dispatch.max_sessions` as its limit.
    pub(crate) fn new(ctx: NodeContext) -> Arc<Self> {
        let max_sessions = ctx.cfg.dispatch_max_sessions();
        Arc::new(Self {
            ctx,
            max_sessions,
            jobs: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    fn load(&self) -> (f32, u32, bool) {
        let active = self.ctx.node.active_sessions();
        let full = active >= self.max_sessions || self.ctx.is_draining();
        (
            active as f32 / self.max_sessions.max(1) as f32,
            active as u32,
            full,
        )
    }

    fn status(&self, seq: u64) -> proto::worker_message::Message {
        let (load, job_count, full) = self.load();
        proto::worker_message::Message::UpdateWorker(proto::UpdateWorkerStatus {
            status: Some(if full {
                proto::WorkerStatus::WsFull as i32
            } else {
                proto::WorkerStatus::WsAvailable as i32
            }),
            load,
            job_count,
            draining: self.ctx.is_draining(),
            seq,
        })
    }

    /// The worker's own token: the `agent` grant, signed with the node's key pair.
    fn token(&self) -> Result<String, WorkerError> {
        let creds = self.ctx.cfg.livekit_credentials();
        if creds.api_key.is_empty() || creds.api_secret.is_empty() {
            return Err(WorkerError::NotConfigured);
        }
        AccessToken::with_api_key(&creds.api_key, &creds.api_secret)
            .with_identity(&format!(
                "{}-worker-{}",
                self.ctx.cfg.livekit.agent_identity,
                std::process::id()
            ))
            .with_grants(VideoGrants {
                agent: true,
                ..Default::default()
            })
            .to_jwt()
            .map_err(|e| WorkerError::Token(e.to_string()))
    }

    /// Registers and serves jobs until `stop`, reconnecting with back-off.
    pub(crate) async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut backoff = Duration::from_millis(self.ctx.cfg.livekit.retry_backoff_ms.max(100));
        let max = Duration::from_millis(self.ctx.cfg.livekit.max_retry_backoff_ms.max(1000));
        loop {
            match self.session(&stop).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "LiveKit agent worker not registered");
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(max);
        }
    }

    /// One connection: Ok when stopped, Err when the connection failed.
    async fn session(self: &Arc<Self>, stop: &CancellationToken) -> Result<(), WorkerError> {
        let url = agent_url(&self.ctx.cfg.livekit_credentials().url);
        let token = self.token()?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| WorkerError::Connect {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let auth = format!("Bearer {token}").parse().map_err(
            |e: tokio_tungstenite::tungstenite::http::header::InvalidHeaderValue| {
                WorkerError::Token(e.to_string())
            },
        )?;
        request.headers_mut().insert("Authorization", auth);
        let connect = tokio_tungstenite::connect_async(request);
        let timeout = Duration::from_millis(self.ctx.cfg.livekit.connect_timeout_ms);
        let (ws, _) = match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => {
                return Err(WorkerError::Connect {
                    url,
                    message: e.to_string(),
                })
            }
            Err(_) => {
                return Err(WorkerError::Connect {
                    url,
                    message: format!("no answer within {} ms", timeout.as_millis()),
                })
            }
        };
        let (mut tx, mut rx) = ws.split();
        let register = proto::worker_message::Message::Register(proto::RegisterWorkerRequest {
            r#type: proto::JobType::JtRoom as i32,
            agent_name: self.ctx.cfg.dispatch.livekit_agent_name.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        });
        let protocol = |message: String| WorkerError::Protocol {
            url: url.clone(),
            message,
        };
        tx.send(encode(register))
            .await
            .map_err(|e| protocol(e.to_string()))?;
        // Job outcomes come back from their own tasks through this channel.
        let (out_tx, mut out_rx) = mpsc::channel::<proto::worker_message::Message>(64);
        let mut seq = 0u64;
        let mut status_tick = tokio::time::interval(Duration::from_secs(5));
        status_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => {
                    seq += 1;
                    let _ = tx.send(encode(self.status(seq))).await;
                    let _ = tx.close().await;
                    return Ok(());
                }
                _ = status_tick.tick() => {
                    seq += 1;
                    tx.send(encode(self.status(seq))).await.map_err(|e| protocol(e.to_string()))?;
                }
                Some(m) = out_rx.recv() => {
                    tx.send(encode(m)).await.map_err(|e| protocol(e.to_string()))?;
                    seq += 1;
                    tx.send(encode(self.status(seq))).await.map_err(|e| protocol(e.to_string()))?;
                }
                msg = rx.next() => {
                    let data = match msg {
                        Some(Ok(WsMessage::Binary(b))) => b,
                        Some(Ok(WsMessage::Close(_))) | None => {
                            return Err(protocol("the server closed the connection".into()))
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Err(protocol(e.to_string())),
                    };
                    let server = match proto::ServerMessage::decode(data.as_ref()) {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::warn!(error = %e, "unreadable message from LiveKit's agent endpoint: ignored");
                            continue;
                        }
                    };
                    if let Some(reply) = self.on_server(server, &out_tx) {
                        tx.send(encode(reply)).await.map_err(|e| protocol(e.to_string()))?;
                    }
                }
            }
        }
    }

    /// Handles one server message; the immediate answer, if any.
    fn on_server(
        self: &Arc<Self>,
        msg: proto::ServerMessage,
        out: &mpsc::Sender<proto::worker_message::Message>,
    ) -> Option<proto::worker_message::Message> {
        use proto::server_message::Message as S;
        match msg.message? {
            S::Register(r) => {
                tracing::info!(worker_id = %r.worker_id, agent_name = %self.ctx.cfg.dispatch.livekit_agent_name, "registered with LiveKit as an agent worker");
                self.ctx.metrics.dispatch("livekit_registered");
                None
            }
            S::Availability(req) => {
                let job = req.job.unwrap_or_default();
                let (_, _, full) = self.load();
                let session_id = format!("sess-{}", job.id);
                if full {
                    self.ctx.metrics.dispatch("declined");
                }
                Some(proto::worker_message::Message::Availability(
                    proto::AvailabilityResponse {
                        job_id: job.id,
                        available: !full,
                        participant_identity: format!(
                            "{}-{session_id}",
                            self.ctx.cfg.livekit.agent_identity
                        ),
                        participant_name: self.ctx.cfg.livekit.agent_name.clone(),
                        ..Default::default()
                    },
                ))
            }
            S::Assignment(a) => {
                self.assign(a, out.clone());
                None
            }
            S::Termination(t) => {
                let h = self.jobs.lock().remove(&t.job_id);
                if let Some(h) = h {
                    tracing::info!(job_id = %t.job_id, "LiveKit terminated the job: session ends");
                    h.end(EndReason::RoomEnded);
                }
                None
            }
            S::Pong(_) | S::GoAway(_) => None,
        }
    }

    /// Joins the assigned room in its own task and reports the job's status.
    fn assign(
        self: &Arc<Self>,
        a: proto::JobAssignment,
        out: mpsc::Sender<proto::worker_message::Message>,
    ) {
        let job = a.job.unwrap_or_default();
        let room = job.room.clone().unwrap_or_default();
        let me = self.clone();
        tokio::spawn(async move {
            let req = JoinRequest {
                room_name: room.name.clone(),
                user_identity: job
                    .participant
                    .as_ref()
                    .map(|p| p.identity.clone())
                    .filter(|i| !i.is_empty()),
                url: a.url.filter(|u| !u.is_empty()),
                session_id: Some(format!("sess-{}", job.id)),
                token: Some(a.token).filter(|t| !t.is_empty()),
            };
            let status = |status: proto::JobStatus, error: String| {
                proto::worker_message::Message::UpdateJob(proto::UpdateJobStatus {
                    job_id: job.id.clone(),
                    status: status as i32,
                    error,
                })
            };
            match join_room(&me.ctx, req).await {
                Ok(session) => {
                    me.ctx.metrics.dispatch("taken");
                    tracing::info!(job_id = %job.id, room = %room.name, session_id = %session.session.session_id, "LiveKit job: joined the room");
                    me.jobs
                        .lock()
                        .insert(job.id.clone(), session.session.clone());
                    let _ = out
                        .send(status(proto::JobStatus::JsRunning, String::new()))
                        .await;
                    let reason = session.wait().await;
                    me.jobs.lock().remove(&job.id);
                    let done = match &reason {
                        EndReason::Error(e) => status(proto::JobStatus::JsFailed, e.clone()),
                        _ => status(proto::JobStatus::JsSuccess, String::new()),
                    };
                    let _ = out.send(done).await;
                }
                Err(e) => {
                    me.ctx.metrics.dispatch("not_taken");
                    tracing::error!(job_id = %job.id, room = %room.name, error = %e, "LiveKit job: the room could not be joined");
                    let _ = out
                        .send(status(proto::JobStatus::JsFailed, e.to_string()))
                        .await;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_endpoint_of_each_url_form() {
        assert_eq!(
            agent_url("ws://127.0.0.1:7880"),
            "ws://127.0.0.1:7880/agent"
        );
        assert_eq!(
            agent_url("wss://lk.example.com/"),
            "wss://lk.example.com/agent"
        );
        assert_eq!(
            agent_url("https://lk.example.com"),
            "wss://lk.example.com/agent"
        );
        assert_eq!(agent_url("http://lk:7880"), "ws://lk:7880/agent");
    }
}
