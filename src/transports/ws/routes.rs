//! `GET /ws` (upgraded to one session per socket) and the demo page at
//! `GET /` and `GET /demo`, embedded in the binary.

use super::protocol::WsQuery;
use super::session::serve_socket;
use crate::node::NodeContext;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use axum::Router;
use serde_json::json;
use std::net::SocketAddr;

/// The demo page, embedded in the binary.
const INDEX_HTML: &str = include_str!("../web/index.html");

/// Above this the socket itself is dropped (tungstenite refuses the message).
const MAX_WS_MESSAGE_BYTES: usize = 1 << 20;

/// `GET /ws`, and the demo page at `GET /` and `GET /demo`.
pub(crate) fn routes(ctx: NodeContext) -> Router {
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

/// `GET /ws`: upgrade, then run one session over the socket.
async fn upgrade(
    ws: WebSocketUpgrade,
    State(st): State<NodeContext>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<WsQuery>,
) -> Response {
    // A bad identifier, a missing or bad token, or a limit reached is refused
    // before the upgrade: nothing starts.
    let refuse = |status: StatusCode, message: String| {
        (status, Json(json!({ "error": message }))).into_response()
    };
    let admission = match st.access.admit_ws(q.token.as_deref(), peer.ip()) {
        Ok(a) => a,
        Err(r) => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNAUTHORIZED);
            return refuse(status, format!("/ws refused: {}", r.message));
        }
    };
    let (mut user_id, agent_id) = match q.checked() {
        Ok(ids) => ids,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("invalid /ws query: {e}")),
    };
    // The token says who the browser is; the query cannot say otherwise.
    if let Some(u) = admission.user_id.clone() {
        user_id = Some(u);
    }
    ws.max_message_size(MAX_WS_MESSAGE_BYTES)
        .max_frame_size(MAX_WS_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            serve_socket(socket, st, (user_id, agent_id)).await;
            drop(admission);
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_self_contained() {
        assert!(INDEX_HTML.contains("/ws"));
        assert!(INDEX_HTML.contains("arcStats"));
        assert!(!INDEX_HTML.contains("<script src="));
    }
}
