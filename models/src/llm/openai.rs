//! Streaming chat completions from any OpenAI-compatible server.
//!
//! Tokens go to the Brain as they arrive; the Brain owns the deadlines (first
//! token, then between tokens) and the fallback, and cancels this stream on a
//! timeout or a barge-in. The API key is held by the client and never logged.

use arc_actors::engine::{
    CancellationToken, ChatMessage, ChatRole, EngineError, LlmEngine, LlmRequest, LlmUsage,
    ToolCall, ToolUse,
};
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCallChunk,
    ChatCompletionMessageToolCalls, ChatCompletionRequestAssistantMessage,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestToolMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, ChatCompletionTool, ChatCompletionTools,
    CreateChatCompletionRequest, FinishReason, FunctionCall, FunctionObject, StopConfiguration,
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

/// This turn's tool rounds as chat messages: the assistant's calls, then one
/// `tool` message per result.
fn tool_messages(tools: &ToolUse) -> Vec<ChatCompletionRequestMessage> {
    let mut out = Vec::new();
    for round in &tools.rounds {
        out.push(ChatCompletionRequestMessage::Assistant(
            ChatCompletionRequestAssistantMessage {
                content: (!round.text.is_empty()).then(|| round.text.clone().into()),
                tool_calls: Some(
                    round
                        .calls
                        .iter()
                        .map(|c| {
                            ChatCompletionMessageToolCalls::Function(
                                ChatCompletionMessageToolCall {
                                    id: c.id.clone(),
                                    function: FunctionCall {
                                        name: c.name.clone(),
                                        arguments: c.arguments.clone(),
                                    },
                                },
                            )
                        })
                        .collect(),
                ),
                ..Default::default()
            },
        ));
        for (call, result) in round.calls.iter().zip(&round.results) {
            out.push(ChatCompletionRequestMessage::Tool(
                ChatCompletionRequestToolMessage {
                    content: result.clone().into(),
                    tool_call_id: call.id.clone(),
                },
            ));
        }
    }
    out
}

/// Streamed tool-call fragments, joined by their index (id and name come
/// once, the arguments in pieces).
#[derive(Default)]
struct ToolCallParts(Vec<ToolCall>);

impl ToolCallParts {
    fn push(&mut self, chunk: ChatCompletionMessageToolCallChunk) {
        let i = chunk.index as usize;
        if self.0.len() <= i {
            self.0.resize_with(i + 1, ToolCall::default);
        }
        let call = &mut self.0[i];
        if let Some(id) = chunk.id.filter(|id| !id.is_empty()) {
            call.id = id;
        }
        if let Some(f) = chunk.function {
            if let Some(name) = f.name.filter(|n| !n.is_empty()) {
                call.name = name;
            }
            if let Some(args) = f.arguments {
                call.arguments.push_str(&args);
            }
        }
    }

    fn finish(self) -> Vec<ToolCall> {
        self.0
            .into_iter()
            .enumerate()
            .filter(|(_, c)| !c.name.is_empty())
            .map(|(i, mut c)| {
                if c.id.is_empty() {
                    c.id = format!("call_{i}");
                }
                c
            })
            .collect()
    }
}

/// The request the seed's constraints make (max_tokens, temperature), streamed
/// with a final usage chunk; the tools, when the session has any.
#[allow(deprecated)] // `max_tokens`: what llama.cpp, vLLM and Ollama read
pub fn chat_request(model: &str, request: &LlmRequest) -> CreateChatCompletionRequest {
    let tools = (!request.tools.specs.is_empty()).then(|| {
        request
            .tools
            .specs
            .iter()
            .map(|t| {
                ChatCompletionTools::Function(ChatCompletionTool {
                    function: FunctionObject {
                        name: t.name.clone(),
                        description: Some(t.description.clone()),
                        parameters: Some(t.parameters.clone()),
                        strict: None,
                    },
                })
            })
            .collect()
    });
    let mut messages: Vec<_> = request.messages.iter().map(to_openai).collect();
    messages.extend(tool_messages(&request.tools));
    CreateChatCompletionRequest {
        model: model.to_string(),
        messages,
        tools,
        max_tokens: Some(request.max_tokens),
        temperature: Some(request.temperature as f32),
        // OpenAI takes at most 4 stop strings.
        stop: (!request.stop.is_empty()).then(|| {
            StopConfiguration::StringArray(request.stop.iter().take(4).cloned().collect())
        }),
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
        let mut calls = ToolCallParts::default();
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
                for chunk in choice.delta.tool_calls.into_iter().flatten() {
                    calls.push(chunk);
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
        usage.tool_calls = calls.finish();
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
            stop: vec!["\n\n".into()],
            trace_id: "t".into(),
            seed_request: None,
            tools: Default::default(),
        };
        let json = serde_json::to_value(chat_request("m", &req)).unwrap();
        assert_eq!(json["max_tokens"], 150);
        assert!((json["temperature"].as_f64().unwrap() - 0.7).abs() < 1e-6);
        assert_eq!(json["stream"], true);
        assert_eq!(json["stream_options"]["include_usage"], true);
        assert_eq!(json["stop"], serde_json::json!(["\n\n"]));
        assert_eq!(json["messages"][0]["role"], "system");
        assert_eq!(json["messages"][1]["content"], "hi");
    }

    #[test]
    fn tools_and_their_rounds_go_into_the_request() {
        use arc_actors::engine::{ToolRound, ToolSpec};
        let req = LlmRequest {
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: "weather?".into(),
            }],
            max_tokens: 150,
            temperature: 0.7,
            stop: vec!["\n\n".into()],
            trace_id: "t".into(),
            seed_request: None,
            tools: ToolUse {
                specs: vec![ToolSpec {
                    name: "weather".into(),
                    description: "the weather in a city".into(),
                    parameters: serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}}),
                }],
                rounds: vec![ToolRound {
                    text: String::new(),
                    calls: vec![ToolCall {
                        id: "c1".into(),
                        name: "weather".into(),
                        arguments: r#"{"city":"Paris"}"#.into(),
                    }],
                    results: vec![r#"{"temp":20}"#.into()],
                }],
            },
        };
        let json = serde_json::to_value(chat_request("m", &req)).unwrap();
        assert_eq!(json["tools"][0]["type"], "function");
        assert_eq!(json["tools"][0]["function"]["name"], "weather");
        assert_eq!(json["tools"][0]["function"]["parameters"]["type"], "object");
        let m = &json["messages"];
        assert_eq!(m[1]["role"], "assistant");
        assert_eq!(m[1]["tool_calls"][0]["id"], "c1");
        assert_eq!(
            m[1]["tool_calls"][0]["function"]["arguments"],
            r#"{"city":"Paris"}"#
        );
        assert_eq!(m[2]["role"], "tool");
        assert_eq!(m[2]["tool_call_id"], "c1");
        assert_eq!(m[2]["content"], r#"{"temp":20}"#);
    }

    #[test]
    fn streamed_tool_call_fragments_are_joined_by_index() {
        let mut parts = ToolCallParts::default();
        for raw in [
            r#"{"index":0,"id":"a","type":"function","function":{"name":"weather","arguments":""}}"#,
            r#"{"index":1,"id":"b","type":"function","function":{"name":"current_time","arguments":"{}"}}"#,
            r#"{"index":0,"function":{"arguments":"{\"city\":"}}"#,
            r#"{"index":0,"function":{"arguments":"\"Paris\"}"}}"#,
        ] {
            parts.push(serde_json::from_str(raw).unwrap());
        }
        let calls = parts.finish();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].name, "weather");
        assert_eq!(calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!(calls[1].id, "b");
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
