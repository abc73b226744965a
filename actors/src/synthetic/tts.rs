//! The tone TTS: a sine tone whose length follows the text; a text with
//! `[tts-stall]` never returns (fault tests), one with `[tts-late]` starts
//! [`LATE_START`] late (a synthesis that falls behind the speaker).

use crate::engine::{CancellationToken, EngineError, TtsEngine, TtsOutcome};
use crate::pcm16::{to_i16, Pcm16Frame};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a `[tts-late]` synthesis waits before its first chunk.
pub(crate) const LATE_START: Duration = Duration::from_millis(1500);

/// A 220 Hz tone, 60 ms per character, in 100 ms chunks at 24 kHz.
#[derive(Debug, Clone)]
pub struct ToneTts {
    pub sample_rate: u32,
    pub ms_per_char: u64,
    pub chunk_ms: u64,
    /// How long each synthesis takes before its first chunk: zero (the
    /// stand-in answers at once), or an engine like piper that makes a
    /// sentence whole first.
    pub first_chunk_after: Duration,
    /// Audio made so far (ms), by this engine and its clones together: how
    /// far synthesis runs ahead of the speaker, for the tests.
    pub made_ms: Arc<AtomicU64>,
}

impl ToneTts {
    fn chunk(&self) -> Arc<[i16]> {
        type Cached = Option<(u32, u64, Arc<[i16]>)>;
        static CACHE: Mutex<Cached> = Mutex::new(None);
        let mut c = CACHE.lock();
        match &*c {
            Some((rate, ms, chunk)) if *rate == self.sample_rate && *ms == self.chunk_ms => {
                chunk.clone()
            }
            _ => {
                let n = (self.sample_rate as u64 * self.chunk_ms / 1000) as usize;
                let chunk: Arc<[i16]> = (0..n)
                    .map(|i| {
                        let t = i as f32 / self.sample_rate as f32;
                        to_i16(0.2 * (2.0 * std::f32::consts::PI * 220.0 * t).sin())
                    })
                    .collect();
                *c = Some((self.sample_rate, self.chunk_ms, chunk.clone()));
                chunk
            }
        }
    }
}

impl Default for ToneTts {
    fn default() -> Self {
        Self {
            sample_rate: 24_000,
            ms_per_char: 60,
            chunk_ms: 100,
            first_chunk_after: Duration::ZERO,
            made_ms: Arc::default(),
        }
    }
}

#[async_trait]
impl TtsEngine for ToneTts {
    fn model(&self) -> &str {
        "tone-tts"
    }
    fn voice_id(&self) -> &str {
        "tone"
    }
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
    async fn synthesize(
        &self,
        text: &str,
        chunks: mpsc::Sender<Pcm16Frame>,
        cancel: CancellationToken,
    ) -> Result<TtsOutcome, EngineError> {
        let total_ms =
            (text.chars().count() as u64 * self.ms_per_char).clamp(self.chunk_ms, 60_000);
        // One chunk of tone (220 Hz: whole periods in 100 ms), made once: the
        // stand-in must cost next to nothing so benches measure ARC, not the tone.
        let chunk = self.chunk();
        if text.contains("[tts-stall]") {
            // A synthesis that never returns and ignores its cancel: what
            // the Tts actor's stall deadline is for.
            std::future::pending::<()>().await;
        }
        let late = if text.contains("[tts-late]") {
            LATE_START
        } else {
            self.first_chunk_after
        };
        if !late.is_zero() {
            tokio::select! {
                _ = cancel.cancelled() => return Err(EngineError::Cancelled),
                _ = tokio::time::sleep(late) => {}
            }
        }
        let mut produced = 0u64;
        while produced < total_ms {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            // The chunk is made once the channel has room for it, as an
            // engine that streams makes audio as it is taken.
            let Ok(room) = chunks.reserve().await else {
                return Err(EngineError::Cancelled);
            };
            room.send(Pcm16Frame::new(self.sample_rate, Box::from(&chunk[..])));
            self.made_ms.fetch_add(self.chunk_ms, Ordering::Relaxed);
            produced += self.chunk_ms;
        }
        Ok(TtsOutcome { audio_ms: produced })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tone_tts_is_cancellable() {
        let (tx, mut rx) = mpsc::channel(1);
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        let h = tokio::spawn(async move {
            ToneTts::default()
                .synthesize(&"x".repeat(200), tx, c2)
                .await
        });
        assert!(rx.recv().await.is_some());
        cancel.cancel();
        while rx.recv().await.is_some() {}
        assert_eq!(h.await.unwrap(), Err(EngineError::Cancelled));
    }
}
