//! Tts: speaks the Brain's sentences one after another, forwarding audio
//! chunks to Playout as the engine makes them. A cancel (barge-in) stops the
//! running synthesis between chunks and drops the queued sentences.

use super::emit;
use super::messages::{PlayoutMsg, SpokenRecord, TtsMsg};
use super::shared::Shared;
use super::turn_parts::TurnPart;
use crate::emit::service_error;
use crate::engine::CancellationToken;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::Instrument;

pub(crate) struct TtsActor;

struct Pending {
    turn: u64,
    trace_id: String,
    text: String,
    span: tracing::Span,
}

#[derive(Default)]
struct TurnProgress {
    audio_ms: u64,
    first_chunk_ms: Option<u64>,
    requests: u64,
    end_seen: bool,
}

pub(crate) struct TtsState {
    shared: Arc<Shared>,
    queue: VecDeque<Pending>,
    busy: Option<(u64, CancellationToken)>,
    turns: HashMap<u64, TurnProgress>,
    /// Turns up to this one were cancelled: late sentences for them are dropped.
    cancelled_upto: u64,
}

impl Drop for TtsState {
    fn drop(&mut self) {
        if let Some((_, c)) = &self.busy {
            c.cancel();
        }
    }
}

impl Actor for TtsActor {
    type Msg = TtsMsg;
    type State = TtsState;
    type Arguments = Arc<Shared>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        shared: Arc<Shared>,
    ) -> Result<Self::State, ActorProcessingErr> {
        shared.set_speaking(None);
        Ok(TtsState {
            shared,
            queue: VecDeque::new(),
            busy: None,
            turns: HashMap::new(),
            cancelled_upto: 0,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TtsMsg::Speak {
                turn,
                trace_id,
                text,
                span,
            } => {
                if turn <= st.cancelled_upto {
                    return Ok(());
                }
                st.turns.entry(turn).or_default();
                st.queue.push_back(Pending {
                    turn,
                    trace_id,
                    text,
                    span,
                });
                st.shared.set_speaking(Some(turn));
                st.start_next(&myself);
            }
            TtsMsg::EndOfTurn { turn } => {
                if turn <= st.cancelled_upto {
                    return Ok(());
                }
                st.turns.entry(turn).or_default().end_seen = true;
                st.maybe_finish(turn, false);
            }
            TtsMsg::SynthDone {
                turn,
                audio_ms,
                first_chunk_ms,
                cancelled,
            } => {
                if st.busy.as_ref().map(|(t, _)| *t) == Some(turn) {
                    st.busy = None;
                }
                if let Some(p) = st.turns.get_mut(&turn) {
                    p.audio_ms += audio_ms;
                    if p.first_chunk_ms.is_none() {
                        p.first_chunk_ms = first_chunk_ms;
                    }
                }
                if !cancelled {
                    st.maybe_finish(turn, false);
                }
                st.start_next(&myself);
            }
            TtsMsg::Cancel => {
                if let Some((_, c)) = st.busy.take() {
                    c.cancel();
                }
                st.queue.clear();
                let turns: Vec<u64> = st.turns.keys().copied().collect();
                if let Some(max) = turns.iter().max() {
                    st.cancelled_upto = st.cancelled_upto.max(*max);
                }
                for turn in turns {
                    st.finish(turn, true);
                }
                st.shared.set_speaking(None);
            }
            TtsMsg::Fault => panic!("fault injected into tts"),
        }
        Ok(())
    }
}

/// Holds the next chunk while the Playout has `tts.max_ahead_ms` or more
/// still to play (the engine waits on its full channel meanwhile): the
/// playout clock drains it at one millisecond per millisecond.
async fn wait_for_playout(shared: &Shared, cancel: &CancellationToken) -> std::time::Duration {
    let max = shared.config.tts.max_ahead_ms;
    let started = Instant::now();
    loop {
        let ahead = shared.playout_ahead_ms();
        if ahead < max || cancel.is_cancelled() {
            return started.elapsed();
        }
        let excess = std::time::Duration::from_millis((ahead - max).clamp(10, 200));
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = tokio::time::sleep(excess) => {}
        }
    }
}

impl TtsState {
    fn start_next(&mut self, myself: &ActorRef<TtsMsg>) {
        if self.busy.is_some() {
            return;
        }
        let Some(p) = self.queue.pop_front() else {
            return;
        };
        let cfg = &self.shared.config;
        let tts = self.shared.engines.tts.clone();
        let request_id = crate::ids::prefixed("tts-req");
        self.shared.sink.emit(emit::tts_request(
            cfg,
            &request_id,
            &p.trace_id,
            &p.text,
            tts.voice_id(),
        ));
        if let Some(t) = self.turns.get_mut(&p.turn) {
            t.requests += 1;
        }
        let cancel = CancellationToken::new();
        self.busy = Some((p.turn, cancel.clone()));
        let shared = self.shared.clone();
        let me = myself.clone();
        let tts_span = tracing::info_span!(parent: &p.span, "tts", model = %tts.model(), chars = p.text.chars().count());
        tokio::spawn(async move {
            let started = Instant::now();
            shared.to_playout(PlayoutMsg::Sentence { turn: p.turn, text: p.text.clone() });
            let (tx, mut rx) = mpsc::channel(8);
            let synth = tts.synthesize(&p.text, tx, cancel.clone());
            tokio::pin!(synth);
            let mut first_chunk_ms = None;
            // Time spent waiting for the speaker is not synthesis time.
            let mut waited = std::time::Duration::ZERO;
            let mut audio_ms = 0;
            let mut result = None;
            // A synthesis that gives no audio for this long is abandoned: a
            // stalled engine must not hold the turn (and the session) forever.
            let stall = std::time::Duration::from_millis(shared.config.tts.stall_timeout_ms);
            let mut deadline = tokio::time::Instant::now() + stall;
            loop {
                tokio::select! {
                    chunk = rx.recv() => match chunk {
                        Some(frame) => {
                            if cancel.is_cancelled() { continue; }
                            first_chunk_ms.get_or_insert(started.elapsed().as_millis() as u64);
                            waited += wait_for_playout(&shared, &cancel).await;
                            deadline = tokio::time::Instant::now() + stall;
                            if cancel.is_cancelled() { continue; }
                            let ms = frame.duration_ms();
                            audio_ms += ms;
                            shared.queued_for_playout(ms);
                            shared.to_playout(PlayoutMsg::Play { turn: p.turn, frame });
                        }
                        None => break,
                    },
                    r = &mut synth, if result.is_none() => result = Some(r),
                    _ = tokio::time::sleep_until(deadline), if result.is_none() => {
                        cancel.cancel();
                        result = Some(Err(crate::engine::EngineError::Timeout {
                            engine: "tts",
                            after_ms: stall.as_millis() as u64,
                        }));
                        break;
                    }
                }
            }
            let stalled = matches!(result, Some(Err(crate::engine::EngineError::Timeout { .. })));
            let result = match result {
                Some(r) => r,
                None => synth.await,
            };
            // Abandoned for stalling is not a barge-in: the turn goes on.
            let cancelled = cancel.is_cancelled() && !stalled;
            match &result {
                Ok(_) if !cancelled => shared.sink.emit(emit::tts_completed(
                    &shared.config,
                    &request_id,
                    &p.trace_id,
                    audio_ms,
                    started.elapsed().saturating_sub(waited).as_millis() as u64,
                )),
                Ok(_) => {}
                Err(e) => {
                    if !cancelled {
                        tracing::warn!(session_id = %shared.config.session_id, trace_id = %p.trace_id, error = %e, "synthesis failed");
                        shared.sink.emit(service_error(
                            &shared.identity,
                            "tts_failure",
                            &format!(
                                "synthesis for session {} failed: {e}",
                                shared.config.session_id
                            ),
                            "warning",
                            "none",
                            &p.trace_id,
                        ));
                    }
                }
            }
            let _ = me.cast(TtsMsg::SynthDone {
                turn: p.turn,
                audio_ms,
                first_chunk_ms,
                cancelled,
            });
        }.instrument(tts_span));
    }

    fn maybe_finish(&mut self, turn: u64, interrupted: bool) {
        let busy_with_turn = self.busy.as_ref().map(|(t, _)| *t) == Some(turn);
        let queued = self.queue.iter().any(|p| p.turn == turn);
        let end_seen = self.turns.get(&turn).is_some_and(|p| p.end_seen);
        if end_seen && !busy_with_turn && !queued {
            self.finish(turn, interrupted);
        }
    }

    fn finish(&mut self, turn: u64, interrupted: bool) {
        let Some(p) = self.turns.remove(&turn) else {
            return;
        };
        if self.shared.speaking() == Some(turn) {
            self.shared.set_speaking(None);
        }
        self.shared.record_part(TurnPart::Spoken(SpokenRecord {
            turn,
            audio_ms: p.audio_ms,
            tts_latency_ms: p.first_chunk_ms.unwrap_or(0),
            tts_model: self.shared.engines.tts.model().to_string(),
            requests: p.requests,
            interrupted,
        }));
        // The Playout says the turn is done once its audio has played out.
        self.shared
            .to_playout(PlayoutMsg::TurnEnd { turn, interrupted });
    }
}
