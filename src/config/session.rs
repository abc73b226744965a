//! `[session]`: what every conversation starts with (`[session.stt]`,
//! `[session.brain]` with its `[[session.brain.tools]]`, `[session.tts]`,
//! `[session.barge_in]`).

use super::choices::{HttpMethod, ToolKind, TtsFormat};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SessionSection {
    pub agent_id: String,
    pub target_latency_ms: u64,
    pub audio_queue_frames: usize,
    pub frame_credits: usize,
    pub max_restarts: u32,
    pub restart_window_ms: u64,
    pub stt: SttSection,
    pub brain: BrainSection,
    pub tts: TtsSection,
    pub barge_in: BargeInSection,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BargeInSection {
    pub false_interruption_ms: u64,
    pub paced_playout: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SttSection {
    pub partial_interval_ms: u64,
    pub preroll_ms: u64,
    pub max_utterance_ms: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BrainSection {
    pub system_prompt: String,
    /// (question, answer) pairs shown to the model after the system prompt.
    pub examples: Vec<(String, String)>,
    pub max_sentences: u32,
    pub stop: Vec<String>,
    pub max_tokens: u32,
    pub temperature: f64,
    pub timeout_ms: u64,
    pub fallback_text: String,
    pub context_token_budget: usize,
    pub summarize: bool,
    pub summary_max_tokens: u32,
    pub turn_timeout_ms: u64,
    pub max_tool_rounds: u32,
    pub builtin_tools: Vec<String>,
    pub tools: Vec<ToolSection>,
}

/// One `[[session.brain.tools]]` entry: an HTTP endpoint the model may call.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ToolSection {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub kind: ToolKind,
    pub url: String,
    #[serde(default)]
    pub method: HttpMethod,
    /// JSON schema of the arguments: a TOML table, or a JSON string.
    pub parameters: serde_json::Value,
    #[serde(default = "tool_timeout_ms")]
    pub timeout_ms: u64,
}

fn tool_timeout_ms() -> u64 {
    2000
}

impl ToolSection {
    /// The argument schema as JSON (a JSON string is parsed).
    pub fn schema(&self) -> Result<serde_json::Value, String> {
        let v = match &self.parameters {
            serde_json::Value::String(s) => {
                serde_json::from_str(s).map_err(|e| format!("not valid JSON: {e}"))?
            }
            v => v.clone(),
        };
        if v.get("type").and_then(|t| t.as_str()) != Some("object") {
            return Err("must be a JSON schema with \"type\" = \"object\"".into());
        }
        if v.get("properties").is_some_and(|p| !p.is_object()) {
            return Err("\"properties\" must be a table".into());
        }
        Ok(v)
    }

    /// The tool for the engine (call after `validate`).
    pub fn http_tool(&self) -> arc_models::tools::HttpTool {
        arc_models::tools::HttpTool {
            name: self.name.clone(),
            description: self.description.clone(),
            url: self.url.clone(),
            method: self.method.as_str().to_string(),
            parameters: self
                .schema()
                .unwrap_or_else(|_| serde_json::json!({"type": "object"})),
            timeout: std::time::Duration::from_millis(self.timeout_ms),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TtsSection {
    pub max_latency_ms: u64,
    pub format: TtsFormat,
    pub sample_rate: u32,
    pub stall_timeout_ms: u64,
    pub max_ahead_ms: u64,
    pub min_ahead_ms: u64,
}
