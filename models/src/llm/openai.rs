//! Streaming chat completions from any OpenAI-compatible server.
//!
//! Tokens go to the Brain as they arrive; the Brain owns the deadlines (first
//! token, then between tokens) and the fallback, and cancels this stream on a
//! timeout or a barge-in. The API key is held by the client and never logged.

use arc_actors::engine::{
    CancellationToken, ChatMessage, ChatRole, EngineError, LlmEngine, LlmRequest, LlmUsage,
};
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, CreateChatCompletionRequest, FinishReason,
};
use async_openai::Client;
use async_trait::async_trait;
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc;

const ENGINE: &str = "openai";

/// Where and what to ask.
#[derive(Clone, PartialEq)]
pub struct OpenAiOptions {
    /// Base URL including the API version, e.g. `http://127.0.0.1:8081/v1`.
    pub base_url: String,
    /// The model name sent in each request (and reported in events).
    pub model: String,
    /// Bearer key; `None` for local servers that need none.
    pub api_key: Option<String>,
    /// Time to open the TCP connection.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for OpenAiOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiOptions")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Default for OpenAiOptions {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            api_key: None,
            connect_timeout: Duration::from_millis(1000),
        }
    }
}

/// An OpenAI-compatible chat model, streamed.
#[derive(Debug, Clone)]
pub struct OpenAiLlm {
    client: Client<OpenAIConfig>,
    model: String,
}

impl OpenAiLlm {
    pub fn new(options: &OpenAiOptions) -> Self {
        let mut config = OpenAIConfig::new().with_api_base(options.base_url.trim_end_matches('/'));
        // An empty key still sends "Authorization: Bearer", which local servers ignore.
        config = config.with_api_key(options.api_key.clone().unwrap_or_default());
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .build()
            .unwrap_or_default();
        Self {
            client: Client::with_config(config).with_http_client(http),
            model: options.model.clone(),
        }
    }
}

fn failed(message: impl std::fmt::Display) -> EngineError {
    EngineError::Failed {
        engine: ENGINE,
        message: message.to_string(),
    }
}

fn to_openai(m: &ChatMessage) -> ChatCompletionRequestMessage {
    match m.role {
        ChatRole::System => {
            ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
                content: m.content.clone().into(),
                name: None,
            })
        }
        ChatRole::User => ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
            content: m.content.clone().into(),
            name: None,
        }),
        ChatRole::Assistant => {
            ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
                content: Some(m.content.clone().into()),
                ..Default::default()
            })
        }
    }
}

/// The request the seed's constraints make (max_tokens, temperature), streamed
/// with a final usage chunk.
#[allow(deprecated)] // `max_tokens`: what llama.cpp, vLLM and Ollama read
pub fn chat_request(model: &str, request: &LlmRequest) -> CreateChatCompletionRequest {
    CreateChatCompletionRequest {
        model: model.to_string(),
        messages: request.messages.iter().map(to_openai).collect(),
        max_tokens: Some(request.max_tokens),
        temperature: Some(request.temperature as f32),
        stream: Some(true),
        stream_options: Some(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        }),
        ..Default::default()
    }
}

#[async_trait]
impl LlmEngine for OpenAiLlm {
    fn model(&self) -> &str {
        &self.model
    }

    async fn stream(
        &self,
        request: LlmRequest,
        tokens: mpsc::Sender<String>,
        cancel: CancellationToken,
    ) -> Result<LlmUsage, EngineError> {
        let body = chat_request(&self.model, &request);
        let chat = self.client.chat();
        let mut stream = tokio::select! {
            _ = cancel.cancelled() => return Err(EngineError::Cancelled),
            s = chat.create_stream(body) => s.map_err(failed)?,
        };
        let mut usage = LlmUsage::default();
        let mut pieces = 0u64;
        loop {
            let item = tokio::select! {
                _ = cancel.cancelled() => return Err(EngineError::Cancelled),
                item = stream.next() => item,
            };
            let chunk = match item {
                None => break,
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => return Err(failed(e)),
            };
            if let Some(u) = chunk.usage {
                usage.prompt_tokens = u64::from(u.prompt_tokens);
                usage.completion_tokens = u64::from(u.completion_tokens);
            }
            for choice in chunk.choices {
                if choice.finish_reason == Some(FinishReason::Length) {
                    usage.truncated = true;
                }
                if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                    pieces += 1;
                    if tokens.send(text).await.is_err() {
                        return Err(EngineError::Cancelled);
                    }
                }
            }
        }
        if usage.completion_tokens == 0 {
            // Servers that send no usage chunk: each streamed piece is a token.
            usage.completion_tokens = pieces;
        }
        Ok(usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_the_seed_constraints() {
        let req = LlmRequest {
            messages: vec![
                ChatMessage {
                    role: ChatRole::System,
                    content: "be brief".into(),
                },
                ChatMessage {
                    role: ChatRole::User,
                    content: "hi".into(),
                },
            ],
            max_tokens: 150,
            temperature: 0.7,
            trace_id: "t".into(),
            seed_request: None,
        };
        let json = serde_json::to_value(chat_request("m", &req)).unwrap();
        assert_eq!(json["max_tokens"], 150);
        assert!((json["temperature"].as_f64().unwrap() - 0.7).abs() < 1e-6);
        assert_eq!(json["stream"], true);
        assert_eq!(json["stream_options"]["include_usage"], true);
        assert_eq!(json["messages"][0]["role"], "system");
        assert_eq!(json["messages"][1]["content"], "hi");
    }

    #[test]
    fn the_key_is_never_in_debug_output() {
        let o = OpenAiOptions {
            api_key: Some("sk-secret".into()),
            ..Default::default()
        };
        assert!(!format!("{o:?}").contains("sk-secret"));
    }
}
