//! The echo LLM: answers by quoting the user; `[stall]`, `[fail]` and
//! `[slow]` in the input make it hang, fail or crawl, to test timeouts;
//! `[empty]` makes it end at once with nothing said (a small model that
//! starts with the blank line it is told to stop at).

use crate::engine::{CancellationToken, EngineError, LlmEngine, LlmRequest, LlmUsage};
use async_trait::async_trait;
use std::time::Duration;
use tokio::sync::mpsc;

/// Answers "You said: …" word by word.
#[derive(Debug, Clone, Default)]
pub struct EchoLlm {
    /// Delay before each token (zero for benches).
    pub token_delay: Duration,
}

#[async_trait]
impl LlmEngine for EchoLlm {
    fn model(&self) -> &str {
        "echo-llm"
    }
    async fn stream(
        &self,
        request: LlmRequest,
        tokens: mpsc::Sender<String>,
        cancel: CancellationToken,
    ) -> Result<LlmUsage, EngineError> {
        let input = request
            .messages
            .last()
            .map(|m| m.content.clone())
            .unwrap_or_default();
        if input.contains("[fail]") {
            return Err(EngineError::Failed {
                engine: "echo-llm",
                message: "asked to fail".into(),
            });
        }
        if input.contains("[stall]") {
            cancel.cancelled().await;
            return Err(EngineError::Cancelled);
        }
        if input.contains("[empty]") {
            return Ok(LlmUsage {
                completion_tokens: 1,
                ..Default::default()
            });
        }
        let slow = input.contains("[slow]");
        let reply = format!(
            "You said: {}. Anything else?",
            input.trim_end_matches(['.', '?', '!'])
        );
        let mut n = 0u64;
        for (i, word) in reply.split(' ').enumerate() {
            if n >= request.max_tokens as u64 {
                break;
            }
            let delay = if slow {
                Duration::from_millis(400)
            } else {
                self.token_delay
            };
            if !delay.is_zero() {
                tokio::select! {
                    _ = cancel.cancelled() => return Err(EngineError::Cancelled),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let tok = if i == 0 {
                word.to_string()
            } else {
                format!(" {word}")
            };
            if tokens.send(tok).await.is_err() {
                return Err(EngineError::Cancelled);
            }
            n += 1;
        }
        Ok(LlmUsage {
            completion_tokens: n,
            prompt_tokens: request
                .messages
                .iter()
                .map(|m| crate::context::estimate_tokens(&m.content) as u64)
                .sum(),
            truncated: n >= request.max_tokens as u64,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ChatMessage, ChatRole};

    #[tokio::test]
    async fn echo_llm_streams_and_respects_max_tokens() {
        let (tx, mut rx) = mpsc::channel(64);
        let req = LlmRequest {
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: "hello there".into(),
            }],
            max_tokens: 3,
            temperature: 0.7,
            stop: Vec::new(),
            trace_id: "t".into(),
            seed_request: None,
            tools: Default::default(),
        };
        let usage = EchoLlm::default()
            .stream(req, tx, CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(usage.completion_tokens, 3);
        let mut text = String::new();
        while let Ok(t) = rx.try_recv() {
            text.push_str(&t);
        }
        assert_eq!(text, "You said: hello");
    }
}
