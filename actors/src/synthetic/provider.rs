//! The provider of synthetic engines: one set per session, whose STT hears
//! the lines written for that session in the provider's [`ScriptBook`].

use super::{EchoLlm, EnergyVad, ScriptBook, ScriptedStt, ToneTts};
use crate::engine::{EngineError, Engines};
use crate::node::{EngineProvider, SessionSpec};
use std::sync::Arc;

/// Builds synthetic engines; the STT of each session hears the lines its
/// caller wrote in `scripts` before starting it (none: it hears nothing).
#[derive(Debug, Clone, Default)]
pub struct SyntheticProvider {
    pub vad: EnergyVad,
    pub llm: EchoLlm,
    pub tts: ToneTts,
    pub scripts: ScriptBook,
}

impl EngineProvider for SyntheticProvider {
    fn engines_for(&self, spec: &SessionSpec) -> Result<Engines, EngineError> {
        Ok(Engines {
            vad: Arc::new(self.vad.clone()),
            stt: Arc::new(ScriptedStt::new(self.scripts.take(&spec.config.session_id))),
            llm: Arc::new(self.llm.clone()),
            tts: Arc::new(self.tts.clone()),
            tools: None,
            turn: None,
        })
    }
}
