//! Stt: pulls audio from the session's frame queue (with a few credits in
//! flight, so the mailbox stays small), runs VAD and endpointing, and turns
//! each utterance into partial and final transcripts. Transcription runs in
//! spawned tasks (the engine puts the inference on its blocking pool), so the
//! actor keeps listening, for barge-in, while a transcript is being made.
//!
//! The final decode starts speculatively when the user stops speaking (the
//! VAD is [pausing](crate::engine::VadStream::pausing)), on the utterance so
//! far: if the endpoint follows with no new speech, the trailing silence adds
//! no words and that decode is the final, mostly done by then. Speech that
//! comes back cancels it.

use super::messages::{
    ArchiverMsg, BrainMsg, PlayoutMsg, SessionNotice, SttMsg, TtsMsg, UserRecord, UserTurn,
};
use super::shared::Shared;
use crate::audio::{AudioFrame, STT_SAMPLE_RATE};
use crate::engine::{
    CancellationToken, EngineError, TranscribeKind, Transcript, VadEvent, VadStream,
};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;
use tracing::Instrument;

pub(crate) struct SttActor;

/// Sounds people make over a speaker without taking the turn (hesitations,
/// backchannels): not words that interrupt.
const FILLERS: [&str; 16] = [
    "a", "ah", "ahh", "eh", "er", "erm", "hm", "hmm", "huh", "mhm", "mm", "mmm", "uh", "uhm", "um",
    "mm-hmm",
];

/// Words of a transcript: whisper writes non-speech as "[BLANK_AUDIO]" or
/// "(static)", and a hum or a hesitation as "Hmm", "uh" or "A...": none of
/// those are words.
fn word_count(text: &str) -> usize {
    let mut depth = 0i32;
    let mut outside = String::new();
    for c in text.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            c if depth <= 0 => outside.push(c),
            _ => {}
        }
    }
    outside
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .map(|w| w.trim_matches('-').to_lowercase())
        .filter(|w| !w.is_empty() && !FILLERS.contains(&w.as_str()))
        .count()
}

fn has_words(text: &str) -> bool {
    word_count(text) > 0
}

/// Words a partial transcript needs to confirm a barge-in while the user is
/// still speaking: whisper guesses a word or two on the first half second of
/// a hum or a cough ("Then...", "You"); the final transcript decides those.
const PARTIAL_CONFIRM_WORDS: usize = 3;

struct Utterance {
    samples: Vec<f32>,
    since_partial_ms: u64,
}

/// A final decode started when the user paused, not yet used or discarded.
struct Speculation {
    cancel: CancellationToken,
    result: tokio::task::JoinHandle<Result<Transcript, EngineError>>,
}

impl Speculation {
    fn discard(self) {
        self.cancel.cancel();
        self.result.abort();
    }
}

pub(crate) struct SttState {
    shared: Arc<Shared>,
    vad: Box<dyn VadStream>,
    preroll: VecDeque<f32>,
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
    /// Cancels the pump and in-flight transcriptions when this actor dies.
    cancel: CancellationToken,
}

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
        let credits = Arc::new(Semaphore::new(shared.config.frame_credits.max(1)));
        let frames = shared.frames.clone();
        let pump_cancel = cancel.clone();
        tokio::spawn(async move {
            loop {
                let permit = tokio::select! {
                    _ = pump_cancel.cancelled() => return,
                    p = credits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
                };
                let frame = tokio::select! {
                    _ = pump_cancel.cancelled() => return,
                    f = frames.pop() => match f { Some(f) => f, None => return },
                };
                if myself.cast(SttMsg::Frame(frame, permit)).is_err() {
                    return;
                }
            }
        });
        Ok(SttState {
            vad: shared.engines.vad.stream(),
            shared,
            preroll: VecDeque::new(),
            utterance: None,
            partial_seq: 0,
            partial_inflight: false,
            partial_cancel: None,
            speculation: None,
            warned_rate: false,
            barge: None,
            barge_seq: 0,
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
            SttMsg::Frame(frame, _permit) => st.on_frame(&myself, frame).await,
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
                    st.shared.to_archiver(ArchiverMsg::User(UserRecord {
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
            SttMsg::Fault => panic!("fault injected into stt"),
        }
        Ok(())
    }
}

/// The user stopped speaking: decode the utterance so far as the final.
fn speculate(shared: &Shared, cancel: CancellationToken, audio: Arc<[f32]>) -> Speculation {
    let stt = shared.engines.stt.clone();
    let token = cancel.clone();
    let result =
        tokio::spawn(async move { stt.transcribe(audio, TranscribeKind::Final, token).await });
    Speculation { cancel, result }
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
                let mut samples: Vec<f32> = self.preroll.drain(..).collect();
                samples.extend_from_slice(&frame.samples);
                self.utterance = Some(Utterance {
                    samples,
                    since_partial_ms: 0,
                });
                self.on_speech_start();
            }
            Some(VadEvent::SpeechEnd { .. }) => {
                if let Some(mut u) = self.utterance.take() {
                    u.samples.extend_from_slice(&frame.samples);
                    self.finish_utterance(myself, u);
                }
            }
            None => {
                if let Some(u) = self.utterance.as_mut() {
                    u.samples.extend_from_slice(&frame.samples);
                    u.since_partial_ms += frame_ms;
                    if !self.vad.pausing() {
                        if let Some(s) = self.speculation.take() {
                            // Speech came back: that audio was not the whole turn.
                            s.discard();
                        }
                    } else if self.speculation.is_none() {
                        let cancel = self.cancel.child_token();
                        let audio = u.samples.clone().into();
                        self.speculation = Some(speculate(&self.shared, cancel, audio));
                        // On a small pool a preview would hold the thread it needs.
                        if let Some(c) = self.partial_cancel.take() {
                            c.cancel();
                        }
                    }
                    let max = self.shared.config.stt.max_utterance_ms;
                    if u.samples.len() as u64 * 1000 / STT_SAMPLE_RATE as u64 >= max {
                        tracing::info!(session_id = %self.shared.config.session_id, max_ms = max, "utterance reached its maximum length: transcribing it now");
                        if let Some(u) = self.utterance.take() {
                            self.finish_utterance(myself, u);
                        }
                    } else {
                        self.maybe_partial(myself);
                    }
                } else {
                    let keep = (self.shared.config.stt.preroll_ms * STT_SAMPLE_RATE as u64 / 1000)
                        as usize;
                    self.preroll.extend(frame.samples.iter().copied());
                    while self.preroll.len() > keep {
                        self.preroll.pop_front();
                    }
                }
            }
        }
    }

    fn on_speech_start(&mut self) {
        self.shared
            .to_playout(PlayoutMsg::Notice(SessionNotice::SpeechStarted));
        if let Some(b) = self.barge.as_mut() {
            // Still undecided: the window starts again when this speech ends.
            b.speech_ended = false;
            self.barge_seq += 1;
            b.id = self.barge_seq;
            return;
        }
        let Some(turn) = self.shared.agent_busy() else {
            return;
        };
        if self.shared.config.barge_in.false_interruption_ms == 0 {
            self.interrupt(turn);
            return;
        }
        // Silence the agent within a frame, but keep its reply: a cough is
        // not an interruption. Words decide (see `confirm_barge_in`).
        tracing::debug!(session_id = %self.shared.config.session_id, turn, "user speech over the agent: audio paused");
        self.barge_seq += 1;
        self.barge = Some(PendingBargeIn {
            turn,
            id: self.barge_seq,
            speech_ended: false,
        });
        self.shared.to_playout(PlayoutMsg::Pause);
    }

    /// The user talks over the agent: stop thinking and speaking at once.
    fn interrupt(&mut self, turn: u64) {
        tracing::info!(session_id = %self.shared.config.session_id, turn, "barge-in");
        // Before the user's words reach the Brain: its next prompt holds only
        // what the user heard of this reply (the audio is paused or flushed).
        self.shared.cut_reply(turn);
        self.shared.to_brain(BrainMsg::BargeIn);
        self.shared.to_tts(TtsMsg::Cancel);
        self.shared.to_playout(PlayoutMsg::Flush { turn });
        self.shared
            .to_playout(PlayoutMsg::Notice(SessionNotice::BargeIn { turn }));
        self.shared.to_archiver(ArchiverMsg::Interrupted { turn });
    }

    /// Words were heard over the paused agent: a real interruption.
    fn confirm_barge_in(&mut self) {
        if let Some(b) = self.barge.take() {
            self.interrupt(b.turn);
        }
    }

    /// No words came: the agent goes on where it paused.
    fn false_interruption(&mut self) {
        if let Some(b) = self.barge.take() {
            tracing::info!(session_id = %self.shared.config.session_id, turn = b.turn, "false interruption (no words): resuming the reply");
            self.shared.to_playout(PlayoutMsg::Resume);
        }
    }

    /// The user stopped speaking: if no words come within the window, resume.
    fn start_barge_in_window(&mut self, myself: &ActorRef<SttMsg>) {
        let Some(b) = self.barge.as_mut() else {
            return;
        };
        b.speech_ended = true;
        let id = b.id;
        let window =
            std::time::Duration::from_millis(self.shared.config.barge_in.false_interruption_ms);
        myself.send_after(window, move || SttMsg::BargeInWindow { id });
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
        let audio: Arc<[f32]> = u.samples.clone().into();
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

    fn finish_utterance(&mut self, myself: &ActorRef<SttMsg>, u: Utterance) {
        // Made while the VAD paused and no speech since: it holds every word.
        let speculated = self.speculation.take();
        self.partial_seq += 1; // late partials of this utterance are stale now
        self.start_barge_in_window(myself);
        let eos_at = Instant::now();
        let turn = self.shared.next_turn();
        let trace_id = crate::ids::new_trace_id();
        let span = crate::telemetry::turn_span(&self.shared.config.session_id, &trace_id, turn);
        let audio_ms = u.samples.len() as u64 * 1000 / STT_SAMPLE_RATE as u64;
        let stt_span = tracing::info_span!(parent: &span, "stt", audio_ms, model = %self.shared.engines.stt.model(), speculative = speculated.is_some());
        let audio: Arc<[f32]> = u.samples.into();
        let stt = self.shared.engines.stt.clone();
        let cancel = self.cancel.child_token();
        let me = myself.clone();
        tokio::spawn(
            async move {
                let early = match speculated {
                    Some(s) => s.result.await.ok().and_then(Result::ok),
                    None => None,
                };
                // A failed speculative decode gets a fresh try on the whole turn.
                let result = match early {
                    Some(t) => Ok(t),
                    None => stt.transcribe(audio, TranscribeKind::Final, cancel).await,
                };
                let _ = me.cast(SttMsg::Final {
                    turn,
                    trace_id,
                    result,
                    audio_ms,
                    eos_at,
                    latency_ms: eos_at.elapsed().as_millis() as u64,
                    span,
                });
            }
            .instrument(stt_span),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fillers_and_non_speech_are_not_words() {
        for t in [
            "",
            " [BLANK_AUDIO]",
            "(static)",
            "Hmm",
            "uh",
            "A...",
            "Mm-hmm.",
            "Uh, um.",
        ] {
            assert!(!super::has_words(t), "{t:?}");
        }
        for t in ["Stop.", "wait", "Uh, stop please", "I'm done", "no"] {
            assert!(super::has_words(t), "{t:?}");
        }
        assert_eq!(super::word_count("Uh, stop [noise] right now"), 3);
    }
}
