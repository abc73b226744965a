//! The external brain tier over the real NATS: two `arc-agent brain` workers
//! (each with its own supervised model server and the real SmolLM2 model) in
//! one queue group answer the seed's `agent.brain.request` by request/reply:
//! every request is answered exactly once, by one worker or the other. A
//! session whose brain is `nats` speaks the tier's answer, and with no worker
//! listening it speaks the fallback at once, with the seed's error event.

use arc_actors::engine::LlmEngine;
use arc_actors::events::nats::{BrainRequest, BrainResponse, Constraints, Context};
use arc_actors::events::Event;
use arc_actors::session::{SessionConfig, SessionNotice};
use arc_agent::NatsBrainLlm;
use arc_testkit::{find_event, subscribed, InProcessNode, TestNode};
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NATS: &str = "nats://127.0.0.1:4222";

/// An `arc-agent brain` worker: its own supervised model server, in the queue
/// group `queue` on `subject`.
struct Worker(TestNode);

impl Worker {
    fn spawn(dir: &Path, n: usize, subject: &str, queue: &str) -> Worker {
        let node = TestNode::builder(env!("CARGO_BIN_EXE_arc-agent"))
            .args(&["brain"])
            .env("ARC__NATS__URL", NATS)
            .env("ARC__ENGINES__LLM__NATS_SUBJECT", subject)
            .env("ARC__ENGINES__LLM__NATS_QUEUE", queue)
            .env("ARC__ENGINES__LLM__WORKER_BRAIN", "local")
            .env("ARC__ENGINES__LLM__THREADS", "1")
            .env(
                "ARC__NODE__DATA_DIR",
                dir.join(format!("data-{n}")).display(),
            )
            .env("ARC__LOG__FORMAT", "json")
            .env("RUST_LOG", "info")
            .log(&dir.join(format!("worker-{n}.log")))
            .ready_on_log("brain worker ready")
            .timeout(Duration::from_secs(90))
            .start();
        Worker(node)
    }

    fn wait_ready(&mut self) {
        self.0.wait_ready();
    }

    /// Request ids this worker says it answered.
    fn answered(&self) -> Vec<String> {
        self.0
            .log_text()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["fields"]["message"] == "brain request answered")
            .filter_map(|v| v["fields"]["request_id"].as_str().map(String::from))
            .collect()
    }

    fn stop(self) -> String {
        self.0.stop(Duration::from_secs(15))
    }
}

fn request(i: usize) -> BrainRequest {
    BrainRequest {
        request_id: format!("req-tier-{i}-{}", uuid::Uuid::new_v4().simple()),
        timestamp: chrono::Utc::now(),
        trace_id: format!("{:032x}", i + 1),
        user_id: format!("user-{i}"),
        session_id: format!("session-{i}"),
        conversation_id: format!("conv-{i}"),
        turn_index: 1,
        user_input: "Hello! What is your name?".into(),
        context: Context {
            previous_turns: Vec::new(),
            user_profile: serde_json::Map::new(),
        },
        constraints: Constraints {
            max_tokens: 40,
            temperature: 0.7,
            timeout_ms: 10_000,
        },
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}.{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_in_one_queue_group_answer_each_request_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let subject = unique("test.brain.request");
    let queue = unique("test-brain");
    let mut a = Worker::spawn(dir.path(), 1, &subject, &queue);
    let mut b = Worker::spawn(dir.path(), 2, &subject, &queue);
    a.wait_ready();
    b.wait_ready();

    let client = async_nats::connect(NATS).await.expect("NATS at 4222");
    // A message without a reply subject (as the node's mirror publishes) is
    // not a request: no worker answers it.
    client
        .publish(
            subject.clone(),
            serde_json::to_vec(&request(999)).unwrap().into(),
        )
        .await
        .unwrap();
    let n = 24;
    let mut ids = Vec::new();
    for i in 0..n {
        let req = request(i);
        ids.push(req.request_id.clone());
        let reply = tokio::time::timeout(
            Duration::from_secs(30),
            client.request(subject.clone(), serde_json::to_vec(&req).unwrap().into()),
        )
        .await
        .expect("answered in time")
        .expect("a worker answers");
        let resp: BrainResponse = serde_json::from_slice(&reply.payload)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&reply.payload)));
        assert_eq!(resp.request_id, req.request_id);
        assert_eq!(resp.session_id, req.session_id);
        assert!(!resp.agent_response.is_empty());
        assert!(resp.metadata.tokens_used > 0 && resp.metadata.tokens_used <= 40);
    }
    // Bad input gets the seed's error, not silence.
    let reply = client
        .request(subject.clone(), "not json".into())
        .await
        .expect("answered");
    let err: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(err["error_type"], "bad_input", "{err}");
    // So does a request whose identifiers are not safe, naming the field.
    let mut bad = request(1000);
    bad.session_id = "../../etc/passwd".into();
    let reply = client
        .request(subject.clone(), serde_json::to_vec(&bad).unwrap().into())
        .await
        .expect("answered");
    let err: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(err["error_type"], "bad_input", "{err}");
    assert!(
        err["error_message"]
            .as_str()
            .unwrap_or("")
            .contains("session_id"),
        "{err}"
    );
    assert_eq!(err["request_id"], bad.request_id.as_str());

    tokio::time::sleep(Duration::from_millis(300)).await;
    let (from_a, from_b) = (a.answered(), b.answered());
    let log_a = a.stop();
    let log_b = b.stop();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for id in from_a.iter().chain(from_b.iter()) {
        *count.entry(id.as_str()).or_default() += 1;
    }
    for id in &ids {
        assert_eq!(
            count.get(id.as_str()),
            Some(&1),
            "{id} answered {:?} times",
            count.get(id.as_str())
        );
    }
    assert!(
        !count.keys().any(|k| k.contains("req-tier-999")),
        "a mirror event was answered"
    );
    println!(
        "worker 1 answered {}, worker 2 answered {}",
        from_a.len(),
        from_b.len()
    );
    assert!(
        !from_a.is_empty() && !from_b.is_empty(),
        "the queue group did not spread the work:\n{log_a}\n{log_b}"
    );
}

/// One scripted turn with the `nats` brain on `subject`.
async fn nats_turn(subject: &str) -> (Vec<SessionNotice>, Vec<Arc<Event>>) {
    nats_turn_with(subject, SessionConfig::default()).await
}

async fn nats_turn_with(
    subject: &str,
    cfg: SessionConfig,
) -> (Vec<SessionNotice>, Vec<Arc<Event>>) {
    let client = async_nats::connect(NATS).await.expect("NATS at 4222");
    let llm: Arc<dyn LlmEngine> = Arc::new(NatsBrainLlm::new(client, subject));
    let mut node = InProcessNode::builder()
        .llm(llm)
        .max_sessions(10)
        .start()
        .await;
    let call = node
        .scripted(cfg, vec!["Hello, who are you?".to_string()])
        .await
        .unwrap();
    assert_eq!(call.say_all(Duration::from_secs(30)).await, 1);
    call.hang_up().await;
    (call.out.notices(), node.drain())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_with_the_nats_brain_speaks_the_tiers_answer_or_the_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let subject = unique("test.brain.session");

    // No worker: NATS answers "no responders" at once, the fallback is spoken.
    let t = Instant::now();
    let (notices, events) = nats_turn(&subject).await;
    assert!(t.elapsed() < Duration::from_secs(5));
    let fallback = SessionConfig::default().brain.fallback_text;
    assert!(notices
        .iter()
        .any(|n| matches!(n, SessionNotice::AgentSentence { text, .. } if *text == fallback)));
    assert!(events.iter().any(|e| matches!(&**e, Event::BrainError(_))));

    // With a worker: the tier's answer is spoken, its first sentence only
    // (the session stops listening there).
    let mut w = Worker::spawn(dir.path(), 3, &subject, &unique("q"));
    w.wait_ready();
    let mut cfg = SessionConfig::default();
    cfg.brain.max_sentences = 1;
    let (notices, events) = nats_turn_with(&subject, cfg).await;
    let said: Vec<&String> = notices
        .iter()
        .filter_map(|n| match n {
            SessionNotice::AgentSentence { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    let answered = w.answered();
    let log = w.stop();
    println!("agent said {said:?}");
    assert!(
        !said.is_empty() && said.iter().all(|s| **s != fallback),
        "{said:?}\n{log}"
    );
    assert_eq!(answered.len(), 1, "{log}");
    let resp = find_event(&events, |e| match e {
        Event::BrainResponse(r) => Some(r.clone()),
        _ => None,
    });
    let resp = resp.expect("agent.brain.response");
    assert_eq!(
        resp.request_id, answered[0],
        "the session's request went to the tier"
    );
    // The model named is the worker's, not the tier's subject.
    assert_eq!(resp.metadata.llm_model, "smollm2-135m-instruct", "{resp:?}");
    let record = find_event(&events, |e| match e {
        Event::Conversation(c) => Some(c.agent_response.llm_model.clone()),
        _ => None,
    });
    assert_eq!(record.as_deref(), Some("smollm2-135m-instruct"));
}

/// With the seed's subject, the tier's request *is* the turn's
/// `agent.brain.request`: it goes out once, and the session does not mirror
/// a copy of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_seed_subject_the_request_goes_out_once() {
    let watcher = async_nats::connect(NATS).await.expect("NATS at 4222");
    let mut sub = watcher.subscribe(BrainRequest::SUBJECT).await.unwrap();
    subscribed(&watcher).await;
    let (_, events) = nats_turn(BrainRequest::SUBJECT).await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(&**e, Event::BrainRequest(_))),
        "the session mirrored a second copy"
    );
    let session = find_event(&events, |e| match e {
        Event::SessionStarted(s) => Some(s.session_id.clone()),
        _ => None,
    })
    .expect("session started");
    let mut seen = 0;
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
        let r: BrainRequest = serde_json::from_slice(&m.payload).expect("a seed request");
        if r.session_id == session {
            seen += 1;
        }
    }
    assert_eq!(
        seen,
        1,
        "requests of this session's one turn on {}",
        BrainRequest::SUBJECT
    );
}
