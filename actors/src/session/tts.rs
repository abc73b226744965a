//! Tts: speaks the Brain's sentences one after another, forwarding audio
//! chunks to Playout as the engine makes them. A cancel (barge-in) stops the
//! running synthesis between chunks and drops the queued sentences. What it
//! still owes (the sentences, the one being made, each turn's progress) is
//! kept in the shared state (`tts_book.rs`), so a Tts restarted after a crash
//! goes on from the same word.

use super::emit;
use super::messages::{PlayoutMsg, SpokenRecord, TtsMsg};
use super::shared::Shared;
use super::tts_book::{Busy, Pending};
use super::turn_parts::TurnPart;
use crate::emit::service_error;
use crate::engine::CancellationToken;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::Instrument;

pub(crate) struct TtsActor;

pub(crate) struct TtsState {
    shared: Arc<Shared>,
    /// The synthesis this Tts started last: stopped when it goes away (the
    /// session ends). A successor after a crash stops it itself, under the
    /// book's lock (see `tts_book.rs`).
    started: Option<CancellationToken>,
}

impl Drop for TtsState {
    fn drop(&mut self) {
        if let Some(c) = &self.started {
            // A successor may already be remaking the sentence: only the
            // synthesis this Tts started is stopped.
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
        // After a crash: go on with what the dead Tts owed.
        let speaking = shared.with_tts_book(|b| {
            b.take_over();
            b.speaking()
        });
        shared.set_speaking(speaking);
        Ok(TtsState {
            shared,
            started: None,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        st.start_next(&myself);
        // A turn whose last sentence was done when its Tts died is over.
        let turns: Vec<u64> = st
            .shared
            .with_tts_book(|b| b.turns.keys().copied().collect());
        for turn in turns {
            st.maybe_finish(turn, false);
        }
        Ok(())
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
                let queued = st.shared.with_tts_book(|b| {
                    if turn <= b.cancelled_upto {
                        return false;
                    }
                    b.turns.entry(turn).or_default();
                    b.queue.push_back(Pending {
                        turn,
                        trace_id,
                        text,
                        span,
                        skip_ms: 0,
                        resumed: false,
                    });
                    true
                });
                if queued {
                    st.shared.set_speaking(Some(turn));
                    st.start_next(&myself);
                }
            }
            TtsMsg::EndOfTurn { turn } => {
                let seen = st.shared.with_tts_book(|b| {
                    if turn <= b.cancelled_upto {
                        return false;
                    }
                    b.turns.entry(turn).or_default().end_seen = true;
                    true
                });
                if seen {
                    st.maybe_finish(turn, false);
                }
            }
            TtsMsg::SynthDone {
                job,
                turn,
                audio_ms,
                first_chunk_ms,
                cancelled,
            } => {
                let mine = st.shared.with_tts_book(|b| {
                    if b.busy.as_ref().map(|b| b.job) != Some(job) {
                        return false;
                    }
                    b.busy = None;
                    if let Some(p) = b.turns.get_mut(&turn) {
                        p.audio_ms += audio_ms;
                        if p.first_chunk_ms.is_none() {
                            p.first_chunk_ms = first_chunk_ms;
                        }
                    }
                    true
                });
                if mine && !cancelled {
                    st.maybe_finish(turn, false);
                }
                st.start_next(&myself);
            }
            TtsMsg::Cancel => {
                let turns = st.shared.with_tts_book(|b| {
                    if let Some(busy) = b.busy.take() {
                        busy.cancel.cancel();
                    }
                    b.queue.clear();
                    let turns: Vec<u64> = b.turns.keys().copied().collect();
                    if let Some(max) = turns.iter().max() {
                        b.cancelled_upto = b.cancelled_upto.max(*max);
                    }
                    turns
                });
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

/// Holds the next chunk while the Playout has the lead the engine's pace
/// calls for (`tts_lead.rs`, between `tts.min_ahead_ms` and
/// `tts.max_ahead_ms`) or more still to play (the engine waits on its full
/// channel meanwhile): the playout clock drains it at one millisecond per
/// millisecond.
async fn wait_for_playout(shared: &Shared, cancel: &CancellationToken) -> std::time::Duration {
    let tts = &shared.config.tts;
    let started = Instant::now();
    loop {
        let max = shared
            .tts_lead
            .target_ms(tts.min_ahead_ms, tts.max_ahead_ms);
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
        let cancel = CancellationToken::new();
        let started = self.shared.with_tts_book(|b| {
            if b.busy.is_some() {
                return None;
            }
            let p = b.queue.pop_front()?;
            if let Some(t) = b.turns.get_mut(&p.turn) {
                t.requests += 1;
            }
            let job = b.next_job();
            b.busy = Some(Busy {
                job,
                sentence: p.clone(),
                cancel: cancel.clone(),
                sent_ms: p.skip_ms,
            });
            Some((job, p))
        });
        let Some((job, p)) = started else {
            return;
        };
        if !p.resumed {
            self.shared.to_playout(PlayoutMsg::Sentence {
                turn: p.turn,
                text: p.text.clone(),
            });
        }
        self.started = Some(cancel.clone());
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
        let shared = self.shared.clone();
        let me = myself.clone();
        let tts_span = tracing::info_span!(parent: &p.span, "tts", model = %tts.model(), chars = p.text.chars().count());
        tokio::spawn(async move {
            let started = Instant::now();
            shared.tts_lead.new_synthesis();
            // Since when the next chunk could have been taken: how long the
            // engine made the speaker wait for it (`tts_lead.rs`).
            let mut ready_since = started;
            // One chunk ahead at most: the bound on what waits for the
            // speaker is `wait_for_playout`'s, and a deeper channel would hold
            // (memory a session peaks on) audio past it.
            let (tx, mut rx) = mpsc::channel(1);
            let synth = tts.synthesize(&p.text, tx, cancel.clone());
            tokio::pin!(synth);
            let mut first_chunk_ms = None;
            // Time spent waiting for the speaker is not synthesis time.
            let mut waited = std::time::Duration::ZERO;
            let mut audio_ms = 0;
            let mut result = None;
            // Whether the speaker has room for the next chunk. Until it has,
            // the chunk stays in the engine's channel (an engine makes a
            // chunk once the channel has room for it), and the engine is
            // still polled, for the work it needs no room for: one chunk
            // waits beyond the lead, not one held here as well (a chunk
            // more for every agent speaking at the node's peak).
            let mut room = true;
            let mut wait_started = started;
            // A synthesis that gives no audio for this long is abandoned: a
            // stalled engine must not hold the turn (and the session) forever.
            let stall = std::time::Duration::from_millis(shared.config.tts.stall_timeout_ms);
            let mut deadline = tokio::time::Instant::now() + stall;
            loop {
                tokio::select! {
                    _ = wait_for_playout(&shared, &cancel), if !room => {
                        room = true;
                        waited += wait_started.elapsed();
                        ready_since = Instant::now();
                        deadline = tokio::time::Instant::now() + stall;
                    }
                    chunk = rx.recv(), if room => match chunk {
                        Some(frame) => {
                            if cancel.is_cancelled() { continue; }
                            shared.tts_lead.chunk_waited(ready_since.elapsed());
                            first_chunk_ms.get_or_insert(started.elapsed().as_millis() as u64);
                            deadline = tokio::time::Instant::now() + stall;
                            let ms = frame.duration_ms();
                            if audio_ms + ms <= p.skip_ms {
                                // A dead Tts sent this part already.
                                audio_ms += ms;
                                continue;
                            }
                            // The first chunk of a sentence may find the
                            // last one's audio still ahead of the speaker.
                            waited += wait_for_playout(&shared, &cancel).await;
                            deadline = tokio::time::Instant::now() + stall;
                            // Under the book's lock: a successor that takes
                            // over stops this synthesis between two frames.
                            let sent = shared.with_tts_book(|b| {
                                if cancel.is_cancelled() {
                                    return false;
                                }
                                if let Some(busy) = b.busy.as_mut().filter(|b| b.job == job) {
                                    busy.sent_ms += ms;
                                }
                                shared.queued_for_playout(ms);
                                shared.to_playout(PlayoutMsg::Play { turn: p.turn, frame });
                                true
                            });
                            if sent {
                                audio_ms += ms;
                            }
                            // The next chunk can be taken once the speaker
                            // has room (`ready_since` is set then).
                            room = false;
                            wait_started = Instant::now();
                        }
                        None => break,
                    },
                    r = &mut synth, if result.is_none() => result = Some(r),
                    // Not while waiting for the speaker: that is not the
                    // engine's stall.
                    _ = tokio::time::sleep_until(deadline), if result.is_none() && room => {
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
                job,
                turn: p.turn,
                audio_ms,
                first_chunk_ms,
                cancelled,
            });
        }.instrument(tts_span));
    }

    fn maybe_finish(&mut self, turn: u64, interrupted: bool) {
        let done = self
            .shared
            .with_tts_book(|b| b.turns.get(&turn).is_some_and(|p| p.end_seen) && !b.owes(turn));
        if done {
            self.finish(turn, interrupted);
        }
    }

    fn finish(&mut self, turn: u64, interrupted: bool) {
        let Some(p) = self.shared.with_tts_book(|b| b.turns.remove(&turn)) else {
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
        self.shared.send_turn_end(turn, interrupted);
    }
}
