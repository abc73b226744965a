//! [`TtsLoadError`] (why a voice could not be loaded) and the
//! [`EngineError`] a failed synthesis reports.

use super::espeak::ESPEAK_ENV;
use arc_actors::engine::EngineError;
use std::path::PathBuf;

pub(super) const ENGINE: &str = "piper";

/// Why a Piper voice could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TtsLoadError {
    #[error("Piper {what} {} is missing; run: arc-agent models fetch", path.display())]
    Missing { what: &'static str, path: PathBuf },
    #[error(
        "Piper voice config {} is not valid: {reason}; run: arc-agent models fetch",
        path.display()
    )]
    BadConfig { path: PathBuf, reason: String },
    #[error(
        "Piper voice model {} could not be loaded (corrupt or truncated?): {reason}; \
         run: arc-agent models fetch",
        path.display()
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("{} is not a Piper voice model: {detail}; run: arc-agent models fetch", path.display())]
    WrongModel { path: PathBuf, detail: String },
    #[error(
        "espeak-ng (piper's phonemizer) is not usable: {0}; install espeak-ng-data \
         (apt-get install espeak-ng-data) or set PiperOptions::espeak_data_dir \
         or {ESPEAK_ENV} to the directory that contains `espeak-ng-data`"
    )]
    Espeak(String),
    #[error("invalid Piper options: {0}")]
    BadOptions(String),
}

pub(super) fn failed(e: impl std::fmt::Display) -> EngineError {
    EngineError::Failed {
        engine: ENGINE,
        message: e.to_string(),
    }
}
