//! [`ConvertError`]: why a CTranslate2 whisper model could not be converted.

use std::io;
use std::path::PathBuf;

/// Why a CTranslate2 whisper model could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a CTranslate2 whisper model: {message}", path.display())]
    Format { path: PathBuf, message: String },
    #[error("{}: variable `{name}`: {message}", path.display())]
    Variable {
        path: PathBuf,
        name: String,
        message: String,
    },
    #[error("{}: variable `{name}` is missing", path.display())]
    Missing { path: PathBuf, name: String },
    #[error("{}: line {line}: {message}", path.display())]
    Vocabulary {
        path: PathBuf,
        line: usize,
        message: String,
    },
}
