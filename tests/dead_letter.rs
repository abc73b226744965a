//! An event the broker keeps rejecting goes to its topic's `-dlq` topic with
//! the reason, after `pulsar.max_attempts` tries; the events after it still
//! flow. pulsar-lite rejects messages over its `max_message_size_bytes`.

use arc_actors::session::emit::{self, TurnFacts};
use arc_testkit::*;
use std::time::Duration;

fn turn(user_text: String) -> TurnFacts {
    TurnFacts {
        turn: 1,
        trace_id: arc_actors::ids::new_trace_id(),
        user_text,
        audio_ms: 1000,
        stt_model: "test".into(),
        stt_confidence: 1.0,
        stt_latency_ms: 1,
        agent_text: "ok".into(),
        llm_model: "test".into(),
        llm_tokens: 1,
        llm_latency_ms: 1,
        tts_model: "test".into(),
        tts_audio_ms: 1,
        tts_latency_ms: 1,
        previous_turns: 0,
        context_tokens: 1,
        tools: vec![],
        total_latency_ms: 3,
        network_overhead_ms: 0,
        interrupted: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_event_goes_to_the_dlq_with_the_reason() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let db = dir.path().join("pulsar-db");
    let broker = PulsarLite::start_raw(&db, port, 0, "max_message_size_bytes = 65536\n");
    let mut env = node_env(&broker.url(), SHARED_NATS, &dir.path().join("data"), 0);
    env.push(("ARC__PULSAR__COMPRESSION".into(), "none".into()));
    env.push(("ARC__PULSAR__BATCH_SIZE".into(), "1".into()));
    let app = start_app(env).await;

    let cfg = user_session(&app, "dlq");
    let user = cfg.user_id.clone();
    // Too large for the broker: 200 KB of text.
    let big = emit::conversation(&cfg, &turn("x".repeat(200_000)));
    let big_id = big.message_id().unwrap().to_string();
    app.ctx.sink.emit(big);
    let small = emit::conversation(&cfg, &turn("a normal question".into()));
    let small_id = small.message_id().unwrap().to_string();
    app.ctx.sink.emit(small);

    let ok = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let t = app.ctx.metrics.render_for_test();
            if metric(&t, "arc_pulsar_dead_lettered_total") == Some(1.0)
                && metric(&t, "arc_pulsar_spool_depth_events") == Some(0.0)
            {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("dead-lettered and drained");
    assert!(
        metric(&ok, "arc_mirror_failed_total{mirror=\"pulsar\"}").unwrap_or(0.0) >= 3.0,
        "{ok}"
    );
    app.shutdown("test done").await;

    let url = broker.url();
    let dlq = tokio::task::spawn_blocking({
        let url = url.clone();
        let big_id = big_id.clone();
        move || {
            read_pulsar(
                &url,
                &["persistent://arc/events/conversation-dlq"],
                &big_id,
                1,
                Duration::from_secs(15),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(dlq.len(), 1, "{dlq:#?}");
    let d = &dlq[0].payload;
    assert_eq!(d["message_id"], big_id.as_str());
    assert_eq!(d["original_topic"], "persistent://arc/events/conversation");
    assert_eq!(d["attempts"], 3);
    assert!(!d["reason"].as_str().unwrap_or_default().is_empty());
    assert_eq!(dlq[0].key, user);
    // The full event is kept locally when it cannot travel in the DLQ message.
    let local = std::fs::read_to_string(dir.path().join("data/spool/dead-letter.jsonl"))
        .unwrap_or_default();
    assert!(
        d["payload"].is_object() || local.contains(&big_id),
        "the event itself is kept somewhere"
    );

    let after = tokio::task::spawn_blocking(move || {
        read_pulsar(
            &url,
            &["persistent://arc/events/conversation"],
            &small_id,
            1,
            Duration::from_secs(15),
        )
    })
    .await
    .unwrap();
    assert_eq!(
        after.len(),
        1,
        "the event after the rejected one is delivered"
    );
}
