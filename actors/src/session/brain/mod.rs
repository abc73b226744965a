//! Brain: builds the prompt from the session's history, streams the LLM reply,
//! cuts it into sentences and hands each to Tts at once. The seed's limits are
//! enforced here: max_tokens and temperature go to the engine; the timeout
//! (to the first token, then between tokens) ends in the fallback sentence and
//! an `agent.brain.error`; the session goes on either way.

use super::emit;
use super::messages::{
    AgentRecord, BrainMsg, LlmOutcome, PlayoutMsg, SessionNotice, TtsMsg, UserTurn,
};
use super::reply::Reply;
use super::shared::Shared;
use super::turn_parts::TurnPart;
use crate::context::Exchange;
use crate::emit::service_error;
use crate::engine::{
    CancellationToken, EngineError, LlmRequest, LlmUsage, ToolCall, ToolError, ToolRound, ToolSpec,
    ToolUse,
};
use crate::sentence::SentenceSplitter;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::Instrument;

mod summary;

pub(crate) struct BrainActor;

pub(crate) struct BrainState {
    shared: Arc<Shared>,
    current: Option<(u64, CancellationToken)>,
}

impl Drop for BrainState {
    fn drop(&mut self) {
        if let Some((_, c)) = &self.current {
            c.cancel();
        }
    }
}

impl Actor for BrainActor {
    type Msg = BrainMsg;
    type State = BrainState;
    type Arguments = Arc<Shared>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        shared: Arc<Shared>,
    ) -> Result<Self::State, ActorProcessingErr> {
        // A summary its predecessor asked for will never be delivered here.
        shared.with_context(|c| c.summary_abandoned());
        // A predecessor died while answering: answer that turn, don't leave the user hanging.
        if let Some(turn) = shared.inflight() {
            let _ = myself.cast(BrainMsg::Recover(turn));
        }
        Ok(BrainState {
            shared,
            current: None,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BrainMsg::UserTurn(t) => st.start_turn(&myself, t),
            BrainMsg::Finished(outcome) => {
                st.finish_turn(*outcome);
                st.maybe_summarize(&myself);
            }
            BrainMsg::Summarized(result) => st.take_summary(result),
            BrainMsg::BargeIn => {
                if let Some((turn, c)) = &st.current {
                    tracing::debug!(session_id = %st.shared.config.session_id, turn, "LLM stream cancelled by barge-in");
                    c.cancel();
                }
            }
            BrainMsg::Recover(t) => {
                let request_id = crate::ids::prefixed("req");
                tracing::warn!(session_id = %st.shared.config.session_id, trace_id = %t.trace_id, turn = t.turn, "brain restarted mid-turn: answering with the fallback");
                let outcome = LlmOutcome {
                    turn: t.turn,
                    trace_id: t.trace_id.clone(),
                    request_id,
                    user_text: t.text.clone(),
                    spoken: String::new(),
                    sentences: 0,
                    first_sentence_ms: None,
                    first_token_ms: None,
                    latency_ms: 0,
                    result: Err(EngineError::Failed {
                        engine: "brain",
                        message: "brain actor restarted while answering".into(),
                    }),
                    context_tokens: 0,
                    previous_turns: 0,
                    span: t.span.clone(),
                    tools: Vec::new(),
                };
                st.current = Some((t.turn, CancellationToken::new()));
                st.finish_turn_with_type(outcome, Some("actor_restart"));
            }
            BrainMsg::Fault => panic!("fault injected into brain"),
        }
        Ok(())
    }
}

impl BrainState {
    fn start_turn(&mut self, myself: &ActorRef<BrainMsg>, t: UserTurn) {
        if let Some((_, c)) = self.current.take() {
            c.cancel(); // a newer utterance supersedes an unfinished reply
        }
        let cfg = &self.shared.config;
        let (messages, previous, context_tokens) = self.shared.with_context(|c| {
            (
                c.messages_for(&t.text),
                c.exchanges().to_vec(),
                c.prompt_tokens(&t.text) as u64,
            )
        });
        let request_id = crate::ids::prefixed("req");
        let seed_event =
            emit::brain_request(cfg, &request_id, &t.trace_id, t.turn, &t.text, &previous);
        let seed_request = match &seed_event {
            crate::events::Event::BrainRequest(r) => Some(Arc::new(r.clone())),
            _ => None,
        };
        // With the NATS brain tier the request itself is this event on its subject.
        if !self.shared.engines.llm.publishes_seed_request() {
            self.shared.sink.emit(seed_event);
        }
        if !previous.is_empty() {
            self.shared.sink.emit(emit::audit(
                &self.shared.identity,
                cfg,
                &emit::DataAccess {
                    event_type: "user_data_accessed",
                    operation: "read",
                    resource: "user_conversation_history",
                    reason: "context_retrieval_for_llm",
                    tables: &["session.conversation_history"],
                    row_count: previous.len() as u64,
                    columns: &["user_input", "agent_response"],
                    pii_fields: &["user_input"],
                },
                &t.trace_id,
            ));
        }
        self.shared.set_inflight(Some(t.clone()));
        let cancel = CancellationToken::new();
        self.current = Some((t.turn, cancel.clone()));
        let request = LlmRequest {
            messages,
            max_tokens: cfg.brain.max_tokens,
            temperature: cfg.brain.temperature,
            stop: cfg.brain.stop.clone(),
            trace_id: t.trace_id.clone(),
            seed_request,
            tools: ToolUse {
                specs: tool_specs(&self.shared),
                rounds: Vec::new(),
            },
        };
        let shared = self.shared.clone();
        let me = myself.clone();
        let previous_turns = previous.len() as u64;
        let llm_span = tracing::info_span!(parent: &t.span, "llm", model = %self.shared.engines.llm.model(), turn = t.turn);
        tokio::spawn(
            async move {
                let outcome = run_llm(
                    shared,
                    request,
                    cancel,
                    t,
                    request_id,
                    context_tokens,
                    previous_turns,
                )
                .await;
                let _ = me.cast(BrainMsg::Finished(Box::new(outcome)));
            }
            .instrument(llm_span),
        );
    }

    fn finish_turn(&mut self, mut outcome: LlmOutcome) {
        // A reply with nothing to speak (a small model that starts with the
        // blank line it is told to stop at) would leave the caller in
        // silence: it is a failed turn, answered with the fallback.
        if outcome.result.is_ok() && outcome.sentences == 0 && outcome.spoken.trim().is_empty() {
            outcome.result = Err(EngineError::Failed {
                engine: "llm",
                message: "the model ended its reply without a word".into(),
            });
            return self.finish_turn_with_type(outcome, Some("empty_response"));
        }
        self.finish_turn_with_type(outcome, None)
    }

    fn finish_turn_with_type(&mut self, outcome: LlmOutcome, error_type: Option<&str>) {
        // A reply superseded by a newer utterance is still closed out (what it
        // spoke stays in the history, the turn is archived), it just says no more.
        let is_current = self.current.as_ref().map(|(t, _)| *t) == Some(outcome.turn);
        if is_current {
            self.current = None;
        }
        let cfg = &self.shared.config;
        let llm = self.shared.engines.llm.clone();
        // The model that answered (a brain tier's worker), else the engine's own.
        let model = match &outcome.result {
            Ok(LlmUsage { model: Some(m), .. }) => m.clone(),
            _ => llm.model().to_string(),
        };
        let mut spoken = outcome.spoken.clone();
        let tokens = match &outcome.result {
            Ok(usage) => {
                self.shared.sink.emit(emit::brain_response(
                    cfg,
                    &outcome.request_id,
                    &outcome.trace_id,
                    outcome.turn,
                    &outcome.spoken,
                    &model,
                    usage.completion_tokens,
                    outcome.latency_ms,
                    outcome.first_token_ms,
                    &outcome.tools,
                ));
                usage.completion_tokens
            }
            // Barge-in or superseded: only what was spoken stays.
            Err(EngineError::Cancelled) => 0,
            Err(_) if !is_current => 0,
            Err(e) => {
                let error_type = error_type.unwrap_or(e.error_type());
                tracing::warn!(session_id = %cfg.session_id, trace_id = %outcome.trace_id, turn = outcome.turn, error = %e, "LLM failed: speaking the fallback");
                self.shared.sink.emit(emit::brain_error(
                    &cfg.session_id,
                    &outcome.request_id,
                    &outcome.trace_id,
                    error_type,
                    &e.to_string(),
                    0,
                    &cfg.brain.fallback_text,
                ));
                self.shared.sink.emit(service_error(
                    &self.shared.identity,
                    "llm_failure",
                    &format!("turn {} of session {}: {e}", outcome.turn, cfg.session_id),
                    "warning",
                    "fallback_response",
                    &outcome.trace_id,
                ));
                if outcome.sentences == 0 {
                    spoken = cfg.brain.fallback_text.clone();
                    self.shared
                        .to_playout(PlayoutMsg::Notice(SessionNotice::AgentSentence {
                            turn: outcome.turn,
                            text: spoken.clone(),
                        }));
                    self.shared.to_tts(TtsMsg::Speak {
                        turn: outcome.turn,
                        trace_id: outcome.trace_id.clone(),
                        text: spoken.clone(),
                        span: outcome.span.clone(),
                    });
                }
                0
            }
        };
        self.shared.to_tts(TtsMsg::EndOfTurn { turn: outcome.turn });
        if !spoken.is_empty() {
            self.shared.with_context(|c| {
                c.push_turn(
                    outcome.turn,
                    Exchange {
                        user: outcome.user_text.clone(),
                        agent: spoken.clone(),
                    },
                )
            });
        }
        self.shared.record_part(TurnPart::Agent(AgentRecord {
            turn: outcome.turn,
            text: spoken,
            llm_model: model,
            tokens,
            llm_latency_ms: outcome.latency_ms,
            first_sentence_ms: outcome.first_sentence_ms.unwrap_or(outcome.latency_ms),
            context_tokens: outcome.context_tokens,
            previous_turns: outcome.previous_turns,
            tools: outcome.tools.clone(),
        }));
        self.shared.clear_inflight(outcome.turn);
    }
}

/// The tools this session offers: its enabled built-ins, then the declared ones.
fn tool_specs(shared: &Shared) -> Vec<ToolSpec> {
    let mut specs: Vec<ToolSpec> = shared
        .config
        .brain
        .builtin_tools
        .iter()
        .filter_map(|n| crate::tools::builtin_spec(n))
        .collect();
    if let Some(t) = &shared.engines.tools {
        specs.extend(t.specs());
    }
    specs
}

/// How long a stopped engine may take to end and report its model.
const STOPPED_ENGINE_GRACE: Duration = Duration::from_millis(50);

/// One model call: tokens into `reply`; the timeout covers the wait for the
/// first token and every gap between tokens, and `turn_deadline` the whole turn.
async fn stream_once(
    shared: &Shared,
    request: LlmRequest,
    cancel: &CancellationToken,
    turn_deadline: tokio::time::Instant,
    turn_timeout_ms: u64,
    reply: &mut Reply<'_>,
) -> Result<LlmUsage, EngineError> {
    let timeout = Duration::from_millis(shared.config.brain.timeout_ms.max(1));
    let pieces_before = reply.pieces;
    let (tx, mut rx) = mpsc::channel::<String>(64);
    let llm = shared.engines.llm.clone();
    let engine_cancel = cancel.child_token();
    let stream = llm.stream(request, tx, engine_cancel.clone());
    tokio::pin!(stream);
    let mut engine_result: Option<Result<LlmUsage, EngineError>> = None;
    let timeout_err = |at: tokio::time::Instant| EngineError::Timeout {
        engine: "llm",
        after_ms: if at >= turn_deadline {
            turn_timeout_ms
        } else {
            timeout.as_millis() as u64
        },
    };
    let mut deadline = (tokio::time::Instant::now() + timeout).min(turn_deadline);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => {
                engine_cancel.cancel();
                return Err(EngineError::Cancelled);
            }
            _ = tokio::time::sleep_until(deadline) => {
                engine_cancel.cancel();
                return Err(timeout_err(deadline));
            }
            token = rx.recv() => match token {
                Some(tok) => {
                    deadline = (tokio::time::Instant::now() + timeout).min(turn_deadline);
                    reply.push(&tok);
                    if reply.full() {
                        // Enough said: stop the model; the reply is complete.
                        // An engine that already holds its whole answer (a
                        // brain tier) ends at once when no one listens, and
                        // says which model answered; a streaming one is
                        // cancelled and the node's own model stands.
                        engine_cancel.cancel();
                        drop(rx);
                        let ended = match engine_result.take() {
                            Some(r) => Some(r),
                            None => tokio::time::timeout(STOPPED_ENGINE_GRACE, &mut stream).await.ok(),
                        };
                        let model = match ended {
                            Some(Ok(usage)) => usage.model,
                            _ => None,
                        };
                        return Ok(LlmUsage {
                            completion_tokens: reply.pieces - pieces_before,
                            model,
                            ..LlmUsage::default()
                        });
                    }
                }
                None => {
                    // The engine dropped its sender: its result is ready or about to be.
                    return match engine_result.take() {
                        Some(r) => r,
                        None => tokio::select! {
                            r = &mut stream => r,
                            _ = tokio::time::sleep_until(deadline) => Err(timeout_err(deadline)),
                        },
                    };
                }
            },
            r = &mut stream, if engine_result.is_none() => {
                // Drain what is already queued before acting on the result.
                engine_result = Some(r);
            }
        }
    }
}

/// Run one tool call (a built-in here, a declared one on the tool engine),
/// within `budget`. Every failure becomes an error result for the model.
async fn run_tool(
    shared: &Shared,
    turn: u64,
    call: &ToolCall,
    budget: Duration,
    cancel: &CancellationToken,
) -> (&'static str, String) {
    let builtin = shared.config.brain.builtin_tools.contains(&call.name);
    let result: Result<String, ToolError> = if builtin && call.name == crate::tools::CURRENT_TIME {
        Ok(crate::tools::current_time(chrono::Utc::now()))
    } else if builtin && call.name == crate::tools::END_CALL {
        shared.end_after(turn);
        Ok(serde_json::json!({"ok": true, "note": "the call ends after your reply"}).to_string())
    } else {
        match &shared.engines.tools {
            Some(engine) if engine.specs().iter().any(|s| s.name == call.name) => {
                match serde_json::from_str::<serde_json::Value>(
                    if call.arguments.trim().is_empty() {
                        "{}"
                    } else {
                        &call.arguments
                    },
                ) {
                    Ok(serde_json::Value::Object(_)) => {
                        // The engine keeps to its own timeout; this bounds it by the turn too.
                        match tokio::time::timeout(
                            budget,
                            engine.call(call, budget, cancel.child_token()),
                        )
                        .await
                        {
                            Ok(r) => r,
                            Err(_) => Err(ToolError::Timeout {
                                tool: call.name.clone(),
                                after_ms: budget.as_millis() as u64,
                            }),
                        }
                    }
                    Ok(other) => Err(ToolError::BadArguments {
                        tool: call.name.clone(),
                        message: format!("expected an object, got {other}"),
                    }),
                    Err(e) => Err(ToolError::BadArguments {
                        tool: call.name.clone(),
                        message: e.to_string(),
                    }),
                }
            }
            _ => Err(ToolError::Unknown {
                tool: call.name.clone(),
            }),
        }
    };
    match result {
        Ok(r) => (crate::events::nats::ToolResult::OUTCOME_OK, r),
        Err(e) => {
            tracing::warn!(session_id = %shared.config.session_id, turn, tool = %call.name, error = %e, "tool call failed: the model gets an error result");
            (e.outcome(), crate::tools::error_result(&e.to_string()))
        }
    }
}

/// Stream one reply: sentences go to Tts as they complete. When the model
/// asks for tools, they are run, their results given back, and the model
/// asked again (up to `max_tool_rounds`), all within the turn's deadline.
async fn run_llm(
    shared: Arc<Shared>,
    mut request: LlmRequest,
    cancel: CancellationToken,
    turn: UserTurn,
    request_id: String,
    context_tokens: u64,
    previous_turns: u64,
) -> LlmOutcome {
    let started = Instant::now();
    let brain = &shared.config.brain;
    let turn_timeout_ms = brain.turn_timeout_ms.max(1);
    let turn_deadline = tokio::time::Instant::now() + Duration::from_millis(turn_timeout_ms);
    let mut reply = Reply {
        shared: &shared,
        turn: &turn,
        started,
        splitter: SentenceSplitter::new(),
        spoken: String::new(),
        sentences: 0,
        ended: 0,
        max_sentences: brain.max_sentences,
        pieces: 0,
        first_sentence_ms: None,
        first_token_ms: None,
    };
    let mut tools_used = Vec::new();
    let mut tokens = 0u64;
    let mut rounds = 0u32;
    let result = loop {
        let said_before = reply.spoken.len();
        let r = stream_once(
            &shared,
            request.clone(),
            &cancel,
            turn_deadline,
            turn_timeout_ms,
            &mut reply,
        )
        .await;
        let mut usage = match r {
            Ok(u) => u,
            Err(e) => break Err(e),
        };
        tokens += usage.completion_tokens;
        if usage.tool_calls.is_empty() {
            usage.completion_tokens = tokens;
            reply.finish(usage.truncated);
            break Ok(usage);
        }
        // Words said with the calls are spoken now, before the tools run.
        reply.finish(false);
        if rounds >= brain.max_tool_rounds {
            tracing::warn!(session_id = %shared.config.session_id, turn = turn.turn, rounds, "the model still asks for tools after the last round");
            if reply.sentences > 0 {
                usage.completion_tokens = tokens;
                usage.tool_calls.clear();
                break Ok(usage);
            }
            break Err(EngineError::Failed {
                engine: "brain",
                message: format!("the model asked for tools after {rounds} rounds"),
            });
        }
        rounds += 1;
        let text = reply.spoken[said_before..].trim().to_string();
        let mut results = Vec::with_capacity(usage.tool_calls.len());
        for call in &usage.tool_calls {
            let r = emit::ToolCallRef {
                request_id: &request_id,
                trace_id: &turn.trace_id,
                turn: turn.turn,
                call_id: &call.id,
                tool: &call.name,
            };
            shared
                .sink
                .emit(emit::tool_call(&shared.config, &r, &call.arguments));
            tools_used.push(call.name.clone());
            let t0 = Instant::now();
            let budget = turn_deadline.saturating_duration_since(tokio::time::Instant::now());
            let (outcome, result) = tokio::select! {
                _ = cancel.cancelled() => ("cancelled", crate::tools::error_result("cancelled")),
                r = run_tool(&shared, turn.turn, call, budget, &cancel) => r,
            };
            shared.sink.emit(emit::tool_result(
                &shared.config,
                &r,
                outcome,
                &result,
                t0.elapsed().as_millis() as u64,
            ));
            results.push(result);
        }
        if cancel.is_cancelled() {
            break Err(EngineError::Cancelled);
        }
        request.tools.rounds.push(ToolRound {
            text,
            calls: usage.tool_calls,
            results,
        });
    };
    LlmOutcome {
        turn: turn.turn,
        trace_id: turn.trace_id.clone(),
        request_id,
        user_text: turn.text.clone(),
        spoken: reply.spoken,
        sentences: reply.sentences,
        first_sentence_ms: reply.first_sentence_ms,
        first_token_ms: reply.first_token_ms,
        latency_ms: started.elapsed().as_millis() as u64,
        result,
        context_tokens,
        previous_turns,
        span: turn.span.clone(),
        tools: tools_used,
    }
}
