//! The local LLM of tests: the node's own model server (`arc-agent
//! llm-server` over llama.cpp's prebuilt libraries) serving the manifest's
//! SmolLM2 GGUF, started and supervised as the node does it; an engine
//! speaking to a server; a question as the Brain asks it.

use arc_actors::engine::{ChatMessage, ChatRole, LlmRequest};
use arc_actors::session::SessionConfig;
use arc_models::llm::llama_server::{self, LlamaServer};
use arc_models::llm::openai::{OpenAiLlm, OpenAiOptions};
use arc_models::manifest;

/// The model name the server answers to.
pub const SMOLLM2: &str = "smollm2-135m-instruct";

/// The manifest's llama.cpp runtime (the libraries `llm-server` loads).
pub const LLAMA_RUNTIME: &str = "llama-cpp-linux-x64";

/// A supervised model server with SmolLM2 on 2 threads. A tokio test's
/// runtime (and with it the server's supervisor) ends with the test: each
/// test starts its own.
pub async fn llama_server() -> LlamaServer {
    let dir = manifest::default_models_dir();
    let gguf = manifest::require(&dir, SMOLLM2, "SmolLM2-135M-Instruct.Q4_1.gguf")
        .unwrap_or_else(|e| panic!("{e}"));
    let lib = manifest::require(&dir, LLAMA_RUNTIME, "libllama.v0.5.0.so")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut opts = llama_server::builtin(gguf, lib.parent().unwrap_or(&dir));
    assert!(
        opts.binary.is_file(),
        "{} is missing: cargo build --bin arc-agent",
        opts.binary.display()
    );
    opts.threads = 2;
    LlamaServer::start(opts)
        .await
        .expect("the model server starts")
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
        stop: Vec::new(),
        trace_id: trace_id.into(),
        seed_request: None,
        tools: Default::default(),
    }
}
