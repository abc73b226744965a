//! What can go wrong loading llama.cpp, a model, or generating.

use super::ffi::LoadError;
use std::path::PathBuf;

/// Why a model or a generation failed.
#[derive(Debug, thiserror::Error)]
pub enum LlamaError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("llama.cpp could not load the model {} (not a GGUF file, or damaged)", path.display())]
    Model { path: PathBuf },
    #[error("llama.cpp could not create a context of {n_ctx} tokens")]
    Context { n_ctx: u32 },
    #[error("the prompt has {tokens} tokens; the context holds {n_ctx}")]
    PromptTooLong { tokens: usize, n_ctx: u32 },
    #[error("the chat template could not format the messages")]
    Template,
    #[error("text with a NUL byte")]
    Nul,
    #[error("llama_decode failed with {0}")]
    Decode(i32),
    #[error("llama.cpp is already loaded from {} in this process; it cannot also be loaded from {}", loaded.display(), asked.display())]
    OtherLibrary { loaded: PathBuf, asked: PathBuf },
}
