//! LiveKit agent dispatch: the node registers as an agent worker on
//! `<livekit.url>/agent` and speaks LiveKit's worker protocol (the
//! `livekit-protocol` protobufs). No LiveKit server can be installed here, so
//! the server side is a scripted endpoint of this test that sends what a
//! LiveKit server sends (protocol test only); the room join behind an
//! assignment is the real one (LiveKit's FFI library), against an
//! unreachable room server. What is checked: the worker's token carries the
//! `agent` grant and verifies with the node's key pair; it registers for room
//! jobs; it answers availability by its session limit; an assignment is
//! joined and reported (`UpdateJobStatus` failed, with the reason, since the
//! room's server is unreachable); a dropped connection is re-registered.

// tungstenite's handshake callback fixes its error type (an HTTP response).
#![allow(clippy::result_large_err)]

use arc_actors::node::SessionSpec;
use arc_testkit::*;
use futures::{SinkExt, StreamExt};
use livekit_protocol as proto;
use prost::Message as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

const SECRET: &str = "a-long-enough-development-secret";

type Ws = WebSocketStream<tokio::net::TcpStream>;

/// Accepts one worker connection; returns it with its path and token.
async fn accept(listener: &TcpListener) -> (Ws, String, String) {
    let (tcp, _) = tokio::time::timeout(Duration::from_secs(20), listener.accept())
        .await
        .expect("the worker connects")
        .unwrap();
    let seen = Arc::new(std::sync::Mutex::new((String::new(), String::new())));
    let s = seen.clone();
    let ws = tokio_tungstenite::accept_hdr_async(tcp, move |req: &Request, resp: Response| {
        let auth = req
            .headers()
            .get("Authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        *s.lock().unwrap() = (req.uri().path().to_string(), auth);
        Ok(resp)
    })
    .await
    .expect("websocket handshake");
    let (path, auth) = seen.lock().unwrap().clone();
    (ws, path, auth)
}

async fn send(ws: &mut Ws, m: proto::server_message::Message) {
    ws.send(WsMessage::Binary(
        proto::ServerMessage { message: Some(m) }
            .encode_to_vec()
            .into(),
    ))
    .await
    .unwrap();
}

/// The next worker message that `pick` accepts (status updates are skipped).
async fn next<T>(
    ws: &mut Ws,
    mut pick: impl FnMut(proto::worker_message::Message) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("a worker message in time")
            .expect("connection open")
            .unwrap();
        if let WsMessage::Binary(b) = m {
            let w = proto::WorkerMessage::decode(b.as_ref()).expect("a WorkerMessage");
            if let Some(t) = w.message.and_then(&mut pick) {
                return t;
            }
        }
    }
}

/// Asks the worker whether it takes job `id` in `room`; its answer.
async fn availability(ws: &mut Ws, id: &str, room: &str) -> proto::AvailabilityResponse {
    send(
        ws,
        proto::server_message::Message::Availability(proto::AvailabilityRequest {
            job: Some(job(id, room)),
            resuming: false,
        }),
    )
    .await;
    next(ws, |m| match m {
        proto::worker_message::Message::Availability(a) => Some(a),
        _ => None,
    })
    .await
}

fn job(id: &str, room: &str) -> proto::Job {
    proto::Job {
        id: id.into(),
        r#type: proto::JobType::JtRoom as i32,
        room: Some(proto::Room {
            sid: format!("RM_{room}"),
            name: room.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_answers_availability_joins_assignments_and_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut env = node_env(
        "pulsar://127.0.0.1:1",
        SHARED_NATS,
        &dir.path().join("data"),
        0,
    );
    env.extend(vars([
        ("ARC__PULSAR__ENABLED", "false".to_string()),
        ("ARC__NATS__ENABLED", "false".to_string()),
        ("ARC__LIVEKIT__URL", format!("ws://127.0.0.1:{port}")),
        ("ARC__LIVEKIT__API_KEY", "devkey".to_string()),
        ("ARC__LIVEKIT__API_SECRET", SECRET.to_string()),
        ("ARC__LIVEKIT__MAX_CONNECT_ATTEMPTS", "1".to_string()),
        ("ARC__LIVEKIT__CONNECT_TIMEOUT_MS", "2000".to_string()),
        ("ARC__LIVEKIT__RETRY_BACKOFF_MS", "100".to_string()),
        ("ARC__LIVEKIT__MAX_RETRY_BACKOFF_MS", "1000".to_string()),
        ("ARC__DISPATCH__LIVEKIT_WORKER", "true".to_string()),
        ("ARC__DISPATCH__MAX_SESSIONS", "1".to_string()),
    ]));
    let app = start_app(env).await;

    // Registration: the /agent endpoint, an agent token of the node's key pair.
    let (mut ws, path, auth) = accept(&listener).await;
    assert_eq!(path, "/agent");
    let token = auth.strip_prefix("Bearer ").expect("a bearer token");
    let claims = livekit_api::access_token::TokenVerifier::with_api_key("devkey", SECRET)
        .verify(token)
        .expect("the worker token verifies with the node's key pair");
    assert!(claims.video.agent, "agent grant");
    let register = next(&mut ws, |m| match m {
        proto::worker_message::Message::Register(r) => Some(r),
        _ => None,
    })
    .await;
    assert_eq!(register.r#type, proto::JobType::JtRoom as i32);
    assert_eq!(register.agent_name, "", "automatic dispatch");
    send(
        &mut ws,
        proto::server_message::Message::Register(proto::RegisterWorkerResponse {
            worker_id: "W_test".into(),
            ..Default::default()
        }),
    )
    .await;

    // Below its limit: available.
    let avail = availability(&mut ws, "AJ_1", "room-1").await;
    assert_eq!(avail.job_id, "AJ_1");
    assert!(avail.available);
    assert!(avail.participant_identity.contains("sess-AJ_1"));

    // Assigned: the node joins the room for real; its server is unreachable,
    // so the job is reported failed with the reason.
    let closed = free_port();
    send(
        &mut ws,
        proto::server_message::Message::Assignment(proto::JobAssignment {
            job: Some(job("AJ_1", "room-1")),
            url: Some(format!("ws://127.0.0.1:{closed}")),
            token: "a-token-from-livekit".into(),
        }),
    )
    .await;
    let update = next(&mut ws, |m| match m {
        proto::worker_message::Message::UpdateJob(u) => Some(u),
        _ => None,
    })
    .await;
    assert_eq!(update.job_id, "AJ_1");
    assert_eq!(update.status, proto::JobStatus::JsFailed as i32);
    assert!(
        update.error.contains(&closed.to_string()),
        "the reason names the room server: {}",
        update.error
    );

    // At its limit: not available, and the status says full.
    let held = app
        .ctx
        .node
        .start_session(SessionSpec {
            config: app.ctx.cfg.session_config(),
            output: Arc::new(RecordingOutput::default()),
        })
        .await
        .unwrap();
    let avail = availability(&mut ws, "AJ_2", "room-2").await;
    assert_eq!(avail.job_id, "AJ_2");
    assert!(!avail.available, "at dispatch.max_sessions");
    held.end(arc_actors::session::EndReason::UserLeft);

    // The server goes away: the worker registers again.
    drop(ws);
    let (mut ws, path, _) = accept(&listener).await;
    assert_eq!(path, "/agent");
    next(&mut ws, |m| match m {
        proto::worker_message::Message::Register(r) => Some(r),
        _ => None,
    })
    .await;
    let url = format!("http://{}/metrics", app.local_addr());
    let text = tokio::task::spawn_blocking(move || http("GET", &url, None).1)
        .await
        .unwrap();
    drop(ws);
    app.shutdown("test over").await;
    // Registered twice (the first connection's registration was answered; the
    // second is counted once LiveKit answers it, which this test does not do).
    assert_eq!(
        metric(&text, "arc_dispatch_total{outcome=\"livekit_registered\"}"),
        Some(1.0),
        "{text}"
    );
    assert!(metric(&text, "arc_livekit_joins_total").is_some(), "{text}");
}
