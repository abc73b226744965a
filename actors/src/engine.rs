//! Engine traits: what the session actors need from VAD, STT, LLM and TTS.
//!
//! Every call can be cancelled (a [`CancellationToken`]) and streams its output
//! through a bounded channel, so barge-in can stop a reply between tokens or
//! chunks. Implementations must never block the async runtime: blocking
//! inference belongs on a bounded blocking pool (see the `arc-models` crate).

use crate::audio::AudioFrame;
use crate::pcm16::Pcm16Frame;
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::mpsc;
pub use tokio_util::sync::CancellationToken;

/// Why an engine call did not produce a result.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum EngineError {
    #[error("{engine} timed out after {after_ms} ms")]
    Timeout { engine: &'static str, after_ms: u64 },
    #[error("{engine} failed: {message}")]
    Failed {
        engine: &'static str,
        message: String,
    },
    #[error("{engine} rejected its input: {message}")]
    BadInput {
        engine: &'static str,
        message: String,
    },
    #[error("cancelled")]
    Cancelled,
}

impl EngineError {
    /// The seed's `error_type` for this error (`agent.brain.error`).
    pub fn error_type(&self) -> &'static str {
        match self {
            EngineError::Timeout { .. } => "timeout",
            EngineError::Failed { .. } => "engine_failure",
            EngineError::BadInput { .. } => "bad_input",
            EngineError::Cancelled => "cancelled",
        }
    }
}

/// A boundary found by the voice activity detector, in audio time since the
/// stream began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    SpeechStart { at_ms: u64 },
    SpeechEnd { at_ms: u64 },
}

/// Per-session VAD state (Silero keeps a recurrent state per stream).
#[async_trait]
pub trait VadStream: Send {
    /// Feed one 20 ms frame at 16 kHz; returns the boundaries it completes.
    async fn push(&mut self, frame: &AudioFrame) -> Result<Option<VadEvent>, EngineError>;

    /// Inside a turn, the frames since the last speech are silence (the
    /// endpoint comes if it lasts): STT starts the final decode then.
    fn pausing(&self) -> bool {
        false
    }

    /// The silence (ms) after speech that ends a turn in this stream.
    fn silence_ms(&self) -> u64;

    /// The turn model ended the turn before the silence rule did: leave
    /// speech, so the next words start a new turn (and no late end comes).
    fn end_turn(&mut self);
}

/// A VAD model shared by all sessions; each session gets its own stream.
pub trait VadEngine: Send + Sync {
    fn name(&self) -> &str;
    fn stream(&self) -> Box<dyn VadStream>;
    /// A stream whose silence rule ends a turn after `silence_ms` instead of
    /// the engine's own setting: with a turn engine deciding first, the
    /// session's silence rule is only the longer limit behind it.
    fn stream_with_silence(&self, silence_ms: u64) -> Box<dyn VadStream>;
}

/// Semantic end of turn: has the user finished, judged from the turn so far?
///
/// The VAD hears silence, not meaning: "a table for … two" pauses where a
/// turn has not ended. A detector behind this trait is asked when the user
/// pauses (Smart Turn on the audio today; a text model on the transcript or
/// a remote service can follow).
#[async_trait]
pub trait TurnEngine: Send + Sync {
    fn name(&self) -> &str;
    /// The probability (0..=1) that the turn is complete. `audio` is the
    /// end of the turn so far (its last 8 s at most) at 16 kHz, ending in
    /// the pause.
    async fn completion(&self, audio: Arc<[f32]>) -> Result<f32, EngineError>;
}

/// Partial transcripts are cheap previews; the final one is what the Brain gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscribeKind {
    Partial,
    Final,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub text: String,
    /// 0.0..=1.0
    pub confidence: f64,
    /// How sure the engine is of the last word (0.0..=1.0), if it says. The
    /// end of turn uses it: a word cut short by a pause is the one most often
    /// misheard ("Boston to …" as "Boston Tooth"), and a misheard dangling
    /// word hides that the sentence goes on.
    pub last_word_confidence: Option<f64>,
}

#[async_trait]
pub trait SttEngine: Send + Sync {
    fn model(&self) -> &str;
    /// Transcribe one utterance (16 kHz mono).
    async fn transcribe(
        &self,
        audio: Arc<[f32]>,
        kind: TranscribeKind,
        cancel: CancellationToken,
    ) -> Result<Transcript, EngineError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlmRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    pub temperature: f64,
    /// Generation ends before any of these strings (OpenAI's `stop`).
    pub stop: Vec<String>,
    pub trace_id: String,
    /// The seed's `agent.brain.request` for this turn, when a session made
    /// it: what an external brain tier (over NATS) is sent.
    pub seed_request: Option<std::sync::Arc<crate::events::nats::BrainRequest>>,
    /// Tools the model may call, and this turn's calls so far with their results.
    pub tools: ToolUse,
}

/// A function the model may call (OpenAI tool calling).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON schema of the arguments (an `object` schema).
    pub parameters: serde_json::Value,
}

/// One call the model asked for; `arguments` is the JSON text it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// One round of tool use in a turn: the model's calls (and any words it said
/// with them) and the result of each, in the same order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolRound {
    pub text: String,
    pub calls: Vec<ToolCall>,
    pub results: Vec<String>,
}

/// The tools of a request: what may be called, and what was called so far.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolUse {
    pub specs: Vec<ToolSpec>,
    pub rounds: Vec<ToolRound>,
}

/// Why a tool gave no usable result. The model is told (an error result), the turn goes on.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ToolError {
    #[error("tool {tool} timed out after {after_ms} ms")]
    Timeout { tool: String, after_ms: u64 },
    #[error("tool {tool} failed: {message}")]
    Failed { tool: String, message: String },
    #[error("tool {tool} returned output that is not JSON: {message}")]
    BadOutput { tool: String, message: String },
    #[error("tool {tool} was called with arguments that are not a JSON object: {message}")]
    BadArguments { tool: String, message: String },
    #[error("no tool is named {tool}")]
    Unknown { tool: String },
}

impl ToolError {
    /// Label for events and metrics (`outcome`).
    pub fn outcome(&self) -> &'static str {
        match self {
            ToolError::Timeout { .. } => "timeout",
            ToolError::Failed { .. } => "failed",
            ToolError::BadOutput { .. } => "bad_output",
            ToolError::BadArguments { .. } => "bad_arguments",
            ToolError::Unknown { .. } => "unknown_tool",
        }
    }
}

/// Tools that live outside the session (HTTP endpoints); the Brain runs the
/// built-in ones itself.
#[async_trait]
pub trait ToolEngine: Send + Sync {
    fn specs(&self) -> Vec<ToolSpec>;
    /// Run one call; `Ok` is the JSON text the model is given. Ends within `timeout`.
    async fn call(
        &self,
        call: &ToolCall,
        timeout: std::time::Duration,
        cancel: CancellationToken,
    ) -> Result<String, ToolError>;
}

/// What a finished LLM stream reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmUsage {
    pub completion_tokens: u64,
    pub prompt_tokens: u64,
    /// The reply was cut at max_tokens: its unfinished last sentence is not spoken.
    pub truncated: bool,
    /// The model ended by asking for these calls (OpenAI `finish_reason = tool_calls`).
    pub tool_calls: Vec<ToolCall>,
    /// The model that answered, when the engine learns it with the answer (a
    /// remote brain tier names its worker's model); `None`: [`LlmEngine::model`].
    /// A session that stops listening at `max_sentences` still gets it from an
    /// engine that holds its whole answer by then.
    pub model: Option<String>,
}

#[async_trait]
pub trait LlmEngine: Send + Sync {
    fn model(&self) -> &str;
    /// The engine itself publishes the turn's seed `agent.brain.request` (the
    /// NATS brain tier's request is that event): the session must not mirror
    /// it a second time.
    fn publishes_seed_request(&self) -> bool {
        false
    }
    /// Stream the reply's text pieces into `tokens` until done or cancelled.
    async fn stream(
        &self,
        request: LlmRequest,
        tokens: mpsc::Sender<String>,
        cancel: CancellationToken,
    ) -> Result<LlmUsage, EngineError>;
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TtsOutcome {
    /// Duration of the audio produced.
    pub audio_ms: u64,
}

#[async_trait]
pub trait TtsEngine: Send + Sync {
    fn model(&self) -> &str;
    fn voice_id(&self) -> &str;
    /// Output sample rate of the chunks.
    fn sample_rate(&self) -> u32;
    /// Synthesize `text`, sending audio chunks as they are made (the first one
    /// before the whole text is done) and stopping between chunks when cancelled.
    /// The chunks are 16-bit, as the transports carry them and as the reply
    /// waits for the speaker: an engine that makes f32 converts once
    /// ([`Pcm16Frame::from_f32_samples`]), and the chunk waiting in the
    /// channel is half the size. A chunk is best made once the channel has
    /// room for it (`chunks.reserve()`, then the permit's `send`): while the
    /// speaker has enough queued, the channel's one chunk waits, and no
    /// further one in a pending `send`.
    async fn synthesize(
        &self,
        text: &str,
        chunks: mpsc::Sender<Pcm16Frame>,
        cancel: CancellationToken,
    ) -> Result<TtsOutcome, EngineError>;
}

/// The four engines one session uses. Models are shared: cloning this is cheap.
#[derive(Clone)]
pub struct Engines {
    pub vad: Arc<dyn VadEngine>,
    pub stt: Arc<dyn SttEngine>,
    pub llm: Arc<dyn LlmEngine>,
    pub tts: Arc<dyn TtsEngine>,
    /// The session's external tools (declared in config), if any.
    pub tools: Option<Arc<dyn ToolEngine>>,
    /// Semantic end of turn; none: the VAD's silence rule alone ends turns.
    pub turn: Option<Arc<dyn TurnEngine>>,
}

impl std::fmt::Debug for Engines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engines")
            .field("vad", &self.vad.name())
            .field("stt", &self.stt.model())
            .field("llm", &self.llm.model())
            .field("tts", &self.tts.model())
            .field("turn", &self.turn.as_ref().map(|t| t.name().to_string()))
            .finish()
    }
}
