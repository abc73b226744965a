//! The `webhook` target: LiveKit webhooks through the receiver.

use super::signing::sign_webhook;
use super::{node_config, Input};
use crate::cluster::webhook::WebhookReceiver;
use arc_actors::events::pulsar::LivekitWebhook;
use std::time::Instant;

/// A LiveKit webhook. First byte % 4: 0 the rest is the body, signed as
/// LiveKit signs it (bare token), 1 the same with `Bearer `, 2 a piece that
/// is the `Authorization` header then the body, 3 the body without a header.
///
/// Promises: a signed body is accepted or refused as malformed (400), never
/// as unsigned; what is accepted serializes and reads back, and the same
/// webhook again is a duplicate.
pub fn webhook(data: &[u8]) {
    let mut input = Input(data);
    let mode = input.byte() % 4;
    let cfg = node_config();
    let receiver = WebhookReceiver::new(&cfg.livekit, &cfg.webhook);
    let (authorization, body) = match mode {
        0 | 1 => {
            let body = input.rest();
            let token = sign_webhook(body);
            let header = if mode == 1 {
                format!("Bearer {token}")
            } else {
                token
            };
            (Some(header), body)
        }
        2 => (Some(input.text()), input.rest()),
        _ => (None, input.rest()),
    };
    let now = || (chrono::Utc::now(), Instant::now());
    let accepted = match receiver.receive(authorization.as_deref(), body, now()) {
        Ok(a) => a,
        Err(e) => {
            assert!(matches!(e.status(), 400 | 401 | 503), "status of {e}");
            assert!(
                mode > 1 || e.status() == 400,
                "a signed webhook refused: {e}"
            );
            return;
        }
    };
    assert!(!accepted.duplicate, "the first delivery is no duplicate");
    let json = serde_json::to_vec(&accepted.event).expect("an accepted webhook serializes");
    let back: LivekitWebhook = serde_json::from_slice(&json).unwrap_or_else(|e| {
        panic!(
            "an accepted webhook does not read back: {e}\n{}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(back.webhook_payload, accepted.event.webhook_payload);
    assert_eq!(back.metadata.webhook_id, accepted.event.metadata.webhook_id);
    let again = receiver
        .receive(authorization.as_deref(), body, now())
        .expect("an accepted webhook is accepted again");
    assert!(again.duplicate, "a redelivery is a duplicate");
}
