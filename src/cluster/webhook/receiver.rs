//! Verifying, deduplicating and mapping LiveKit's webhooks (no HTTP here).

use crate::config::{LivekitSection, WebhookSection};
use arc_actors::events::nats::{TrackMetadata, TrackPublished, TrackUnpublished};
use arc_actors::events::pulsar::{LivekitWebhook, WebhookMetadata, WebhookPayload};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why a webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebhookError {
    #[error("missing Authorization header (LiveKit signs every webhook)")]
    MissingAuthorization,
    #[error("webhooks are not configured: set livekit.api_key and livekit.api_secret (or LIVEKIT_API_KEY and LIVEKIT_API_SECRET)")]
    NotConfigured,
    #[error("webhook signature refused: {0}")]
    BadSignature(String),
    #[error("webhook body is not valid: {0}")]
    Malformed(String),
}

impl WebhookError {
    /// The HTTP status of this rejection.
    pub(crate) fn status(&self) -> u16 {
        match self {
            WebhookError::MissingAuthorization | WebhookError::BadSignature(_) => 401,
            WebhookError::NotConfigured => 503,
            WebhookError::Malformed(_) => 400,
        }
    }

    /// The `outcome` label of `arc_webhooks_total`.
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            WebhookError::Malformed(_) => "malformed",
            _ => "rejected",
        }
    }
}

/// Webhook ids seen recently: a bounded window, oldest forgotten first.
struct RecentIds {
    seen: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
    window: Duration,
    capacity: usize,
}

impl RecentIds {
    fn new(window: Duration, capacity: usize) -> Self {
        Self {
            seen: HashMap::new(),
            order: VecDeque::new(),
            window,
            capacity,
        }
    }

    /// Records `id`; false when it was already seen within the window.
    fn first_time(&mut self, id: &str, now: Instant) -> bool {
        while let Some((at, old)) = self.order.front() {
            if now.duration_since(*at) < self.window && self.order.len() < self.capacity {
                break;
            }
            if self.seen.get(old) == Some(at) {
                self.seen.remove(old);
            }
            self.order.pop_front();
        }
        if self.seen.contains_key(id) {
            return false;
        }
        self.seen.insert(id.to_string(), now);
        self.order.push_back((now, id.to_string()));
        true
    }
}

/// What an accepted webhook asks of the node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WebhookAction {
    /// A user's audio track appeared: offer it to the cluster.
    TrackPublished(TrackPublished),
    /// A user's audio track went away: end its session.
    TrackUnpublished(TrackUnpublished),
    /// An audio track that is not a caller's voice: never offered (an agent
    /// would otherwise answer itself, or a shared video's soundtrack).
    NotOffered {
        track_sid: String,
        reason: NotOffered,
    },
    /// Nothing for the voice loop (the webhook is still published).
    None,
}

/// Why a published audio track is not offered to the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotOffered {
    /// The participant is an agent: LiveKit's participant kind `AGENT`, or
    /// ARC's own `<livekit.agent_identity>-<session>` identity.
    AgentParticipant,
    /// The audio of a screen share (a video's soundtrack), not a microphone.
    ScreenShareAudio,
}

impl NotOffered {
    /// The webhook answer's `reason` and the `outcome` of `arc_webhooks_total`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NotOffered::AgentParticipant => "agent_participant",
            NotOffered::ScreenShareAudio => "screen_share_audio",
        }
    }
}

/// An accepted webhook: the event for Pulsar and what to do.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    pub event: LivekitWebhook,
    pub action: WebhookAction,
    /// The same id was accepted before: publish nothing.
    pub duplicate: bool,
}

/// Verifies and interprets LiveKit webhooks.
pub(crate) struct WebhookReceiver {
    receiver: Option<livekit_api::webhooks::WebhookReceiver>,
    /// ARC's own participants are `<agent_identity>-<session id>`.
    agent_prefix: String,
    recent: Mutex<RecentIds>,
}

impl WebhookReceiver {
    pub(crate) fn new(livekit: &LivekitSection, cfg: &WebhookSection) -> Self {
        let receiver = livekit.has_credentials().then(|| {
            livekit_api::webhooks::WebhookReceiver::new(
                livekit_api::access_token::TokenVerifier::with_api_key(
                    &livekit.api_key,
                    &livekit.api_secret,
                ),
            )
        });
        Self {
            receiver,
            agent_prefix: format!("{}-", livekit.agent_identity),
            recent: Mutex::new(RecentIds::new(
                Duration::from_secs(cfg.dedup_window_s),
                cfg.dedup_capacity,
            )),
        }
    }

    /// Checks the signature of `body` and reads it. `received` is when the
    /// request arrived (for `processing_latency_ms`).
    pub(crate) fn receive(
        &self,
        authorization: Option<&str>,
        body: &[u8],
        received: (DateTime<Utc>, Instant),
    ) -> Result<Accepted, WebhookError> {
        let receiver = self.receiver.as_ref().ok_or(WebhookError::NotConfigured)?;
        let token = authorization
            .map(|a| a.trim())
            .map(|a| a.strip_prefix("Bearer ").unwrap_or(a).trim())
            .filter(|a| !a.is_empty())
            .ok_or(WebhookError::MissingAuthorization)?;
        let text = std::str::from_utf8(body)
            .map_err(|e| WebhookError::Malformed(format!("body is not UTF-8: {e}")))?;
        let checked = receiver.receive(text, token).map_err(|e| {
            use livekit_api::webhooks::WebhookError as E;
            match e {
                E::InvalidData(e) => WebhookError::Malformed(e.to_string()),
                E::InvalidSignature => {
                    WebhookError::BadSignature("the body's sha256 does not match the token".into())
                }
                other => WebhookError::BadSignature(other.to_string()),
            }
        })?;
        let mut payload: WebhookPayload =
            serde_json::from_str(text).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        // The seed names the room's creation time `createdAt`; LiveKit's Room
        // calls it `creationTime`. Both are kept.
        if let Some(room) = payload.room.as_mut() {
            if room.created_at.is_empty() {
                if let Some(t) = room.extra.get("creationTime") {
                    room.created_at = t
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| t.to_string());
                }
            }
        }
        // The identifiers a track webhook brings become the session's
        // (events, Pulsar keys, logs): checked like every identifier from outside.
        if payload.event.starts_with("track_") {
            let ids = [
                ("room.name", payload.room.as_ref().map(|r| r.name.as_str())),
                (
                    "participant.identity",
                    payload.participant.as_ref().map(|p| p.identity.as_str()),
                ),
                ("track.sid", payload.track.as_ref().map(|t| t.sid.as_str())),
            ];
            for (field, value) in ids {
                if let Some(v) = value {
                    arc_actors::ids::check_identifier(field, v)
                        .map_err(|e| WebhookError::Malformed(e.to_string()))?;
                }
            }
        }
        let webhook_id = if checked.id.is_empty() {
            // LiveKit always sends an id; without one the body itself is the identity.
            use sha2::Digest;
            format!("sha256-{:x}", sha2::Sha256::digest(body))
        } else {
            checked.id.clone()
        };
        let duplicate = !self
            .recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first_time(&webhook_id, received.1);
        let action = match not_offered(&payload, &self.agent_prefix) {
            Some(reason) if payload.event == "track_published" && is_audio(&payload) => {
                WebhookAction::NotOffered {
                    track_sid: payload
                        .track
                        .as_ref()
                        .map(|t| t.sid.clone())
                        .unwrap_or_default(),
                    reason,
                }
            }
            _ => action_of(&payload, received.0),
        };
        let event = LivekitWebhook {
            schema: LivekitWebhook::SCHEMA.into(),
            message_id: arc_actors::ids::prefixed("msg-webhook"),
            timestamp: Utc::now(),
            trace_id: match &action {
                WebhookAction::TrackPublished(t) => t.trace_id.clone(),
                WebhookAction::TrackUnpublished(t) => t.trace_id.clone(),
                WebhookAction::NotOffered { .. } | WebhookAction::None => {
                    arc_actors::ids::new_trace_id()
                }
            },
            event: payload.event.clone(),
            webhook_payload: payload,
            metadata: WebhookMetadata {
                webhook_id,
                received_at: received.0,
                processing_latency_ms: received.1.elapsed().as_millis() as u64,
            },
        };
        Ok(Accepted {
            event,
            action,
            duplicate,
        })
    }
}

/// An audio track. `AUDIO` is value 0 of LiveKit's `TrackType`, so proto3
/// JSON may leave `type` out: absent means audio.
fn is_audio(payload: &WebhookPayload) -> bool {
    payload
        .track
        .as_ref()
        .is_some_and(|t| t.kind.is_empty() || t.kind.eq_ignore_ascii_case("audio"))
}

/// Why this webhook's audio track is not a caller's voice, if it is not.
/// LiveKit's participant `kind` is an enum: proto3 JSON writes its name
/// (`"AGENT"`) or, from some encoders, its number (4).
fn not_offered(payload: &WebhookPayload, agent_prefix: &str) -> Option<NotOffered> {
    if let Some(p) = &payload.participant {
        let kind_is_agent = match p.extra.get("kind") {
            Some(serde_json::Value::String(k)) => k.eq_ignore_ascii_case("agent"),
            Some(serde_json::Value::Number(n)) => n.as_u64() == Some(4),
            _ => false,
        };
        if kind_is_agent || p.identity.starts_with(agent_prefix) {
            return Some(NotOffered::AgentParticipant);
        }
    }
    payload
        .track
        .as_ref()
        .filter(|t| t.source.eq_ignore_ascii_case("screen_share_audio"))
        .map(|_| NotOffered::ScreenShareAudio)
}

/// The seed's track event for a track webhook.
fn action_of(payload: &WebhookPayload, now: DateTime<Utc>) -> WebhookAction {
    let room = payload.room.clone().unwrap_or_else(empty_room);
    let participant = payload.participant.clone();
    let (psid, identity) = participant.map(|p| (p.sid, p.identity)).unwrap_or_default();
    let track = payload.track.clone();
    match payload.event.as_str() {
        "track_published" if is_audio(payload) => {
            let t = track.unwrap_or_else(empty_track);
            WebhookAction::TrackPublished(TrackPublished {
                event: TrackPublished::EVENT.into(),
                timestamp: now,
                trace_id: arc_actors::ids::new_trace_id(),
                room_name: room.name,
                room_sid: room.sid,
                participant_sid: psid,
                participant_identity: identity.clone(),
                track_sid: t.sid.clone(),
                track_kind: "audio".into(),
                track_source: t.source.to_ascii_lowercase(),
                metadata: TrackMetadata {
                    user_id: identity,
                    session_id: session_of_track(&t.sid),
                },
            })
        }
        "track_unpublished" if is_audio(payload) => {
            let t = track.unwrap_or_else(empty_track);
            WebhookAction::TrackUnpublished(TrackUnpublished {
                event: TrackUnpublished::EVENT.into(),
                timestamp: now,
                trace_id: arc_actors::ids::new_trace_id(),
                room_name: room.name,
                participant_sid: psid,
                reason: TrackUnpublished::REASON_USER_DISCONNECTED.into(),
                duration_seconds: 0,
                session_id: session_of_track(&t.sid),
                track_sid: t.sid,
            })
        }
        _ => WebhookAction::None,
    }
}

/// The session a webhook-started track gets (empty when the track has no sid).
fn session_of_track(track_sid: &str) -> String {
    if track_sid.is_empty() {
        String::new()
    } else {
        format!("sess-{track_sid}")
    }
}

fn empty_room() -> arc_actors::events::pulsar::WebhookRoom {
    arc_actors::events::pulsar::WebhookRoom {
        sid: String::new(),
        name: String::new(),
        created_at: String::new(),
        extra: Default::default(),
    }
}

fn empty_track() -> arc_actors::events::pulsar::WebhookTrack {
    arc_actors::events::pulsar::WebhookTrack {
        sid: String::new(),
        kind: String::new(),
        source: String::new(),
        mime_type: String::new(),
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use sha2::Digest;

    fn cfg() -> (LivekitSection, WebhookSection) {
        let defaults = crate::config::Config::load_with(None, Vec::new()).unwrap();
        let mut lk = defaults.livekit;
        lk.api_key = "devkey".into();
        lk.api_secret = "a-long-enough-development-secret".into();
        let mut wh = defaults.webhook;
        wh.dedup_capacity = 3;
        (lk, wh)
    }

    fn sign(body: &str, secret: &str) -> String {
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body));
        livekit_api::access_token::AccessToken::with_api_key("devkey", secret)
            .with_sha256(&hash)
            .to_jwt()
            .unwrap()
    }

    const BODY: &str = r#"{"event":"track_published","id":"EV_1","room":{"sid":"RM_1","name":"room-a"},"participant":{"sid":"PA_1","identity":"user-1","state":"ACTIVE"},"track":{"sid":"TR_1","type":"AUDIO","source":"MICROPHONE","mimeType":"audio/opus"},"createdAt":"1702563000"}"#;

    fn now() -> (DateTime<Utc>, Instant) {
        (Utc::now(), Instant::now())
    }

    #[test]
    fn a_signed_track_webhook_becomes_the_seed_events() {
        let (lk, wh) = cfg();
        let r = WebhookReceiver::new(&lk, &wh);
        let token = sign(BODY, &lk.api_secret);
        let a = r.receive(Some(&token), BODY.as_bytes(), now()).unwrap();
        assert!(!a.duplicate);
        assert_eq!(a.event.metadata.webhook_id, "EV_1");
        assert_eq!(a.event.event, "track_published");
        let WebhookAction::TrackPublished(t) = &a.action else {
            panic!("{:?}", a.action)
        };
        assert_eq!(
            (
                t.track_sid.as_str(),
                t.track_kind.as_str(),
                t.track_source.as_str()
            ),
            ("TR_1", "audio", "microphone")
        );
        assert_eq!(t.participant_identity, "user-1");
        assert_eq!(t.metadata.user_id, "user-1");
        // The body LiveKit sent survives, unknown keys included.
        let back = serde_json::to_value(&a.event.webhook_payload).unwrap();
        assert_eq!(back["createdAt"], "1702563000");
        assert_eq!(back["track"]["mimeType"], "audio/opus");
        // The same id again is a duplicate.
        let again = r.receive(Some(&token), BODY.as_bytes(), now()).unwrap();
        assert!(again.duplicate);
    }

    #[test]
    fn a_track_webhook_with_an_unsafe_identifier_is_refused_naming_it() {
        let (lk, wh) = cfg();
        let r = WebhookReceiver::new(&lk, &wh);
        for (body, field) in [
            (
                BODY.replace(
                    "\"identity\":\"user-1\"",
                    "\"identity\":\"../../etc/passwd\"",
                ),
                "participant.identity",
            ),
            (
                BODY.replace("\"name\":\"room-a\"", "\"name\":\"room a\""),
                "room.name",
            ),
            (
                BODY.replace(
                    "\"sid\":\"TR_1\"",
                    &format!("\"sid\":\"{}\"", "T".repeat(200)),
                ),
                "track.sid",
            ),
        ] {
            let token = sign(&body, &lk.api_secret);
            let err = r.receive(Some(&token), body.as_bytes(), now()).unwrap_err();
            assert_eq!(err.status(), 400);
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    #[test]
    fn bad_signatures_are_refused() {
        let (lk, wh) = cfg();
        let r = WebhookReceiver::new(&lk, &wh);
        let wrong = sign(BODY, "another-secret-of-some-length");
        let e = r.receive(Some(&wrong), BODY.as_bytes(), now()).unwrap_err();
        assert_eq!(e.status(), 401, "{e}");
        let good = sign(BODY, &lk.api_secret);
        let tampered = BODY.replace("user-1", "user-2");
        let e = r
            .receive(Some(&good), tampered.as_bytes(), now())
            .unwrap_err();
        assert_eq!(e.status(), 401, "{e}");
        assert!(e.to_string().contains("sha256"), "{e}");
        let e = r.receive(None, BODY.as_bytes(), now()).unwrap_err();
        assert_eq!(e.status(), 401);
        let e = r
            .receive(Some("garbage"), BODY.as_bytes(), now())
            .unwrap_err();
        assert_eq!(e.status(), 401);
        let unconfigured = WebhookReceiver::new(
            &LivekitSection {
                api_key: String::new(),
                api_secret: String::new(),
                ..lk
            },
            &wh,
        );
        let e = unconfigured
            .receive(Some(&good), BODY.as_bytes(), now())
            .unwrap_err();
        assert_eq!(e.status(), 503);
        assert!(e.to_string().contains("LIVEKIT_API_KEY"), "{e}");
    }

    #[test]
    fn dedup_window_is_bounded() {
        let mut r = RecentIds::new(Duration::from_secs(60), 2);
        let t = Instant::now();
        assert!(r.first_time("a", t));
        assert!(!r.first_time("a", t));
        assert!(r.first_time("b", t));
        assert!(r.first_time("c", t)); // "a" forgotten: capacity 2
        assert!(r.first_time("a", t));
        let later = t + Duration::from_secs(61);
        assert!(r.first_time("c", later), "expired");
    }

    fn receiver_with(identity: &str) -> WebhookReceiver {
        let (mut lk, wh) = cfg();
        lk.agent_identity = identity.into();
        WebhookReceiver::new(&lk, &wh)
    }

    fn payload(participant: serde_json::Value, source: &str) -> WebhookPayload {
        serde_json::from_value(serde_json::json!({
            "event": "track_published",
            "room": {"sid": "RM_1", "name": "room-a"},
            "participant": participant,
            "track": {"sid": "TR_1", "type": "AUDIO", "source": source},
        }))
        .unwrap()
    }

    #[test]
    fn an_agents_audio_track_and_a_screen_shares_audio_are_not_a_callers_voice() {
        let r = receiver_with("arc-agent");
        let agent = NotOffered::AgentParticipant;
        for (participant, source, expected) in [
            (
                serde_json::json!({"identity": "bot-7", "kind": "AGENT"}),
                "MICROPHONE",
                Some(agent),
            ),
            (
                serde_json::json!({"identity": "bot-7", "kind": 4}),
                "MICROPHONE",
                Some(agent),
            ),
            (
                serde_json::json!({"identity": "arc-agent-sess-TR_9"}),
                "MICROPHONE",
                Some(agent),
            ),
            (
                serde_json::json!({"identity": "user-1"}),
                "SCREEN_SHARE_AUDIO",
                Some(NotOffered::ScreenShareAudio),
            ),
            (
                serde_json::json!({"identity": "user-1"}),
                "MICROPHONE",
                None,
            ),
            (
                serde_json::json!({"identity": "user-1", "kind": "STANDARD"}),
                "",
                None,
            ),
            (
                serde_json::json!({"identity": "+15550100", "kind": "SIP"}),
                "MICROPHONE",
                None,
            ),
            // A caller whose name starts like the agent's, but not its identity.
            (
                serde_json::json!({"identity": "arc-agentur"}),
                "MICROPHONE",
                None,
            ),
        ] {
            let p = payload(participant.clone(), source);
            assert_eq!(
                not_offered(&p, &r.agent_prefix),
                expected,
                "{participant} {source}"
            );
        }
    }
}
