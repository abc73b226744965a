//! OpenAI tool calling in the streaming brain loop, through a whole session
//! on the real NATS.
//!
//! The model side is a **scripted OpenAI-compatible responder** (an axum
//! server in this test streaming `chat.completion.chunk` SSE with
//! `tool_calls` deltas): SmolLM2-135M, the only model this machine runs,
//! cannot call tools reliably, so the scripted responder is used for this
//! protocol test only. Everything else is real: the `openai` engine
//! (async-openai) parses the stream, the session runs the tools (a real HTTP
//! endpoint, also served here, and the built-ins), gives the results back in
//! the next request, and the events reach NATS. (Exact checks read the
//! node's events from an in-process tap, what its mirrors are handed; the
//! machine's NATS is shared and at-most-once, so the NATS checks are that the
//! tool subjects arrive, field for field, for the HTTP tool case.)
//!
//! - an HTTP tool is called with the model's arguments, its JSON goes back to
//!   the model as a `tool` message, and the spoken reply is the second answer;
//! - a tool that times out and one that answers garbage give the model
//!   `{"error": ...}` results, and the turn still ends within its deadline; a
//!   tool slower than the whole turn gives the fallback at the turn deadline;
//! - `current_time` gives the model the time (ISO 8601, UTC);
//! - `end_call` ends the session (`session.ended`, reason `agent_ended_call`)
//!   after the goodbye is spoken.

use arc_actors::engine::ToolEngine;
use arc_actors::events::Event;
use arc_actors::session::{EndReason, SessionNotice};
use arc_agent::App;
use arc_agent::{NodeEngines, WithTools};
use arc_models::llm::openai::{OpenAiLlm, OpenAiOptions};
use arc_testkit::*;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted model answer.
#[derive(Clone)]
enum Step {
    /// `finish_reason = tool_calls` with these (id, name, arguments).
    Calls(Vec<(&'static str, &'static str, &'static str)>),
    Text(&'static str),
}

#[derive(Default)]
struct Responder {
    steps: Mutex<VecDeque<Step>>,
    requests: Mutex<Vec<Value>>,
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let c = json!({
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    });
    format!("data: {c}\n\n")
}

/// The SSE body of one step, cut the way servers stream it: the call's id and
/// name first, its arguments in pieces.
fn sse(step: &Step) -> String {
    let mut out = chunk(json!({"role": "assistant", "content": ""}), None);
    match step {
        Step::Calls(calls) => {
            for (i, (id, name, args)) in calls.iter().enumerate() {
                out += &chunk(
                    json!({"tool_calls": [{"index": i, "id": id, "type": "function",
                        "function": {"name": name, "arguments": ""}}]}),
                    None,
                );
                let mid = args.len() / 2;
                for piece in [&args[..mid], &args[mid..]] {
                    out += &chunk(
                        json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                        None,
                    );
                }
            }
            out += &chunk(json!({}), Some("tool_calls"));
        }
        Step::Text(text) => {
            for word in text.split_inclusive(' ') {
                out += &chunk(json!({"content": word}), None);
            }
            out += &chunk(json!({}), Some("stop"));
        }
    }
    out + "data: [DONE]\n\n"
}

async fn completions(
    State(r): State<Arc<Responder>>,
    Json(body): Json<Value>,
) -> axum::response::Response {
    r.requests.lock().unwrap().push(body);
    let step = r
        .steps
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Step::Text("Nothing more to say."));
    axum::response::Response::builder()
        .header("content-type", "text/event-stream")
        .body(axum::body::Body::from(sse(&step)))
        .unwrap()
}

/// The endpoints the HTTP tools call; what they were sent is recorded.
#[derive(Default)]
struct ToolServer {
    weather_args: Mutex<Vec<HashMap<String, String>>>,
    booked: Mutex<Vec<Value>>,
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn tool_server() -> (Arc<ToolServer>, String) {
    let s = Arc::new(ToolServer::default());
    let router = Router::new()
        .route(
            "/weather",
            get(|State(s): State<Arc<ToolServer>>, Query(q): Query<HashMap<String, String>>| async move {
                let city = q.get("city").cloned().unwrap_or_default();
                s.weather_args.lock().unwrap().push(q);
                Json(json!({"city": city, "temperature_c": 21, "sky": "sunny"}))
            }),
        )
        .route(
            "/book",
            post(|State(s): State<Arc<ToolServer>>, Json(b): Json<Value>| async move {
                s.booked.lock().unwrap().push(b);
                Json(json!({"booked": true, "reference": "ABC123"}))
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Json(json!({"late": true}))
            }),
        )
        .route("/garbage", get(|| async { "<html>not json</html>" }))
        .with_state(s.clone());
    let url = serve(router).await;
    (s, url)
}

/// The node's config file: the tools as an operator declares them.
fn config_toml(tools_url: &str, turn_timeout_ms: u64, slow_timeout_ms: u64) -> String {
    format!(
        r#"
[session.brain]
turn_timeout_ms = {turn_timeout_ms}
builtin_tools = ["current_time", "end_call"]

[[session.brain.tools]]
name = "weather"
description = "The weather now in a city."
url = "{tools_url}/weather"
method = "GET"
parameters = {{ type = "object", properties = {{ city = {{ type = "string" }} }}, required = ["city"] }}
timeout_ms = 1000

[[session.brain.tools]]
name = "book_table"
description = "Book a table."
url = "{tools_url}/book"
parameters = '{{"type": "object", "properties": {{"people": {{"type": "integer"}}}}}}'
timeout_ms = 1000

[[session.brain.tools]]
name = "slow"
description = "A tool that takes too long."
url = "{tools_url}/slow"
method = "GET"
parameters = {{ type = "object" }}
timeout_ms = {slow_timeout_ms}

[[session.brain.tools]]
name = "garbage"
description = "A tool that answers HTML."
url = "{tools_url}/garbage"
method = "GET"
parameters = {{ type = "object" }}
timeout_ms = 1000
"#
    )
}

struct Run {
    responder: Arc<Responder>,
    tools: Arc<ToolServer>,
    out: Arc<RecordingOutput>,
    /// This session's events as NATS delivered them.
    nats: Vec<(String, Event)>,
    /// Every event of the node, as its mirrors got them (an in-process tap):
    /// NATS is at-most-once and the machine's NATS is shared, so exact
    /// checks read these, and the NATS checks that the subjects arrive.
    events: Vec<Event>,
    /// The node's /metrics at the end.
    metrics: String,
    ended: bool,
}

impl Run {
    /// From the brain request to its answer (response or fallback error).
    fn turn_took(&self) -> Duration {
        let mut start = None;
        let mut end = None;
        for e in &self.events {
            match e {
                Event::BrainRequest(b) => start = Some(b.timestamp),
                Event::BrainResponse(b) => end = Some(b.timestamp),
                Event::BrainError(b) => end = Some(b.timestamp),
                _ => {}
            }
        }
        let (Some(s), Some(e)) = (start, end) else {
            panic!("no brain request and answer: {:?}", self.events);
        };
        (e - s).to_std().unwrap_or_default()
    }
}

/// One spoken line through a node whose model follows `steps`.
async fn run(steps: Vec<Step>, line: &str, turn_timeout_ms: u64, slow_timeout_ms: u64) -> Run {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let (tools, tools_url) = tool_server().await;
    let responder = Arc::new(Responder {
        steps: Mutex::new(steps.into()),
        ..Default::default()
    });
    let model_url = serve(
        Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(responder.clone()),
    )
    .await;
    let file = dir.path().join("tools.toml");
    std::fs::write(
        &file,
        config_toml(&tools_url, turn_timeout_ms, slow_timeout_ms),
    )
    .unwrap();
    let mut env = node_env(
        &format!("pulsar://127.0.0.1:{}", free_port()),
        SHARED_NATS,
        &dir.path().join("data"),
        0,
    );
    env.push(("ARC__PULSAR__ENABLED".into(), "false".into()));
    let cfg = arc_agent::config::Config::load_with(Some(&file), env).expect("tool config");
    let llm = OpenAiLlm::new(&OpenAiOptions {
        base_url: format!("{model_url}/v1"),
        model: "scripted".into(),
        ..Default::default()
    });
    let declared = cfg.http_tools().expect("declared tools");
    assert_eq!(declared.specs().len(), 4);
    let with_llm = WithLlm::new(Arc::new(llm));
    let scripts = with_llm.scripts().clone();
    let provider = Arc::new(WithTools {
        inner: with_llm,
        tools: Some(declared as Arc<dyn ToolEngine>),
    });
    let (tap, mut tap_rx) =
        arc_actors::sink::MirrorInput::new("test", arc_actors::sink::MirrorFilter::All, 1 << 16);
    let engines = NodeEngines::new(provider).with_scripts(scripts);
    let app = App::start_with_engines(cfg, vec![tap], engines)
        .await
        .unwrap();
    let nats = async_nats::connect(SHARED_NATS).await.unwrap();
    // NATS is at-most-once: wait until the node's mirror is connected.
    let ready = format!("http://{}/readyz", app.local_addr());
    let connected = tokio::task::spawn_blocking(move || {
        eventually(Duration::from_secs(10), || {
            let (_, body) = http("GET", &ready, None);
            let v: Value = serde_json::from_str(&body).ok()?;
            (v["brokers"]["nats"]["connected"] == true).then_some(())
        })
    })
    .await
    .unwrap();
    assert!(
        connected.is_some(),
        "the node's NATS mirror did not connect"
    );

    let sc = app.ctx.cfg.session_config();
    // Only the subjects this test reads, read while the session runs: the
    // shared NATS also carries other tests' traffic.
    let mut subs = Vec::new();
    for subject in [
        "agent.voice.session.ended",
        "agent.brain.request",
        "agent.brain.response",
        "agent.brain.error",
        "agent.brain.tool.call",
        "agent.brain.tool.result",
    ] {
        subs.push(nats.subscribe(subject).await.unwrap());
    }
    subscribed(&nats).await;
    let mut sub = futures::stream::select_all(subs);
    let session_id = sc.session_id.clone();
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let collector = tokio::spawn(async move {
        let mut events: Vec<(String, Event)> = Vec::new();
        let mut stopping: Option<tokio::time::Instant> = None;
        loop {
            let m = tokio::select! {
                _ = &mut stop_rx, if stopping.is_none() => {
                    stopping = Some(tokio::time::Instant::now() + Duration::from_secs(5));
                    continue;
                }
                m = tokio::time::timeout(Duration::from_millis(200), sub.next()) => m,
            };
            match m {
                Ok(Some(m)) => {
                    let ev = Event::from_nats(&m.subject, &m.payload)
                        .unwrap_or_else(|e| panic!("{} does not parse: {e}", m.subject));
                    let mine = match &ev {
                        Event::SessionEnded(s) => s.session_id == session_id,
                        Event::BrainResponse(b) => b.session_id == session_id,
                        Event::BrainRequest(b) => b.session_id == session_id,
                        // No session id in the seed's error: matched by trace id below.
                        Event::BrainError(_) => true,
                        Event::ToolCall(c) => c.session_id == session_id,
                        Event::ToolResult(r) => r.session_id == session_id,
                        _ => false,
                    };
                    if mine {
                        events.push((m.subject.to_string(), ev));
                    }
                }
                _ => {
                    let done = events.iter().any(|(s, _)| s == "agent.voice.session.ended");
                    if stopping.is_some_and(|t| done || tokio::time::Instant::now() > t) {
                        return events;
                    }
                }
            }
        }
    });
    let call = ScriptedCall::start(
        &app.ctx.node,
        &app.ctx.scripts,
        sc.clone(),
        vec![line.to_string()],
    )
    .await
    .unwrap();
    call.say_all(Duration::from_secs(20)).await;
    let session = &call.session;
    // A session the agent ended stops by itself; otherwise the user leaves.
    let ended = tokio::time::timeout(Duration::from_secs(3), session.wait())
        .await
        .is_ok();
    if !ended {
        session.end(EndReason::UserLeft);
        session.wait().await;
    }
    let _ = stop_tx.send(());
    let mut events = collector.await.unwrap();
    let metrics_url = format!("http://{}/metrics", app.local_addr());
    let (_, metrics) = tokio::task::spawn_blocking(move || http("GET", &metrics_url, None))
        .await
        .unwrap();
    let traces: Vec<String> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::BrainRequest(b) => Some(b.trace_id.clone()),
            _ => None,
        })
        .collect();
    events.retain(|(_, e)| !matches!(e, Event::BrainError(b) if !traces.contains(&b.trace_id)));
    app.shutdown("test_done").await;
    let mut tapped = Vec::new();
    while let Ok(e) = tap_rx.try_recv() {
        tapped.push((*e).clone());
    }
    Run {
        responder,
        tools,
        out: call.out,
        nats: events,
        events: tapped,
        metrics,
        ended,
    }
}

fn tool_results(r: &Run) -> Vec<&arc_actors::events::nats::ToolResult> {
    r.events
        .iter()
        .filter_map(|e| match e {
            Event::ToolResult(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// The `tool` messages of the model's `n`th request, by call id.
fn tool_messages(r: &Run, n: usize) -> HashMap<String, String> {
    let reqs = r.responder.requests.lock().unwrap();
    reqs[n]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["tool_call_id"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_tool_is_called_with_the_models_arguments_and_its_answer_spoken() {
    let r = run(
        vec![
            Step::Calls(vec![("call_w", "weather", r#"{"city": "Paris"}"#)]),
            Step::Text("It is sunny and 21 degrees in Paris."),
        ],
        "What is the weather in Paris?",
        10_000,
        1000,
    )
    .await;
    // The tool's endpoint got the model's arguments.
    let args = r.tools.weather_args.lock().unwrap().clone();
    assert_eq!(args.len(), 1);
    assert_eq!(args[0].get("city").map(String::as_str), Some("Paris"));
    // Both requests declared the tools; the second carries the call and its result.
    let reqs = r.responder.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2, "one call, then the answer");
    let names: Vec<&str> = reqs[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "current_time",
            "end_call",
            "weather",
            "book_table",
            "slow",
            "garbage"
        ]
    );
    assert_eq!(
        reqs[0]["tools"][2]["function"]["parameters"]["required"][0],
        "city"
    );
    let msgs = reqs[1]["messages"].as_array().unwrap();
    let call = msgs
        .iter()
        .find(|m| m["role"] == "assistant" && m["tool_calls"].is_array())
        .expect("the assistant's tool call is in the second request");
    assert_eq!(call["tool_calls"][0]["id"], "call_w");
    assert_eq!(
        call["tool_calls"][0]["function"]["arguments"],
        r#"{"city": "Paris"}"#
    );
    let result: Value = serde_json::from_str(&tool_messages(&r, 1)["call_w"]).unwrap();
    assert_eq!(
        result,
        json!({"city": "Paris", "temperature_c": 21, "sky": "sunny"})
    );
    // What was spoken is the second answer.
    assert_eq!(r.out.sentences(), ["It is sunny and 21 degrees in Paris."]);
    // The call and its result are events; the response names the tool.
    let call_ev = find_event(&r.events, |e| match e {
        Event::ToolCall(c) => Some(c),
        _ => None,
    })
    .expect("agent.brain.tool.call");
    assert_eq!(call_ev.tool, "weather");
    assert_eq!(call_ev.call_id, "call_w");
    assert_eq!(call_ev.arguments, r#"{"city": "Paris"}"#);
    assert_eq!(call_ev.trace_id.len(), 32);
    let results = tool_results(&r);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].outcome, "ok");
    assert_eq!(results[0].request_id, call_ev.request_id);
    let resp = find_event(&r.events, |e| match e {
        Event::BrainResponse(b) => Some(b),
        _ => None,
    })
    .expect("agent.brain.response");
    assert_eq!(resp.metadata.tools_called, ["weather"]);
    assert_eq!(resp.agent_response, "It is sunny and 21 degrees in Paris.");
    // On the real NATS, on their subjects, as the node sent them.
    let on_nats = |subject: &str| r.nats.iter().filter(|(s, _)| s == subject).count();
    assert_eq!(on_nats("agent.brain.tool.call"), 1, "{:?}", r.nats);
    assert_eq!(on_nats("agent.brain.tool.result"), 1, "{:?}", r.nats);
    let from_nats = r.nats.iter().find_map(|(_, e)| match e {
        Event::ToolCall(c) => Some(serde_json::to_value(c).unwrap()),
        _ => None,
    });
    // Field for field as sent (the wire has millisecond timestamps).
    assert_eq!(from_nats, Some(serde_json::to_value(call_ev).unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_tool_gets_the_arguments_as_a_json_body() {
    let r = run(
        vec![
            Step::Calls(vec![("call_b", "book_table", r#"{"people": 4}"#)]),
            Step::Text("Your table for four is booked."),
        ],
        "Book a table for four please.",
        10_000,
        1000,
    )
    .await;
    assert_eq!(
        r.tools.booked.lock().unwrap().clone(),
        [json!({"people": 4})]
    );
    let result: Value = serde_json::from_str(&tool_messages(&r, 1)["call_b"]).unwrap();
    assert_eq!(result["reference"], "ABC123");
    assert_eq!(r.out.sentences(), ["Your table for four is booked."]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_and_garbage_give_the_model_errors_and_the_turn_ends_in_time() {
    let turn_timeout_ms = 4000;
    let r = run(
        vec![
            Step::Calls(vec![
                ("call_s", "slow", "{}"),
                ("call_g", "garbage", "{}"),
                ("call_u", "no_such_tool", "{}"),
            ]),
            Step::Text("Sorry, I could not check that right now."),
        ],
        "Check the slow thing.",
        turn_timeout_ms,
        500,
    )
    .await;
    let results = tool_messages(&r, 1);
    for id in ["call_s", "call_g", "call_u"] {
        let v: Value = serde_json::from_str(&results[id]).unwrap();
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{id}: {v}"
        );
    }
    let outcomes: Vec<&str> = tool_results(&r)
        .iter()
        .map(|t| t.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["timeout", "bad_output", "unknown_tool"]);
    for (series, n) in [
        (
            r#"arc_tool_calls_total{tool="slow",outcome="timeout"}"#,
            1.0,
        ),
        (
            r#"arc_tool_calls_total{tool="garbage",outcome="bad_output"}"#,
            1.0,
        ),
        (
            r#"arc_tool_calls_total{tool="unknown",outcome="unknown_tool"}"#,
            1.0,
        ),
    ] {
        assert_eq!(metric(&r.metrics, series), Some(n), "{series}");
    }
    let slow = tool_results(&r)[0].latency_ms;
    assert!(
        (450..2000).contains(&slow),
        "the slow tool took {slow} ms, its timeout is 500"
    );
    assert_eq!(
        r.out.sentences(),
        ["Sorry, I could not check that right now."]
    );
    assert!(
        r.turn_took() < Duration::from_millis(turn_timeout_ms + 500),
        "the turn took {:?}",
        r.turn_took()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_slower_than_the_turn_ends_in_the_fallback_at_the_deadline() {
    let turn_timeout_ms = 1500;
    let r = run(
        vec![
            Step::Calls(vec![("call_s", "slow", "{}")]),
            Step::Text("This answer comes too late."),
        ],
        "Check the slow thing.",
        turn_timeout_ms,
        1500,
    )
    .await;
    assert_eq!(
        r.out.sentences(),
        ["I'm having trouble processing that. Could you rephrase?"]
    );
    assert!(
        r.turn_took() < Duration::from_millis(turn_timeout_ms + 500),
        "the turn took {:?}",
        r.turn_took()
    );
    assert_eq!(tool_results(&r)[0].outcome, "timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_time_gives_the_model_the_time() {
    let before = chrono::Utc::now();
    let r = run(
        vec![
            Step::Calls(vec![("call_t", "current_time", "")]),
            Step::Text("It is a quarter past nine."),
        ],
        "What time is it?",
        10_000,
        1000,
    )
    .await;
    let v: Value = serde_json::from_str(&tool_messages(&r, 1)["call_t"]).unwrap();
    let t = chrono::DateTime::parse_from_rfc3339(v["utc"].as_str().unwrap()).unwrap();
    let t = t.with_timezone(&chrono::Utc);
    assert!(t >= before - chrono::Duration::seconds(1) && t <= chrono::Utc::now());
    assert_eq!(tool_results(&r)[0].outcome, "ok");
    assert_eq!(r.out.sentences(), ["It is a quarter past nine."]);
    assert!(!r.ended, "only end_call ends the session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_call_ends_the_session_after_the_goodbye() {
    let r = run(
        vec![
            Step::Calls(vec![("call_e", "end_call", "{}")]),
            Step::Text("Goodbye, have a nice day!"),
        ],
        "That is all, bye.",
        10_000,
        1000,
    )
    .await;
    assert!(r.ended, "the session did not end itself");
    let notices = r.out.notices();
    let said = notices
        .iter()
        .position(|n| matches!(n, SessionNotice::AgentTurnDone { .. }))
        .expect("the goodbye was spoken");
    let ended = notices
        .iter()
        .position(|n| matches!(n, SessionNotice::Ended { reason } if reason == "agent_ended_call"))
        .expect("ended by the agent");
    assert!(said < ended);
    assert_eq!(r.out.sentences(), ["Goodbye, have a nice day!"]);
    let ev = find_event(&r.events, |e| match e {
        Event::SessionEnded(s) => Some(s),
        _ => None,
    })
    .expect("session.ended");
    assert_eq!(ev.reason, "agent_ended_call");
    assert_eq!(ev.final_status, "completed");
}
