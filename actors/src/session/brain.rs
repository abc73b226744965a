//! Brain: builds the prompt from the session's history, streams the LLM reply,
//! cuts it into sentences and hands each to Tts at once. The seed's limits are
//! enforced here: max_tokens and temperature go to the engine; the timeout
//! (to the first token, then between tokens) ends in the fallback sentence and
//! an `agent.brain.error`; the session goes on either way.

use super::messages::{
    AgentRecord, ArchiverMsg, BrainMsg, LlmOutcome, SessionNotice, TransportMsg, TtsMsg, UserTurn,
};
use super::shared::Shared;
use crate::context::Exchange;
use crate::emit;
use crate::engine::{CancellationToken, EngineError, LlmRequest};
use crate::sentence::SentenceSplitter;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::Instrument;

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
            BrainMsg::Finished(outcome) => st.finish_turn(*outcome),
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
                    latency_ms: 0,
                    result: Err(EngineError::Failed {
                        engine: "brain",
                        message: "brain actor restarted while answering".into(),
                    }),
                    context_tokens: 0,
                    previous_turns: 0,
                    span: t.span.clone(),
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
        self.shared.sink.emit(seed_event);
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
            trace_id: t.trace_id.clone(),
            seed_request,
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

    fn finish_turn(&mut self, outcome: LlmOutcome) {
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
        let mut spoken = outcome.spoken.clone();
        let tokens = match &outcome.result {
            Ok(usage) => {
                self.shared.sink.emit(emit::brain_response(
                    cfg,
                    &outcome.request_id,
                    &outcome.trace_id,
                    outcome.turn,
                    &outcome.spoken,
                    llm.model(),
                    usage.completion_tokens,
                    outcome.latency_ms,
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
                    &outcome.request_id,
                    &outcome.trace_id,
                    error_type,
                    &e.to_string(),
                    0,
                    &cfg.brain.fallback_text,
                ));
                self.shared.sink.emit(emit::service_error(
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
                        .to_transport(TransportMsg::Notice(SessionNotice::AgentSentence {
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
                c.push(Exchange {
                    user: outcome.user_text.clone(),
                    agent: spoken.clone(),
                })
            });
        }
        self.shared.to_archiver(ArchiverMsg::Agent(AgentRecord {
            turn: outcome.turn,
            text: spoken,
            llm_model: llm.model().to_string(),
            tokens,
            llm_latency_ms: outcome.latency_ms,
            first_sentence_ms: outcome.first_sentence_ms.unwrap_or(outcome.latency_ms),
            context_tokens: outcome.context_tokens,
            previous_turns: outcome.previous_turns,
            tools: Vec::new(),
        }));
        self.shared.clear_inflight(outcome.turn);
    }
}

/// Words a first clause needs before it is spoken on its own.
const FIRST_CLAUSE_MIN_WORDS: usize = 4;

/// Stream one reply: sentences go to Tts as they complete; the timeout covers
/// the wait for the first token and every gap between tokens.
async fn run_llm(
    shared: Arc<Shared>,
    request: LlmRequest,
    cancel: CancellationToken,
    turn: UserTurn,
    request_id: String,
    context_tokens: u64,
    previous_turns: u64,
) -> LlmOutcome {
    let started = Instant::now();
    let timeout = Duration::from_millis(shared.config.brain.timeout_ms.max(1));
    let (tx, mut rx) = mpsc::channel::<String>(64);
    let llm = shared.engines.llm.clone();
    let engine_cancel = cancel.child_token();
    let stream = llm.stream(request, tx, engine_cancel.clone());
    tokio::pin!(stream);
    let mut splitter = SentenceSplitter::new();
    let mut spoken = String::new();
    let mut sentences = 0u64;
    let mut first_sentence_ms = None;
    let mut engine_result: Option<Result<crate::engine::LlmUsage, EngineError>> = None;
    let mut deadline = tokio::time::Instant::now() + timeout;
    let mut speak = |text: String, spoken: &mut String, sentences: &mut u64| {
        if first_sentence_ms.is_none() {
            first_sentence_ms = Some(started.elapsed().as_millis() as u64);
        }
        *sentences += 1;
        if !spoken.is_empty() {
            spoken.push(' ');
        }
        spoken.push_str(&text);
        shared.to_transport(TransportMsg::Notice(SessionNotice::AgentSentence {
            turn: turn.turn,
            text: text.clone(),
        }));
        shared.to_tts(TtsMsg::Speak {
            turn: turn.turn,
            trace_id: turn.trace_id.clone(),
            text,
            span: turn.span.clone(),
        });
    };
    let result = loop {
        tokio::select! {
            _ = cancel.cancelled() => {
                engine_cancel.cancel();
                break Err(EngineError::Cancelled);
            }
            _ = tokio::time::sleep_until(deadline) => {
                engine_cancel.cancel();
                break Err(EngineError::Timeout { engine: "llm", after_ms: timeout.as_millis() as u64 });
            }
            token = rx.recv() => match token {
                Some(tok) => {
                    deadline = tokio::time::Instant::now() + timeout;
                    for s in splitter.push(&tok) {
                        speak(s, &mut spoken, &mut sentences);
                    }
                    // The first words go to TTS at the first clause break,
                    // not the end of a long first sentence: first audio sooner.
                    if sentences == 0 {
                        if let Some(clause) = splitter.take_clause(FIRST_CLAUSE_MIN_WORDS) {
                            speak(clause, &mut spoken, &mut sentences);
                        }
                    }
                }
                None => {
                    // The engine dropped its sender: its result is ready or about to be.
                    let r = match engine_result.take() {
                        Some(r) => r,
                        None => tokio::select! {
                            r = &mut stream => r,
                            _ = tokio::time::sleep_until(deadline) => Err(EngineError::Timeout { engine: "llm", after_ms: timeout.as_millis() as u64 }),
                        },
                    };
                    break r;
                }
            },
            r = &mut stream, if engine_result.is_none() => {
                // Drain what is already queued before acting on the result.
                engine_result = Some(r);
            }
        }
    };
    if let Ok(usage) = &result {
        // A reply cut at max_tokens ends on its last whole sentence, unless
        // that would leave nothing to say.
        if let Some(rest) = splitter.finish() {
            if !(usage.truncated && sentences > 0) {
                speak(rest, &mut spoken, &mut sentences);
            }
        }
    }
    LlmOutcome {
        turn: turn.turn,
        trace_id: turn.trace_id,
        request_id,
        user_text: turn.text,
        spoken,
        sentences,
        first_sentence_ms,
        latency_ms: started.elapsed().as_millis() as u64,
        result,
        context_tokens,
        previous_turns,
        span: turn.span,
    }
}
