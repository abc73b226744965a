//! Stt: takes audio from the session's frame queue when told frames arrived
//! (`session.frame_credits` at a time, so the mailbox stays small and its
//! other messages come in between), runs VAD and endpointing, and turns
//! each utterance into partial and final transcripts. Transcription runs in
//! spawned tasks (the engine puts the inference on its blocking pool), so the
//! actor keeps listening, for barge-in, while a transcript is being made.
//!
//! The final decode starts speculatively when the user stops speaking (the
//! VAD is [pausing](crate::engine::VadStream::pausing)), on the utterance so
//! far: if the endpoint follows with no new speech, the trailing silence adds
//! no words and that decode is the final, mostly done by then. Speech that
//! comes back cancels it.
//!
//! With a turn engine (semantic end of turn), a pause of `stt.turn.pause_ms`
//! asks it whether the user is done. Complete, and the speculative final's
//! words do not stop mid-sentence ("a table for", see [`crate::dangling`]):
//! the turn ends at once, with that transcript as its final. Otherwise the
//! VAD's longer silence limit ends it. One question per pause; a verdict or
//! a text for a pause that speech has since broken is stale and ignored.
//!
//! A restart loses no turn: the utterance being heard (and its speculative
//! final) passes to the next Stt (`stt_carry.rs`), which ends it after the
//! VAD's silence rule unless speech comes back; a transcript finished
//! meanwhile waits for the new Stt.

use super::messages::{BrainMsg, PlayoutMsg, SessionNotice, SttMsg, UserRecord, UserTurn};
use super::pcm16::{to_i16, Pcm16};
use super::shared::Shared;
use super::stt_carry::{CarriedUtterance, Speculation};
use super::turn_parts::TurnPart;
use crate::audio::{AudioFrame, STT_SAMPLE_RATE};
use crate::engine::{CancellationToken, TranscribeKind, Transcript, VadEvent, VadStream};
use crate::turn_stats::{turn_stats, TurnCause};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;
use words::{has_words, word_count};

mod barge_in;
mod end_of_turn;
mod words;

pub(crate) struct SttActor;

/// Words a partial transcript needs to confirm a barge-in while the user is
/// still speaking: whisper guesses a word or two on the first half second of
/// a hum or a cough ("Then...", "You"); the final transcript decides those.
const PARTIAL_CONFIRM_WORDS: usize = 3;

/// A transcript finds no live Stt (it is being restarted): tries, 20 ms apart.
const FINAL_DELIVERY_TRIES: usize = 100;

struct Utterance {
    /// 16-bit (`pcm16.rs`): what a session's memory peaks on.
    samples: Pcm16,
    since_partial_ms: u64,
}

pub(crate) struct SttState {
    shared: Arc<Shared>,
    vad: Box<dyn VadStream>,
    /// The last `stt.preroll_ms` before speech, a ring of 16-bit samples.
    preroll: VecDeque<i16>,
    /// The frames taken from the queue at a time (kept for its room).
    batch: Vec<AudioFrame>,
    utterance: Option<Utterance>,
    partial_seq: u64,
    partial_inflight: bool,
    /// Cancels the partial in flight (a speculative final needs its thread).
    partial_cancel: Option<CancellationToken>,
    /// Only while the VAD is pausing since it started (no speech since).
    speculation: Option<Speculation>,
    warned_rate: bool,
    /// The user spoke over the agent and the agent's audio is paused until
    /// words confirm the interruption or the false-interruption window passes.
    barge: Option<PendingBargeIn>,
    barge_seq: u64,
    /// Audio time (ms) of the pause in progress inside the utterance.
    pause_ms: u64,
    /// Numbers pauses: speech after a pause starts the next one.
    pause_seq: u64,
    /// The pause the turn engine was last asked about.
    asked_pause: Option<u64>,
    /// The speculative final's transcript of a pause (None: it failed).
    spec_text: Option<(u64, Option<Transcript>)>,
    /// The turn engine judged this pause complete; the text decides.
    complete_at: Option<u64>,
    /// Judged complete, but the last word was unsure: this pause ends the
    /// turn at `turn.uncertain_silence_ms`.
    uncertain_at: Option<u64>,
    /// The pause whose verdict was a near miss (`turn.near_threshold`).
    near_at: Option<u64>,
    /// The utterance a previous Stt was hearing when it died, and the
    /// silence since. Its VAD never heard that utterance: if no speech comes
    /// back within the VAD's silence rule (counting the pause before the
    /// restart), the utterance was the turn.
    carried: Option<CarriedUtterance>,
    /// Cancels in-flight transcriptions when this actor dies.
    cancel: CancellationToken,
}

/// Set while the agent is paused for speech over it (`barge_in.rs`).
struct PendingBargeIn {
    /// The agent turn that was paused.
    turn: u64,
    id: u64,
    /// The user's speech has ended (the window runs from then).
    speech_ended: bool,
}

impl Drop for SttState {
    fn drop(&mut self) {
        self.cancel.cancel();
        // A crash mid-utterance: the next Stt (if the supervisor starts one)
        // goes on with what the user said so far.
        let carried = self.utterance.take().map(|u| CarriedUtterance {
            samples: u.samples,
            pause_ms: self.pause_ms,
            speculation: self.speculation.take(),
        });
        if let Some(c) = carried.or_else(|| self.carried.take()) {
            self.shared.carry_utterance(c);
        }
    }
}

impl Actor for SttActor {
    type Msg = SttMsg;
    type State = SttState;
    type Arguments = Arc<Shared>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        shared: Arc<Shared>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let cancel = CancellationToken::new();
        // The transport's pushes tell this Stt (a restarted one replaces the
        // one that died); a frame waits in the bounded queue until taken.
        let me = myself.clone();
        shared.frames.listen(Box::new(move || {
            let _ = me.cast(SttMsg::FramesReady);
        }));
        // With a turn engine, silence is only the limit behind it.
        let vad = match &shared.engines.turn {
            Some(_) => shared
                .engines
                .vad
                .stream_with_silence(shared.config.stt.turn.max_silence_ms),
            None => shared.engines.vad.stream(),
        };
        Ok(SttState {
            vad,
            shared,
            preroll: VecDeque::new(),
            batch: Vec::new(),
            utterance: None,
            partial_seq: 0,
            partial_inflight: false,
            partial_cancel: None,
            speculation: None,
            warned_rate: false,
            barge: None,
            barge_seq: 0,
            pause_ms: 0,
            pause_seq: 0,
            asked_pause: None,
            spec_text: None,
            complete_at: None,
            uncertain_at: None,
            near_at: None,
            carried: None,
            cancel,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SttMsg::FramesReady => {
                let mut batch = std::mem::take(&mut st.batch);
                st.shared
                    .frames
                    .take(st.shared.config.frame_credits.max(1), &mut batch);
                for frame in batch.drain(..) {
                    st.on_frame(&myself, frame).await;
                }
                st.batch = batch;
            }
            SttMsg::Partial { seq, text } => {
                st.partial_inflight = false;
                st.partial_cancel = None;
                if seq == st.partial_seq && st.utterance.is_some() && has_words(&text) {
                    if word_count(&text) >= PARTIAL_CONFIRM_WORDS {
                        st.confirm_barge_in();
                    }
                    let turn = st.shared.peek_next_turn();
                    st.shared
                        .to_playout(PlayoutMsg::Notice(SessionNotice::PartialTranscript {
                            turn,
                            text,
                        }));
                }
            }
            SttMsg::Final {
                turn,
                trace_id,
                result,
                audio_ms,
                eos_at,
                latency_ms,
                span,
            } => match result {
                Ok(t) if has_words(&t.text) => {
                    st.confirm_barge_in();
                    let text = t.text.trim().to_string();
                    st.shared
                        .to_playout(PlayoutMsg::Notice(SessionNotice::FinalTranscript {
                            turn,
                            text: text.clone(),
                        }));
                    st.shared.record_part(TurnPart::User(UserRecord {
                        turn,
                        trace_id: trace_id.clone(),
                        text: text.clone(),
                        audio_ms,
                        stt_latency_ms: latency_ms,
                        stt_model: st.shared.engines.stt.model().to_string(),
                        confidence: t.confidence,
                        eos_at,
                    }));
                    st.shared.to_brain(BrainMsg::UserTurn(UserTurn {
                        turn,
                        trace_id,
                        text,
                        span,
                    }));
                }
                Ok(_) => {
                    tracing::debug!(session_id = %st.shared.config.session_id, turn, "utterance had no words");
                    st.false_interruption();
                }
                Err(e) => {
                    st.false_interruption();
                    tracing::warn!(session_id = %st.shared.config.session_id, %trace_id, turn, error = %e, "transcription failed");
                    st.shared.sink.emit(crate::emit::service_error(
                        &st.shared.identity,
                        "stt_failure",
                        &format!("transcription of turn {turn} failed: {e}"),
                        "warning",
                        "none",
                        &trace_id,
                    ));
                }
            },
            SttMsg::BargeInWindow { id } => {
                if st
                    .barge
                    .as_ref()
                    .is_some_and(|b| b.id == id && b.speech_ended)
                {
                    st.false_interruption();
                }
            }
            SttMsg::TurnVerdict { pause, result } => st.on_turn_verdict(&myself, pause, result),
            SttMsg::SpeculativeText { pause, heard } => {
                st.spec_text = Some((pause, heard));
                if st.complete_at == Some(pause) {
                    st.decide_complete(&myself, pause);
                }
            }
            SttMsg::Fault => panic!("fault injected into stt"),
        }
        Ok(())
    }
}

/// The user stopped speaking: decode the utterance so far as the final.
/// With a turn engine, its text also goes to the actor (`tell`), tagged with
/// the pause: the turn decision reads it.
fn speculate(
    shared: &Shared,
    cancel: CancellationToken,
    audio: Arc<[f32]>,
    tell: Option<(ActorRef<SttMsg>, u64)>,
) -> Speculation {
    let stt = shared.engines.stt.clone();
    let token = cancel.clone();
    let result = tokio::spawn(async move {
        let r = stt.transcribe(audio, TranscribeKind::Final, token).await;
        if let Some((me, pause)) = tell {
            let heard = r.as_ref().ok().cloned();
            let _ = me.cast(SttMsg::SpeculativeText { pause, heard });
        }
        r
    });
    Speculation::new(cancel, result)
}

impl SttState {
    async fn on_frame(&mut self, myself: &ActorRef<SttMsg>, mut frame: AudioFrame) {
        if frame.sample_rate != STT_SAMPLE_RATE {
            if !self.warned_rate {
                self.warned_rate = true;
                tracing::warn!(
                    session_id = %self.shared.config.session_id,
                    sample_rate = frame.sample_rate,
                    "audio frame at the wrong sample rate for STT (want 16000): the transport must resample; frame skipped"
                );
            }
            return;
        }
        for s in frame.samples.iter_mut() {
            if !s.is_finite() {
                *s = 0.0;
            }
        }
        if self.utterance.is_none() && self.carried.is_none() {
            if let Some(c) = self.shared.take_carried_utterance() {
                tracing::info!(session_id = %self.shared.config.session_id, audio_ms = c.samples.duration_ms(), "Stt restarted mid-utterance: going on with what was heard");
                self.carried = Some(c);
            }
        }
        let event = match self.vad.push(&frame).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(session_id = %self.shared.config.session_id, error = %e, "VAD failed on a frame");
                None
            }
        };
        let frame_ms = frame.duration_ms();
        match event {
            Some(VadEvent::SpeechStart { .. }) => {
                if let Some(s) = self.speculation.take() {
                    s.discard();
                }
                // Speech back after a restart: the same utterance goes on.
                let mut samples = self.carried.take().map(|c| c.samples).unwrap_or_default();
                samples.take_preroll(&mut self.preroll);
                samples.push_f32(&frame.samples);
                self.utterance = Some(Utterance {
                    samples,
                    since_partial_ms: 0,
                });
                self.on_speech_start();
            }
            Some(VadEvent::SpeechEnd { .. }) => {
                if let Some(mut u) = self.utterance.take() {
                    u.samples.push_f32(&frame.samples);
                    let cause = if self.shared.engines.turn.is_some() {
                        TurnCause::ModelTimeout
                    } else {
                        TurnCause::SilenceRule
                    };
                    let after = self.pause_ms + frame_ms;
                    self.finish_utterance(myself, u, cause, after);
                }
            }
            None => {
                if let Some(u) = self.utterance.as_mut() {
                    u.samples.push_f32(&frame.samples);
                    u.since_partial_ms += frame_ms;
                    if !self.vad.pausing() {
                        if self.pause_ms > 0 {
                            self.pause_ms = 0;
                            self.pause_seq += 1;
                        }
                        if let Some(s) = self.speculation.take() {
                            // Speech came back: that audio was not the whole turn.
                            s.discard();
                        }
                    } else if self.speculation.is_none() {
                        // Its own token: a restart hands it to the next Stt.
                        let cancel = CancellationToken::new();
                        let audio = u.samples.to_f32();
                        let tell = self
                            .shared
                            .engines
                            .turn
                            .as_ref()
                            .map(|_| (myself.clone(), self.pause_seq));
                        self.speculation = Some(speculate(&self.shared, cancel, audio, tell));
                        // On a small pool a preview would hold the thread it needs.
                        if let Some(c) = self.partial_cancel.take() {
                            c.cancel();
                        }
                    }
                    let max = self.shared.config.stt.max_utterance_ms;
                    let too_long = u.samples.duration_ms() >= max;
                    if self.vad.pausing() {
                        self.pause_ms += frame_ms;
                        self.maybe_ask_turn(myself);
                        self.maybe_end_uncertain(myself);
                    }
                    if too_long {
                        tracing::info!(session_id = %self.shared.config.session_id, max_ms = max, "utterance reached its maximum length: transcribing it now");
                        if let Some(u) = self.utterance.take() {
                            let after = self.pause_ms;
                            self.finish_utterance(myself, u, TurnCause::MaxLength, after);
                        }
                    } else {
                        self.maybe_partial(myself);
                    }
                } else if let Some(mut c) = self.carried.take() {
                    c.samples.push_f32(&frame.samples);
                    c.pause_ms += frame_ms;
                    if c.pause_ms >= self.vad.silence_ms() {
                        // The decode started at the pause (by the Stt that
                        // died) holds every word: it is the final.
                        self.speculation = c.speculation.take();
                        let u = Utterance {
                            samples: std::mem::take(&mut c.samples),
                            since_partial_ms: 0,
                        };
                        self.finish_utterance(myself, u, TurnCause::SilenceRule, c.pause_ms);
                    } else {
                        self.carried = Some(c);
                    }
                } else {
                    let keep = (self.shared.config.stt.preroll_ms * STT_SAMPLE_RATE as u64 / 1000)
                        as usize;
                    if self.preroll.capacity() < keep {
                        self.preroll.reserve_exact(keep + frame.samples.len());
                    }
                    // The oldest out first (at once, not a sample at a time),
                    // then the frame in.
                    let over = (self.preroll.len() + frame.samples.len()).saturating_sub(keep);
                    self.preroll.drain(..over.min(self.preroll.len()));
                    let skip = frame.samples.len().saturating_sub(keep);
                    self.preroll
                        .extend(frame.samples[skip..].iter().map(|&s| to_i16(s)));
                }
            }
        }
    }

    fn maybe_partial(&mut self, myself: &ActorRef<SttMsg>) {
        let interval = self.shared.config.stt.partial_interval_ms;
        let Some(u) = self.utterance.as_mut() else {
            return;
        };
        if interval == 0
            || self.partial_inflight
            || self.speculation.is_some()
            || u.since_partial_ms < interval
        {
            return;
        }
        u.since_partial_ms = 0;
        self.partial_inflight = true;
        self.partial_seq += 1;
        let seq = self.partial_seq;
        let audio = u.samples.to_f32();
        let stt = self.shared.engines.stt.clone();
        let cancel = self.cancel.child_token();
        self.partial_cancel = Some(cancel.clone());
        let me = myself.clone();
        tokio::spawn(async move {
            let text = stt
                .transcribe(audio, TranscribeKind::Partial, cancel)
                .await
                .map(|t| t.text)
                .unwrap_or_default();
            let _ = me.cast(SttMsg::Partial { seq, text });
        });
    }

    /// The turn ended (`cause`, `after_ms` after the user's last speech):
    /// transcribe it and hand it on.
    fn finish_utterance(
        &mut self,
        myself: &ActorRef<SttMsg>,
        u: Utterance,
        cause: TurnCause,
        after_ms: u64,
    ) {
        turn_stats().decision(cause, after_ms);
        tracing::debug!(session_id = %self.shared.config.session_id, cause = cause.label(), after_ms, "end of turn");
        self.pause_ms = 0;
        self.pause_seq += 1;
        self.complete_at = None;
        self.uncertain_at = None;
        self.near_at = None;
        self.spec_text = None;
        // Made while the VAD paused and no speech since: it holds every word.
        let speculated = self.speculation.take();
        self.partial_seq += 1; // late partials of this utterance are stale now
        self.start_barge_in_window(myself);
        let eos_at = Instant::now();
        let turn = self.shared.next_turn();
        let trace_id = crate::ids::new_trace_id();
        let span = crate::telemetry::turn_span(&self.shared.config.session_id, &trace_id, turn);
        let audio_ms = u.samples.duration_ms();
        let stt_span = tracing::info_span!(parent: &span, "stt", audio_ms, model = %self.shared.engines.stt.model(), speculative = speculated.is_some());
        // Kept at 16 bits: the f32 copy is made only if the speculative
        // decode failed or there was none.
        let samples = u.samples;
        let stt = self.shared.engines.stt.clone();
        // Not this actor's token, and the transcript goes to whichever Stt is
        // live then: a restart between the end of the turn and its transcript
        // must not lose the turn.
        let cancel = CancellationToken::new();
        let shared = self.shared.clone();
        tokio::spawn(
            async move {
                let early = match speculated.and_then(Speculation::into_result) {
                    Some(r) => r.await.ok().and_then(Result::ok),
                    None => None,
                };
                // A failed speculative decode gets a fresh try on the whole turn.
                let result = match early {
                    Some(t) => Ok(t),
                    None => {
                        stt.transcribe(samples.to_f32(), TranscribeKind::Final, cancel)
                            .await
                    }
                };
                let latency_ms = eos_at.elapsed().as_millis() as u64;
                // An Stt that died a moment ago is restarted within
                // milliseconds: wait for it rather than lose the turn.
                for _ in 0..FINAL_DELIVERY_TRIES {
                    let msg = SttMsg::Final {
                        turn,
                        trace_id: trace_id.clone(),
                        result: result.clone(),
                        audio_ms,
                        eos_at,
                        latency_ms,
                        span: span.clone(),
                    };
                    if shared.to_stt(msg) || shared.ended() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
            .instrument(stt_span),
        );
    }
}
