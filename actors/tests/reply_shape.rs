//! What the Brain asks and how much of the answer it speaks: the example
//! exchanges and stop strings reach the model, and a reply ends at
//! `max_sentences` (the model stopped there, the rest never spoken or kept).

use arc_actors::engine::{
    CancellationToken, ChatRole, EngineError, LlmEngine, LlmRequest, LlmUsage,
};
use arc_actors::events::Event;
use arc_actors::session::{SessionConfig, SessionNotice};
use arc_testkit::InProcessNode;
use async_trait::async_trait;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const ANSWER: &str = "Paris is the capital. It is in France. It has a tower. And more.";

/// Streams ANSWER word by word (slowly enough to be stopped), and records
/// the request it got, the words it sent, and whether it saw a cancel.
#[derive(Default)]
struct Wordy {
    request: Mutex<Option<LlmRequest>>,
    stopped: AtomicBool,
    sent: AtomicUsize,
}

#[async_trait]
impl LlmEngine for Wordy {
    fn model(&self) -> &str {
        "wordy"
    }

    async fn stream(
        &self,
        request: LlmRequest,
        tokens: mpsc::Sender<String>,
        cancel: CancellationToken,
    ) -> Result<LlmUsage, EngineError> {
        *self.request.lock() = Some(request);
        for (i, word) in ANSWER.split(' ').enumerate() {
            tokio::select! {
                _ = cancel.cancelled() => {
                    self.stopped.store(true, Ordering::SeqCst);
                    return Err(EngineError::Cancelled);
                }
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            let piece = if i == 0 {
                word.to_string()
            } else {
                format!(" {word}")
            };
            if tokens.send(piece).await.is_err() {
                return Err(EngineError::Cancelled);
            }
            self.sent.fetch_add(1, Ordering::SeqCst);
        }
        Ok(LlmUsage {
            completion_tokens: self.sent.load(Ordering::SeqCst) as u64,
            ..LlmUsage::default()
        })
    }
}

/// One turn with `max_sentences`: (what the agent said, the conversation
/// record's agent text, the engine).
async fn reply_with(max_sentences: u32) -> (String, String, Arc<Wordy>) {
    let llm = Arc::new(Wordy::default());
    let mut node = InProcessNode::builder()
        .llm(llm.clone())
        .max_sessions(4)
        .start()
        .await;
    let mut config = SessionConfig {
        user_id: "shape".into(),
        ..Default::default()
    };
    config.brain.max_sentences = max_sentences;
    config.brain.examples = vec![("Q1?".into(), "A1.".into()), ("Q2?".into(), "A2.".into())];
    config.brain.stop = vec!["\n\n".into()];
    let call = node
        .scripted(config, vec!["What is the capital of France?".into()])
        .await
        .unwrap();
    assert_eq!(call.say_all(Duration::from_secs(20)).await, 1);
    let events = node
        .events_until(Duration::from_secs(10), |e| {
            matches!(e, Event::Conversation(_))
        })
        .await;
    call.hang_up().await;
    let said: Vec<String> = call
        .out
        .notices()
        .into_iter()
        .filter_map(|n| match n {
            SessionNotice::AgentSentence { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    let record = events
        .iter()
        .find_map(|e| match &**e {
            Event::Conversation(c) => Some(c.agent_response.text.clone()),
            _ => None,
        })
        .expect("a conversation record");
    (said.join(" "), record, llm)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_ends_at_max_sentences_and_the_model_is_stopped() {
    let (said, record, llm) = reply_with(2).await;
    assert_eq!(said, "Paris is the capital. It is in France.");
    assert_eq!(record, said, "the record holds what was said");
    // The model was stopped (its stream cancelled and dropped): it never
    // sent the rest, even given the time to.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = llm.sent.load(Ordering::SeqCst);
    assert!(
        sent < ANSWER.split(' ').count(),
        "the model sent all {sent} words"
    );

    // What the model was asked: system prompt, the examples as earlier
    // turns, the caller's words; and the stop strings.
    let req = llm.request.lock().clone().expect("a request");
    let roles: Vec<ChatRole> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            ChatRole::System,
            ChatRole::User,
            ChatRole::Assistant,
            ChatRole::User,
            ChatRole::Assistant,
            ChatRole::User
        ]
    );
    assert_eq!(req.messages[1].content, "Q1?");
    assert_eq!(req.messages[4].content, "A2.");
    assert_eq!(req.stop, vec!["\n\n".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_limit_the_whole_answer_is_spoken() {
    let (said, _, llm) = reply_with(0).await;
    assert_eq!(said, ANSWER);
    assert!(!llm.stopped.load(Ordering::SeqCst));
}
