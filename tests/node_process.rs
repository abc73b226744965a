//! The node as an operator meets it: a bad setting refused at start with the
//! key and the reason; a start with no broker reachable; bad requests answered
//! with a clear error while the node goes on.

use arc_testkit::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn a_bad_config_value_is_refused_naming_the_key() {
    for (key, value, expect) in [
        (
            "ARC__SESSION__BRAIN__TEMPERATURE",
            "7",
            "session.brain.temperature",
        ),
        (
            "ARC__SESSION__BRAIN__TIMEOUT_MS",
            "soon",
            "session.brain.timeout_ms",
        ),
        ("ARC__NATS__URL", "http://x", "nats.url"),
        ("ARC__NATS__NO_SUCH_KEY", "1", "nats.no_such_key"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_arc-agent"))
            .arg("serve")
            .env(key, value)
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{key}={value} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{key}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(&f, "[pulsar]\nmax_attempts = \"three\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arc-agent"))
        .args(["serve", "--config"])
        .arg(&f)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pulsar.max_attempts"));
}

#[test]
fn starts_and_serves_with_no_broker_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::builder(env!("CARGO_BIN_EXE_arc-agent"))
        .under_test(dir.path(), &nobody_at("pulsar"), &nobody_at("nats"))
        .spawn();
    let (code, body) = node.get("/healthz");
    assert_eq!((code, body.as_str()), (200, "ok"));
    let (code, body) = node.get("/readyz");
    assert_eq!(code, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["brokers"]["nats"]["connected"], false);
    assert_eq!(ready["brokers"]["pulsar"]["connected"], false);

    // A session still runs end to end.
    let (code, body) = node.post(
        "/v1/sessions",
        Some(r#"{"user_id":"offline","script":["are you there"]}"#),
    );
    assert_eq!(code, 201, "{body}");
    let turns = eventually(Duration::from_secs(10), || {
        let (_, m) = node.get("/metrics");
        metric(&m, "arc_turns_total").filter(|t| *t >= 1.0)
    });
    assert!(turns.is_some());

    // Bad requests: clear errors, node unharmed.
    let (code, body) = node.post("/v1/sessions", Some("{not json"));
    assert_eq!(code, 400);
    assert!(body.contains("invalid session request"), "{body}");
    let (code, body) = node.post("/v1/sessions", Some(r#"{"script": "one line"}"#));
    assert_eq!(code, 400, "{body}");
    let (code, _) = http("DELETE", &node.url("/v1/sessions/nope"), None);
    assert_eq!(code, 404);
    let (code, body) = node.post("/v1/sessions/nope/fault/brainz", None);
    assert_eq!(code, 400, "{body}");
    let (code, _) = node.get("/healthz");
    assert_eq!(code, 200);

    // Said once, clearly.
    std::thread::sleep(Duration::from_secs(3));
    let text = node.log_text();
    assert_eq!(text.matches("Pulsar unreachable").count(), 1, "{text}");
    assert_eq!(text.matches("NATS unreachable").count(), 1, "{text}");
}
