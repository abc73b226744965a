//! `arc-agent brain`: a brain-only worker in a NATS queue group on
//! `engines.llm.nats_subject`, so the LLM tier scales apart from the audio
//! nodes. Each request goes to exactly one worker, which runs its own brain
//! (the local `llm-server` child, an OpenAI-compatible endpoint) and replies with the
//! seed's `agent.brain.response` or `agent.brain.error`. Messages without a
//! reply subject (the node's own mirror of the event) are ignored. The
//! session side of the subject is `engines::nats_brain`.

use crate::config::Config;
use crate::engines::{self, EnginesError};
use arc_actors::engine::{CancellationToken, ChatMessage, ChatRole, LlmEngine, LlmRequest};
use arc_actors::events::nats::{
    BrainError, BrainPerformance, BrainRequest, BrainResponse, BrainResponseMetadata,
};
use chrono::Utc;
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// Why the worker could not run.
#[derive(Debug, thiserror::Error)]
pub enum BrainTierError {
    #[error(transparent)]
    Engines(#[from] EnginesError),
    #[error(transparent)]
    NatsSettings(#[from] crate::mirror::nats_connect::NatsSettingsError),
    #[error("cannot reach NATS at nats.url = {url}: {source}")]
    Connect {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("cannot subscribe to {subject} (queue {queue}): {source}")]
    Subscribe {
        subject: String,
        queue: String,
        source: async_nats::SubscribeError,
    },
}

/// The chat a worker sends its model for one seed request.
fn chat_for(
    req: &BrainRequest,
    system_prompt: &str,
    examples: &[(String, String)],
) -> Vec<ChatMessage> {
    let mut messages = vec![ChatMessage {
        role: ChatRole::System,
        content: system_prompt.to_string(),
    }];
    for (q, a) in examples {
        messages.push(ChatMessage {
            role: ChatRole::User,
            content: q.clone(),
        });
        messages.push(ChatMessage {
            role: ChatRole::Assistant,
            content: a.clone(),
        });
    }
    for t in &req.context.previous_turns {
        messages.push(ChatMessage {
            role: ChatRole::User,
            content: t.user.clone(),
        });
        messages.push(ChatMessage {
            role: ChatRole::Assistant,
            content: t.agent.clone(),
        });
    }
    messages.push(ChatMessage {
        role: ChatRole::User,
        content: req.user_input.clone(),
    });
    messages
}

fn error_reply(
    req_id: &str,
    trace_id: &str,
    kind: &str,
    message: String,
    fallback: &str,
) -> Vec<u8> {
    serde_json::to_vec(&BrainError {
        request_id: req_id.to_string(),
        timestamp: Utc::now(),
        trace_id: trace_id.to_string(),
        error_type: kind.to_string(),
        error_message: message,
        retry_count: 0,
        fallback_response: Some(fallback.to_string()),
        // The requester knows its session; the reply goes only to it.
        session_id: String::new(),
    })
    .unwrap_or_default()
}

/// Answers one request with `llm`: the seed's response, or its error.
async fn answer(llm: Arc<dyn LlmEngine>, payload: &[u8], cfg: &Config) -> (Vec<u8>, String) {
    let fallback = &cfg.session.brain.fallback_text;
    let req: BrainRequest = match serde_json::from_slice(payload) {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("agent.brain.request is not valid: {e}");
            return (
                error_reply("", "", "bad_input", msg, fallback),
                String::new(),
            );
        }
    };
    for (field, value) in [
        ("session_id", &req.session_id),
        ("conversation_id", &req.conversation_id),
        ("user_id", &req.user_id),
    ] {
        if let Err(e) = arc_actors::ids::check_identifier(field, value) {
            let msg = format!("agent.brain.request is not valid: {e}");
            return (
                error_reply(&req.request_id, &req.trace_id, "bad_input", msg, fallback),
                String::new(),
            );
        }
    }
    let started = Instant::now();
    let request = LlmRequest {
        messages: chat_for(
            &req,
            &cfg.session.brain.system_prompt,
            &cfg.session.brain.examples,
        ),
        max_tokens: req.constraints.max_tokens.clamp(1, 4096) as u32,
        temperature: req.constraints.temperature.clamp(0.0, 2.0),
        stop: cfg.session.brain.stop.clone(),
        trace_id: req.trace_id.clone(),
        seed_request: None,
        tools: Default::default(),
    };
    let (tx, mut rx) = mpsc::channel::<String>(256);
    let collect = tokio::spawn(async move {
        let mut text = String::new();
        while let Some(p) = rx.recv().await {
            text.push_str(&p);
        }
        text
    });
    let deadline = Duration::from_millis(req.constraints.timeout_ms.clamp(1, 60_000));
    let cancel = CancellationToken::new();
    let result = tokio::time::timeout(deadline, llm.stream(request, tx, cancel.clone())).await;
    cancel.cancel();
    let text = collect.await.unwrap_or_default();
    let llm_ms = started.elapsed().as_millis() as u64;
    let reply = match result {
        Ok(Ok(usage)) => serde_json::to_vec(&BrainResponse {
            request_id: req.request_id.clone(),
            timestamp: Utc::now(),
            trace_id: req.trace_id.clone(),
            user_id: req.user_id.clone(),
            session_id: req.session_id.clone(),
            conversation_id: req.conversation_id.clone(),
            turn_index: req.turn_index,
            agent_response: text.trim().to_string(),
            metadata: BrainResponseMetadata {
                llm_model: llm.model().to_string(),
                tokens_used: usage.completion_tokens,
                reasoning_steps: 1,
                tools_called: Vec::new(),
                confidence_score: 1.0,
            },
            performance: BrainPerformance {
                llm_latency_ms: llm_ms,
                total_processing_ms: started.elapsed().as_millis() as u64,
                time_to_first_token_ms: None,
            },
        })
        .unwrap_or_default(),
        Ok(Err(e)) => error_reply(
            &req.request_id,
            &req.trace_id,
            e.error_type(),
            e.to_string(),
            fallback,
        ),
        Err(_) => error_reply(
            &req.request_id,
            &req.trace_id,
            BrainError::ERROR_TYPE_TIMEOUT,
            format!("the worker's model took over {} ms", deadline.as_millis()),
            fallback,
        ),
    };
    (reply, req.request_id)
}

/// `arc-agent brain`: answer `engines.llm.nats_subject` in queue group
/// `engines.llm.nats_queue` until `stop`.
pub async fn run_worker(mut cfg: Config, stop: CancellationToken) -> Result<(), BrainTierError> {
    cfg.engines.llm.brain = cfg.engines.llm.worker_brain.into();
    let (llm, _server) = engines::load_brain(&cfg).await?;
    let client = crate::mirror::nats_connect::options(&cfg.nats)
        .await?
        .name("arc-brain")
        .connect(&cfg.nats.url)
        .await
        .map_err(|source| BrainTierError::Connect {
            url: crate::config::redacted_url(&cfg.nats.url),
            source,
        })?;
    let subject = cfg.engines.llm.nats_subject.clone();
    let queue = cfg.engines.llm.nats_queue.clone();
    let mut sub = client
        .queue_subscribe(subject.clone(), queue.clone())
        .await
        .map_err(|source| BrainTierError::Subscribe {
            subject: subject.clone(),
            queue: queue.clone(),
            source,
        })?;
    tracing::info!(%subject, %queue, brain = %llm.model(), "brain worker ready");
    let cfg = Arc::new(cfg);
    let slots = Arc::new(Semaphore::new(cfg.engines.llm.parallel.max(1) as usize));
    loop {
        let msg = tokio::select! {
            _ = stop.cancelled() => break,
            m = sub.next() => match m {
                Some(m) => m,
                None => break,
            },
        };
        // The node's mirror publishes the same subject with no reply: not a request.
        let Some(reply_to) = msg.reply.clone() else {
            continue;
        };
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let (llm, client, cfg) = (llm.clone(), client.clone(), cfg.clone());
        tokio::spawn(async move {
            let (reply, request_id) = answer(llm, &msg.payload, &cfg).await;
            if let Err(e) = client.publish(reply_to, reply.into()).await {
                tracing::warn!(%request_id, error = %e, "brain reply not sent");
            } else {
                tracing::info!(%request_id, "brain request answered");
            }
            drop(permit);
        });
    }
    let _ = sub.unsubscribe().await;
    let _ = client.flush().await;
    Ok(())
}
