//! The energy VAD: an RMS threshold per frame, with the endpointing rules
//! every VAD gets.

use crate::audio::AudioFrame;
use crate::endpoint::{Endpointer, Endpointing};
use crate::engine::{EngineError, VadEngine, VadEvent, VadStream};
use async_trait::async_trait;

/// RMS-threshold VAD.
#[derive(Debug, Clone)]
pub struct EnergyVad {
    pub threshold: f32,
    pub rules: Endpointing,
}

impl Default for EnergyVad {
    fn default() -> Self {
        Self {
            threshold: 0.02,
            rules: Endpointing::default(),
        }
    }
}

struct EnergyVadStream {
    threshold: f32,
    ep: Endpointer,
}

#[async_trait]
impl VadStream for EnergyVadStream {
    async fn push(&mut self, frame: &AudioFrame) -> Result<Option<VadEvent>, EngineError> {
        Ok(self
            .ep
            .push(frame.rms() > self.threshold, frame.duration_ms()))
    }

    fn pausing(&self) -> bool {
        self.ep.pausing()
    }

    fn silence_ms(&self) -> u64 {
        self.ep.silence_ms()
    }

    fn end_turn(&mut self) {
        self.ep.end_turn();
    }
}

impl VadEngine for EnergyVad {
    fn name(&self) -> &str {
        "energy-vad"
    }
    fn stream(&self) -> Box<dyn VadStream> {
        self.stream_with_silence(self.rules.silence_ms)
    }
    fn stream_with_silence(&self, silence_ms: u64) -> Box<dyn VadStream> {
        Box::new(EnergyVadStream {
            threshold: self.threshold,
            ep: Endpointer::new(Endpointing {
                silence_ms,
                ..self.rules
            }),
        })
    }
}
