//! The node's NATS clients present credentials and speak TLS: against real
//! nats-servers started with a user and password, and with TLS (a CA and a
//! server certificate this test makes with openssl, `arc_testkit::tls`). The right credentials
//! connect; a wrong password or an untrusted certificate fails with a clear
//! error while the node goes on without NATS; no secret reaches the log.

use arc_testkit::tls::TestCa;
use arc_testkit::{NatsServer, PulsarLite, TestNode};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const PASSWORD: &str = "nats-pass-9d2e";

fn nats_state(node: &TestNode) -> bool {
    let (_, body) = node.get("/readyz");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["brokers"]["nats"]["connected"] == true
}

fn settles(node: &TestNode, want: bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        if nats_state(node) == want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn node(dir: &Path, pulsar: &str, nats_url: &str, env: &[(&str, &str)]) -> TestNode {
    std::fs::create_dir_all(dir).unwrap();
    let mut b =
        TestNode::builder(env!("CARGO_BIN_EXE_arc-agent")).under_test(dir, pulsar, nats_url);
    for (k, v) in env {
        b = b.env(k, v);
    }
    b.spawn()
}

#[test]
fn a_password_protected_nats_takes_the_right_password_only() {
    let dir = tempfile::tempdir().unwrap();
    let pulsar = PulsarLite::start_provisioned(dir.path());
    let nats = NatsServer::start_with(&["--user", "arc", "--pass", PASSWORD]);

    let good = node(
        &dir.path().join("good"),
        &pulsar.url(),
        &nats.url(),
        &[("ARC__NATS__USER", "arc"), ("ARC_NATS_PASSWORD", PASSWORD)],
    );
    assert!(settles(&good, true), "the right password connects");
    let log = good.stop(Duration::from_secs(10));
    assert!(!log.contains(PASSWORD), "the password is in the log");

    let bad = node(
        &dir.path().join("bad"),
        &pulsar.url(),
        &nats.url(),
        &[
            ("ARC__NATS__USER", "arc"),
            ("ARC_NATS_PASSWORD", "wrong-password"),
        ],
    );
    assert!(settles(&bad, false));
    // The node goes on: it serves, and says clearly why NATS is not there.
    assert_eq!(bad.get("/healthz").0, 200);
    std::thread::sleep(Duration::from_millis(500));
    let log = bad.stop(Duration::from_secs(10));
    assert!(
        log.to_lowercase().contains("authorization"),
        "the log names the refusal: {}",
        log.lines()
            .filter(|l| l.contains("NATS"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(!log.contains("wrong-password"));

    // A user without a password is a setting that cannot work: said at start.
    let out = Command::new(env!("CARGO_BIN_EXE_arc-agent"))
        .arg("config")
        .env("ARC__NATS__USER", "arc")
        .env("ARC_NATS_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("password_env") && !printed.contains(PASSWORD),
        "{printed}"
    );
}

#[test]
fn tls_connects_with_the_right_ca_and_not_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::make(&dir.path().join("certs"), "nats");
    let pulsar = PulsarLite::start_provisioned(dir.path());
    let cert = ca.server_cert.display().to_string();
    let key = ca.server_key.display().to_string();
    let nats = NatsServer::start_with(&["--tls", "--tlscert", &cert, "--tlskey", &key]);
    let url = format!("tls://127.0.0.1:{}", nats.port);
    let ca = ca.ca_cert.display().to_string();

    let trusted = node(
        &dir.path().join("trusted"),
        &pulsar.url(),
        &url,
        &[("ARC__NATS__TLS_CA_FILE", &ca)],
    );
    assert!(settles(&trusted, true), "the node trusts the test CA");
    drop(trusted);

    let untrusted = node(&dir.path().join("untrusted"), &pulsar.url(), &url, &[]);
    assert!(settles(&untrusted, false));
    assert_eq!(untrusted.get("/healthz").0, 200);
    std::thread::sleep(Duration::from_millis(500));
    let log = untrusted.stop(Duration::from_secs(10));
    let lower = log.to_lowercase();
    assert!(
        lower.contains("certificate") || lower.contains("tls"),
        "the log names the TLS failure: {}",
        log.lines()
            .filter(|l| l.contains("NATS"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
