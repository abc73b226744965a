//! [`WhisperStt`]: the model loaded once, and the [`SttEngine`] whose every
//! decode runs on the inference pool.

use super::decode::Inner;
use super::error::{failed, SttLoadError};
use super::model_file::{check_ggml_header, model_name_from_path};
use super::options::WhisperOptions;
use super::states::StatePool;
use crate::pool::{InferencePool, PoolError};
use arc_actors::engine::{CancellationToken, EngineError, SttEngine, TranscribeKind, Transcript};
use async_trait::async_trait;
use std::path::Path;
use std::sync::Arc;
use whisper_rs::{WhisperContext, WhisperContextParameters};

/// Whisper speech to text: one shared model, a bounded set of reusable decoding
/// states, and every decode on the inference pool.
pub struct WhisperStt {
    inner: Arc<Inner>,
    pool: Arc<InferencePool>,
}

impl std::fmt::Debug for WhisperStt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperStt")
            .field("model", &self.inner.model_name)
            .field("path", &self.inner.path)
            .field("threads_per_job", &self.inner.threads)
            .field("max_states", &self.inner.states.max)
            .finish()
    }
}

impl WhisperStt {
    /// Loads the ggml model at `model_path` (blocking: call it at start-up or
    /// from a blocking context) and allocates the first decoding state, so a bad
    /// file fails here rather than on the first utterance.
    pub fn load(
        model_path: &Path,
        options: WhisperOptions,
        pool: Arc<InferencePool>,
    ) -> Result<Self, SttLoadError> {
        check_ggml_header(model_path)?;
        // whisper.cpp logs every load to stderr; route it into the (silent)
        // hooks, errors here are reported through our own types instead.
        whisper_rs::install_logging_hooks();
        let mut params = WhisperContextParameters::default();
        params.use_gpu(false);
        let ctx = WhisperContext::new_with_params(model_path, params).map_err(|e| {
            SttLoadError::Corrupt {
                path: model_path.to_path_buf(),
                reason: format!("whisper.cpp refused it: {e:?}"),
            }
        })?;

        let slots = pool.threads();
        let max_states = options.max_states.unwrap_or(slots).max(1);
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let threads = options.threads_per_job.unwrap_or(cores / slots).max(1);
        let n_audio_ctx = usize::try_from(ctx.model_n_audio_ctx()).unwrap_or(0).max(1);
        let model_name = options
            .model_name
            .clone()
            .unwrap_or_else(|| model_name_from_path(model_path));

        let inner = Inner {
            ctx,
            states: StatePool::new(max_states),
            model_name,
            path: model_path.to_path_buf(),
            language: options.language,
            threads,
            silence_peak: options.silence_peak,
            audio_ctx_margin: options.audio_ctx_margin,
            min_audio_ctx: options.min_audio_ctx,
            n_audio_ctx,
        };
        let first = inner
            .states
            .take(&inner.ctx)
            .map_err(|e| SttLoadError::State {
                path: model_path.to_path_buf(),
                reason: e.to_string(),
            })?;
        drop(first);
        Ok(Self {
            inner: Arc::new(inner),
            pool,
        })
    }

    /// Decoding states alive now (idle or in use); never above `max_states`.
    pub fn states_alive(&self) -> usize {
        self.inner.states.lock().live
    }
}

#[async_trait]
impl SttEngine for WhisperStt {
    fn model(&self) -> &str {
        &self.inner.model_name
    }

    async fn transcribe(
        &self,
        audio: Arc<[f32]>,
        kind: TranscribeKind,
        cancel: CancellationToken,
    ) -> Result<Transcript, EngineError> {
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let inner = self.inner.clone();
        let job = move || inner.transcribe_blocking(&audio, kind, &cancel);
        match self.pool.run(job).await {
            Ok(result) => result,
            Err(PoolError::Closed) => Err(failed("the inference pool is shut down")),
            Err(PoolError::Panicked(m)) => Err(failed(format!("decode panicked: {m}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whisper::model_file::GGML_MAGIC;

    #[test]
    fn bad_files_are_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let pool = InferencePool::new(1);
        let missing = dir.path().join("ggml-none.bin");
        let err = WhisperStt::load(&missing, WhisperOptions::default(), pool.clone()).unwrap_err();
        assert!(matches!(err, SttLoadError::Missing { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("ggml-none.bin") && msg.contains("run: arc-agent models fetch"),
            "{msg}"
        );

        let junk = dir.path().join("junk.bin");
        std::fs::write(
            &junk,
            b"not a model at all, just some bytes that are long enough",
        )
        .unwrap();
        let err = WhisperStt::load(&junk, WhisperOptions::default(), pool.clone()).unwrap_err();
        assert!(matches!(err, SttLoadError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("bad magic"), "{err}");

        // A good header on a file cut short.
        let mut b = GGML_MAGIC.to_le_bytes().to_vec();
        for v in [51864u32, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1] {
            b.extend(v.to_le_bytes());
        }
        b.extend([0u8; 1000]);
        let short = dir.path().join("short.bin");
        std::fs::write(&short, &b).unwrap();
        let err = WhisperStt::load(&short, WhisperOptions::default(), pool).unwrap_err();
        assert!(err.to_string().contains("at least"), "{err}");
    }
}
