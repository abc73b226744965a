//! Values derived from a loaded [`Config`] for the rest of the node: the
//! LiveKit server and keys (with LiveKit's own variables as fallback), the
//! dispatch limit, the spool directory, the HTTP tools, and the session core's
//! [`arc_actors::session::SessionConfig`].

use super::session::ToolSection;
use super::Config;
use std::path::PathBuf;

/// Where the LiveKit server is when neither the config nor LIVEKIT_URL says.
pub const LIVEKIT_DEFAULT_URL: &str = "ws://127.0.0.1:7880";

impl Config {
    /// The LiveKit server and key pair: the config's values, else LiveKit's
    /// own LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET, else (url only)
    /// [`LIVEKIT_DEFAULT_URL`].
    pub fn livekit_credentials(&self) -> arc_rooms::Credentials {
        self.livekit_credentials_from(|k| std::env::var(k).ok())
    }

    /// [`Config::livekit_credentials`] with the environment given.
    pub fn livekit_credentials_from(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> arc_rooms::Credentials {
        let pick = |configured: &str, var: &str| {
            let c = configured.trim();
            if !c.is_empty() {
                return c.to_string();
            }
            env(var).map(|v| v.trim().to_string()).unwrap_or_default()
        };
        let mut url = pick(&self.livekit.url, "LIVEKIT_URL");
        if url.is_empty() {
            url = LIVEKIT_DEFAULT_URL.to_string();
        }
        arc_rooms::Credentials {
            url,
            api_key: pick(&self.livekit.api_key, "LIVEKIT_API_KEY"),
            api_secret: pick(&self.livekit.api_secret, "LIVEKIT_API_SECRET"),
        }
    }

    /// Sessions above which this node takes no new work (dispatch, LiveKit jobs).
    pub fn dispatch_max_sessions(&self) -> usize {
        match self.dispatch.max_sessions {
            0 => self.node.max_sessions,
            n => n.min(self.node.max_sessions),
        }
    }

    /// The spool directory (explicit, or `<data_dir>/spool`).
    pub fn spool_dir(&self) -> PathBuf {
        if self.pulsar.spool_dir.as_os_str().is_empty() {
            self.node.data_dir.join("spool")
        } else {
            self.pulsar.spool_dir.clone()
        }
    }

    /// The HTTP tools of `[[session.brain.tools]]`, if any are declared.
    pub fn http_tools(&self) -> Option<std::sync::Arc<arc_models::tools::HttpTools>> {
        let tools = &self.session.brain.tools;
        (!tools.is_empty()).then(|| {
            std::sync::Arc::new(arc_models::tools::HttpTools::new(
                tools.iter().map(ToolSection::http_tool).collect(),
            ))
        })
    }

    /// Session settings for a new conversation.
    pub fn session_config(&self) -> arc_actors::session::SessionConfig {
        use arc_actors::session::{BrainConfig, SessionConfig, SttConfig, TtsConfig, TurnConfig};
        let s = &self.session;
        SessionConfig {
            agent_id: s.agent_id.clone(),
            environment: self.node.environment.clone(),
            region: self.node.region.clone(),
            target_latency_ms: s.target_latency_ms,
            audio_queue_frames: s.audio_queue_frames,
            frame_credits: s.frame_credits,
            max_restarts: s.max_restarts,
            restart_window_ms: s.restart_window_ms,
            stt: SttConfig {
                partial_interval_ms: s.stt.partial_interval_ms,
                preroll_ms: s.stt.preroll_ms,
                max_utterance_ms: s.stt.max_utterance_ms,
                turn: TurnConfig {
                    pause_ms: self.engines.turn.pause_ms,
                    threshold: self.engines.turn.threshold,
                    max_silence_ms: self.engines.turn.max_silence_ms,
                    near_threshold: self.engines.turn.near_threshold,
                    min_word_confidence: self.engines.turn.min_word_confidence,
                    uncertain_silence_ms: self.engines.turn.uncertain_silence_ms,
                },
            },
            brain: BrainConfig {
                system_prompt: s.brain.system_prompt.clone(),
                examples: s.brain.examples.clone(),
                max_sentences: s.brain.max_sentences,
                stop: s.brain.stop.clone(),
                max_tokens: s.brain.max_tokens,
                temperature: s.brain.temperature,
                timeout_ms: s.brain.timeout_ms,
                fallback_text: s.brain.fallback_text.clone(),
                context_token_budget: s.brain.context_token_budget,
                summarize: s.brain.summarize,
                summary_max_tokens: s.brain.summary_max_tokens,
                builtin_tools: s.brain.builtin_tools.clone(),
                max_tool_rounds: s.brain.max_tool_rounds,
                turn_timeout_ms: s.brain.turn_timeout_ms,
            },
            tts: TtsConfig {
                max_latency_ms: s.tts.max_latency_ms,
                format: s.tts.format.as_str().to_string(),
                sample_rate: s.tts.sample_rate,
                stall_timeout_ms: s.tts.stall_timeout_ms,
                max_ahead_ms: s.tts.max_ahead_ms,
                min_ahead_ms: s.tts.min_ahead_ms,
            },
            barge_in: arc_actors::session::BargeInConfig {
                false_interruption_ms: s.barge_in.false_interruption_ms,
                paced_playout: s.barge_in.paced_playout,
            },
            audit: arc_actors::session::AuditConfig {
                anonymization: self.privacy.redact_pii,
                ..Default::default()
            },
            ..SessionConfig::default()
        }
    }
}
