//! The HTTP side of LiveKit's webhooks: `POST /livekit/webhook` (body size
//! limited by `webhook.max_body_bytes`), answered at once; a published track
//! is offered to the cluster in the background.

use super::{WebhookAction, WebhookReceiver};
use crate::cluster::dispatch::Dispatcher;
use crate::node::NodeContext;
use arc_actors::session::EndReason;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

#[derive(Clone)]
struct WebhookState {
    ctx: NodeContext,
    receiver: Arc<WebhookReceiver>,
    dispatch: Arc<Dispatcher>,
}

/// The webhook route, to merge into the node's router.
pub(crate) fn routes(ctx: NodeContext, dispatch: Arc<Dispatcher>) -> Router {
    let receiver = Arc::new(WebhookReceiver::new(&ctx.cfg.livekit, &ctx.cfg.webhook));
    let limit = ctx.cfg.webhook.max_body_bytes;
    Router::new()
        .route(
            "/livekit/webhook",
            post(livekit_webhook).layer(DefaultBodyLimit::max(limit)),
        )
        .with_state(WebhookState {
            ctx,
            receiver,
            dispatch,
        })
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// `POST /livekit/webhook`: verify, publish, and act on a LiveKit webhook.
async fn livekit_webhook(
    State(st): State<WebhookState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = (chrono::Utc::now(), std::time::Instant::now());
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let accepted = match st.receiver.receive(auth, &body, received) {
        Ok(a) => a,
        Err(e) => {
            st.ctx.metrics.webhook(e.outcome());
            tracing::warn!(error = %e, bytes = body.len(), "LiveKit webhook refused");
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            return error(status, e.to_string());
        }
    };
    let webhook_id = accepted.event.metadata.webhook_id.clone();
    if accepted.duplicate {
        st.ctx.metrics.webhook("duplicate");
        tracing::info!(%webhook_id, event = %accepted.event.event, "LiveKit webhook seen before: not published again");
        return Json(json!({ "accepted": true, "duplicate": true, "webhook_id": webhook_id }))
            .into_response();
    }
    st.ctx.metrics.webhook("accepted");
    tracing::info!(%webhook_id, event = %accepted.event.event, trace_id = %accepted.event.trace_id, "LiveKit webhook accepted");
    st.ctx
        .sink
        .emit(arc_actors::events::Event::LivekitWebhook(Box::new(
            accepted.event,
        )));
    match accepted.action {
        WebhookAction::TrackPublished(track) if st.ctx.cfg.dispatch.livekit_worker => {
            // LiveKit assigns rooms to its agent workers itself: only observe.
            tracing::debug!(track_sid = %track.track_sid, "track published: LiveKit agent dispatch assigns the room");
        }
        WebhookAction::TrackPublished(track) => {
            // Answer LiveKit at once; the offer may take a few tries.
            let dispatch = st.dispatch.clone();
            tokio::spawn(async move {
                if let Err(e) = dispatch.offer(track).await {
                    tracing::error!(error = %e, "published track not dispatched");
                }
            });
        }
        WebhookAction::TrackUnpublished(track) => {
            st.dispatch.end_track(&track.track_sid, EndReason::UserLeft);
            // Every node hears it; the one holding the session ends it.
            st.ctx
                .sink
                .emit(arc_actors::events::Event::TrackUnpublished(track));
        }
        WebhookAction::NotOffered { track_sid, reason } => {
            st.ctx.metrics.webhook(reason.as_str());
            tracing::info!(%webhook_id, %track_sid, reason = reason.as_str(), "audio track published but not offered: not a caller's voice");
            return Json(
                json!({ "accepted": true, "duplicate": false, "webhook_id": webhook_id,
                                "offered": false, "reason": reason.as_str() }),
            )
            .into_response();
        }
        WebhookAction::None => {}
    }
    Json(json!({ "accepted": true, "duplicate": false, "webhook_id": webhook_id })).into_response()
}
