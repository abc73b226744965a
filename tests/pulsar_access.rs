//! The node reaches Pulsar over TLS with a token, as against a real Apache
//! Pulsar cluster with `tlsEnabled` and token authentication: a gate in front
//! of pulsar-lite ([`arc_testkit::pulsar_gate`]) terminates TLS with a
//! certificate this test makes and checks the token of every `CONNECT`.
//!
//! - the right token (from `$ARC_PULSAR_TOKEN`) and the right CA: events
//!   arrive at the broker, and the token is in no log and not in `arc-agent
//!   config`;
//! - a wrong token: refused by the broker, the node says why, goes on with
//!   the mirror spooling, and delivers once the token file it reads at every
//!   connection holds the right token (nothing lost);
//! - a certificate from a CA the node does not trust: refused, said clearly.

use arc_testkit::pulsar_gate::PulsarGate;
use arc_testkit::tls::TestCa;
use arc_testkit::{read_pulsar, PulsarLite, TestNode, SHARED_NATS};
use std::path::Path;
use std::time::{Duration, Instant};

const TOKEN: &str = "pulsar-jwt-7c41e9";

fn pulsar_connected(node: &TestNode) -> bool {
    let (_, body) = node.get("/readyz");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["brokers"]["pulsar"]["connected"] == true
}

fn settles(node: &TestNode, want: bool, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if pulsar_connected(node) == want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn node(dir: &Path, pulsar_url: &str, instance: &str, env: &[(&str, &str)]) -> TestNode {
    std::fs::create_dir_all(dir).unwrap();
    let mut b = TestNode::builder(env!("CARGO_BIN_EXE_arc-agent"))
        .under_test(dir, pulsar_url, SHARED_NATS)
        .env("ARC__NODE__INSTANCE_ID", instance)
        .env("ARC__NATS__ENABLED", "false");
    for (k, v) in env {
        b = b.env(k, v);
    }
    b.spawn()
}

/// The node's own lifecycle and heartbeat events, read from the broker
/// behind the gate (plainly, as another reader would).
fn delivered(broker: &PulsarLite, instance: &str) -> usize {
    read_pulsar(
        &broker.url(),
        &[
            "persistent://arc/events/agent-lifecycle",
            "persistent://arc/events/realtime",
        ],
        instance,
        1,
        Duration::from_secs(15),
    )
    .len()
}

fn pulsar_lines(log: &str) -> String {
    log.lines()
        .filter(|l| l.contains("Pulsar"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_the_right_token_deliver_and_a_wrong_one_is_refused_until_it_is_renewed() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::make(&dir.path().join("certs"), "arc");
    let broker = PulsarLite::start_provisioned(dir.path());
    let plain = broker.url();
    let upstream = plain.trim_start_matches("pulsar://").to_string();
    let gate = PulsarGate::start(&ca, &upstream, Some(TOKEN.to_string())).await;
    let ca_file = ca.ca_cert.display().to_string();

    tokio::task::block_in_place(|| {
        // The right token from the environment, the test CA trusted.
        let instance = format!("tls-good-{}", uuid::Uuid::new_v4().simple());
        let good = node(
            &dir.path().join("good"),
            &gate.url(),
            &instance,
            &[
                ("ARC__PULSAR__TLS_CA_FILE", &ca_file),
                ("ARC_PULSAR_TOKEN", TOKEN),
            ],
        );
        assert!(
            settles(&good, true, Duration::from_secs(15)),
            "TLS and the token connect"
        );
        assert!(delivered(&broker, &instance) >= 1, "events arrived");
        let log = good.stop(Duration::from_secs(10));
        assert!(!log.contains(TOKEN), "the token is in the log");
        assert!(gate.admitted() >= 1);

        // `arc-agent config` names the variable, never the token.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_arc-agent"))
            .arg("config")
            .env("ARC_PULSAR_TOKEN", TOKEN)
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            printed.contains("ARC_PULSAR_TOKEN") && !printed.contains(TOKEN),
            "{printed}"
        );

        // A wrong token in the token file: refused, said, the node goes on.
        let token_file = dir.path().join("pulsar.token");
        std::fs::write(&token_file, "not-the-token\n").unwrap();
        let instance = format!("tls-renewed-{}", uuid::Uuid::new_v4().simple());
        let refused_before = gate.refused();
        let renewed = node(
            &dir.path().join("renewed"),
            &gate.url(),
            &instance,
            &[
                ("ARC__PULSAR__TLS_CA_FILE", &ca_file),
                ("ARC__PULSAR__TOKEN_FILE", &token_file.display().to_string()),
            ],
        );
        std::thread::sleep(Duration::from_secs(2));
        assert!(!pulsar_connected(&renewed), "a wrong token connected");
        assert!(gate.refused() > refused_before, "the broker never saw it");
        assert_eq!(renewed.get("/healthz").0, 200, "the node goes on");
        // The token is renewed (as a sidecar would): the next connection
        // reads it, and what waited in the spool is delivered.
        std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
        assert!(
            settles(&renewed, true, Duration::from_secs(20)),
            "the renewed token connects"
        );
        assert!(delivered(&broker, &instance) >= 1, "spooled events arrived");
        let log = renewed.stop(Duration::from_secs(10));
        let lower = pulsar_lines(&log).to_lowercase();
        assert!(
            lower.contains("authenticat"),
            "the log names the refusal: {}",
            pulsar_lines(&log)
        );
        assert!(!log.contains(TOKEN) && !log.contains("not-the-token"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_certificate_from_an_untrusted_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::make(&dir.path().join("certs"), "broker");
    let other = TestCa::make(&dir.path().join("other"), "other");
    let broker = PulsarLite::start_provisioned(dir.path());
    let upstream = broker.url().trim_start_matches("pulsar://").to_string();
    let gate = PulsarGate::start(&ca, &upstream, None).await;
    let other_ca = other.ca_cert.display().to_string();
    tokio::task::block_in_place(|| {
        let n = node(
            &dir.path().join("untrusted"),
            &gate.url(),
            "tls-untrusted",
            &[("ARC__PULSAR__TLS_CA_FILE", &other_ca)],
        );
        std::thread::sleep(Duration::from_secs(2));
        assert!(!pulsar_connected(&n));
        assert_eq!(n.get("/healthz").0, 200, "the node goes on");
        let log = n.stop(Duration::from_secs(10));
        let lower = pulsar_lines(&log).to_lowercase();
        assert!(
            lower.contains("certificate") || lower.contains("tls"),
            "the log names the TLS failure: {}",
            pulsar_lines(&log)
        );
        assert_eq!(gate.admitted(), 0);
    });
}

/// An OAuth2 issuer as Pulsar deployments use one: a discovery document and
/// a client-credentials token endpoint that knows one client.
async fn issuer(client_id: &'static str, secret: &'static str, token: &'static str) -> String {
    use axum::routing::{get, post};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let discovery = serde_json::json!({
        "issuer": base,
        "token_endpoint": format!("{base}/oauth/token"),
    });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(discovery) }),
        )
        .route(
            "/oauth/token",
            post(
                move |axum::Form(f): axum::Form<std::collections::HashMap<String, String>>| async move {
                    let ok = f.get("grant_type").map(String::as_str) == Some("client_credentials")
                        && f.get("client_id").map(String::as_str) == Some(client_id)
                        && f.get("client_secret").map(String::as_str) == Some(secret)
                        && f.get("audience").map(String::as_str) == Some("urn:pulsar:arc");
                    if ok {
                        Ok(axum::Json(serde_json::json!({
                            "access_token": token, "token_type": "Bearer", "expires_in": 3600
                        })))
                    } else {
                        Err(axum::http::StatusCode::UNAUTHORIZED)
                    }
                },
            ),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_client_credentials_get_a_token_the_broker_takes() {
    const SECRET: &str = "oauth-client-secret-31f";
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::make(&dir.path().join("certs"), "oauth");
    let broker = PulsarLite::start_provisioned(dir.path());
    let upstream = broker.url().trim_start_matches("pulsar://").to_string();
    let gate = PulsarGate::start(&ca, &upstream, Some(TOKEN.to_string())).await;
    let issuer = issuer("arc-node", SECRET, TOKEN).await;
    let ca_file = ca.ca_cert.display().to_string();
    let key = |secret: &str| {
        let path = dir.path().join(format!("key-{}.json", secret.len()));
        std::fs::write(
            &path,
            serde_json::json!({"type": "client_credentials", "client_id": "arc-node", "client_secret": secret, "issuer_url": issuer})
                .to_string(),
        )
        .unwrap();
        path.display().to_string()
    };
    let (good_key, bad_key) = (key(SECRET), key("wrong-secret-8a1"));
    tokio::task::block_in_place(|| {
        let with = |name: &str, key_file: &str| {
            let instance = format!("oauth-{name}-{}", uuid::Uuid::new_v4().simple());
            let n = node(
                &dir.path().join(name),
                &gate.url(),
                &instance,
                &[
                    ("ARC__PULSAR__TLS_CA_FILE", ca_file.as_str()),
                    ("ARC__PULSAR__OAUTH2_ISSUER_URL", issuer.as_str()),
                    ("ARC__PULSAR__OAUTH2_CREDENTIALS_FILE", key_file),
                    ("ARC__PULSAR__OAUTH2_AUDIENCE", "urn:pulsar:arc"),
                ],
            );
            (n, instance)
        };
        let (good, instance) = with("good", &good_key);
        assert!(
            settles(&good, true, Duration::from_secs(15)),
            "the issuer's token connects"
        );
        assert!(delivered(&broker, &instance) >= 1, "events arrived");
        let log = good.stop(Duration::from_secs(10));
        assert!(!log.contains(SECRET) && !log.contains(TOKEN));

        let (bad, _) = with("bad", &bad_key);
        std::thread::sleep(Duration::from_secs(2));
        assert!(!pulsar_connected(&bad));
        assert_eq!(bad.get("/healthz").0, 200, "the node goes on");
        let log = bad.stop(Duration::from_secs(10));
        assert!(
            pulsar_lines(&log).contains("OAuth2 token for client arc-node"),
            "the log names the refusal: {}",
            pulsar_lines(&log)
        );
        assert!(!log.contains("wrong-secret-8a1"));
    });
}
