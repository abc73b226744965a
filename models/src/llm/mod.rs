//! Language models behind [`arc_actors::engine::LlmEngine`].
//!
//! - [`openai::OpenAiLlm`]: any OpenAI-compatible chat endpoint (OpenAI, vLLM,
//!   llama.cpp's server, Ollama), streamed with async-openai.
//! - [`llama_server::LlamaServer`]: the embedded default. llama.cpp cannot be
//!   linked beside whisper.cpp (both carry their own ggml), so the node runs
//!   llama.cpp's `llama-server` as a supervised child process on a loopback
//!   port and speaks to it with the same OpenAI engine.

pub mod llama_cpp;
pub mod llama_server;
pub mod openai;
