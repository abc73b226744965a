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

/// 401 with the reason (never the token).
fn refuse(why: String) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(json!({ "error": format!("unauthorized: {why}") })),
    )
        .into_response()
}

/// The request's `Authorization` header, when it is text.
fn authorization(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// The `/v1` layer: the request goes on only with a token that allows it.
pub(crate) async fn require_v1(
    State(access): State<Arc<Access>>,
    req: Request,
    next: Next,
) -> Response {
    let need = Need::of(req.method(), req.uri().path());
    match access.check(authorization(&req), need) {
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
    match access.check_metrics(authorization(&req)) {
        Ok(()) => next.run(req).await,
        Err(why) => refuse(why),
    }
}
