//! What an Stt hands to the one the supervisor starts after it: the
//! utterance it was hearing, and the final decode it had started at the
//! pause (kept in the shared state between the two).

use super::pcm16::Pcm16;
use crate::engine::{CancellationToken, EngineError, Transcript};
use tokio::task::JoinHandle;

/// The audio of an unfinished utterance, handed from a dying Stt to the next.
pub(crate) struct CarriedUtterance {
    pub(crate) samples: Pcm16,
    /// Silence (ms) at its end when it was handed over.
    pub(crate) pause_ms: u64,
    /// The final decode started at that silence, still running.
    pub(crate) speculation: Option<Speculation>,
}

/// A final decode the Stt started when the user paused, not yet used or
/// discarded. Dropped unused, it is cancelled.
pub(crate) struct Speculation {
    cancel: CancellationToken,
    result: Option<JoinHandle<Result<Transcript, EngineError>>>,
}

impl Speculation {
    pub(crate) fn new(
        cancel: CancellationToken,
        result: JoinHandle<Result<Transcript, EngineError>>,
    ) -> Self {
        Speculation {
            cancel,
            result: Some(result),
        }
    }

    /// The decode's result, to await: it is the final now.
    pub(crate) fn into_result(mut self) -> Option<JoinHandle<Result<Transcript, EngineError>>> {
        self.result.take()
    }

    /// Speech came back: that audio was not the whole turn.
    pub(crate) fn discard(self) {}
}

impl Drop for Speculation {
    fn drop(&mut self) {
        if let Some(r) = self.result.take() {
            self.cancel.cancel();
            r.abort();
        }
    }
}
