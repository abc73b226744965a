//! `GET /ws` (upgraded to one session per socket) and the demo page at
//! `GET /` and `GET /demo`, embedded in the binary.

use super::protocol::WsQuery;
use super::session::serve_socket;
use crate::node::NodeContext;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use axum::Router;
use serde_json::json;

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
    Query(q): Query<WsQuery>,
) -> Response {
    // A bad identifier is refused before the upgrade: nothing starts.
    let ids = match q.checked() {
        Ok(ids) => ids,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": format!("invalid /ws query: {e}") })),
            )
                .into_response()
        }
    };
    ws.max_message_size(MAX_WS_MESSAGE_BYTES)
        .max_frame_size(MAX_WS_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve_socket(socket, st, ids))
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
