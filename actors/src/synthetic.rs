//! Synthetic engines and a scripted user: the whole session tree runs for
//! real, only the models are replaced by cheap, deterministic stand-ins.
//! Used by orchestration tests, the hop-latency bench and the load generator;
//! never as the only test of a speech or language feature.
//!
//! - [`EnergyVad`]: an RMS-threshold VAD with the same endpointing rules a
//!   real VAD gets (minimum speech, silence to end a turn).
//! - [`ScriptedStt`]: "hears" the next line of the session's script.
//! - [`EchoLlm`]: answers by quoting the user; `[stall]`, `[fail]` and
//!   `[slow]` in the input make it hang, fail or crawl, to test timeouts.
//! - [`ToneTts`]: a sine tone whose length follows the text.

use crate::audio::{AudioFrame, FRAME_SAMPLES_16K, STT_SAMPLE_RATE};
use crate::endpoint::{Endpointer, Endpointing};
use crate::engine::*;
use crate::node::{EngineProvider, SessionSpec};
use crate::session::{AudioOutput, SessionHandle, SessionNotice};
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

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
}

impl VadEngine for EnergyVad {
    fn name(&self) -> &str {
        "energy-vad"
    }
    fn stream(&self) -> Box<dyn VadStream> {
        Box::new(EnergyVadStream {
            threshold: self.threshold,
            ep: Endpointer::new(self.rules),
        })
    }
}

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
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
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
        })
    }
}

/// Answers "You said: …" word by word.
#[derive(Debug, Clone, Default)]
pub struct EchoLlm {
    /// Delay before each token (zero for benches).
    pub token_delay: Duration,
}

#[async_trait]
impl LlmEngine for EchoLlm {
    fn model(&self) -> &str {
        "echo-llm"
    }
    async fn stream(
        &self,
        request: LlmRequest,
        tokens: mpsc::Sender<String>,
        cancel: CancellationToken,
    ) -> Result<LlmUsage, EngineError> {
        let input = request
            .messages
            .last()
            .map(|m| m.content.clone())
            .unwrap_or_default();
        if input.contains("[fail]") {
            return Err(EngineError::Failed {
                engine: "echo-llm",
                message: "asked to fail".into(),
            });
        }
        if input.contains("[stall]") {
            cancel.cancelled().await;
            return Err(EngineError::Cancelled);
        }
        let slow = input.contains("[slow]");
        let reply = format!(
            "You said: {}. Anything else?",
            input.trim_end_matches(['.', '?', '!'])
        );
        let mut n = 0u64;
        for (i, word) in reply.split(' ').enumerate() {
            if n >= request.max_tokens as u64 {
                break;
            }
            let delay = if slow {
                Duration::from_millis(400)
            } else {
                self.token_delay
            };
            if !delay.is_zero() {
                tokio::select! {
                    _ = cancel.cancelled() => return Err(EngineError::Cancelled),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let tok = if i == 0 {
                word.to_string()
            } else {
                format!(" {word}")
            };
            if tokens.send(tok).await.is_err() {
                return Err(EngineError::Cancelled);
            }
            n += 1;
        }
        Ok(LlmUsage {
            completion_tokens: n,
            prompt_tokens: request
                .messages
                .iter()
                .map(|m| crate::context::estimate_tokens(&m.content) as u64)
                .sum(),
            truncated: n >= request.max_tokens as u64,
            ..Default::default()
        })
    }
}

/// A 220 Hz tone, 60 ms per character, in 100 ms chunks at 24 kHz.
#[derive(Debug, Clone)]
pub struct ToneTts {
    pub sample_rate: u32,
    pub ms_per_char: u64,
    pub chunk_ms: u64,
}

impl ToneTts {
    fn chunk(&self) -> Arc<[f32]> {
        type Cached = Option<(u32, u64, Arc<[f32]>)>;
        static CACHE: Mutex<Cached> = Mutex::new(None);
        let mut c = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        match &*c {
            Some((rate, ms, chunk)) if *rate == self.sample_rate && *ms == self.chunk_ms => {
                chunk.clone()
            }
            _ => {
                let n = (self.sample_rate as u64 * self.chunk_ms / 1000) as usize;
                let chunk: Arc<[f32]> = (0..n)
                    .map(|i| {
                        let t = i as f32 / self.sample_rate as f32;
                        0.2 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
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
        chunks: mpsc::Sender<AudioFrame>,
        cancel: CancellationToken,
    ) -> Result<TtsOutcome, EngineError> {
        let total_ms =
            (text.chars().count() as u64 * self.ms_per_char).clamp(self.chunk_ms, 60_000);
        // One chunk of tone (220 Hz: whole periods in 100 ms), made once: the
        // stand-in must cost next to nothing so benches measure ARC, not the tone.
        let chunk = self.chunk();
        let mut produced = 0u64;
        while produced < total_ms {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            if chunks
                .send(AudioFrame::new(self.sample_rate, chunk.to_vec()))
                .await
                .is_err()
            {
                return Err(EngineError::Cancelled);
            }
            produced += self.chunk_ms;
        }
        Ok(TtsOutcome { audio_ms: produced })
    }
}

/// Builds synthetic engines; the STT of each session hears that session's script.
#[derive(Debug, Clone, Default)]
pub struct SyntheticProvider {
    pub vad: EnergyVad,
    pub llm: EchoLlm,
    pub tts: ToneTts,
}

impl EngineProvider for SyntheticProvider {
    fn engines_for(&self, spec: &SessionSpec) -> Result<Engines, EngineError> {
        Ok(Engines {
            vad: Arc::new(self.vad.clone()),
            stt: Arc::new(ScriptedStt::new(spec.script.clone())),
            llm: Arc::new(self.llm.clone()),
            tts: Arc::new(self.tts.clone()),
            tools: None,
        })
    }
}

/// An [`AudioOutput`] that records what the session sent, for tests and the
/// scripted user.
#[derive(Default)]
pub struct RecordingOutput {
    pub frames: AtomicU64,
    pub audio_ms: AtomicU64,
    pub flushes: AtomicU64,
    notices: Mutex<Vec<SessionNotice>>,
    changed: Notify,
    first_audio: Notify,
}

impl RecordingOutput {
    pub fn notices(&self) -> Vec<SessionNotice> {
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Wait (up to `timeout`) for a notice matching `pred`; true if seen.
    pub async fn wait_for(&self, timeout: Duration, pred: impl Fn(&SessionNotice) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            if self.notices().iter().any(&pred) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.notices().iter().any(&pred);
            }
        }
    }

    /// How many agent turns have finished (answered or interrupted).
    pub fn turns_done(&self) -> u64 {
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|n| matches!(n, SessionNotice::AgentTurnDone { .. }))
            .count() as u64
    }

    /// Resolves when the next audio frame is played.
    pub fn first_audio(&self) -> tokio::sync::futures::Notified<'_> {
        self.first_audio.notified()
    }
}

impl AudioOutput for RecordingOutput {
    fn play(&self, _turn: u64, frame: AudioFrame) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.audio_ms
            .fetch_add(frame.duration_ms(), Ordering::Relaxed);
        self.first_audio.notify_waiters();
    }
    fn flush(&self) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
    }
    fn notice(&self, notice: SessionNotice) {
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(notice);
        self.changed.notify_waiters();
    }
}

/// 20 ms frames of "speech" (a loud tone) for roughly the time the line
/// would take to say.
pub fn speech_frames(line: &str) -> Vec<AudioFrame> {
    static FRAME: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    // 200 Hz: whole periods in 20 ms, so the frames join seamlessly.
    let frame = FRAME.get_or_init(|| {
        (0..FRAME_SAMPLES_16K)
            .map(|i| {
                let t = i as f32 / STT_SAMPLE_RATE as f32;
                0.3 * (2.0 * std::f32::consts::PI * 200.0 * t).sin()
            })
            .collect()
    });
    let ms = (200 + 40 * line.chars().count() as u64).min(5_000);
    (0..ms / 20)
        .map(|_| AudioFrame::new(STT_SAMPLE_RATE, frame.clone()))
        .collect()
}

/// `ms` of 20 ms silent frames.
pub fn silence_frames(ms: u64) -> Vec<AudioFrame> {
    (0..ms.div_ceil(20))
        .map(|_| AudioFrame::new(STT_SAMPLE_RATE, vec![0.0; FRAME_SAMPLES_16K]))
        .collect()
}

/// Play a script into a session as a user would: say a line, wait for the
/// agent's answer to finish, say the next. Returns how many answers came.
pub async fn run_script(
    session: &SessionHandle,
    output: &RecordingOutput,
    lines: &[String],
    answer_timeout: Duration,
) -> usize {
    run_script_paced(session, output, lines, answer_timeout, false).await
}

/// Like [`run_script`]; with `realtime` the frames are pushed at the pace a
/// microphone makes them (one 20 ms frame every 20 ms), as a live transport does.
pub async fn run_script_paced(
    session: &SessionHandle,
    output: &RecordingOutput,
    lines: &[String],
    answer_timeout: Duration,
    realtime: bool,
) -> usize {
    let mut answered = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for line in lines {
        let before = output
            .notices()
            .iter()
            .filter(|n| matches!(n, SessionNotice::AgentTurnDone { .. }))
            .count();
        for f in silence_frames(100)
            .into_iter()
            .chain(speech_frames(line))
            .chain(silence_frames(400))
        {
            if realtime {
                tick.tick().await;
            }
            if !session.push_audio_wait(f).await {
                return answered;
            }
        }
        let deadline = tokio::time::Instant::now() + answer_timeout;
        loop {
            let done = output
                .notices()
                .iter()
                .filter(|n| matches!(n, SessionNotice::AgentTurnDone { .. }))
                .count();
            if done > before {
                answered += 1;
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            let changed = output.changed.notified();
            let _ = tokio::time::timeout_at(deadline, changed).await;
        }
    }
    answered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn echo_llm_streams_and_respects_max_tokens() {
        let (tx, mut rx) = mpsc::channel(64);
        let req = LlmRequest {
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: "hello there".into(),
            }],
            max_tokens: 3,
            temperature: 0.7,
            trace_id: "t".into(),
            seed_request: None,
            tools: Default::default(),
        };
        let usage = EchoLlm::default()
            .stream(req, tx, CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(usage.completion_tokens, 3);
        let mut text = String::new();
        while let Ok(t) = rx.try_recv() {
            text.push_str(&t);
        }
        assert_eq!(text, "You said: hello");
    }

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
