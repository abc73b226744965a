//! The one interface every transport shares. A transport carries one
//! conversation over its medium: it names the medium (the seed's
//! `connection_type`), is the [`AudioOutput`] the agent's audio and the
//! session's notices go to, and pushes the user's audio in as 16 kHz, 20 ms
//! frames, which a [`MicFramer`] makes from audio at any rate.
//! [`open_session`] starts the session the same way for every transport.

use crate::node::NodeContext;
use arc_actors::audio::{AudioFrame, FRAME_SAMPLES_16K, STT_SAMPLE_RATE};
use arc_actors::node::{NodeError, SessionSpec};
use arc_actors::session::{AudioOutput, SessionConfig, SessionHandle};
use arc_models::audio::StreamResampler;
use std::sync::Arc;

/// The output side of a transport, and the medium it names.
pub(crate) trait Transport: AudioOutput + 'static {
    /// `connection_type` of the seed's session events over this medium.
    const CONNECTION_TYPE: &'static str;
}

/// Starts a session whose audio goes to `output`, with `config` (the node's
/// session defaults, `ctx.cfg.session_config()`, as the transport set them)
/// and the transport's connection type.
pub(crate) async fn open_session<T: Transport>(
    ctx: &NodeContext,
    output: Arc<T>,
    mut config: SessionConfig,
) -> Result<SessionHandle, NodeError> {
    config.connection_type = T::CONNECTION_TYPE.into();
    ctx.node.start_session(SessionSpec { config, output }).await
}

/// The user's audio → the STT's frames: mono samples at any rate in, whole
/// 20 ms frames at 16 kHz out. A change of rate starts a new resampler.
pub(crate) struct MicFramer {
    rate: u32,
    chunk: Option<usize>,
    resampler: Option<StreamResampler>,
    out: Vec<f32>,
}

impl MicFramer {
    /// `chunk`: input samples per resampler block (smaller: output sooner);
    /// `None` for the resampler's default.
    pub(crate) fn new(chunk: Option<usize>) -> Self {
        Self {
            rate: 0,
            chunk,
            resampler: None,
            out: Vec::with_capacity(FRAME_SAMPLES_16K * 2),
        }
    }

    /// The rate of the audio pushed last (0 before any).
    pub(crate) fn rate(&self) -> u32 {
        self.rate
    }

    /// Forget the partial frame and the resampler (a new stream begins).
    pub(crate) fn reset(&mut self) {
        self.rate = 0;
        self.resampler = None;
        self.out.clear();
    }

    /// Prepare for audio at `rate` (a resampler is made once per rate).
    pub(crate) fn set_rate(&mut self, rate: u32) -> Result<(), String> {
        if rate == 0 {
            return Err("audio with a zero sample rate".into());
        }
        if rate != self.rate || self.resampler.is_none() {
            self.resampler = Some(match self.chunk {
                Some(chunk) => StreamResampler::with_chunk(rate, STT_SAMPLE_RATE, chunk)?,
                None => StreamResampler::new(rate, STT_SAMPLE_RATE)?,
            });
            self.rate = rate;
        }
        Ok(())
    }

    /// The whole frames that `mono` (at `rate`) completes.
    pub(crate) fn push(&mut self, rate: u32, mono: &[f32]) -> Result<Vec<AudioFrame>, String> {
        self.set_rate(rate)?;
        if let Some(r) = self.resampler.as_mut() {
            r.push(mono, &mut self.out)?;
        }
        let whole = self.out.len() / FRAME_SAMPLES_16K * FRAME_SAMPLES_16K;
        let frames = self.out[..whole]
            .chunks_exact(FRAME_SAMPLES_16K)
            .map(|c| AudioFrame::new(STT_SAMPLE_RATE, c.to_vec()))
            .collect();
        self.out.drain(..whole);
        Ok(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_rate_becomes_whole_16k_frames() {
        let mut f = MicFramer::new(None);
        let second: Vec<f32> = (0..48_000).map(|i| (i as f32 * 0.01).sin() * 0.3).collect();
        let mut frames = Vec::new();
        for piece in second.chunks(480) {
            frames.extend(f.push(48_000, piece).unwrap());
        }
        assert!(frames
            .iter()
            .all(|fr| fr.sample_rate == STT_SAMPLE_RATE && fr.samples.len() == FRAME_SAMPLES_16K));
        // One second at 48 kHz is about 50 frames of 20 ms (less the tail
        // still in the resampler).
        assert!((45..=50).contains(&frames.len()), "{}", frames.len());
        assert_eq!(f.rate(), 48_000);
        // A new rate starts a new resampler; a zero rate is refused.
        assert!(f.push(8_000, &[0.0; 160]).is_ok());
        assert_eq!(f.rate(), 8_000);
        assert!(f.push(0, &[0.0; 10]).is_err());
        f.reset();
        assert_eq!(f.rate(), 0);
    }
}
