//! llama.cpp without building it: the prebuilt shared libraries of npm
//! `@node-llama-cpp/linux-x64` (fetched and sha256-checked by
//! `arc-agent models fetch`), driven through their C API.
//!
//! - [`ffi`]: the C API, loaded with `dlopen` (whisper.cpp's static ggml in
//!   the same binary is never exported, so the two never meet).
//! - [`runtime`]: a model, decoding slots with a prompt cache, sampling, and
//!   text streamed out whole.
//!
//! The node does not call this in its own process: `arc-agent llm-server`
//! (the supervised child behind the `local` brain) does, so a crash in the
//! model costs a restart of the child, not the node.

pub mod ffi;
pub mod runtime;

pub use runtime::{Finish, Generation, LlamaError, LlamaModel, ModelOptions, Sampling, Slot};
