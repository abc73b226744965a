//! The external brain tier over the real NATS: two `arc-agent brain` workers
//! (each with its own supervised llama-server and the real SmolLM2 model) in
//! one queue group answer the seed's `agent.brain.request` by request/reply:
//! every request is answered exactly once, by one worker or the other. A
//! session whose brain is `nats` speaks the tier's answer, and with no worker
//! listening it speaks the fallback at once, with the seed's error event.

mod common;

use common::WithLlm;

use arc_actors::emit::ServiceIdentity;
use arc_actors::engine::LlmEngine;
use arc_actors::events::nats::{BrainRequest, BrainResponse, Constraints, Context};
use arc_actors::events::Event;
use arc_actors::node::{NodeArgs, NodeHandle, NodeStats, SessionSpec};
use arc_actors::session::{EndReason, SessionConfig, SessionNotice};
use arc_actors::sink::EventSink;
use arc_actors::synthetic::{run_script, RecordingOutput};
use arc_agent::engines::nats_brain::NatsBrainLlm;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NATS: &str = "nats://127.0.0.1:4222";

struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn spawn(dir: &Path, n: usize, subject: &str, queue: &str) -> Worker {
        let log = dir.join(format!("worker-{n}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_arc-agent"))
            .arg("brain")
            .env("ARC__NATS__URL", NATS)
            .env("ARC__ENGINES__LLM__NATS_SUBJECT", subject)
            .env("ARC__ENGINES__LLM__NATS_QUEUE", queue)
            .env("ARC__ENGINES__LLM__WORKER_BRAIN", "local")
            .env("ARC__ENGINES__LLM__THREADS", "1")
            .env("ARC__NODE__DATA_DIR", dir.join(format!("data-{n}")))
            .env("ARC__LOG__FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("arc-agent brain starts");
        Worker { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while !self.log().contains("brain worker ready") {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("worker exited with {status}: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "worker not ready: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Request ids this worker says it answered.
    fn answered(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["fields"]["message"] == "brain request answered")
            .filter_map(|v| v["fields"]["request_id"].as_str().map(String::from))
            .collect()
    }

    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log()
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
    let client = async_nats::connect(NATS).await.expect("NATS at 4222");
    let llm: Arc<dyn LlmEngine> = Arc::new(NatsBrainLlm::new(client, subject));
    let (sink, mut stream) = EventSink::new(10_000);
    let (node, _) = NodeHandle::start(NodeArgs {
        identity: ServiceIdentity::local("arc-agent"),
        sink,
        provider: Arc::new(WithLlm(llm)),
        max_sessions: 10,
        stats: Arc::new(NodeStats::default()),
    })
    .await
    .unwrap();
    let out = Arc::new(RecordingOutput::default());
    let script = vec!["Hello, who are you?".to_string()];
    let h = node
        .start_session(SessionSpec {
            config: SessionConfig::default(),
            output: out.clone(),
            script: script.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        run_script(&h, &out, &script, Duration::from_secs(30)).await,
        1
    );
    h.end(EndReason::UserLeft);
    h.wait().await;
    let mut events = Vec::new();
    while let Some(e) = stream.try_recv() {
        events.push(e);
    }
    (out.notices(), events)
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

    // With a worker: the tier's answer is spoken.
    let mut w = Worker::spawn(dir.path(), 3, &subject, &unique("q"));
    w.wait_ready();
    let (notices, events) = nats_turn(&subject).await;
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
    let resp = events.iter().find_map(|e| match &**e {
        Event::BrainResponse(r) => Some(r.clone()),
        _ => None,
    });
    let resp = resp.expect("agent.brain.response");
    assert_eq!(
        resp.request_id, answered[0],
        "the session's request went to the tier"
    );
}
