//! A scripted session against the real brokers: the seed's NATS events arrive
//! on their subjects (read back with async-nats), and a Python pulsar-client
//! reader sees conversation-v1 on `persistent://arc/events/conversation` with
//! key = user_id and every field of the seed.
//!
//! The NATS server is the test's own: on the machine's shared one, anything
//! else publishing under `agent.>` at the same time (another node, another
//! test run) would be counted here.

use arc_actors::events::Event;
use arc_testkit::*;
use futures::StreamExt;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_session_reaches_nats_and_pulsar_with_the_seed_fields() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let broker = PulsarLite::start_provisioned(dir.path());
    assert_eq!(
        partitions(
            &broker.url(),
            &[
                "persistent://arc/events/conversation",
                "persistent://arc/events/agent-lifecycle"
            ]
        ),
        vec![16, 4]
    );
    let nats_server = NatsServer::start();
    let env = node_env(
        &broker.url(),
        &nats_server.url(),
        &dir.path().join("data"),
        0,
    );
    let app = start_app(env).await;

    // NATS is at-most-once: what the node emits before its client is
    // connected is dropped by design. Start the session once /readyz says
    // it is (a loaded machine can take a while), and check nothing was dropped.
    let readyz = format!("http://{}/readyz", app.local_addr());
    let connected = eventually(Duration::from_secs(15), || {
        let (_, body) = http("GET", &readyz, None);
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        (v["brokers"]["nats"]["connected"] == true).then_some(())
    });
    assert!(
        connected.is_some(),
        "the node's NATS client never connected"
    );

    let nats = async_nats::connect(nats_server.url()).await.unwrap();
    let mut agent_sub = nats.subscribe("agent.>").await.unwrap();
    let mut hb_sub = nats.subscribe("system.health.heartbeat").await.unwrap();
    subscribed(&nats).await;

    let mut sc = user_session(&app, "user");
    let user = sc.user_id.clone();
    sc.room_name = format!("room-{user}");
    let script = lines(&["Hello there", "What's the weather like today?"]);
    let call = ScriptedCall::start(&app.ctx.node, &app.ctx.scripts, sc.clone(), script)
        .await
        .unwrap();
    assert_eq!(call.say_all(Duration::from_secs(10)).await, 2);
    call.hang_up().await.unwrap();

    // NATS: every seed subject of the voice loop, for this session.
    let mut by_subject: Vec<(String, Event)> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(300), agent_sub.next()).await {
            Ok(Some(m)) => {
                let ev = Event::from_nats(&m.subject, &m.payload)
                    .unwrap_or_else(|e| panic!("{} payload does not parse: {e}", m.subject));
                let mine = match &ev {
                    Event::SessionStarted(s) => s.session_id == sc.session_id,
                    Event::SessionEnded(s) => s.session_id == sc.session_id,
                    Event::BrainRequest(b) => b.session_id == sc.session_id,
                    Event::BrainResponse(b) => b.session_id == sc.session_id,
                    Event::TtsRequest(t) => t.session_id == sc.session_id,
                    _ => true,
                };
                if mine {
                    by_subject.push((m.subject.to_string(), ev));
                }
            }
            _ => {
                if by_subject
                    .iter()
                    .any(|(s, _)| s == "agent.voice.session.ended")
                {
                    break;
                }
            }
        }
    }
    let (_, body) = http("GET", &readyz, None);
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["brokers"]["nats"]["dropped"], 0, "{ready}");
    let count = |s: &str| by_subject.iter().filter(|(x, _)| x == s).count();
    assert_eq!(count("agent.voice.session.started"), 1, "{by_subject:#?}");
    assert_eq!(count("agent.brain.request"), 2);
    assert_eq!(count("agent.brain.response"), 2);
    assert!(count("agent.tts.request") >= 2);
    assert!(count("agent.tts.completed") >= 2);
    assert_eq!(count("agent.voice.session.ended"), 1);
    for (subject, ev) in &by_subject {
        assert_eq!(ev.nats_subject(), Some(subject.as_str()));
        assert_eq!(ev.trace_id().len(), 32, "{subject} carries a trace id");
    }
    // Every field of the seed examples is present in what went over the wire.
    for (subject, ev) in &by_subject {
        let example = seed_example("001_d0bc8d4814212cc7.txt", subject);
        let actual: serde_json::Value = serde_json::from_slice(&ev.to_json().unwrap()).unwrap();
        assert!(
            missing_paths(&example, &actual, "").is_empty(),
            "{subject}: {:?}",
            missing_paths(&example, &actual, "")
        );
    }
    let hb = tokio::time::timeout(Duration::from_secs(5), hb_sub.next())
        .await
        .expect("heartbeat")
        .unwrap();
    let hb = Event::from_nats(&hb.subject, &hb.payload).unwrap();
    assert!(
        matches!(hb, Event::Heartbeat(h) if h.service == "arc-agent" && h.metrics.memory_mb > 0)
    );

    app.shutdown("test done").await;

    // Pulsar: conversation-v1, keyed by user, one partition per user, every seed field.
    let msgs = read_conversations(&broker.url(), &user, 2);
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    let example = seed_example(
        "000_a36cdaf97a05c199.txt",
        "persistent://arc/events/conversation",
    );
    let mut partitions_used = HashSet::new();
    let mut ids = HashSet::new();
    for m in &msgs {
        assert_eq!(m.key, user);
        assert!(
            m.topic
                .starts_with("persistent://arc/events/conversation-partition-"),
            "{}",
            m.topic
        );
        partitions_used.insert(m.topic.clone());
        assert_eq!(m.payload["schema"], "conversation-v1");
        assert_eq!(m.payload["conversation"]["user_id"], user.as_str());
        assert_eq!(m.properties["message_id"], m.payload["message_id"]);
        ids.insert(m.payload["message_id"].as_str().unwrap().to_string());
        let missing = missing_paths(&example, &m.payload, "");
        assert!(missing.is_empty(), "missing fields {missing:?}");
        assert_eq!(
            m.payload["metadata"]["trace_id"].as_str().unwrap().len(),
            32
        );
    }
    assert_eq!(ids.len(), 2);
    assert_eq!(
        partitions_used.len(),
        1,
        "one user's turns stay on one partition"
    );
    let turns: Vec<u64> = msgs
        .iter()
        .map(|m| m.payload["conversation"]["turn_index"].as_u64().unwrap())
        .collect();
    assert_eq!(turns, vec![1, 2], "in order");

    let metrics = read_pulsar(
        &broker.url(),
        &["persistent://arc/analytics/session-metrics"],
        &sc.session_id,
        1,
        Duration::from_secs(20),
    );
    assert_eq!(metrics.len(), 1);
    assert_eq!(metrics[0].payload["schema"], "session-metrics-v1");
    assert_eq!(metrics[0].payload["conversation_stats"]["total_turns"], 2);
    // What the node cannot know is null, not a made-up 0.
    let m = &metrics[0].payload;
    for unknown in [
        &m["connection_quality"]["avg_packet_loss_percent"],
        &m["connection_quality"]["avg_jitter_ms"],
        &m["user_experience"]["user_satisfaction_score"],
    ] {
        assert!(unknown.is_null(), "{m}");
    }
    assert_eq!(
        metrics[0].key.len(),
        10,
        "keyed by date: {}",
        metrics[0].key
    );

    // The durable copy of the NATS events: each of this session's, once, in
    // order, keyed by the session, the subject kept, the payload as on NATS.
    let session_events: Vec<&(String, Event)> = by_subject
        .iter()
        .filter(|(_, ev)| ev.session_id() == Some(sc.session_id.as_str()))
        .collect();
    assert!(session_events.len() >= 8, "{session_events:#?}");
    let realtime = read_pulsar(
        &broker.url(),
        &[arc_actors::events::REALTIME_TOPIC],
        &sc.session_id,
        session_events.len(),
        Duration::from_secs(20),
    );
    let subjects = |v: &[&(String, Event)]| v.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>();
    let got: Vec<String> = realtime
        .iter()
        .map(|m| m.properties["subject"].as_str().unwrap_or("?").to_string())
        .collect();
    assert_eq!(got, subjects(&session_events), "{realtime:#?}");
    let mut ids = HashSet::new();
    for (m, (subject, ev)) in realtime.iter().zip(&session_events) {
        assert_eq!(m.key, sc.session_id);
        assert!(
            m.topic
                .starts_with("persistent://arc/events/realtime-partition-"),
            "{}",
            m.topic
        );
        let copy = Event::from_nats(subject, m.payload.to_string().as_bytes()).unwrap();
        assert_eq!(&copy, ev, "{subject}");
        ids.insert(m.properties["message_id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), realtime.len(), "a message id each");
}
