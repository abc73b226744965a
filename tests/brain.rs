//! The brain against real language model servers, no fake LLM: the node's
//! model server (`arc-agent llm-server` over llama.cpp's prebuilt libraries)
//! serving the manifest's SmolLM2 GGUF, started and supervised as the node
//! does it.
//!
//! - the local model answers a spoken-style question within the seed's 150
//!   tokens, streamed in pieces, and a session speaks it sentence by sentence;
//! - a stopped server and a stalled one give the fallback within the 2000 ms
//!   timeout (plus a small margin) and the seed's `agent.brain.error`;
//! - a model server that cannot start leaves the node up, answering every
//!   turn with the fallback and an `agent.brain.error` that says why;
//! - a killed model server is restarted by its supervisor (a crash in the
//!   model costs a restart of the child, never the node);
//! - a 40-turn call: the caller's name and order number from turn 2 outlive
//!   the history's budget (the model is asked to summarize the oldest turns;
//!   what the caller stated is kept word for word either way), and turn 40
//!   is asked with them.

use arc_actors::engine::{CancellationToken, LlmEngine, LlmRequest};
use arc_actors::events::Event;
use arc_actors::sentence::SentenceSplitter;
use arc_actors::session::{SessionConfig, SessionNotice};
use arc_models::llm::llama_server::LlamaServer;
use arc_models::llm::openai::OpenAiLlm;
use arc_testkit::llm::{self, llama_server, smollm2};
use arc_testkit::{find_event, InProcessNode};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The tests here share 2 cores with real models: one at a time, so a
/// server's timing is its own and not a neighbour's.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const FALLBACK: &str = "I'm having trouble processing that. Could you rephrase?";

/// A server and an engine speaking to it. Each test has its own: a tokio
/// test's runtime (and with it the server's supervisor) ends with the test.
async fn local_llm() -> (LlamaServer, OpenAiLlm) {
    let server = llama_server().await;
    let llm = smollm2(server.base_url());
    (server, llm)
}

fn question(text: &str) -> LlmRequest {
    llm::question(text, "0af7651916cd43dd8448eb211c80319c")
}

/// Runs one scripted turn and returns the session's notices and events.
async fn one_turn(
    llm: Arc<dyn LlmEngine>,
    line: &str,
) -> (Vec<SessionNotice>, Vec<Arc<Event>>, Duration) {
    let mut node = InProcessNode::builder()
        .llm(llm)
        .max_sessions(10)
        .start()
        .await;
    let mut config = SessionConfig {
        user_id: "brain-test".into(),
        ..Default::default()
    };
    // Greedy decoding: one reply every run, so the test checks
    // the brain's handling, not a sampled reply's shape.
    config.brain.temperature = 0.0;
    let call = node.scripted(config, vec![line.to_string()]).await.unwrap();
    let t = Instant::now();
    let answered = call.say_all(Duration::from_secs(30)).await;
    let took = t.elapsed();
    assert_eq!(answered, 1, "no answer: {:?}", call.out.notices());
    // The turn's conversation-v1 is archived once its audio is out: wait for it.
    let mut events = node
        .events_until(Duration::from_secs(10), |e| {
            matches!(e, Event::Conversation(_))
        })
        .await;
    call.hang_up().await;
    events.extend(node.drain());
    (call.out.notices(), events, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_model_streams_an_answer_within_the_seed_limits() {
    let _serial = SERIAL.lock().await;
    let (_server, llm) = local_llm().await;
    let (tx, mut rx) = mpsc::channel(256);
    let started = Instant::now();
    let collect = tokio::spawn(async move {
        let mut pieces = Vec::new();
        let mut first = None;
        while let Some(p) = rx.recv().await {
            first.get_or_insert_with(|| started.elapsed());
            pieces.push(p);
        }
        (pieces, first)
    });
    let usage = llm
        .stream(
            question("Hi! Could you tell me what the capital of France is?"),
            tx,
            CancellationToken::new(),
        )
        .await
        .expect("the local model answers");
    let (pieces, first) = collect.await.unwrap();
    let text: String = pieces.concat();
    println!(
        "reply ({} pieces, {} tokens, first token after {:?}): {text}",
        pieces.len(),
        usage.completion_tokens,
        first
    );
    assert!(pieces.len() > 3, "not streamed: {pieces:?}");
    assert!(usage.completion_tokens > 0 && usage.completion_tokens <= 150);
    assert!(usage.prompt_tokens > 0);
    let mut splitter = SentenceSplitter::new();
    let mut sentences: Vec<String> = pieces.iter().flat_map(|p| splitter.push(p)).collect();
    sentences.extend(splitter.finish());
    assert!(!sentences.is_empty() && !text.trim().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_with_the_local_brain_speaks_whole_sentences() {
    let _serial = SERIAL.lock().await;
    let (_server, llm) = local_llm().await;
    let llm: Arc<dyn LlmEngine> = Arc::new(llm);
    let (notices, events, _) = one_turn(llm, "What is a good name for a cat?").await;
    let sentences: Vec<&str> = notices
        .iter()
        .filter_map(|n| match n {
            SessionNotice::AgentSentence { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    println!("agent said: {sentences:?}");
    for e in &events {
        if let Event::BrainError(b) = &**e {
            println!("brain error: {}", serde_json::to_string(b).unwrap());
        }
    }
    assert!(!sentences.is_empty());
    let last = sentences.last().unwrap().trim_end();
    assert!(
        last.ends_with(['.', '!', '?', '"', ')']),
        "the reply does not end on a whole sentence: {last:?}"
    );
    let resp = find_event(&events, |e| match e {
        Event::BrainResponse(r) => Some(r.clone()),
        _ => None,
    })
    .expect("agent.brain.response");
    let json = serde_json::to_value(&resp).unwrap();
    println!("{json}");
    assert!(events.iter().all(|e| !matches!(&**e, Event::BrainError(_))));
    let conv = find_event(&events, |e| match e {
        Event::Conversation(c) => Some(c.clone()),
        _ => None,
    })
    .expect("conversation-v1");
    assert_eq!(conv.agent_response.llm_model, "smollm2-135m-instruct");
    assert!(conv.agent_response.llm_tokens_used > 0 && conv.agent_response.llm_tokens_used <= 150);
}

fn brain_error(events: &[Arc<Event>]) -> serde_json::Value {
    let e = find_event(events, |e| match e {
        Event::BrainError(b) => Some(b.clone()),
        _ => None,
    })
    .expect("agent.brain.error");
    serde_json::to_value(&e).unwrap()
}

fn spoke_fallback(notices: &[SessionNotice]) -> bool {
    notices
        .iter()
        .any(|n| matches!(n, SessionNotice::AgentSentence { text, .. } if text == FALLBACK))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_gives_the_fallback_and_the_seed_error() {
    let _serial = SERIAL.lock().await;
    // A port nobody listens on: the connection is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let llm: Arc<dyn LlmEngine> = Arc::new(smollm2(&format!("http://127.0.0.1:{port}/v1")));
    let (notices, events, took) = one_turn(llm, "Are you there?").await;
    assert!(spoke_fallback(&notices), "{notices:?}");
    let err = brain_error(&events);
    println!("{err}");
    assert_eq!(err["fallback_response"], FALLBACK);
    assert_eq!(err["error_type"], "engine_failure");
    assert!(!err["error_message"].as_str().unwrap().is_empty());
    assert!(took < Duration::from_millis(2000 + 1500), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_brain_that_cannot_start_leaves_the_node_answering_with_the_fallback() {
    let _serial = SERIAL.lock().await;
    // The real engines, with a model server that cannot start: loading goes
    // on (VAD, STT and TTS are fine), and the brain says why on every turn.
    let mut cfg = arc_agent::config::Config::load(None).unwrap();
    cfg.engines.llm.server_binary = "/nonexistent/llama-server".into();
    let engines = arc_agent::LocalEngines::load(&cfg)
        .await
        .expect("the node's engines load without their brain");
    let (notices, events, _) = one_turn(engines.llm.clone(), "Are you there?").await;
    assert!(spoke_fallback(&notices), "{notices:?}");
    let err = brain_error(&events);
    assert_eq!(err["error_type"], "engine_failure");
    let message = err["error_message"].as_str().unwrap();
    assert!(
        message.contains("/nonexistent/llama-server"),
        "the error names what is missing: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_gives_the_fallback_within_the_timeout() {
    let _serial = SERIAL.lock().await;
    // Accepts connections and never answers: only the Brain's timeout ends it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let llm: Arc<dyn LlmEngine> = Arc::new(smollm2(&format!("http://127.0.0.1:{port}/v1")));
    let (notices, events, _) = one_turn(llm, "Hello?").await;
    hold.abort();
    assert!(spoke_fallback(&notices), "{notices:?}");
    let err = brain_error(&events);
    println!("{err}");
    assert_eq!(err["error_type"], "timeout");
    assert_eq!(err["fallback_response"], FALLBACK);
    let resp_ms = find_event(&events, |e| match e {
        Event::Conversation(c) => Some(c.agent_response.llm_latency_ms),
        _ => None,
    });
    let ms = resp_ms.expect("conversation-v1 for the fallback turn");
    assert!(
        (2000..2000 + 500).contains(&ms),
        "fallback after {ms} ms, not at the 2000 ms timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_llama_server_is_restarted() {
    let _serial = SERIAL.lock().await;
    let server = llama_server().await;
    let pid = server.pid();
    assert!(pid > 0);
    // SAFETY: plain kill(2) on our own child.
    unsafe {
        libc_kill(pid as i32);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while (server.restarts() == 0 || server.pid() == 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(server.restarts(), 1);
    let new_pid = server.pid();
    assert_ne!(new_pid, pid);
    let llm = smollm2(server.base_url());
    let (tx, mut rx) = mpsc::channel(256);
    let usage = llm
        .stream(question("Say hello."), tx, CancellationToken::new())
        .await
        .expect("the restarted server answers");
    assert!(usage.completion_tokens > 0);
    assert!(rx.recv().await.is_some());
    server.shutdown().await;
    // The child is gone after shutdown.
    assert!(!std::path::Path::new(&format!("/proc/{new_pid}")).exists());
}

unsafe fn libc_kill(pid: i32) {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    kill(pid, 9);
}

/// The local brain, with every request it is asked kept for the test.
struct Recorded {
    inner: Arc<dyn LlmEngine>,
    /// Each request and the reply it got.
    requests: parking_lot::Mutex<Vec<(LlmRequest, String)>>,
}

#[async_trait::async_trait]
impl LlmEngine for Recorded {
    fn model(&self) -> &str {
        self.inner.model()
    }
    async fn stream(
        &self,
        request: LlmRequest,
        tokens: mpsc::Sender<String>,
        cancel: CancellationToken,
    ) -> Result<arc_actors::engine::LlmUsage, arc_actors::engine::EngineError> {
        let index = {
            let mut r = self.requests.lock();
            r.push((request.clone(), String::new()));
            r.len() - 1
        };
        // Forward the reply, keeping a copy.
        let (tx, mut rx) = mpsc::channel::<String>(256);
        let forward = async {
            let mut text = String::new();
            while let Some(piece) = rx.recv().await {
                text.push_str(&piece);
                if tokens.send(piece).await.is_err() {
                    break;
                }
            }
            text
        };
        let (result, text) = tokio::join!(self.inner.stream(request, tx, cancel), forward);
        self.requests.lock()[index].1 = text;
        result
    }
}

fn last_user(r: &LlmRequest) -> &str {
    r.messages.last().map(|m| m.content.as_str()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fact_from_turn_2_survives_to_turn_40() {
    let _serial = SERIAL.lock().await;
    let (_server, llm) = local_llm().await;
    let recorded = Arc::new(Recorded {
        inner: Arc::new(llm),
        requests: parking_lot::Mutex::new(Vec::new()),
    });
    let mut node = InProcessNode::builder()
        .llm(recorded.clone())
        .max_sessions(10)
        .start()
        .await;
    node.drain_in_background();
    let chatter = [
        "What is the capital of Italy?",
        "How many days are in a week?",
        "What color is the sky on a clear day?",
        "What is two plus two?",
        "Which animal says moo?",
        "How many legs does a spider have?",
        "What do bees make?",
        "What is the opposite of hot?",
        "Which planet do we live on?",
        "What season comes after winter?",
        "How many minutes are in an hour?",
        "What is frozen water called?",
    ];
    let mut script = vec![
        "Hello, I am calling about a delivery.".to_string(),
        "My name is Alice Moreno and my order number is 4417.".to_string(),
    ];
    script.extend((0..37).map(|i| chatter[i % chatter.len()].to_string()));
    script.push("What is my order number?".to_string());
    assert_eq!(script.len(), 40);
    let mut config = SessionConfig {
        user_id: "long-call".into(),
        ..Default::default()
    };
    config.brain.temperature = 0.0;
    // About six exchanges: turn 2 leaves the history long before turn 40,
    // and the summary is made (and carried on) several times.
    config.brain.context_token_budget = 150;
    let call = node.scripted(config, script).await.unwrap();
    let answered = call.say_all(Duration::from_secs(30)).await;
    assert_eq!(answered, 40, "{:?}", call.out.notices().last());
    call.hang_up().await;

    let requests = recorded.requests.lock().clone();
    let summaries: Vec<&(LlmRequest, String)> = requests
        .iter()
        .filter(|(r, _)| r.messages[0].content == arc_actors::summary::INSTRUCTIONS)
        .collect();
    println!("{} summary requests", summaries.len());
    if let Some((_, summary)) = summaries.last() {
        println!("the model's last summary: {summary:?}");
    }
    let (turn_40, _) = requests
        .iter()
        .rev()
        .find(|(r, _)| last_user(r) == "What is my order number?")
        .expect("turn 40 was asked");
    let system = &turn_40.messages[0].content;
    println!("turn 40's system message: {system}");
    assert!(
        summaries.len() >= 2,
        "the summary was made {} times",
        summaries.len()
    );
    assert!(
        !turn_40
            .messages
            .iter()
            .skip(1)
            .any(|m| m.content.contains("Alice Moreno")),
        "turn 2 is still in the history as said: the test proves nothing"
    );
    assert!(
        system.contains("4417"),
        "the order number did not survive: {system}"
    );
    assert!(
        system.contains("Alice"),
        "the name did not survive: {system}"
    );
    let reply: Vec<String> = call
        .out
        .notices()
        .iter()
        .filter_map(|n| match n {
            SessionNotice::AgentSentence { turn: 40, text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    println!("turn 40's reply: {reply:?}");
}
