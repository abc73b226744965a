//! The `nats` brain of a session: the external brain tier over NATS, so the
//! LLM tier scales apart from the audio nodes. It sends the turn's seed
//! `agent.brain.request` by NATS request/reply and takes the seed's
//! `agent.brain.response` (or `agent.brain.error`) back. The session's own
//! timeout and fallback apply as with any engine; with no worker listening
//! NATS says so at once and the fallback is spoken. The other side of the
//! subject is `cluster::brain_worker` (`arc-agent brain`).

use arc_actors::engine::{
    CancellationToken, ChatRole, EngineError, LlmEngine, LlmRequest, LlmUsage,
};
use arc_actors::events::nats::{BrainError, BrainRequest, BrainResponse, Constraints, Context};
use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::mpsc;

const ENGINE: &str = "nats-brain";

/// A session's brain in the external tier.
#[derive(Debug, Clone)]
pub struct NatsBrainLlm {
    client: async_nats::Client,
    subject: String,
    model: String,
}

impl NatsBrainLlm {
    pub fn new(client: async_nats::Client, subject: impl Into<String>) -> Self {
        let subject = subject.into();
        Self {
            model: format!("nats:{subject}"),
            client,
            subject,
        }
    }
}

fn failed(message: impl std::fmt::Display) -> EngineError {
    EngineError::Failed {
        engine: ENGINE,
        message: message.to_string(),
    }
}

/// The seed request for `request` (the session's own when it made one).
fn seed_request(request: &LlmRequest) -> BrainRequest {
    if let Some(r) = &request.seed_request {
        return (**r).clone();
    }
    let user_input = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == ChatRole::User)
        .map(|m| m.content.clone())
        .unwrap_or_default();
    BrainRequest {
        request_id: arc_actors::ids::prefixed("req"),
        timestamp: Utc::now(),
        trace_id: request.trace_id.clone(),
        user_id: String::new(),
        session_id: String::new(),
        conversation_id: String::new(),
        turn_index: 0,
        user_input,
        context: Context {
            previous_turns: Vec::new(),
            user_profile: serde_json::Map::new(),
        },
        constraints: Constraints {
            max_tokens: u64::from(request.max_tokens),
            temperature: request.temperature,
            timeout_ms: 2000,
        },
    }
}

#[async_trait]
impl LlmEngine for NatsBrainLlm {
    fn model(&self) -> &str {
        &self.model
    }

    fn publishes_seed_request(&self) -> bool {
        self.subject == BrainRequest::SUBJECT
    }

    async fn stream(
        &self,
        request: LlmRequest,
        tokens: mpsc::Sender<String>,
        cancel: CancellationToken,
    ) -> Result<LlmUsage, EngineError> {
        let payload = serde_json::to_vec(&seed_request(&request)).map_err(failed)?;
        let reply = tokio::select! {
            _ = cancel.cancelled() => return Err(EngineError::Cancelled),
            r = self.client.request(self.subject.clone(), payload.into()) => r.map_err(failed)?,
        };
        if let Ok(resp) = serde_json::from_slice::<BrainResponse>(&reply.payload) {
            // The tier answers whole; hand it on word by word so sentences
            // are cut as with a streaming engine. A session that has all
            // the sentences it may say stops listening: the answer (and
            // which model gave it) is still the result.
            for (i, word) in resp.agent_response.split(' ').enumerate() {
                let piece = if i == 0 {
                    word.to_string()
                } else {
                    format!(" {word}")
                };
                if tokens.send(piece).await.is_err() {
                    break;
                }
            }
            return Ok(LlmUsage {
                completion_tokens: resp.metadata.tokens_used,
                prompt_tokens: 0,
                truncated: false,
                model: Some(resp.metadata.llm_model).filter(|m| !m.is_empty()),
                ..Default::default()
            });
        }
        match serde_json::from_slice::<BrainError>(&reply.payload) {
            Ok(e) => Err(failed(format!(
                "brain tier answered {}: {}",
                e.error_type, e.error_message
            ))),
            Err(e) => Err(failed(format!("unreadable brain tier reply: {e}"))),
        }
    }
}
