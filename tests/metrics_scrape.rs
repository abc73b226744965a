//! `/metrics` moves as it should during a scripted session: a turn adds to the
//! voice-to-voice histogram; a stalled LLM adds a fallback; a killed actor adds
//! a restart; a stopped broker grows the spool.

use arc_testkit::*;
use std::time::Duration;

fn scrape(node: &TestNode) -> String {
    node.get("/metrics").1
}

fn value(text: &str, name: &str) -> f64 {
    metric(text, name).unwrap_or(0.0)
}

#[test]
fn metrics_move_with_what_happens() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::builder(env!("CARGO_BIN_EXE_arc-agent"))
        // Pulsar down: the spool grows.
        .under_test(dir.path(), &nobody_at("pulsar"), SHARED_NATS)
        .env("ARC__SESSION__BRAIN__TIMEOUT_MS", "300")
        .spawn();
    let before = scrape(&node);

    // A normal turn, then a turn whose LLM stalls past the timeout.
    let (code, body) = node.post("/v1/sessions", Some(
            r#"{"session_id":"m1","user_id":"metrics-user","script":["hello there","what [stall] is it","and now"]}"#,
        ),
    );
    assert_eq!(code, 201, "{body}");
    let after_turns = eventually(Duration::from_secs(15), || {
        let t = scrape(&node);
        (value(&t, "arc_turns_total") >= 3.0).then_some(t)
    })
    .expect("three turns");
    assert!(value(&after_turns, "arc_turn_latency_seconds_count") >= 3.0);
    assert!(
        value(
            &after_turns,
            "arc_stage_latency_seconds_count{stage=\"llm\"}"
        ) >= 3.0
    );
    // The LLM's first token is a stage of its own (the stalled turn has none).
    assert!(
        value(
            &after_turns,
            "arc_stage_latency_seconds_count{stage=\"llm_first_token\"}"
        ) >= 2.0
    );
    assert_eq!(
        value(&before, "arc_fallbacks_total{error_type=\"timeout\"}"),
        0.0
    );
    assert_eq!(
        value(&after_turns, "arc_fallbacks_total{error_type=\"timeout\"}"),
        1.0
    );
    assert!(
        value(&after_turns, "arc_pulsar_spool_depth_events")
            > value(&before, "arc_pulsar_spool_depth_events")
    );
    assert!(value(&after_turns, "arc_pulsar_spool_bytes") > 0.0);
    assert_eq!(
        value(&after_turns, "arc_broker_connected{mirror=\"pulsar\"}"),
        0.0
    );
    assert!(value(&after_turns, "arc_mirror_published_total{mirror=\"nats\"}") > 0.0);
    assert!(value(&after_turns, "arc_events_total{kind=\"conversation\"}") >= 3.0);

    // A killed actor adds a restart.
    let (code, _) = node.post("/v1/sessions", Some(
            r#"{"session_id":"m2","user_id":"metrics-user-2","script":["tell me a long story [slow]","thanks"]}"#,
        ),
    );
    assert_eq!(code, 201);
    std::thread::sleep(Duration::from_millis(200));
    let (code, body) = node.post("/v1/sessions/m2/fault/brain", None);
    assert_eq!(code, 202, "{body}");
    let restarted = eventually(Duration::from_secs(10), || {
        let t = scrape(&node);
        (value(&t, "arc_actor_restarts_total{actor=\"brain\"}") >= 1.0).then_some(t)
    });
    assert!(restarted.is_some(), "{}", scrape(&node));
    let sessions_ended = eventually(Duration::from_secs(15), || {
        let t = scrape(&node);
        (value(&t, "arc_sessions_ended_total{reason=\"user_left\"}") >= 2.0).then_some(t)
    });
    assert!(sessions_ended.is_some(), "{}", scrape(&node));
    let t = scrape(&node);
    assert!(value(&t, "arc_process_resident_memory_bytes") > 1e6);
    assert!(value(&t, "arc_uptime_seconds") > 0.0);
}
