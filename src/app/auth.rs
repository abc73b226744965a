//! The HTTP side of [`Access`](crate::node::Access): layers that let a
//! request through to `/v1/*` or `/metrics` only with a token that allows it.

use crate::node::{Access, Need};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

pub(crate) fn refuse(why: String) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(json!({ "error": format!("unauthorized: {why}") })),
    )
        .into_response()
}

/// The `/v1` layer: the request goes on only with a token that allows it.
pub(crate) async fn require_v1(
    State(access): State<Arc<Access>>,
    req: Request,
    next: Next,
) -> Response {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let need = Need::of(req.method(), req.uri().path());
    match access.check(auth, need) {
        Ok(()) => next.run(req).await,
        Err(why) => refuse(why),
    }
}

/// The `/metrics` layer: open unless a metrics token is set.
pub(crate) async fn require_metrics(
    State(access): State<Arc<Access>>,
    req: Request,
    next: Next,
) -> Response {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match access.check_metrics(auth) {
        Ok(()) => next.run(req).await,
        Err(why) => refuse(why),
    }
}
