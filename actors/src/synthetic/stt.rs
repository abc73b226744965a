//! The scripted STT: "hears" the lines a session's simulated caller says.

use crate::engine::{CancellationToken, EngineError, SttEngine, TranscribeKind, Transcript};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;

/// "Hears" the session script's lines in order.
pub struct ScriptedStt {
    lines: Mutex<VecDeque<String>>,
}

impl ScriptedStt {
    pub fn new(lines: Vec<String>) -> Self {
        Self {
            lines: Mutex::new(lines.into()),
        }
    }
}

#[async_trait]
impl SttEngine for ScriptedStt {
    fn model(&self) -> &str {
        "scripted-stt"
    }
    async fn transcribe(
        &self,
        _audio: Arc<[f32]>,
        kind: TranscribeKind,
        _cancel: CancellationToken,
    ) -> Result<Transcript, EngineError> {
        let mut lines = self.lines.lock();
        let text = match kind {
            TranscribeKind::Partial => lines
                .front()
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or_default()
                .to_string(),
            TranscribeKind::Final => lines.pop_front().unwrap_or_default(),
        };
        Ok(Transcript {
            text,
            confidence: 1.0,
            last_word_confidence: None,
        })
    }
}
