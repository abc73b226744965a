//! Folding the oldest turns of a long call into a few sentences, made by the
//! session's own LLM after a reply is done (never on the way to a reply), so
//! that what the caller said early on (a name, an order number) outlives the
//! history's token budget. [`crate::context::ConversationContext`] decides
//! when and what; this file asks the model and checks what comes back.

use crate::context::SummaryJob;
use crate::engine::{
    CancellationToken, ChatMessage, ChatRole, EngineError, LlmEngine, LlmRequest, ToolUse,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the model is told. Small models keep what they are told to keep
/// when it is named: names, numbers, what was asked for.
pub const INSTRUCTIONS: &str = "You summarize a phone call between a caller and an assistant. \
Write a short summary in English, at most three sentences. Keep every name, number, date, \
order, address and request exactly as said.";

/// The request for `job`: greedy (the same summary every time), no tools.
pub fn request(job: &SummaryJob, max_tokens: u32, trace_id: &str) -> LlmRequest {
    let mut conversation = String::new();
    for e in &job.exchanges {
        conversation.push_str("Caller: ");
        conversation.push_str(e.user.trim());
        conversation.push_str("\nAssistant: ");
        conversation.push_str(e.agent.trim());
        conversation.push('\n');
    }
    let previous = if job.previous.is_empty() {
        String::new()
    } else {
        format!("Summary so far: {}\n\n", job.previous.trim())
    };
    LlmRequest {
        messages: vec![
            ChatMessage {
                role: ChatRole::System,
                content: INSTRUCTIONS.to_string(),
            },
            ChatMessage {
                role: ChatRole::User,
                content: format!(
                    "{previous}The call went on:\n{conversation}\nWrite the summary of the whole call so far."
                ),
            },
        ],
        max_tokens,
        temperature: 0.0,
        stop: vec!["\n\n".into()],
        trace_id: trace_id.to_string(),
        seed_request: None,
        tools: ToolUse::default(),
    }
}

/// Why a summary was not taken.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("summary model failed: {0}")]
    Engine(#[from] EngineError),
    #[error("summary model gave no text")]
    Empty,
    #[error("summary unusable: {0}")]
    Unusable(&'static str),
    #[error("summary took longer than {0:?}")]
    Timeout(Duration),
}

/// Asks `llm` for the summary of `job`, within `timeout`.
pub async fn summarize(
    llm: Arc<dyn LlmEngine>,
    job: &SummaryJob,
    max_tokens: u32,
    timeout: Duration,
    trace_id: &str,
) -> Result<String, SummaryError> {
    let (tx, mut rx) = mpsc::channel::<String>(256);
    let cancel = CancellationToken::new();
    let req = request(job, max_tokens, trace_id);
    let collect = async {
        let mut text = String::new();
        while let Some(piece) = rx.recv().await {
            text.push_str(&piece);
        }
        text
    };
    let run = async { tokio::join!(llm.stream(req, tx, cancel.clone()), collect) };
    let (result, text) = match tokio::time::timeout(timeout, run).await {
        Ok(r) => r,
        Err(_) => {
            cancel.cancel();
            return Err(SummaryError::Timeout(timeout));
        }
    };
    result?;
    usable(&clean(&text).ok_or(SummaryError::Empty)?).map(str::to_string)
}

/// Longest summary taken (words): longer is the conversation, not a summary.
const MAX_SUMMARY_WORDS: usize = 90;

/// A summary is a few sentences of its own: not the conversation echoed back
/// (a small model's habit), not longer than a summary.
pub fn usable(summary: &str) -> Result<&str, SummaryError> {
    let lower = summary.to_lowercase();
    if lower.contains("caller:")
        || lower.contains("assistant:")
        || lower.starts_with("the call went on")
    {
        return Err(SummaryError::Unusable("it repeats the conversation"));
    }
    if summary.split_whitespace().count() > MAX_SUMMARY_WORDS {
        return Err(SummaryError::Unusable("too long"));
    }
    Ok(summary)
}

/// The summary as it goes into the prompt: one paragraph, without a label
/// the model may have put in front.
pub fn clean(text: &str) -> Option<String> {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut t = one_line.as_str();
    for label in [
        "Summary:",
        "summary:",
        "Summary of the call:",
        "Summary so far:",
    ] {
        if let Some(rest) = t.strip_prefix(label) {
            t = rest.trim_start();
        }
    }
    (!t.is_empty()).then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Exchange;

    #[test]
    fn the_request_carries_the_old_summary_and_every_exchange() {
        let job = SummaryJob {
            previous: "The caller is Alice.".into(),
            exchanges: vec![Exchange {
                user: "My order number is 4417.".into(),
                agent: "Thanks, I have order 4417.".into(),
            }],
        };
        let r = request(&job, 100, "t");
        assert_eq!(r.messages.len(), 2);
        let user = &r.messages[1].content;
        assert!(user.contains("Summary so far: The caller is Alice."));
        assert!(user.contains("Caller: My order number is 4417."));
        assert!(user.contains("Assistant: Thanks, I have order 4417."));
        assert_eq!(r.temperature, 0.0);
        assert!(r.tools.specs.is_empty());
    }

    #[test]
    fn an_echo_or_a_long_text_is_not_a_summary() {
        assert!(usable("The call went on: Caller: Hello, I am calling about a delivery.").is_err());
        assert!(usable("Alice (order 4417) asked about a delivery. Assistant: sure").is_err());
        assert!(usable(&"word ".repeat(100)).is_err());
        assert!(usable("Alice Moreno, order 4417, asked about her delivery.").is_ok());
    }

    #[test]
    fn clean_drops_labels_and_line_breaks_and_refuses_nothing() {
        assert_eq!(
            clean("Summary: The caller is Alice.\n Order 4417.").as_deref(),
            Some("The caller is Alice. Order 4417.")
        );
        assert_eq!(clean("  \n "), None);
    }
}
