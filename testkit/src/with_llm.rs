//! [`WithLlm`]: synthetic ears and voice (energy VAD, scripted STT, tone TTS)
//! around a real brain, for tests of the brain in a whole session.

use arc_actors::engine::{EngineError, Engines, LlmEngine};
use arc_actors::node::{EngineProvider, SessionSpec};
use arc_actors::synthetic::{ScriptBook, SyntheticProvider};
use std::sync::Arc;

/// The synthetic engines, with `llm` as the brain.
pub struct WithLlm {
    pub synthetic: SyntheticProvider,
    pub llm: Arc<dyn LlmEngine>,
}

impl WithLlm {
    pub fn new(llm: Arc<dyn LlmEngine>) -> WithLlm {
        WithLlm {
            synthetic: SyntheticProvider::default(),
            llm,
        }
    }

    /// The book its scripted STT reads the callers' lines from.
    pub fn scripts(&self) -> &ScriptBook {
        &self.synthetic.scripts
    }
}

impl EngineProvider for WithLlm {
    fn engines_for(&self, spec: &SessionSpec) -> Result<Engines, EngineError> {
        let mut e = self.synthetic.engines_for(spec)?;
        e.llm = self.llm.clone();
        Ok(e)
    }
}
