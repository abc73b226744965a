//! The session API asks for a token (a node process with `http.auth =
//! "required"`, as one listening beyond loopback does): every `/v1` route
//! refuses a missing, expired, tampered or wrong-key token with 401 and takes
//! a valid one (LiveKit access tokens minted by LiveKit's own SDK, with the
//! grant the call needs, or the static admin token); the probes stay open,
//! `/metrics` asks for its own token, and no token appears in the node's log
//! or in `arc-agent config`.

use arc_testkit::{http_with, livekit_tokens, PulsarLite, TestNode, SHARED_NATS};
use serde_json::json;

const SECRET: &str = "a-long-enough-development-secret";
const ADMIN: &str = "admin-token-7f3a9c2e";
const METRICS: &str = "metrics-token-41b8";

fn call(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = auth.as_deref() {
        headers.push(("Authorization", a));
    }
    http_with(
        method,
        &format!("http://127.0.0.1:{port}{path}"),
        &headers,
        body,
    )
}

/// A node process with `http.auth = "required"` and the admin token, plus `env`.
fn node_asking_for_tokens(
    dir: &std::path::Path,
    pulsar: &PulsarLite,
    env: &[(&str, &str)],
) -> TestNode {
    let mut b = TestNode::builder(env!("CARGO_BIN_EXE_arc-agent"))
        .under_test(dir, &pulsar.url(), SHARED_NATS)
        .env("ARC__HTTP__AUTH", "required")
        .env("ARC_ADMIN_TOKEN", ADMIN);
    for (k, v) in env {
        b = b.env(k, v);
    }
    b.spawn()
}

#[test]
fn every_v1_route_needs_a_token_that_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let pulsar = PulsarLite::start_provisioned(dir.path());
    let node = node_asking_for_tokens(
        dir.path(),
        &pulsar,
        &[
            ("ARC_METRICS_TOKEN", METRICS),
            ("LIVEKIT_API_KEY", "devkey"),
            ("LIVEKIT_API_SECRET", SECRET),
        ],
    );
    let port = node.http_port;

    let tokens = livekit_tokens(&json!([
        {"secret": SECRET, "grants": {"room_admin": true}, "ttl_s": 600},
        {"secret": SECRET, "grants": {"room_admin": true}, "ttl_s": -600},
        {"secret": "not-the-node-secret-at-all", "grants": {"room_admin": true}, "ttl_s": 600},
        {"secret": SECRET, "grants": {"room_create": true}, "ttl_s": 600},
        {"secret": SECRET, "grants": {"room_list": true}, "ttl_s": 600},
    ]));
    let (valid, expired, wrong_key, create_only, list_only) =
        (&tokens[0], &tokens[1], &tokens[2], &tokens[3], &tokens[4]);
    let mut tampered = valid.clone();
    tampered.insert(valid.len() / 2, 'x');

    let script = json!({"user_id": "auth-user", "script": ["hello"]}).to_string();
    let routes = [
        ("POST", "/v1/sessions", script.as_str()),
        ("GET", "/v1/sessions", ""),
        ("DELETE", "/v1/sessions/no-such-session", ""),
        ("POST", "/v1/sessions/no-such-session/fault/brain", ""),
    ];
    for (method, path, body) in routes {
        for (what, token) in [
            ("no token", None),
            ("expired", Some(expired.as_str())),
            ("tampered", Some(tampered.as_str())),
            ("wrong key", Some(wrong_key.as_str())),
            ("not the admin token", Some("admin-token-guess")),
        ] {
            let (code, resp) = call(port, method, path, token, body);
            assert_eq!(code, 401, "{method} {path} with {what}: {resp}");
            assert!(resp.contains("unauthorized"), "{resp}");
        }
        for (what, token) in [("LiveKit roomAdmin", valid.as_str()), ("admin", ADMIN)] {
            let (code, resp) = call(port, method, path, Some(token), body);
            assert_ne!(code, 401, "{method} {path} with {what}: {resp}");
            assert_ne!(code, 0, "{method} {path}: no answer");
        }
    }
    // Grants: roomCreate starts sessions but cannot list; roomList lists.
    let (code, resp) = call(port, "POST", "/v1/sessions", Some(create_only), &script);
    assert_eq!(code, 201, "{resp}");
    let (code, resp) = call(port, "GET", "/v1/sessions", Some(create_only), "");
    assert_eq!(code, 401, "{resp}");
    assert!(resp.contains("roomList"), "{resp}");
    assert_eq!(
        call(port, "GET", "/v1/sessions", Some(list_only), "").0,
        200
    );
    assert_eq!(
        call(port, "POST", "/v1/sessions", Some(list_only), &script).0,
        401
    );

    // The probes are open; /metrics asks for its own token.
    assert_eq!(call(port, "GET", "/healthz", None, "").0, 200);
    assert_eq!(call(port, "GET", "/readyz", None, "").0, 200);
    assert_eq!(call(port, "GET", "/metrics", None, "").0, 401);
    assert_eq!(call(port, "GET", "/metrics", Some(ADMIN), "").0, 401);
    let (code, text) = call(port, "GET", "/metrics", Some(METRICS), "");
    assert_eq!(code, 200);
    assert!(text.contains("arc_sessions_active"));

    // Nothing secret in the log, nor in the printed configuration.
    let log = node.stop(std::time::Duration::from_secs(10));
    for secret in [ADMIN, METRICS, SECRET, valid.as_str()] {
        assert!(!log.contains(secret), "the log holds a secret");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_arc-agent"))
        .arg("config")
        .env("ARC_ADMIN_TOKEN", ADMIN)
        .env("LIVEKIT_API_SECRET", SECRET)
        .env("LIVEKIT_API_KEY", "devkey")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("admin_token_env"), "{printed}");
    assert!(
        !printed.contains(ADMIN) && !printed.contains(SECRET),
        "{printed}"
    );
}

/// A WebSocket handshake with the node. A connection reset before any answer
/// (seen once in CI, on the first handshake after the node came up; never
/// reproduced in 60 runs under load) is tried again, said on stderr: what
/// this file checks is the node's answer, not the loopback's.
async fn ws_connect(
    url: &str,
) -> Result<
    (
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    tokio_tungstenite::tungstenite::Error,
> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    let mut tries = 0;
    loop {
        match tokio_tungstenite::connect_async(url).await {
            Err(WsError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset && tries < 2 => {
                tries += 1;
                eprintln!("/ws handshake reset ({e}); trying again");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            r => return r,
        }
    }
}

/// `/ws` off loopback: no token, no session; a token from `POST /v1/tokens`
/// opens one session for its user, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_needs_a_short_lived_token_from_the_operator() {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Error as WsError;
    let dir = tempfile::tempdir().unwrap();
    let pulsar = PulsarLite::start_provisioned(dir.path());
    let node = node_asking_for_tokens(dir.path(), &pulsar, &[]);
    let port = node.http_port;
    let status_of = |r: Result<_, WsError>| match r {
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Ok(_) => 101,
        Err(e) => panic!("{e}"),
    };

    // No token, or a made-up one: refused before any session starts.
    let url = |q: &str| format!("ws://127.0.0.1:{port}/ws{q}");
    assert_eq!(status_of(ws_connect(&url("")).await), 401);
    assert_eq!(status_of(ws_connect(&url("?token=a.b.c")).await), 401);
    let (_, sessions) = call(port, "GET", "/v1/sessions", Some(ADMIN), "");
    assert_eq!(sessions, r#"{"sessions":[]}"#);

    // Minting needs the operator's credentials.
    let body = json!({"user_id": "browser-alice"}).to_string();
    assert_eq!(call(port, "POST", "/v1/tokens", None, &body).0, 401);
    let (code, minted) = call(port, "POST", "/v1/tokens", Some(ADMIN), &body);
    assert_eq!(code, 200, "{minted}");
    let minted: serde_json::Value = serde_json::from_str(&minted).unwrap();
    let token = minted["token"].as_str().unwrap().to_string();
    assert_eq!(minted["expires_in_s"], 300);

    // The token opens one session, for its user (the query cannot pick another).
    let (mut ws, _) = ws_connect(&url(&format!("?token={token}&user_id=someone-else")))
        .await
        .expect("the token opens /ws");
    let hello = loop {
        match ws.next().await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                break serde_json::from_str::<serde_json::Value>(t.as_str()).unwrap()
            }
            Some(Ok(_)) => continue,
            other => panic!("no hello: {other:?}"),
        }
    };
    assert_eq!(hello["type"], "session");
    assert_eq!(hello["user_id"], "browser-alice");
    assert_eq!(
        status_of(ws_connect(&url(&format!("?token={token}"))).await),
        429,
        "a token opens one session"
    );
    drop(ws);
    let log = node.stop(std::time::Duration::from_secs(10));
    assert!(
        !log.contains(&token) && !log.contains(ADMIN),
        "a token in the log"
    );
}
