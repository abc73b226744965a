//! One socket, one session: check the query, start the session and say
//! hello, then read the socket until either side ends; end the session (or
//! let it end the socket), and stop the writer.

use super::inbound::{Control, Inbound};
use super::outbox::Outbox;
use super::output::WsOutput;
use super::protocol::{error_json, MessageRate, Refusal};
use super::writer::write_loop;
use crate::node::NodeContext;
use crate::transports::adapter::open_session;
use arc_actors::node::NodeError;
use arc_actors::session::EndReason;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::StreamExt;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Answer with an `error`, then close the socket with `close`.
async fn refuse(mut socket: WebSocket, code: &str, message: String, close: u16) {
    let _ = socket
        .send(Message::Text(error_json(code, &message).into()))
        .await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: close,
            reason: Utf8Bytes::from(code.to_string()),
        })))
        .await;
}

/// Run one session over `socket` until it ends.
pub(super) async fn serve_socket(
    socket: WebSocket,
    st: NodeContext,
    (user_id, agent_id): (Option<String>, Option<String>),
) {
    if st.is_draining() {
        return refuse(socket, "unavailable", "node is draining".into(), 1013).await;
    }
    let mut config = st.cfg.session_config();
    if let Some(u) = user_id {
        config.user_id = u;
    }
    if let Some(a) = agent_id {
        config.agent_id = a;
    }
    config.room_name = format!("ws-{}", config.session_id);
    let session_id = config.session_id.clone();
    let hello = json!({
        "type": "session",
        "session_id": session_id,
        "conversation_id": config.conversation_id,
        "user_id": config.user_id,
        "agent_id": config.agent_id,
        "engines": st.cfg.engines.profile.as_str(),
        "input": { "format": "pcm_s16le", "channels": 1, "frame_ms": 20 },
        "output_sample_rate": st.cfg.session.tts.sample_rate,
        "output": { "format": "pcm_s16le", "channels": 1, "sample_rate": st.cfg.session.tts.sample_rate },
    });

    let (queue, queue_rx) = Outbox::new();
    let epoch = Arc::new(AtomicU64::new(0));
    queue.text(hello.to_string());
    let output = Arc::new(WsOutput::new(
        queue.clone(),
        epoch.clone(),
        session_id.clone(),
    ));
    let session = match open_session(&st, output.clone(), config).await {
        Ok(h) => h,
        Err(e) => {
            let (code, close) = match e {
                NodeError::AtCapacity { .. } | NodeError::Draining { .. } => ("unavailable", 1013),
                _ => ("session_failed", 1011),
            };
            return refuse(socket, code, e.to_string(), close).await;
        }
    };
    tracing::info!(session_id = %session_id, "browser connected");

    let (sink, mut stream) = socket.split();
    let sent_samples = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(write_loop(
        sink,
        queue_rx,
        queue.samples.clone(),
        queue.texts.clone(),
        epoch,
        st.cfg.session.tts.sample_rate,
        sent_samples.clone(),
    ));

    let mut inbound = Inbound::new();
    let done = session.wait();
    tokio::pin!(done);
    let idle = Duration::from_millis(st.cfg.http.ws_idle_timeout_ms);
    let mut refusals = 0u64;
    let limit = st.cfg.http.ws_max_messages_per_s;
    let mut rate = MessageRate::new(limit, std::time::Instant::now());
    // Why the socket side ended the session (None: the session ended itself).
    let ended_by = loop {
        let msg = tokio::select! {
            _ = &mut done => break None,
            m = tokio::time::timeout(idle, stream.next()) => match m {
                Ok(m) => m,
                Err(_) => break Some(EndReason::Timeout),
            },
        };
        let result = match msg {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break Some(EndReason::UserLeft),
            Some(Ok(Message::Text(_) | Message::Binary(_)))
                if !rate.allow(std::time::Instant::now()) =>
            {
                Err(Refusal::new(
                    "rate_limited",
                    format!(
                        "more than {limit} messages a second (http.ws_max_messages_per_s): dropped"
                    ),
                ))
            }
            Some(Ok(Message::Text(t))) => match inbound.text(t.as_str()) {
                Ok(Control::Started) => {
                    tracing::debug!(session_id = %session_id, rate = inbound.rate(), "microphone started");
                    Ok(())
                }
                Ok(Control::Stop) => break Some(EndReason::UserLeft),
                Err(e) => Err(e),
            },
            Some(Ok(Message::Binary(b))) => inbound.audio(&b, &session),
            Some(Ok(_)) => Ok(()),
        };
        if let Err(r) = result {
            refusals += 1;
            // A client that only sends garbage still gets a bounded answer rate.
            if refusals <= 1000 {
                queue.text(error_json(r.code, &r.message));
            }
        }
    };
    let reason = ended_by.as_ref().map(|r| r.as_str().to_string());
    if let Some(r) = ended_by {
        session.end(r);
        // The session's `ended` notice closes the socket; wait for it briefly.
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut done).await;
    }
    // For a session that stopped without an `ended` notice (a no-op otherwise).
    queue.close(
        1000,
        reason.clone().unwrap_or_else(|| "session_ended".into()),
    );
    drop(output);
    let abort = writer.abort_handle();
    if tokio::time::timeout(Duration::from_secs(2), writer)
        .await
        .is_err()
    {
        abort.abort();
    }
    tracing::info!(
        session_id = %session_id,
        ended_by = reason.as_deref().unwrap_or("session"),
        agent_samples_sent = sent_samples.load(Ordering::Relaxed),
        "browser disconnected"
    );
}
