//! `POST /livekit/webhook` with webhooks made by LiveKit's own Python packages
//! (`livekit-api` signs, `livekit-protocol` encodes, see
//! testkit/python/livekit_sign.py), against a node process on the real NATS
//! and pulsar-lite:
//!
//! - valid → `events/livekit-webhooks` in the seed's shape, and for an audio
//!   track `agent.voice.track.published` with the seed's fields, which starts
//!   the track's session; `track_unpublished` ends it;
//! - wrong secret, tampered body, expired token, missing header → 401 and
//!   nothing published;
//! - the same webhook twice → one event.

use arc_testkit::*;
use futures::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;

const SECRET: &str = "a-long-enough-development-secret";

fn signed(specs: &Value) -> Vec<(String, Option<String>)> {
    livekit_signed(specs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_reach_both_brokers_and_bad_ones_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pulsar = PulsarLite::start_provisioned(dir.path());
    let run = uuid::Uuid::new_v4().simple().to_string();
    let node = TestNode::builder(env!("CARGO_BIN_EXE_arc-agent"))
        .under_test(dir.path(), &pulsar.url(), SHARED_NATS)
        .env("LIVEKIT_API_KEY", "devkey")
        .env("LIVEKIT_API_SECRET", SECRET)
        // A queue group of its own: other nodes on the shared NATS take no part.
        .env("ARC__DISPATCH__QUEUE_GROUP", format!("wh-{run}"))
        .spawn();
    let http_port = node.http_port;

    let room = format!("room-wh-{run}");
    let nats = async_nats::connect(SHARED_NATS).await.unwrap();
    let mut sub = nats.subscribe("agent.voice.>").await.unwrap();
    subscribed(&nats).await;
    // Let the node join its dispatch queue group.
    assert!(eventually(Duration::from_secs(10), || {
        let (code, body) = node.get("/readyz");
        (code == 200 && body.contains("\"connected\":true")).then_some(())
    })
    .is_some());

    let track = |id: &str, track: &str, extra: Value| {
        let mut v = json!({"event": "track_published", "id": id, "room": room,
                           "participant": format!("user-{run}"), "track": track});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    };
    let specs = json!([
        track(&format!("EV_ok_{run}"), &format!("TR_ok_{run}"), json!({"defaults": true})),
        track(&format!("EV_wrong_{run}"), &format!("TR_wrong_{run}"), json!({"secret": "not-the-secret-at-all-really"})),
        track(&format!("EV_tamper_{run}"), &format!("TR_tamper_{run}"), json!({"tamper": true})),
        track(&format!("EV_expired_{run}"), &format!("TR_expired_{run}"), json!({"ttl_s": -600})),
        track(&format!("EV_noauth_{run}"), &format!("TR_noauth_{run}"), json!({"no_auth": true})),
        {"event": "room_started", "id": format!("EV_room_{run}"), "room": room},
        track(&format!("EV_video_{run}"), &format!("TR_video_{run}"), json!({"kind": "VIDEO"})),
        {"event": "track_unpublished", "id": format!("EV_unpub_{run}"), "room": room,
         "participant": format!("user-{run}"), "track": format!("TR_ok_{run}")},
        // Audio that is not a caller's voice: another agent's (LiveKit kind
        // AGENT), ARC's own (its agent identity), a screen share's soundtrack.
        {"event": "track_published", "id": format!("EV_agent_{run}"), "room": room,
         "participant": format!("helper-bot-{run}"), "participant_kind": "AGENT",
         "track": format!("TR_agent_{run}"), "defaults": true},
        {"event": "track_published", "id": format!("EV_self_{run}"), "room": room,
         "participant": format!("arc-agent-sess-TR_ok_{run}"), "track": format!("TR_self_{run}"),
         "defaults": true},
        {"event": "track_published", "id": format!("EV_share_{run}"), "room": room,
         "participant": format!("user-{run}"), "source": "SCREEN_SHARE_AUDIO",
         "track": format!("TR_share_{run}"), "defaults": true},
    ]);
    let hooks = signed(&specs);
    let statuses: Vec<u16> = hooks[..7]
        .iter()
        .map(|(b, a)| post_webhook(http_port, b, a.as_deref()).0)
        .collect();
    assert_eq!(statuses, vec![200, 401, 401, 401, 401, 200, 200]);
    // The same webhook again (LiveKit retries): 200, not published again.
    let (code, body) = post_webhook(http_port, &hooks[0].0, hooks[0].1.as_deref());
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"duplicate\":true"), "{body}");
    // Agents' tracks and screen-share audio: accepted (and published to
    // Pulsar as webhooks), never offered, and the answer says why.
    for (hook, reason) in hooks[8..].iter().zip([
        "agent_participant",
        "agent_participant",
        "screen_share_audio",
    ]) {
        let (code, body) = post_webhook(http_port, &hook.0, hook.1.as_deref());
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("\"offered\":false"), "{body}");
        assert!(body.contains(&format!("\"reason\":\"{reason}\"")), "{body}");
    }

    // NATS: one track.published (the audio track that was signed right), with
    // every seed field, and the session it started.
    let seed = seed_example("001_d0bc8d4814212cc7.txt", "agent.voice.track.published");
    let mut published = Vec::new();
    let mut started = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while tokio::time::Instant::now() < deadline && (published.is_empty() || started.is_empty()) {
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
            let v: Value = serde_json::from_slice(&m.payload).unwrap();
            if v["room_name"] != room.as_str() {
                continue;
            }
            match m.subject.as_str() {
                "agent.voice.track.published" => published.push(v),
                "agent.voice.session.started" => started.push(v),
                _ => {}
            }
        }
    }
    // A stray offer of a not-offered track would come within this second.
    let linger = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Some(m)) = tokio::time::timeout_at(linger, sub.next()).await {
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        if v["room_name"] == room.as_str() && m.subject.as_str() == "agent.voice.track.published" {
            published.push(v);
        }
    }
    assert_eq!(published.len(), 1, "only the caller's track: {published:?}");
    let p = &published[0];
    assert_eq!(missing_paths(&seed, p, ""), Vec::<String>::new(), "{p}");
    assert_eq!(p["track_sid"], format!("TR_ok_{run}"));
    assert_eq!(p["track_kind"], "audio");
    assert_eq!(p["track_source"], "microphone");
    assert_eq!(p["participant_identity"], format!("user-{run}"));
    assert_eq!(p["room_sid"], format!("RM_{room}"));
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0]["session_id"], format!("sess-TR_ok_{run}"));
    let (_, sessions) = node.get("/v1/sessions");
    assert!(
        sessions.contains(&format!("sess-TR_ok_{run}")),
        "{sessions}"
    );

    // track_unpublished ends the session.
    let (code, body) = post_webhook(http_port, &hooks[7].0, hooks[7].1.as_deref());
    assert_eq!(code, 200, "{body}");
    let mut unpublished = 0;
    let mut ended = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while tokio::time::Instant::now() < deadline && ended.is_none() {
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
            let v: Value = serde_json::from_slice(&m.payload).unwrap();
            if v["room_name"] != room.as_str() {
                continue;
            }
            match m.subject.as_str() {
                "agent.voice.track.unpublished" => unpublished += 1,
                "agent.voice.session.ended" => ended = Some(v),
                "agent.voice.track.published" => panic!("published again: {v}"),
                _ => {}
            }
        }
    }
    assert_eq!(unpublished, 1);
    let ended = ended.expect("session.ended");
    assert_eq!(ended["reason"], "user_left");
    assert_eq!(ended["session_id"], format!("sess-TR_ok_{run}"));

    // Pulsar: the accepted webhooks, once each, in the seed's shape.
    let msgs = read_pulsar(
        &pulsar.url(),
        &["persistent://arc/events/livekit-webhooks"],
        &room,
        7,
        Duration::from_secs(20),
    );
    let seed = seed_example(
        "000_a36cdaf97a05c199.txt",
        "persistent://arc/events/livekit-webhooks",
    );
    let mut ids: Vec<String> = msgs
        .iter()
        .map(|m| {
            m.payload["metadata"]["webhook_id"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    ids.sort();
    let mut want = vec![
        format!("EV_ok_{run}"),
        format!("EV_room_{run}"),
        format!("EV_unpub_{run}"),
        format!("EV_video_{run}"),
        // Accepted and kept on the durable log, though never offered.
        format!("EV_agent_{run}"),
        format!("EV_self_{run}"),
        format!("EV_share_{run}"),
    ];
    want.sort();
    assert_eq!(ids, want, "accepted once each, rejected never");
    for m in &msgs {
        // The seed's example is a track_published; other events carry what
        // LiveKit sends for them (room_started has no participant or track).
        let missing: Vec<String> = missing_paths(&seed, &m.payload, "")
            .into_iter()
            .filter(|p| {
                m.payload["event"] == "track_published"
                    || !(p.starts_with("webhook_payload.participant")
                        || p.starts_with("webhook_payload.track"))
            })
            .collect();
        assert_eq!(missing, Vec::<String>::new(), "{}", m.payload);
        assert_eq!(m.key, room, "keyed by room");
        assert_eq!(m.payload["schema"], "livekit-webhook-v1");
        assert!(m.payload["metadata"]["received_at"].is_string());
        assert!(m.payload["metadata"]["processing_latency_ms"].is_u64());
    }
    let ok = msgs
        .iter()
        .find(|m| {
            m.payload["event"] == "track_published"
                && m.payload["webhook_payload"]["track"]["sid"] == format!("TR_ok_{run}")
        })
        .expect("the accepted track webhook");
    assert_eq!(
        ok.payload["webhook_payload"]["participant"]["identity"],
        format!("user-{run}")
    );
    assert_eq!(ok.payload["webhook_payload"]["track"]["type"], "AUDIO");

    let text = node.get("/metrics").1;
    assert_eq!(
        metric(&text, "arc_webhooks_total{outcome=\"accepted\"}"),
        Some(7.0)
    );
    assert_eq!(
        metric(&text, "arc_webhooks_total{outcome=\"agent_participant\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(&text, "arc_webhooks_total{outcome=\"screen_share_audio\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "arc_webhooks_total{outcome=\"rejected\"}"),
        Some(4.0)
    );
    assert_eq!(
        metric(&text, "arc_webhooks_total{outcome=\"duplicate\"}"),
        Some(1.0)
    );
}

#[test]
fn malformed_or_oversized_webhooks_are_refused_and_the_node_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::builder(env!("CARGO_BIN_EXE_arc-agent"))
        .under_test(dir.path(), &nobody_at("pulsar"), SHARED_NATS)
        .env("ARC__LIVEKIT__API_KEY", "devkey")
        .env("ARC__LIVEKIT__API_SECRET", SECRET)
        .env("ARC__WEBHOOK__MAX_BODY_BYTES", "4096")
        .spawn();
    let http_port = node.http_port;
    // Signed correctly, but not a webhook.
    let hooks = signed(&json!([{"event": "room_started", "id": "EV_m", "room": "r"}]));
    let (body, auth) = &hooks[0];
    let broken = body.replacen('{', "[", 1);
    let (code, resp) = post_webhook(http_port, &broken, auth.as_deref());
    assert_eq!(
        code, 401,
        "a changed body no longer matches its signature: {resp}"
    );
    let (code, resp) = post_webhook(http_port, &"x".repeat(5000), auth.as_deref());
    assert_eq!(code, 413, "{resp}");
    let (code, resp) = post_webhook(http_port, body, Some("Bearer not.a.jwt"));
    assert_eq!(code, 401, "{resp}");
    assert!(resp.contains("signature"), "{resp}");
    // And the node still serves.
    let (code, _) = post_webhook(http_port, body, auth.as_deref());
    assert_eq!(code, 200);
    assert_eq!(node.get("/healthz").0, 200);
}
