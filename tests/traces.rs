//! One trace per turn: an OTLP/HTTP receiver run by the test collects the
//! turn's spans (turn, stt, llm, tts), and their trace id is the `trace_id` of
//! that turn's NATS events and of its conversation-v1 record in Pulsar.

use arc_agent::config::Config;
use arc_agent::telemetry;
use arc_agent::App;
use arc_testkit::*;
use axum::body::Bytes;
use axum::routing::post;
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Spans = Arc<Mutex<Vec<(String, String)>>>; // (trace id, span name)

async fn otlp_receiver() -> (u16, Spans) {
    let spans: Spans = Arc::default();
    let s = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let s = s.clone();
            async move {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                for rs in v["resourceSpans"].as_array().into_iter().flatten() {
                    for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                        for sp in ss["spans"].as_array().into_iter().flatten() {
                            s.lock().unwrap().push((
                                sp["traceId"].as_str().unwrap_or_default().to_lowercase(),
                                sp["name"].as_str().unwrap_or_default().to_string(),
                            ));
                        }
                    }
                }
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, spans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turns_spans_share_the_trace_id_of_its_events() {
    let (otlp_port, spans) = otlp_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let broker = PulsarLite::start_provisioned(dir.path());
    let mut env = node_env(&broker.url(), SHARED_NATS, &dir.path().join("data"), 0);
    env.push((
        "ARC__TELEMETRY__OTLP_ENDPOINT".into(),
        format!("http://127.0.0.1:{otlp_port}"),
    ));
    env.push(("ARC__TELEMETRY__OTLP_PROTOCOL".into(), "http/json".into()));
    let cfg = Config::load_with(None, env).unwrap();
    let guard = telemetry::init(&cfg).expect("telemetry");
    let app = App::start(cfg).await.unwrap();

    let nats = async_nats::connect(SHARED_NATS).await.unwrap();
    let mut sub = nats.subscribe("agent.brain.response").await.unwrap();
    subscribed(&nats).await;

    let sc = user_session(&app, "trace");
    let user = sc.user_id.clone();
    let script = lines(&["one question", "another question"]);
    let call = ScriptedCall::start(&app.ctx.node, &app.ctx.scripts, sc.clone(), script)
        .await
        .unwrap();
    assert_eq!(call.say_all(Duration::from_secs(10)).await, 2);
    call.hang_up().await;

    let mut nats_traces = Vec::new();
    while nats_traces.len() < 2 {
        let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("brain.response")
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        if v["session_id"] == sc.session_id.as_str() {
            nats_traces.push(v["trace_id"].as_str().unwrap().to_string());
        }
    }
    app.shutdown("test done").await;
    tokio::task::block_in_place(|| drop(guard)); // flush the exporter

    let url = broker.url();
    let msgs = tokio::task::spawn_blocking(move || read_conversations(&url, &user, 2))
        .await
        .unwrap();
    let pulsar_traces: Vec<String> = msgs
        .iter()
        .map(|m| {
            m.payload["metadata"]["trace_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        pulsar_traces, nats_traces,
        "NATS and Pulsar name the same trace per turn"
    );

    let spans = spans.lock().unwrap().clone();
    let mut by_trace: HashMap<String, HashSet<String>> = HashMap::new();
    for (t, name) in spans {
        by_trace.entry(t).or_default().insert(name);
    }
    for t in &nats_traces {
        let names = by_trace
            .get(t)
            .unwrap_or_else(|| panic!("no spans for trace {t}: {by_trace:?}"));
        for stage in ["turn", "stt", "llm", "tts"] {
            assert!(
                names.contains(stage),
                "trace {t} lacks a {stage} span: {names:?}"
            );
        }
    }
    assert_ne!(nats_traces[0], nats_traces[1], "one trace per turn");
}
