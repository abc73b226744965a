//! What can go wrong in a room, each error naming what it was about.

use std::path::PathBuf;

#[derive(Debug, Clone, thiserror::Error)]
pub enum RoomError {
    #[error(
        "cannot load LiveKit's FFI library {}: {reason} (run `bash scripts/setup.sh`, \
         or point livekit.ffi_library / LIVEKIT_LIB_PATH at liblivekit_ffi.so)",
        path.display()
    )]
    Library { path: PathBuf, reason: String },
    #[error("LiveKit's FFI library is already loaded from {}, not loading {}", loaded.display(), wanted.display())]
    LibraryMismatch { loaded: PathBuf, wanted: PathBuf },
    #[error("LiveKit FFI {request}: {reason}")]
    Ffi {
        request: &'static str,
        reason: String,
    },
    #[error("LiveKit FFI {request}: no answer within {ms} ms")]
    Timeout { request: &'static str, ms: u64 },
    #[error("cannot connect to LiveKit at {url} after {attempts} attempt(s) in {elapsed_ms} ms: {reason}")]
    Connect {
        url: String,
        attempts: u32,
        elapsed_ms: u64,
        reason: String,
    },
    #[error("LiveKit token: {0}")]
    Token(String),
    #[error("LiveKit credentials missing: {0}")]
    Credentials(String),
    #[error("room {room}: {reason}")]
    Room { room: String, reason: String },
}
