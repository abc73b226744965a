//! Per-session settings (filled by the node from its configuration).

/// Identity of the conversation and everything the seeds' payloads name.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    pub session_id: String,
    pub conversation_id: String,
    pub user_id: String,
    pub agent_id: String,
    pub room_name: String,
    pub room_sid: String,
    pub participant_sid: String,
    /// The agent's own published audio track, when the transport has one.
    pub agent_track_sid: String,
    pub environment: String,
    pub region: String,
    /// The user's profile as the room or the caller knows it (agent.brain.request
    /// `context.user_profile`): where they are, and what they like.
    pub user_location: String,
    pub user_preferences: Vec<String>,
    /// How the user is connected ("udp" for WebRTC, "websocket", "file", "synthetic").
    pub connection_type: String,
    /// The voice-to-voice target the SLA is measured against.
    pub target_latency_ms: u64,
    /// Frames the audio queue holds before a live source drops the oldest.
    pub audio_queue_frames: usize,
    /// Frames the Stt takes from the queue at a time when told some arrived.
    pub frame_credits: usize,
    /// Child restarts allowed within `restart_window_ms` before the session gives up.
    pub max_restarts: u32,
    pub restart_window_ms: u64,
    pub stt: SttConfig,
    pub brain: BrainConfig,
    pub tts: TtsConfig,
    pub barge_in: BargeInConfig,
    pub audit: AuditConfig,
}

/// What user speech over the agent does.
#[derive(Debug, Clone, PartialEq)]
pub struct BargeInConfig {
    /// When the VAD fires over the agent, its audio pauses at once; if no
    /// words are transcribed by this long after the user stops, it was a
    /// false interruption (a cough, a door) and the reply resumes where it
    /// paused. 0 = no resume: any speech interrupts at once.
    pub false_interruption_ms: u64,
    /// The session releases agent audio to the transport at real-time pace
    /// (one frame per frame duration), so a barge-in drops what is not yet
    /// played and knows exactly which words were heard. Off for outputs that
    /// are not played live (files, load tests).
    pub paced_playout: bool,
}

impl Default for BargeInConfig {
    fn default() -> Self {
        Self {
            false_interruption_ms: 1500,
            paced_playout: false,
        }
    }
}

/// The compliance facts stamped on audit events (compliance-audit-v1).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditConfig {
    pub legal_basis: String,
    pub data_retention_policy: String,
    pub encryption: String,
    /// The user's consent record, when the caller has one.
    pub user_consent_id: String,
    /// PII is masked before events leave the node.
    pub anonymization: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            legal_basis: "legitimate_interest".into(),
            data_retention_policy: "30_days".into(),
            encryption: "TLS".into(),
            user_consent_id: String::new(),
            anonymization: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SttConfig {
    /// How often a partial transcript is made while the user speaks (0 = never).
    pub partial_interval_ms: u64,
    /// Audio kept from before the VAD fired, so the first syllable is not cut.
    pub preroll_ms: u64,
    /// An utterance longer than this is cut and transcribed.
    pub max_utterance_ms: u64,
    /// When the turn engine (if the engines have one) is asked.
    pub turn: TurnConfig,
}

/// Semantic end of turn (see [`TurnEngine`](crate::engine::TurnEngine)).
/// The VAD's silence rule stays behind it as the limit: with a turn engine
/// the session's VAD stream ends a turn after `max_silence_ms` (not the
/// engine's shorter silence), since the model decides first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TurnConfig {
    /// A pause this long inside a turn asks the turn engine whether the
    /// user is done; once per pause.
    pub pause_ms: u64,
    /// The engine's probability at or above which the turn is complete.
    pub threshold: f32,
    /// A probability from here up to `threshold` is a near miss: the turn
    /// ends at `uncertain_silence_ms` if the transcript is a finished
    /// sentence (ends in . ? or !, not on a word a sentence does not end on,
    /// its last word sure); otherwise at `max_silence_ms`. At or above
    /// `threshold`: off.
    pub near_threshold: f32,
    /// The longest silence before the turn ends anyway (the engine said
    /// incomplete, failed, or was slow).
    pub max_silence_ms: u64,
    /// The transcript's last word must be at least this sure (the STT
    /// engine's probability) for a complete verdict to end the turn at once
    /// (0 = not checked; engines that do not say are not checked).
    pub min_word_confidence: f64,
    /// The silence that ends a turn judged complete whose last word was
    /// less sure than that.
    pub uncertain_silence_ms: u64,
}

impl Default for TurnConfig {
    fn default() -> Self {
        Self {
            pause_ms: 200,
            threshold: 0.5,
            near_threshold: 0.4,
            max_silence_ms: 1500,
            min_word_confidence: 0.6,
            uncertain_silence_ms: 1000,
        }
    }
}

/// The default system prompt (config/default.toml says the same): English,
/// short, correct. Measured on the caller question set (BENCHMARKS.md).
pub(crate) const DEFAULT_SYSTEM_PROMPT: &str =
    "You are a helpful voice assistant. Answer the user's question in English with one short, correct sentence.";

/// The default example exchanges (config/default.toml says the same).
pub(crate) const DEFAULT_EXAMPLES: &[(&str, &str)] = &[
    (
        "What is the capital of Germany?",
        "The capital of Germany is Berlin.",
    ),
    (
        "How many hours are in a day?",
        "There are twenty-four hours in a day.",
    ),
];

#[derive(Debug, Clone, PartialEq)]
pub struct BrainConfig {
    pub system_prompt: String,
    /// Example exchanges (question, answer) shown to the model after the
    /// system prompt: how a small model learns the length and tone wanted.
    pub examples: Vec<(String, String)>,
    /// A reply ends after this many sentences (the model is stopped); 0 = no
    /// limit. Spoken answers are short.
    pub max_sentences: u32,
    /// Generation ends before any of these strings.
    pub stop: Vec<String>,
    pub max_tokens: u32,
    pub temperature: f64,
    /// Time allowed to the first token, and between tokens after that.
    pub timeout_ms: u64,
    pub fallback_text: String,
    /// Tokens of history kept in the prompt; past it older turns are
    /// summarized (or dropped).
    pub context_token_budget: usize,
    /// Fold the oldest turns into a summary made by the session's LLM
    /// instead of dropping them.
    pub summarize: bool,
    /// Longest summary the model may write.
    pub summary_max_tokens: u32,
    /// Built-in tools offered to the model (see [`crate::tools::BUILTINS`]).
    pub builtin_tools: Vec<String>,
    /// Most model → tools → model rounds in one turn.
    pub max_tool_rounds: u32,
    /// The whole turn (every model call and tool call) must end within this;
    /// past it the turn ends like a timeout (fallback when nothing was said).
    pub turn_timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TtsConfig {
    pub max_latency_ms: u64,
    /// Wire format named in `agent.tts.*` ("opus").
    pub format: String,
    /// Output sample rate named in `agent.tts.request` (24000).
    pub sample_rate: u32,
    /// A synthesis that gives no audio for this long is abandoned (a stalled
    /// engine must not hold the turn, or the session, forever).
    pub stall_timeout_ms: u64,
    /// Synthesized audio waits in the Tts (the engine paused) once this much
    /// is queued for the Playout and not yet played: a reply is not held in
    /// memory whole, and a barge-in has less to drop.
    pub max_ahead_ms: u64,
    /// The least audio kept queued for the Playout: what the engine's own
    /// pace does not call for (a fast engine) is not held. The lead between
    /// the two follows how long the engine takes to hand over a chunk
    /// (`tts_lead.rs`).
    pub min_ahead_ms: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        let session_id = crate::ids::prefixed("session");
        Self {
            conversation_id: session_id.replacen("session", "conv", 1),
            session_id,
            user_id: "anonymous".into(),
            agent_id: "arc-agent".into(),
            room_name: String::new(),
            room_sid: String::new(),
            participant_sid: String::new(),
            agent_track_sid: String::new(),
            environment: "development".into(),
            region: "local".into(),
            connection_type: "synthetic".into(),
            user_location: String::new(),
            user_preferences: Vec::new(),
            target_latency_ms: 2000,
            audio_queue_frames: 250,
            frame_credits: 16,
            max_restarts: 5,
            restart_window_ms: 60_000,
            stt: SttConfig::default(),
            brain: BrainConfig::default(),
            tts: TtsConfig::default(),
            barge_in: BargeInConfig::default(),
            audit: AuditConfig::default(),
        }
    }
}

impl Default for SttConfig {
    fn default() -> Self {
        Self {
            partial_interval_ms: 500,
            preroll_ms: 200,
            max_utterance_ms: 30_000,
            turn: TurnConfig::default(),
        }
    }
}

impl Default for BrainConfig {
    fn default() -> Self {
        Self {
            system_prompt: DEFAULT_SYSTEM_PROMPT.into(),
            examples: DEFAULT_EXAMPLES
                .iter()
                .map(|(q, a)| (q.to_string(), a.to_string()))
                .collect(),
            max_sentences: 2,
            stop: vec!["\n\n".into()],
            max_tokens: 150,
            temperature: 0.7,
            timeout_ms: 2000,
            fallback_text: "I'm having trouble processing that. Could you rephrase?".into(),
            context_token_budget: 1024,
            summarize: true,
            summary_max_tokens: 120,
            builtin_tools: Vec::new(),
            max_tool_rounds: 3,
            turn_timeout_ms: 10_000,
        }
    }
}

impl Default for TtsConfig {
    fn default() -> Self {
        Self {
            max_latency_ms: 500,
            format: "opus".into(),
            sample_rate: 24_000,
            stall_timeout_ms: 5000,
            max_ahead_ms: 1000,
            min_ahead_ms: 300,
        }
    }
}
