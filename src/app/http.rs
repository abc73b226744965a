//! The node's HTTP server (axum): the operator endpoints and the session API
//! here, merged by `app` with the routes of the transports (`/ws`, the demo
//! page) and of the cluster (`/livekit/webhook`).
//!
//! - `GET /healthz`: the process is alive.
//! - `GET /readyz`: 200 when the node takes sessions, 503 while draining; JSON
//!   with the brokers' state.
//! - `GET /metrics`: Prometheus text.
//! - `POST /v1/sessions`: start a scripted session (synthetic engines).
//! - `GET /v1/sessions`, `DELETE /v1/sessions/{id}`.
//! - `POST /livekit/webhook`: LiveKit's signed webhooks (`cluster::webhook`).
//! - `POST /v1/sessions/{id}/fault/{child}`: make a child panic (only with
//!   `http.fault_injection = true`).
//! - `GET /ws`, `GET /` (and `/demo`): the browser transport and its demo
//!   page (`transports::ws`).

use super::auth::{require_metrics, require_v1};
use crate::mirror::MirrorStats;
use crate::node::NodeContext;
use crate::ops::metrics::ScrapeSources;
use arc_actors::ids::check_identifier;
use arc_actors::node::{NodeError, SessionSpec};
use arc_actors::session::{ChildKind, EndReason};
use arc_actors::synthetic::{run_script, CallerOutput};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// What the handlers share.
#[derive(Clone)]
struct HttpState {
    ctx: NodeContext,
    sources: Arc<ScrapeSources>,
}

/// The operator endpoints and the session API.
/// `/v1/*` asks for a token that allows the call and `/metrics` for the
/// metrics token when one is set ([`auth`](super::auth)); the probes are open.
pub(crate) fn router(ctx: NodeContext, sources: Arc<ScrapeSources>) -> Router {
    let access = ctx.access.clone();
    let state = HttpState { ctx, sources };
    let api = Router::new()
        .route("/v1/sessions", post(create_session).get(list_sessions))
        .route("/v1/sessions/{id}", axum::routing::delete(end_session))
        .route("/v1/sessions/{id}/fault/{child}", post(inject_fault))
        .route("/v1/tokens", post(mint_token))
        .route_layer(middleware::from_fn_with_state(access.clone(), require_v1));
    let scrape = Router::new()
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(access, require_metrics));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(api)
        .merge(scrape)
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

fn mirror_json(stats: &MirrorStats) -> serde_json::Value {
    json!({
        "connected": stats.is_connected(),
        "published": MirrorStats::get(&stats.published),
        "dropped": MirrorStats::get(&stats.dropped),
    })
}

async fn readyz(State(st): State<HttpState>) -> Response {
    let draining = st.ctx.is_draining();
    let mut brokers = serde_json::Map::new();
    for (name, stats, _) in &st.sources.mirrors {
        let mut v = mirror_json(stats);
        if *name == "pulsar" {
            v["spool_depth"] = json!(MirrorStats::get(&stats.spool_depth));
        }
        brokers.insert(name.to_string(), v);
    }
    let body = json!({
        "ready": !draining,
        "draining": draining,
        "active_sessions": st.ctx.node.active_sessions(),
        "max_sessions": st.ctx.cfg.node.max_sessions,
        "brokers": brokers,
    });
    let code = if draining {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(body)).into_response()
}

async fn metrics(State(st): State<HttpState>) -> Response {
    let text = st.ctx.metrics.render(&st.sources);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSession {
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default)]
    room_name: Option<String>,
    /// Lines the scripted user says, one turn each.
    script: Vec<String>,
}

async fn create_session(State(st): State<HttpState>, body: Bytes) -> Response {
    let req: CreateSession = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid session request: {e}"),
            )
        }
    };
    if st.ctx.is_draining() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "node is draining");
    }
    if req.script.len() > 1000 || req.script.iter().any(|l| l.len() > 10_000) {
        return error(
            StatusCode::BAD_REQUEST,
            "script too long (at most 1000 lines of 10000 bytes)",
        );
    }
    for (field, value) in [
        ("session_id", &req.session_id),
        ("user_id", &req.user_id),
        ("agent_id", &req.agent_id),
        ("room_name", &req.room_name),
    ] {
        if let Some(Err(e)) = value.as_deref().map(|v| check_identifier(field, v)) {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid session request: {e}"),
            );
        }
    }
    let mut config = st.ctx.cfg.session_config();
    if let Some(id) = req.session_id.filter(|s| !s.is_empty()) {
        config.conversation_id = format!("conv-{id}");
        config.session_id = id;
    }
    if let Some(u) = req.user_id {
        config.user_id = u;
    }
    if let Some(a) = req.agent_id {
        config.agent_id = a;
    }
    config.room_name = req
        .room_name
        .unwrap_or_else(|| format!("room-{}-{}", config.user_id, config.session_id));
    let output = Arc::new(CallerOutput::default());
    let session_id = config.session_id.clone();
    let conversation_id = config.conversation_id.clone();
    // The synthetic STT of the session hears the script from the book.
    if !st.ctx.scripts.write(session_id.clone(), req.script.clone()) {
        let taken = NodeError::Duplicate { session_id };
        return error(StatusCode::CONFLICT, taken.to_string());
    }
    let spec = SessionSpec {
        config,
        output: output.clone(),
    };
    let started = st.ctx.node.start_session(spec).await;
    // What the engines did not read (the local engines read no script).
    st.ctx.scripts.take(&session_id);
    match started {
        Ok(handle) => {
            let lines = req.script;
            tokio::spawn(async move {
                run_script(&handle, &*output, &lines, Duration::from_secs(30)).await;
                handle.end(EndReason::UserLeft);
            });
            (
                StatusCode::CREATED,
                Json(json!({ "session_id": session_id, "conversation_id": conversation_id })),
            )
                .into_response()
        }
        Err(e @ (NodeError::AtCapacity { .. } | NodeError::Draining { .. })) => {
            error(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        Err(e @ NodeError::Duplicate { .. }) => error(StatusCode::CONFLICT, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    /// Who the browser is: the session's user_id.
    user_id: String,
    /// Seconds the token may wait before it is used (default http.ws_token_ttl_s; at most 3600).
    #[serde(default)]
    ttl_s: Option<u64>,
}

/// `POST /v1/tokens`: a short-lived `/ws` token for one user, for the
/// operator's backend to hand to a browser (which never holds the node's
/// credentials).
async fn mint_token(State(st): State<HttpState>, body: Bytes) -> Response {
    let req: TokenRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid token request: {e}"),
            )
        }
    };
    if let Err(e) = check_identifier("user_id", &req.user_id) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("invalid token request: {e}"),
        );
    }
    let ttl = req.ttl_s.map(Duration::from_secs);
    match st.ctx.access.mint_ws_token(&req.user_id, ttl) {
        Ok((token, ttl)) => Json(json!({
            "token": token,
            "expires_in_s": ttl.as_secs(),
            "ws_path": format!("/ws?token={token}"),
        }))
        .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn list_sessions(State(st): State<HttpState>) -> Response {
    let ids: Vec<String> = st
        .ctx
        .node
        .sessions()
        .await
        .into_iter()
        .map(|h| h.session_id)
        .collect();
    Json(json!({ "sessions": ids })).into_response()
}

async fn end_session(State(st): State<HttpState>, Path(id): Path<String>) -> Response {
    match st.ctx.node.session(&id).await {
        Some(h) => {
            h.end(EndReason::Other("ended_by_api".into()));
            StatusCode::ACCEPTED.into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            format!("no session {id} on this node"),
        ),
    }
}

async fn inject_fault(
    State(st): State<HttpState>,
    Path((id, child)): Path<(String, String)>,
) -> Response {
    if !st.ctx.cfg.http.fault_injection {
        return error(
            StatusCode::FORBIDDEN,
            "fault injection is off (set http.fault_injection = true)",
        );
    }
    let kind = match child.as_str() {
        "session" => None,
        other => match ChildKind::parse(other) {
            Some(k) => Some(k),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("unknown target {child:?}: one of session, transport, stt, brain, tts, archiver"),
                )
            }
        },
    };
    match st.ctx.node.session(&id).await {
        Some(h) => {
            match kind {
                Some(k) => h.inject_fault(k),
                None => h.crash(),
            }
            StatusCode::ACCEPTED.into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            format!("no session {id} on this node"),
        ),
    }
}
