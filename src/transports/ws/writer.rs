//! The socket writer: takes the outbox in order, drops audio of an older
//! epoch, announces a rate change with `audio_format`, pings the browser
//! every [`PING_EVERY`], and ends with the close frame.

use super::outbox::Outgoing;
use super::protocol::close_reason;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::SinkExt;
use serde_json::json;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the node pings the browser (a live one answers, which keeps the
/// socket from looking idle while the microphone is off).
const PING_EVERY: Duration = Duration::from_secs(15);

/// Send what the outbox holds until it closes or the socket fails.
pub(super) async fn write_loop(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    queued_samples: Arc<AtomicUsize>,
    queued_texts: Arc<AtomicUsize>,
    epoch: Arc<AtomicU64>,
    announced_rate: u32,
    sent_samples: Arc<AtomicU64>,
) {
    let mut rate = announced_rate;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    loop {
        let out = tokio::select! {
            o = rx.recv() => match o {
                Some(o) => o,
                None => break,
            },
            _ = ping.tick() => Outgoing::Ping,
        };
        let msg = match out {
            Outgoing::Ping => Message::Ping(Default::default()),
            Outgoing::Text(t) => {
                queued_texts.fetch_sub(1, Ordering::Relaxed);
                Message::Text(t.into())
            }
            Outgoing::Audio {
                epoch: e,
                rate: r,
                pcm,
                samples,
            } => {
                queued_samples.fetch_sub(samples, Ordering::Relaxed);
                if e != epoch.load(Ordering::Relaxed) {
                    continue;
                }
                if r != rate {
                    rate = r;
                    let m = json!({ "type": "audio_format", "sample_rate": r });
                    if sink
                        .send(Message::Text(m.to_string().into()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                sent_samples.fetch_add(samples as u64, Ordering::Relaxed);
                Message::Binary(pcm.into())
            }
            Outgoing::Close { code, reason } => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code,
                        reason: close_reason(reason).into(),
                    })))
                    .await;
                break;
            }
        };
        if sink.send(msg).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}
