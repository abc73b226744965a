//! Archiver: joins what Stt, Brain, Tts and Playout report about a turn into
//! one conversation-v1 record, and at the end of the session the
//! session-metrics record. The parts of each turn's record and the totals
//! live in the shared state, so a restarted Archiver loses no turn and keeps
//! counting.

use super::emit::{self, TurnFacts};
use super::messages::ArchiverMsg;
use super::shared::Shared;
#[cfg(doc)]
use super::turn_parts::TurnParts;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::Instant;

pub(crate) struct ArchiverActor;

pub(crate) struct ArchiverState {
    shared: Arc<Shared>,
}

impl Actor for ArchiverActor {
    type Msg = ArchiverMsg;
    type State = ArchiverState;
    type Arguments = Arc<Shared>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        shared: Arc<Shared>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let st = ArchiverState { shared };
        // After a restart: the turns whose last part came while it was down.
        for turn in st.shared.pending_record_turns() {
            st.complete(turn, false);
        }
        Ok(st)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ArchiverMsg::Turn(turn) => st.complete(turn, false),
            ArchiverMsg::Finish(ended_at, reply) => {
                for turn in st.shared.pending_record_turns() {
                    st.complete(turn, true);
                }
                // A turn cut off by the session's end (the caller hung up while
                // the agent was thinking) has no complete record.
                for (turn, user, agent, spoken) in st.shared.unarchived_turns() {
                    tracing::debug!(
                        session_id = %st.shared.config.session_id,
                        turn,
                        user,
                        agent,
                        spoken,
                        "turn not archived at session end: a part of its record never came"
                    );
                }
                let summary = st.shared.finish_metrics(ended_at);
                let _ = reply.send(summary);
            }
            ArchiverMsg::Fault => panic!("fault injected into archiver"),
        }
        Ok(())
    }
}

impl ArchiverState {
    /// Archives `turn` once its parts are all in (see [`TurnParts::ready`];
    /// `force`: the session is ending).
    fn complete(&self, turn: u64, force: bool) {
        let Some(p) = self.shared.take_ready_parts(turn, force) else {
            return;
        };
        let (Some(user), Some(agent), Some(spoken)) = (p.user, p.agent, p.spoken) else {
            return;
        };
        let total_latency_ms = p
            .first_audio
            .map(|a| a.saturating_duration_since(user.eos_at).as_millis() as u64)
            .unwrap_or(0);
        let interrupted =
            p.interrupted || spoken.interrupted || p.played.as_ref().is_some_and(|(_, i)| *i);
        // An interrupted reply is archived as far as the user heard it.
        let agent_text = match &p.played {
            Some((heard, true)) => heard.clone(),
            _ => agent.text.clone(),
        };
        let network_overhead_ms = total_latency_ms
            .saturating_sub(user.stt_latency_ms + agent.first_sentence_ms + spoken.tts_latency_ms);
        let facts = TurnFacts {
            turn,
            trace_id: user.trace_id.clone(),
            user_text: user.text.clone(),
            audio_ms: user.audio_ms,
            stt_model: user.stt_model.clone(),
            stt_confidence: user.confidence,
            stt_latency_ms: user.stt_latency_ms,
            agent_text: agent_text.clone(),
            llm_model: agent.llm_model.clone(),
            llm_tokens: agent.tokens,
            llm_latency_ms: agent.llm_latency_ms,
            tts_model: spoken.tts_model.clone(),
            tts_audio_ms: spoken.audio_ms,
            tts_latency_ms: spoken.tts_latency_ms,
            previous_turns: agent.previous_turns,
            context_tokens: agent.context_tokens,
            tools: agent.tools.clone(),
            total_latency_ms,
            network_overhead_ms,
            interrupted,
        };
        self.shared
            .sink
            .emit(emit::conversation(&self.shared.config, &facts));
        // The transcript of the turn was just written to the record.
        self.shared.sink.emit(emit::audit(
            &self.shared.identity,
            &self.shared.config,
            &emit::DataAccess {
                event_type: "user_data_modified",
                operation: "write",
                resource: "conversation_transcript",
                reason: "conversation_record",
                tables: &["events.conversation"],
                row_count: 1,
                columns: &["user_message.text", "agent_response.text"],
                pii_fields: &["user_message.text"],
            },
            &facts.trace_id,
        ));
        self.shared.with_stats(|s| {
            s.turns += 1;
            s.user_messages += 1;
            if !agent_text.is_empty() {
                s.agent_messages += 1;
            }
            s.words += user.text.split_whitespace().count() as u64
                + agent_text.split_whitespace().count() as u64;
            s.tokens += agent.tokens;
            if p.first_audio.is_some() {
                s.latencies_ms.push(total_latency_ms);
            }
            s.stt_ms.push(user.stt_latency_ms);
            s.llm_ms.push(agent.llm_latency_ms);
            s.tts_ms.push(spoken.tts_latency_ms);
            s.stt_calls += 1;
            s.llm_calls += 1;
            s.tts_calls += spoken.requests;
            // 16 kHz 16-bit in, 24 kHz 16-bit out.
            s.audio_bytes += user.audio_ms * 32 + spoken.audio_ms * 48;
            if let Some(prev) = s.last_agent_done {
                let gap = user
                    .eos_at
                    .saturating_duration_since(prev)
                    .as_millis()
                    .saturating_sub(user.audio_ms as u128);
                s.silence_gaps_ms.push(gap as u64);
            }
            s.last_agent_done = Some(Instant::now());
        });
    }
}
