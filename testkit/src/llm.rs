//! The local LLM of tests: llama.cpp's `llama-server` (built by
//! scripts/build-llama-server.sh) serving the manifest's SmolLM2 GGUF,
//! started and supervised as the node does it; an engine speaking to a
//! server; a question as the Brain asks it.

use arc_actors::engine::{ChatMessage, ChatRole, LlmRequest};
use arc_actors::session::SessionConfig;
use arc_models::llm::llama_server::{default_binary, LlamaServer, LlamaServerOptions};
use arc_models::llm::openai::{OpenAiLlm, OpenAiOptions};
use arc_models::manifest;

/// The model name the server answers to.
pub const SMOLLM2: &str = "smollm2-135m-instruct";

/// A supervised llama-server with SmolLM2 on 2 threads. A tokio test's
/// runtime (and with it the server's supervisor) ends with the test: each
/// test starts its own.
pub async fn llama_server() -> LlamaServer {
    let binary = default_binary();
    assert!(
        binary.is_file(),
        "{} is missing: run bash scripts/build-llama-server.sh (scripts/setup.sh does)",
        binary.display()
    );
    let dir = manifest::default_models_dir();
    let gguf = manifest::require(&dir, SMOLLM2, "SmolLM2-135M-Instruct.Q4_1.gguf")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut opts = LlamaServerOptions::new(binary, gguf);
    opts.threads = 2;
    LlamaServer::start(opts).await.expect("llama-server starts")
}

/// The OpenAI-compatible engine for SmolLM2 at `base_url` (`…/v1`).
pub fn smollm2(base_url: &str) -> OpenAiLlm {
    OpenAiLlm::new(&OpenAiOptions {
        base_url: base_url.to_string(),
        model: SMOLLM2.into(),
        ..Default::default()
    })
}

/// `text` asked as the Brain asks: the default system prompt first, the
/// seed's 150 tokens at temperature 0.7.
pub fn question(text: &str, trace_id: &str) -> LlmRequest {
    LlmRequest {
        messages: vec![
            ChatMessage {
                role: ChatRole::System,
                content: SessionConfig::default().brain.system_prompt,
            },
            ChatMessage {
                role: ChatRole::User,
                content: text.into(),
            },
        ],
        max_tokens: 150,
        temperature: 0.7,
        trace_id: trace_id.into(),
        seed_request: None,
        tools: Default::default(),
    }
}
