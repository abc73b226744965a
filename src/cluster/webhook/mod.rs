//! LiveKit webhooks: `POST /livekit/webhook` ([`route`]), checked by the
//! [`WebhookReceiver`] ([`receiver`]).
//!
//! LiveKit signs each webhook with a JWT in `Authorization` (issuer = the API
//! key, HS256 with the API secret) whose `sha256` claim is the base64 sha256
//! of the body; livekit-api's `WebhookReceiver` checks both. What is accepted:
//!
//! - goes to `persistent://arc/events/livekit-webhooks` in the seed's shape
//!   (the body as LiveKit sent it in `webhook_payload`, `metadata.webhook_id`,
//!   `received_at`, `processing_latency_ms`), keyed by room name;
//! - `track_published` of an audio track becomes the seed's
//!   `agent.voice.track.published` and is offered to the cluster (see
//!   [`crate::cluster::dispatch`]): exactly one node takes it and starts its session;
//! - `track_unpublished` of an audio track becomes
//!   `agent.voice.track.unpublished`, which ends that track's session on
//!   whichever node holds it.
//!
//! A missing or bad signature is answered 401 and nothing is published; a
//! webhook id seen within `webhook.dedup_window_s` is answered 200 and not
//! published again (LiveKit retries deliveries).

pub(crate) mod receiver;
pub(crate) mod route;

pub(crate) use receiver::{WebhookAction, WebhookReceiver};
