//! The browser transport's protocol (`GET /ws`) with a real WebSocket client
//! against an in-process node: the `session` message, a spoken turn (48 kHz
//! PCM16 in, transcripts, agent sentences, agent PCM16 out, state changes),
//! bad messages answered with `error` while the session goes on, a client
//! that leaves ends the session with `user_left`, a full node refuses, and
//! the demo page is served.
//!
//! The engines are the synthetic ones (energy VAD, scripted STT, echo LLM,
//! tone TTS): this test is about the transport; `tests/browser.rs` runs a
//! real browser against the real models.

use arc_actors::engine::{EngineError, Engines};
use arc_actors::events::Event;
use arc_actors::node::{EngineProvider, SessionSpec};
use arc_actors::sink::{MirrorFilter, MirrorInput};
use arc_actors::synthetic::{ScriptedStt, SyntheticProvider};
use arc_agent::config::Config;
use arc_agent::App;
use arc_agent::NodeEngines;
use arc_testkit::{http, init_logs, vars};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Synthetic engines whose STT hears `lines` (a socket session has no script).
struct Ears(Vec<String>);

impl EngineProvider for Ears {
    fn engines_for(&self, spec: &SessionSpec) -> Result<Engines, EngineError> {
        let mut e = SyntheticProvider::default().engines_for(spec)?;
        e.stt = Arc::new(ScriptedStt::new(self.0.clone()));
        Ok(e)
    }
}

async fn node(
    dir: &std::path::Path,
    max_sessions: usize,
    idle_timeout_ms: u64,
    heard: &[&str],
) -> (App, mpsc::Receiver<Arc<Event>>) {
    let env = vars([
        ("ARC__NATS__ENABLED", "false".to_string()),
        ("ARC__PULSAR__ENABLED", "false".to_string()),
        ("ARC__HTTP__LISTEN", "127.0.0.1:0".to_string()),
        ("ARC__NODE__DATA_DIR", dir.display().to_string()),
        ("ARC__NODE__MAX_SESSIONS", max_sessions.to_string()),
        ("ARC__HTTP__WS_IDLE_TIMEOUT_MS", idle_timeout_ms.to_string()),
    ]);
    let cfg = Config::load_with(None, env).expect("test config");
    let (tap, events) = MirrorInput::new("test", MirrorFilter::All, 1 << 14);
    let ears = Ears(heard.iter().map(|l| l.to_string()).collect());
    let app = App::start_with_engines(cfg, vec![tap], NodeEngines::new(Arc::new(ears)))
        .await
        .expect("node starts");
    (app, events)
}

async fn connect(app: &App, query: &str) -> Socket {
    let url = format!("ws://{}/ws{query}", app.local_addr());
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects");
    socket
}

/// A socket whose session has begun and whose microphone started at 16 kHz:
/// (socket, the messages seen, audio bytes received).
async fn started_16k(app: &App) -> (Socket, Vec<Value>, usize) {
    let mut ws = connect(app, "").await;
    let mut audio = 0;
    let mut seen = Vec::new();
    until(&mut ws, "session", &mut seen, &mut audio).await;
    ws.send(Message::Text(
        r#"{"type":"start","sample_rate":16000}"#.into(),
    ))
    .await
    .unwrap();
    (ws, seen, audio)
}

/// The next text message (binary ones are counted into `audio_bytes`).
async fn next_json(ws: &mut Socket, audio_bytes: &mut usize) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .ok()??
            .ok()?;
        match msg {
            Message::Text(t) => return Some(serde_json::from_str(&t).expect("server sends JSON")),
            Message::Binary(b) => *audio_bytes += b.len(),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

/// Reads until a message of `kind` (collecting every one seen before it).
async fn until(ws: &mut Socket, kind: &str, seen: &mut Vec<Value>, audio: &mut usize) -> Value {
    loop {
        let m = next_json(ws, audio)
            .await
            .unwrap_or_else(|| panic!("socket ended before a {kind:?} message; saw {seen:?}"));
        seen.push(m.clone());
        if m["type"] == kind {
            return m;
        }
    }
}

/// 48 kHz PCM16 LE: `ms` of a 300 Hz tone (loud enough for the energy VAD) or silence.
fn pcm48(ms: usize, loud: bool) -> Vec<Vec<u8>> {
    let n = 48 * ms;
    let samples: Vec<i16> = (0..n)
        .map(|i| {
            if loud {
                ((i as f32 * 2.0 * std::f32::consts::PI * 300.0 / 48_000.0).sin() * 10_000.0) as i16
            } else {
                0
            }
        })
        .collect();
    samples
        .chunks(960)
        .map(|c| c.iter().flat_map(|s| s.to_le_bytes()).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoken_turn_over_the_socket_and_bad_messages_answered() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let (app, mut events) = node(dir.path(), 10, 60_000, &["hello there"]).await;
    let mut ws = connect(&app, "?user_id=browser-user&agent_id=agent-7").await;
    let mut audio = 0usize;
    let mut seen = Vec::new();

    let hello = until(&mut ws, "session", &mut seen, &mut audio).await;
    assert_eq!(seen.len(), 1, "session is the first message");
    assert_eq!(hello["user_id"], "browser-user");
    assert_eq!(hello["agent_id"], "agent-7");
    assert_eq!(hello["engines"], "synthetic");
    assert_eq!(hello["output_sample_rate"], 24_000);
    let session_id = hello["session_id"]
        .as_str()
        .expect("session_id")
        .to_string();

    // Bad messages: each gets an error, none ends the session.
    let bad: Vec<(Message, &str)> = vec![
        (Message::Binary(vec![0u8; 640].into()), "not_started"),
        (Message::Text("{not json".into()), "invalid_json"),
        (Message::Text(r#"{"type":"dance"}"#.into()), "unknown_type"),
        (
            Message::Text(r#"{"type":"start","sample_rate":5}"#.into()),
            "bad_sample_rate",
        ),
    ];
    for (msg, code) in bad {
        ws.send(msg).await.unwrap();
        let e = until(&mut ws, "error", &mut seen, &mut audio).await;
        assert_eq!(e["code"], code, "{e}");
        assert!(!e["message"].as_str().unwrap_or("").is_empty());
    }
    ws.send(Message::Text(
        json!({"type": "start", "sample_rate": 48_000})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    for (msg, code) in [
        (Message::Binary(vec![0u8; 641].into()), "odd_length"),
        (
            Message::Binary(vec![0u8; 40_000].into()),
            "message_too_large",
        ),
    ] {
        ws.send(msg).await.unwrap();
        let e = until(&mut ws, "error", &mut seen, &mut audio).await;
        assert_eq!(e["code"], code, "{e}");
    }

    // One utterance: 800 ms of tone, then silence to end the turn.
    for chunk in pcm48(800, true).into_iter().chain(pcm48(1500, false)) {
        ws.send(Message::Binary(chunk.into())).await.unwrap();
    }
    seen.clear();
    let fin = until(&mut ws, "final_transcript", &mut seen, &mut audio).await;
    assert_eq!(fin["text"], "hello there");
    let turn = fin["turn"].as_u64().expect("turn");
    let kinds: Vec<&str> = seen.iter().filter_map(|m| m["type"].as_str()).collect();
    assert!(kinds.contains(&"speech_started"), "{kinds:?}");
    let state_before = seen
        .iter()
        .filter(|m| m["type"] == "state")
        .filter_map(|m| m["state"].as_str())
        .collect::<Vec<_>>();
    assert_eq!(state_before, ["user_speaking", "thinking"], "{seen:?}");
    seen.clear();
    let done = until(&mut ws, "agent_turn_done", &mut seen, &mut audio).await;
    assert_eq!(done["turn"], turn);
    assert_eq!(done["interrupted"], false);
    let sentences: Vec<&str> = seen
        .iter()
        .filter(|m| m["type"] == "agent_sentence")
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(
        sentences.join(" ").contains("hello there"),
        "the echo brain quotes the user: {sentences:?}"
    );
    assert!(
        seen.iter()
            .any(|m| m["type"] == "state" && m["state"] == "agent_speaking"),
        "{seen:?}"
    );
    // Tone TTS audio came as PCM16 at 24 kHz: an even, non-trivial byte count.
    assert!(audio > 24_000 / 5 * 2, "agent audio bytes {audio}");
    assert_eq!(audio % 2, 0);
    let next = until(&mut ws, "state", &mut seen, &mut audio).await;
    assert_eq!(next["state"], "listening");

    // The session is live on the node; the client leaves; it ends as user_left.
    let (_, list) = http(
        "GET",
        &format!("http://{}/v1/sessions", app.local_addr()),
        None,
    );
    assert!(list.contains(&session_id), "{list}");
    ws.close(None).await.unwrap();
    let (ended, metrics) = tokio::time::timeout(Duration::from_secs(10), async {
        let (mut ended, mut metrics) = (None, None);
        while let Some(ev) = events.recv().await {
            match &*ev {
                Event::SessionEnded(e) if e.session_id == session_id => ended = Some(e.clone()),
                Event::SessionMetrics(m) if m.session.id == session_id => metrics = Some(m.clone()),
                _ => {}
            }
            if let (Some(e), Some(m)) = (&ended, &metrics) {
                return (e.clone(), m.clone());
            }
        }
        panic!("event stream closed");
    })
    .await
    .expect("session.ended and session-metrics within 10 s");
    assert_eq!(ended.reason, "user_left");
    assert_eq!(ended.user_id, "browser-user");
    assert_eq!(ended.total_turns, 1);
    assert_eq!(metrics.connection_quality.connection_type, "websocket");
    assert_eq!(metrics.session.agent_id, "agent-7");
    app.shutdown("test over").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_ending_closes_the_socket_and_a_full_node_refuses() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let (app, _events) = node(dir.path(), 1, 60_000, &[]).await;
    let mut first = connect(&app, "").await;
    let mut audio = 0;
    let mut seen = Vec::new();
    let hello = until(&mut first, "session", &mut seen, &mut audio).await;
    let id = hello["session_id"].as_str().unwrap().to_string();

    // A second browser on a full node: an error, then the socket closes.
    let mut second = connect(&app, "").await;
    let e = until(&mut second, "error", &mut seen, &mut audio).await;
    assert_eq!(e["code"], "unavailable", "{e}");
    assert!(next_json(&mut second, &mut audio).await.is_none());

    // Bad identifiers are refused before the upgrade (400 naming the field):
    // no socket, no session.
    let long = "x".repeat(200);
    for (query, field) in [
        (format!("?user_id={long}"), "user_id"),
        ("?user_id=..%2F..%2Fetc%2Fpasswd".to_string(), "user_id"),
        ("?agent_id=a%20b".to_string(), "agent_id"),
    ] {
        let url = format!("ws://{}/ws{query}", app.local_addr());
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 400, "{query}");
                let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default())
                    .into_owned();
                assert!(body.contains(field), "{query}: {body}");
            }
            other => panic!("{query}: expected a 400, got {:?}", other.map(|_| ())),
        }
    }
    // The session API checks its identifiers the same way.
    let big = "u".repeat(100_000);
    for (body, field) in [
        (
            json!({"session_id": "../../etc/passwd", "script": ["hi"]}),
            "session_id",
        ),
        (json!({"user_id": big, "script": ["hi"]}), "user_id"),
        (json!({"agent_id": "<b>", "script": ["hi"]}), "agent_id"),
        (json!({"room_name": "a/b", "script": ["hi"]}), "room_name"),
    ] {
        let (code, resp) = http(
            "POST",
            &format!("http://{}/v1/sessions", app.local_addr()),
            Some(&body.to_string()),
        );
        assert_eq!(code, 400, "{resp}");
        assert!(resp.contains(field), "{field}: {resp}");
    }
    let (_, sessions) = http(
        "GET",
        &format!("http://{}/v1/sessions", app.local_addr()),
        None,
    );
    assert!(
        sessions.contains(&id) && !sessions.contains("passwd"),
        "{sessions}"
    );
    assert_eq!(
        sessions.matches("\"").count(),
        4,
        "only the first session: {sessions}"
    );

    // Ending the session from the API: `ended` with the reason, then a close frame.
    let (code, _) = http(
        "DELETE",
        &format!("http://{}/v1/sessions/{id}", app.local_addr()),
        None,
    );
    assert_eq!(code, 202);
    let ended = until(&mut first, "ended", &mut seen, &mut audio).await;
    assert_eq!(ended["reason"], "ended_by_api");
    let close = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = first.next().await {
            if let Message::Close(f) = m {
                return f;
            }
        }
        None
    })
    .await
    .expect("a close frame within 5 s")
    .expect("close frame with a reason");
    assert_eq!(close.reason.as_str(), "ended_by_api");

    // The demo page is served at / and /demo.
    for path in ["/", "/demo"] {
        let (code, body) = http("GET", &format!("http://{}{path}", app.local_addr()), None);
        assert_eq!(code, 200, "{path}");
        assert!(body.contains("ARC voice agent") && body.contains("/ws"));
    }
    app.shutdown("test over").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_messages_is_refused_over_the_rate_and_the_session_goes_on() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let (app, _events) = node(dir.path(), 10, 60_000, &[]).await;
    let (mut ws, mut seen, mut audio) = started_16k(&app).await;
    // 1,000 frames at once: far over 200 a second (http.ws_max_messages_per_s).
    for _ in 0..1000 {
        ws.send(Message::Binary(vec![0u8; 640].into()))
            .await
            .unwrap();
    }
    let e = until(&mut ws, "error", &mut seen, &mut audio).await;
    assert_eq!(e["code"], "rate_limited", "{e}");
    assert!(e["message"]
        .as_str()
        .unwrap_or("")
        .contains("ws_max_messages_per_s"));
    // The session goes on: a second later it takes messages again, and ends
    // when asked.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.ctx.node.active_sessions(), 1);
    ws.send(Message::Text(r#"{"type":"stop"}"#.into()))
        .await
        .unwrap();
    let ended = until(&mut ws, "ended", &mut seen, &mut audio).await;
    assert_eq!(ended["reason"], "user_left");
    app.shutdown("test over").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_socket_times_out() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let (app, _events) = node(dir.path(), 10, 600, &[]).await;
    // Audio keeps it alive past the idle timeout...
    let (mut ws, mut seen, mut audio) = started_16k(&app).await;
    for _ in 0..50 {
        ws.send(Message::Binary(vec![0u8; 640].into()))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.ctx.node.active_sessions(), 1, "alive while audio flows");
    // ...silence ends it.
    let t = std::time::Instant::now();
    let ended = until(&mut ws, "ended", &mut seen, &mut audio).await;
    assert_eq!(ended["reason"], "timeout");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(
        !seen.iter().any(|m| m["type"] == "error"),
        "16 kHz needs no resampling and is taken as is: {seen:?}"
    );
    app.shutdown("test over").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_shutdown_closes_open_sockets() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let (app, _events) = node(dir.path(), 10, 60_000, &["hello there"]).await;
    let mut ws = connect(&app, "").await;
    let mut audio = 0;
    let mut seen = Vec::new();
    until(&mut ws, "session", &mut seen, &mut audio).await;
    let reader = tokio::spawn(async move {
        let ended = until(&mut ws, "ended", &mut seen, &mut audio).await;
        // Then at most the final `state`, and the socket closes.
        let mut closed = false;
        for _ in 0..3 {
            if next_json(&mut ws, &mut audio).await.is_none() {
                closed = true;
                break;
            }
        }
        (ended, closed)
    });
    let t = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(20), app.shutdown("test over"))
        .await
        .expect("the node shuts down with a browser connected");
    let (ended, closed) = reader.await.unwrap();
    assert_eq!(ended["reason"], "node_shutdown");
    assert!(closed, "the socket is closed after `ended`");
    eprintln!("shutdown with an open socket took {:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talking_over_the_agent_is_a_barge_in() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    // `[slow]` makes the echo brain crawl (400 ms a word): the agent is still
    // answering when the user speaks again.
    let (app, _events) = node(dir.path(), 10, 60_000, &["[slow] one two three", "again"]).await;
    let mut ws = connect(&app, "").await;
    let mut audio = 0;
    let mut seen = Vec::new();
    until(&mut ws, "session", &mut seen, &mut audio).await;
    ws.send(Message::Text(
        r#"{"type":"start","sample_rate":48000}"#.into(),
    ))
    .await
    .unwrap();
    speak(&mut ws).await;
    let first = until(&mut ws, "agent_sentence", &mut seen, &mut audio).await;
    assert_eq!(first["turn"], 1);
    speak(&mut ws).await;
    seen.clear();
    let barge = until(&mut ws, "barge_in", &mut seen, &mut audio).await;
    assert_eq!(barge["turn"], 1);
    audio = 0;
    seen.clear();
    let fin = until(&mut ws, "final_transcript", &mut seen, &mut audio).await;
    assert_eq!(fin["text"], "again");
    // If the interrupted turn reports done, it says it was interrupted.
    for m in seen.iter().filter(|m| m["type"] == "agent_turn_done") {
        assert_eq!(m["turn"], 1, "{seen:?}");
        assert_eq!(m["interrupted"], true, "{seen:?}");
    }
    assert_eq!(audio, 0, "no audio of the interrupted turn after barge_in");
    assert!(
        seen.iter()
            .all(|m| m["type"] != "agent_sentence" || m["turn"] != 1),
        "the interrupted turn says no more: {seen:?}"
    );
    app.shutdown("test over").await;
}

/// One utterance for the energy VAD: 600 ms of tone, then enough silence to end it.
async fn speak(ws: &mut Socket) {
    for c in pcm48(600, true).into_iter().chain(pcm48(800, false)) {
        ws.send(Message::Binary(c.into())).await.unwrap();
    }
}
