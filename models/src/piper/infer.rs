//! One ONNX run of the voice: a sentence's phonemes to ids, an instance taken
//! from the free list (and put back, even on panic), audio out.

use super::voice::Inner;
use ort::session::{RunOptions, Session};
use ort::value::Tensor;
use piper_rs::ModelConfig;

/// piper-phonemize's id sequence: BOS, pad, then each phoneme's ids followed
/// by pad, then EOS. Phonemes the voice does not know are skipped.
fn phoneme_ids(config: &ModelConfig, phonemes: &str) -> Vec<i64> {
    let map = &config.phoneme_id_map;
    let id = |c: char| map.get(&c).cloned().unwrap_or_default();
    let pad = id('_');
    let mut ids = Vec::with_capacity(phonemes.len() * 2 + 4);
    ids.extend(id('^'));
    ids.extend(&pad);
    for c in phonemes.chars() {
        if let Some(v) = map.get(&c) {
            ids.extend(v);
            ids.extend(&pad);
        }
    }
    ids.extend(id('$'));
    ids
}

impl Inner {
    /// Runs the voice on one sentence's phonemes; `run` can terminate it.
    pub(super) fn infer(&self, phonemes: &str, run: &RunOptions) -> Result<Vec<f32>, String> {
        let ids = phoneme_ids(&self.config, phonemes);
        let n = ids.len();
        let inf = &self.config.inference;
        let scales = vec![
            inf.noise_scale,
            self.options.length_scale.unwrap_or(inf.length_scale),
            inf.noise_w,
        ];
        let input = Tensor::from_array(([1usize, n], ids)).map_err(|e| e.to_string())?;
        let lengths = Tensor::from_array(([1usize], vec![n as i64])).map_err(|e| e.to_string())?;
        let scales = Tensor::from_array(([3usize], scales)).map_err(|e| e.to_string())?;
        let mut session = self.take_session()?;
        let outputs = if self.multi_speaker {
            let sid = Tensor::from_array(([1usize], vec![self.options.speaker_id]))
                .map_err(|e| e.to_string())?;
            session.get()?.run_with_options(
                ort::inputs![
                    "input" => input,
                    "input_lengths" => lengths,
                    "scales" => scales,
                    "sid" => sid
                ],
                run,
            )
        } else {
            session.get()?.run_with_options(
                ort::inputs!["input" => input, "input_lengths" => lengths, "scales" => scales],
                run,
            )
        }
        .map_err(|e| e.to_string())?;
        let (_, audio) = outputs
            .get(&self.output_name)
            .ok_or_else(|| format!("no {:?} in the model's results", self.output_name))?
            .try_extract_tensor::<f32>()
            .map_err(|e| e.to_string())?;
        Ok(audio
            .iter()
            .map(|s| {
                if s.is_finite() {
                    s.clamp(-1.0, 1.0)
                } else {
                    0.0
                }
            })
            .collect())
    }

    fn take_session(&self) -> Result<SessionGuard<'_>, String> {
        let session = self
            .free
            .lock()
            .pop()
            .ok_or("no free piper instance (a job ran without a permit)")?;
        Ok(SessionGuard {
            inner: self,
            session: Some(session),
        })
    }
}

/// Puts an instance back on the free list when a job ends, even by panic.
struct SessionGuard<'a> {
    inner: &'a Inner,
    session: Option<Session>,
}

impl SessionGuard<'_> {
    fn get(&mut self) -> Result<&mut Session, String> {
        // Only `drop` takes the session out, so this never fails in practice.
        self.session
            .as_mut()
            .ok_or_else(|| "piper instance already returned".to_string())
    }
}

impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            self.inner.free.lock().push(s);
        }
    }
}
