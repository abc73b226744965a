//! The [`TtsEngine`] impl: text split and phonemized, each sentence
//! synthesized on the inference pool (cancellable mid-run), resampled across
//! sentence joins, and sent in fixed-size chunks as soon as it is ready.

use super::error::{failed, ENGINE};
use super::phonemize::{bound_phonemes, phonemize_sentences};
use super::text::split_text;
use super::voice::{Inner, PiperTts};
use crate::audio::StreamResampler;
use arc_actors::engine::{CancellationToken, EngineError, TtsEngine, TtsOutcome};
use arc_actors::pcm16::Pcm16Frame;
use async_trait::async_trait;
use ort::session::RunOptions;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

/// One sentence's pool job: synthesize, add the pause after it, resample.
struct SentenceJob {
    phonemes: String,
    /// Last sentence of the reply: no pause after it, and the resampler is flushed.
    last: bool,
    resampler: StreamResampler,
}

fn run_sentence(
    inner: &Inner,
    mut job: SentenceJob,
    run: &RunOptions,
) -> (Result<Vec<f32>, String>, StreamResampler) {
    let result = (|| {
        let started = Instant::now();
        let mut audio = inner.infer(&job.phonemes, run)?;
        let voice_ms = audio.len() as u64 * 1000 / u64::from(inner.config.audio.sample_rate);
        tracing::debug!(
            phonemes = job.phonemes.chars().count(),
            audio_ms = voice_ms,
            synth_ms = started.elapsed().as_millis() as u64,
            "piper sentence"
        );
        if !job.last {
            let pause = inner.config.audio.sample_rate as usize
                * inner.options.sentence_silence_ms as usize
                / 1000;
            audio.resize(audio.len() + pause, 0.0);
        }
        let mut out = Vec::with_capacity(audio.len() * 2);
        job.resampler.push(&audio, &mut out)?;
        if job.last {
            job.resampler.finish(&mut out)?;
        }
        Ok(out)
    })();
    (result, job.resampler)
}

/// Accumulates output samples and sends them as fixed-size chunks.
struct Chunker {
    rate: u32,
    chunk: usize,
    pending: Vec<f32>,
    sent: u64,
}

impl Chunker {
    /// Sends every whole chunk; with `flush`, the remainder too.
    async fn send(
        &mut self,
        samples: Vec<f32>,
        flush: bool,
        tx: &mpsc::Sender<Pcm16Frame>,
        cancel: &CancellationToken,
    ) -> Result<(), EngineError> {
        self.pending.extend(samples);
        let mut start = 0;
        while self.pending.len() - start >= self.chunk || (flush && start < self.pending.len()) {
            let end = (start + self.chunk).min(self.pending.len());
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            // The 16-bit chunk is made once the channel has room: while the
            // speaker has enough, the session holds the sentence's samples
            // here and one chunk in the channel, no third one in a send.
            let room = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(EngineError::Cancelled),
                room = tx.reserve() => room.map_err(|_| EngineError::Cancelled)?,
            };
            room.send(Pcm16Frame::from_f32_samples(
                self.rate,
                &self.pending[start..end],
            ));
            let len = (end - start) as u64;
            start = end;
            self.sent += len;
        }
        self.pending.drain(..start);
        Ok(())
    }
}

impl PiperTts {
    /// Phonemizes one piece of text on the pool.
    async fn phonemize_piece(&self, piece: &str) -> Result<Vec<String>, EngineError> {
        let text = piece.to_string();
        let voice = self.inner.config.espeak.voice.clone();
        let max = self.inner.options.max_clause_chars * 2;
        let sentences = self
            .inner
            .pool
            .run(move || phonemize_sentences(&text, &voice))
            .await
            .map_err(failed)?
            .map_err(failed)?;
        Ok(sentences
            .into_iter()
            .filter(|s| s.chars().any(|c| !c.is_whitespace()))
            .flat_map(|s| bound_phonemes(s, max))
            .collect())
    }

    /// Synthesizes one sentence on the pool; on cancel the ONNX run is
    /// terminated and the job awaited (so the pool's books stay right).
    async fn synthesize_sentence(
        &self,
        job: SentenceJob,
        cancel: &CancellationToken,
    ) -> Result<(Vec<f32>, StreamResampler), EngineError> {
        let run = Arc::new(RunOptions::new().map_err(failed)?);
        let permit: OwnedSemaphorePermit = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(EngineError::Cancelled),
            p = self.inner.permits.clone().acquire_owned() => p.map_err(failed)?,
        };
        let inner = self.inner.clone();
        let run_job = run.clone();
        let work = self.inner.pool.run(move || {
            let out = run_sentence(&inner, job, &run_job);
            drop(permit);
            out
        });
        tokio::pin!(work);
        let done = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                if let Err(e) = run.terminate() {
                    tracing::warn!(error = %e, "could not terminate a piper run");
                }
                let _ = (&mut work).await;
                return Err(EngineError::Cancelled);
            }
            done = &mut work => done,
        };
        let (audio, resampler) = done.map_err(failed)?;
        Ok((audio.map_err(failed)?, resampler))
    }
}

#[async_trait]
impl TtsEngine for PiperTts {
    fn model(&self) -> &str {
        ENGINE
    }

    fn voice_id(&self) -> &str {
        &self.inner.voice_id
    }

    fn sample_rate(&self) -> u32 {
        self.inner.options.sample_rate
    }

    async fn synthesize(
        &self,
        text: &str,
        chunks: mpsc::Sender<Pcm16Frame>,
        cancel: CancellationToken,
    ) -> Result<TtsOutcome, EngineError> {
        let opts = &self.inner.options;
        let rate = opts.sample_rate;
        let mut chunker = Chunker {
            rate,
            chunk: (rate as usize * opts.chunk_ms as usize / 1000).max(1),
            pending: Vec::new(),
            sent: 0,
        };
        let mut resampler =
            Some(StreamResampler::new(self.inner.config.audio.sample_rate, rate).map_err(failed)?);
        let mut fed = false;
        let pieces = split_text(text, opts.max_clause_chars);
        let n_pieces = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let sentences = self.phonemize_piece(piece).await?;
            let n = sentences.len();
            for (j, phonemes) in sentences.into_iter().enumerate() {
                if cancel.is_cancelled() {
                    return Err(EngineError::Cancelled);
                }
                let job = SentenceJob {
                    phonemes,
                    last: i + 1 == n_pieces && j + 1 == n,
                    resampler: resampler.take().ok_or_else(|| failed("resampler lost"))?,
                };
                let (audio, r) = self.synthesize_sentence(job, &cancel).await?;
                resampler = Some(r);
                fed = true;
                chunker.send(audio, true, &chunks, &cancel).await?;
            }
        }
        // When the text ended in pieces without speech, the last sentence was
        // not known to be last: flush the resampler's tail now.
        if let Some(mut r) = resampler.filter(|r| fed && r.has_tail()) {
            let tail = self
                .inner
                .pool
                .run(move || {
                    let mut out = Vec::new();
                    r.finish(&mut out).map(|()| out)
                })
                .await
                .map_err(failed)?
                .map_err(failed)?;
            chunker.send(tail, true, &chunks, &cancel).await?;
        }
        Ok(TtsOutcome {
            audio_ms: chunker.sent * 1000 / u64::from(rate),
        })
    }
}
