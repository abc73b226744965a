//! Durable delivery to Pulsar: a broker outage in the middle of a session, and
//! a node killed with SIGKILL while events wait in its spool. Nothing is lost,
//! nothing arrives twice (by message_id).

use arc_testkit::*;
use std::collections::HashSet;
use std::time::Duration;

fn unique_ids(msgs: &[ReadMessage]) -> HashSet<String> {
    msgs.iter()
        .map(|m| {
            m.payload["message_id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_mid_session_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = PulsarLite::start_provisioned(dir.path());
    let env = node_env(&broker.url(), SHARED_NATS, &dir.path().join("data"), 0);
    let app = start_app(env).await;

    let sc = user_session(&app, "outage");
    let user = sc.user_id.clone();
    let script: Vec<String> = (1..=3)
        .map(|i| format!("question {i} for the outage test"))
        .collect();
    let call = ScriptedCall::start(&app.ctx.node, &app.ctx.scripts, sc.clone(), script.clone())
        .await
        .unwrap();

    // Turn 1 with the broker up, turn 2 with it down, turn 3 after it is back.
    assert_eq!(call.say(&script[..1], Duration::from_secs(10)).await, 1);
    tokio::task::block_in_place(|| broker.stop());
    assert_eq!(call.say(&script[1..2], Duration::from_secs(10)).await, 1);
    // While the broker is down, the session's events wait in the spool. The
    // outage outlasts the send timeout (3 s here), so the mirror itself sees it
    // (not only the client's own reconnect) and replays from the spool.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let text = app.ctx.metrics.render_for_test();
    assert!(
        metric(&text, "arc_pulsar_spool_depth_events").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    tokio::task::block_in_place(|| broker.restart());
    assert_eq!(call.say(&script[2..], Duration::from_secs(10)).await, 1);
    call.hang_up().await.unwrap();

    // The spool drains once the broker is back.
    let drained = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let t = app.ctx.metrics.render_for_test();
            if metric(&t, "arc_pulsar_spool_depth_events") == Some(0.0)
                && metric(&t, "arc_pulsar_replayed_total").unwrap_or(0.0) >= 1.0
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        drained.is_ok(),
        "spool did not drain: {}",
        app.ctx.metrics.render_for_test()
    );
    app.shutdown("test done").await;

    let url = broker.url();
    let msgs = tokio::task::spawn_blocking(move || read_conversations(&url, &user, 3))
        .await
        .unwrap();
    assert_eq!(msgs.len(), 3, "every turn arrived exactly once: {msgs:#?}");
    assert_eq!(unique_ids(&msgs).len(), 3);
    let turns: Vec<u64> = msgs
        .iter()
        .map(|m| m.payload["conversation"]["turn_index"].as_u64().unwrap())
        .collect();
    assert_eq!(turns, vec![1, 2, 3], "in order");
}

#[test]
fn node_killed_with_sigkill_replays_its_spool_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pulsar_port = free_port();
    let pulsar_url = format!("pulsar://127.0.0.1:{pulsar_port}");
    let http_port = free_port();
    let env = node_env(&pulsar_url, SHARED_NATS, &data, http_port);
    let log = dir.path().join("node.log");

    // Pulsar is down: the node starts anyway and spools.
    let mut node = TestNode::serve(env!("CARGO_BIN_EXE_arc-agent"), &env, http_port, &log);
    let user = format!("kill9-{}", uuid::Uuid::new_v4().simple());
    let (code, body) = node.post(
        "/v1/sessions",
        Some(&format!(
            r#"{{"user_id":"{user}","script":["first","second","third"]}}"#
        )),
    );
    assert_eq!(code, 201, "{body}");
    // conversation x3 + session-metrics + the node's service_started
    let spooled = eventually(Duration::from_secs(20), || {
        let (_, m) = node.get("/metrics");
        let ended = metric(&m, "arc_sessions_ended_total").unwrap_or(0.0);
        let depth = metric(&m, "arc_pulsar_spool_depth_events").unwrap_or(0.0);
        (ended >= 1.0 && depth >= 5.0).then_some(depth)
    })
    .expect("events spooled while Pulsar is down");

    node.kill(); // SIGKILL

    let _broker = PulsarLite::start_provisioned_on(dir.path(), pulsar_port);
    let mut node2 = TestNode::serve(env!("CARGO_BIN_EXE_arc-agent"), &env, http_port, &log);
    let replayed = eventually(Duration::from_secs(30), || {
        let (_, m) = node2.get("/metrics");
        let depth = metric(&m, "arc_pulsar_spool_depth_events")?;
        let replayed = metric(&m, "arc_pulsar_replayed_total")?;
        (depth == 0.0 && replayed >= spooled).then_some(replayed)
    });
    assert!(
        replayed.is_some(),
        "spool not replayed; log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    let msgs = read_conversations(&pulsar_url, &user, 3);
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    assert_eq!(unique_ids(&msgs).len(), 3);
    let metrics = read_pulsar(
        &pulsar_url,
        &["persistent://arc/analytics/session-metrics"],
        &user,
        1,
        Duration::from_secs(10),
    );
    assert_eq!(metrics.len(), 1);
    let lifecycle = read_pulsar(
        &pulsar_url,
        &["persistent://arc/events/agent-lifecycle"],
        "service_started",
        2,
        Duration::from_secs(10),
    );
    assert!(
        lifecycle.len() >= 2,
        "both runs' service_started: {lifecycle:#?}"
    );

    // SIGTERM: a clean, prompt stop.
    node2.terminate();
    let status = node2.wait_exit(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "node did not stop cleanly on SIGTERM"
    );
}

/// Broker-side deduplication needs a resend to look like the first send: a
/// node that sends its spool again (here the cursor set back to 0, as a kill
/// -9 before the commit leaves it) does so under the same producer name
/// (`arc-<spool id>`) and with the same sequence id per event (its spool
/// sequence), so a broker with deduplication on drops the copies. Read back
/// with the `pulsar` crate's own consumer (patches/pulsar-6.9.1-sequence-id.patch
/// sends the ids and reads each batched message's own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_spool_carries_the_same_producer_name_and_sequence_ids() {
    use ::pulsar::{consumer::InitialPosition, ConsumerOptions, Pulsar, SubType, TokioExecutor};
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let broker = PulsarLite::start_provisioned(dir.path());
    let data = dir.path().join("data");
    let run = |user: Option<String>| {
        let env = node_env(&broker.url(), SHARED_NATS, &data, 0);
        async move {
            let app = start_app(env).await;
            let user = match user {
                None => {
                    let sc = user_session(&app, "seq");
                    let user = sc.user_id.clone();
                    let script = lines(&["first", "second", "third"]);
                    let call = ScriptedCall::start(&app.ctx.node, &app.ctx.scripts, sc, script)
                        .await
                        .unwrap();
                    assert_eq!(call.say_all(Duration::from_secs(10)).await, 3);
                    call.hang_up().await.unwrap();
                    user
                }
                Some(u) => u,
            };
            // Until the spool is delivered.
            let delivered = tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    let m = app.ctx.metrics.render_for_test();
                    if metric(&m, "arc_pulsar_spool_depth_events") == Some(0.0) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .await;
            assert!(delivered.is_ok(), "spool not delivered");
            app.shutdown("test done").await;
            user
        }
    };
    let user = run(None).await;
    let spool = data.join("spool");
    // `<spool>/id` holds the id and the boot it was made in.
    let id_of = |spool: &std::path::Path| {
        let text = std::fs::read_to_string(spool.join("id")).unwrap();
        text.split_whitespace().next().unwrap().to_string()
    };
    let id = id_of(&spool);
    // The cursor back at 0 (valid): everything on disk is sent again.
    std::fs::write(
        spool.join("cursor"),
        format!("0 {:08x}\n", crc32fast::hash(&0u64.to_le_bytes())),
    )
    .unwrap();
    run(Some(user.clone())).await;
    assert_eq!(id_of(&spool), id, "the same spool keeps its id");

    // Every conversation record of this user, as the broker holds them.
    let client = Pulsar::builder(broker.url(), TokioExecutor)
        .build()
        .await
        .unwrap();
    let mut consumer: ::pulsar::Consumer<Vec<u8>, TokioExecutor> = client
        .consumer()
        .with_topic("persistent://arc/events/conversation")
        .with_subscription("sequence-check")
        .with_subscription_type(SubType::Shared)
        .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Earliest))
        .build()
        .await
        .unwrap();
    let mut seen: Vec<(String, String, u64)> = Vec::new();
    while let Ok(Some(Ok(msg))) =
        tokio::time::timeout(Duration::from_secs(3), consumer.next()).await
    {
        let meta = &msg.payload.metadata;
        let body = String::from_utf8_lossy(&msg.payload.data).to_string();
        if body.contains(&user) {
            let message_id = meta
                .properties
                .iter()
                .find(|kv| kv.key == "message_id")
                .map(|kv| kv.value.clone())
                .unwrap_or_default();
            seen.push((message_id, meta.producer_name.clone(), meta.sequence_id));
        }
        let _ = consumer.ack(&msg).await;
    }
    assert_eq!(seen.len(), 6, "3 turns, each sent twice: {seen:#?}");
    let mut by_id: std::collections::HashMap<String, Vec<(String, u64)>> = Default::default();
    for (message_id, producer, seq) in &seen {
        assert_eq!(producer, &format!("arc-{id}"));
        by_id
            .entry(message_id.clone())
            .or_default()
            .push((producer.clone(), *seq));
    }
    assert_eq!(by_id.len(), 3, "{seen:#?}");
    let mut sequences = HashSet::new();
    for (message_id, copies) in &by_id {
        assert_eq!(copies.len(), 2, "{message_id}: {copies:?}");
        assert_eq!(
            copies[0], copies[1],
            "{message_id}: the resend is the same message"
        );
        assert!(copies[0].1 > 0);
        sequences.insert(copies[0].1);
    }
    assert_eq!(sequences.len(), 3, "a sequence id per event");
}

#[test]
fn a_full_spool_refuses_clearly_the_voice_loop_goes_on_and_writing_resumes_with_space() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pulsar_port = free_port();
    let pulsar_url = format!("pulsar://127.0.0.1:{pulsar_port}");
    let http_port = free_port();
    let mut env = node_env(&pulsar_url, SHARED_NATS, &data, http_port);
    // A spool of 32 KiB: a few turns' events fill it while Pulsar is away.
    env.extend(vars([
        ("ARC__PULSAR__SPOOL_MAX_BYTES", "32768".to_string()),
        ("ARC__PULSAR__SPOOL_SEGMENT_BYTES", "8192".to_string()),
    ]));
    let log = dir.path().join("node.log");
    let node = TestNode::serve(env!("CARGO_BIN_EXE_arc-agent"), &env, http_port, &log);
    let first = format!("full-{}", uuid::Uuid::new_v4().simple());
    let script: Vec<String> = (1..=12).map(|i| format!("\"question {i}\"")).collect();
    let (code, body) = node.post(
        "/v1/sessions",
        Some(&format!(
            r#"{{"user_id":"{first}","script":[{}]}}"#,
            script.join(",")
        )),
    );
    assert_eq!(code, 201, "{body}");
    // The session ends with every turn answered while the spool refuses.
    let refused = eventually(Duration::from_secs(30), || {
        let (_, m) = node.get("/metrics");
        let ended = metric(&m, "arc_sessions_ended_total").unwrap_or(0.0);
        let dropped = metric(&m, "arc_mirror_dropped_total{mirror=\"pulsar\"}").unwrap_or(0.0);
        (ended >= 1.0 && dropped >= 1.0).then_some(dropped)
    })
    .expect("the full spool refused events and the session still ended");
    let (_, m) = node.get("/metrics");
    assert_eq!(
        metric(&m, "arc_turns_total"),
        Some(12.0),
        "every turn was answered while the spool refused"
    );
    println!("refused {refused} events");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        text.matches("cannot spool event for Pulsar").count(),
        1,
        "said once, clearly: {text}"
    );

    // Space returns (the broker is back and takes the spool): what was
    // spooled is delivered, and new events are spooled and delivered again.
    let _broker = PulsarLite::start_provisioned_on(dir.path(), pulsar_port);
    assert!(
        eventually(Duration::from_secs(30), || {
            let (_, m) = node.get("/metrics");
            (metric(&m, "arc_pulsar_spool_depth_events")? == 0.0).then_some(())
        })
        .is_some(),
        "the spool did not drain"
    );
    let early = read_conversations(&pulsar_url, &first, 1);
    assert!(
        !early.is_empty(),
        "what was spooled before it filled is lost"
    );
    let second = format!("after-{}", uuid::Uuid::new_v4().simple());
    let (code, body) = node.post(
        "/v1/sessions",
        Some(&format!(
            r#"{{"user_id":"{second}","script":["hello again"]}}"#
        )),
    );
    assert_eq!(code, 201, "{body}");
    let later = read_conversations(&pulsar_url, &second, 1);
    assert_eq!(later.len(), 1, "writing did not resume");
}
