//! [`SttLoadError`] (why the model could not be loaded) and the
//! [`EngineError`] a failed decode reports.

use arc_actors::engine::EngineError;
use std::path::PathBuf;

const ENGINE: &str = "whisper";

/// Why the whisper model could not be loaded. Each names the file and what to
/// run to get a good one.
#[derive(Debug, thiserror::Error)]
pub enum SttLoadError {
    #[error("whisper model {} is missing; run: arc-agent models fetch", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read whisper model {}: {source}; run: arc-agent models fetch", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("whisper model {} is corrupt or not a ggml whisper model ({reason}); run: arc-agent models fetch", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("whisper model {} loaded but a decoding state could not be allocated: {reason}", path.display())]
    State { path: PathBuf, reason: String },
}

pub(super) fn failed(message: impl Into<String>) -> EngineError {
    EngineError::Failed {
        engine: ENGINE,
        message: message.into(),
    }
}
