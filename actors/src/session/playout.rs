//! Playout: the session child that plays the agent's audio out. It hands
//! agent audio and notices to the session's [`AudioOutput`](super::AudioOutput)
//! (the real transport: a browser socket, a LiveKit room or a file, all in the
//! root crate's `src/transports/`), marks the moment each turn's first audio
//! leaves (the end of the voice-to-voice latency), and is the playout clock:
//! with `barge_in.paced_playout` it releases one frame per frame duration, so a
//! barge-in pauses or drops the audio within one frame, and the text the user
//! actually heard is known (the sentences whose frames were played, see
//! `turn_audio.rs`). A turn is done when its last frame has played, not when
//! synthesis ends. Incoming audio does not pass here: the transport pushes it
//! into the session's frame queue, which the Stt reads.

use super::messages::{PlayoutMsg, SessionNotice};
use super::shared::Shared;
use super::turn_parts::TurnPart;
use crate::pcm16::Pcm16Frame;
use crate::playout_gaps::{playout_gaps, GapCause};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) struct PlayoutActor;

enum Out {
    Frame {
        turn: u64,
        sentence: usize,
        /// 16-bit while it waits (`tts.max_ahead_ms` of it per speaking agent).
        frame: Pcm16Frame,
    },
    End {
        turn: u64,
        interrupted: bool,
    },
}

pub(crate) struct PlayoutState {
    shared: Arc<Shared>,
    last_started_turn: u64,
    queue: VecDeque<Out>,
    paced: bool,
    paused: bool,
    /// When the next frame may go out (paced playout): the schedule.
    clock: tokio::time::Instant,
    /// Where the audio released so far ends for the listener (paced): a
    /// frame released after it leaves a silence. Ahead of `clock` while a
    /// late frame is caught up on.
    played_until: tokio::time::Instant,
    tick_pending: bool,
    /// Frames of turns up to this one were dropped by a barge-in; late ones are too.
    dropped_upto: u64,
    /// The frame at the queue's front came after it was due (paced, mid-reply):
    /// the synthesis fell behind the speaker ([`crate::playout_gaps`]).
    starved: bool,
    /// Turns this Playout ended when it took over from one that died: their
    /// end (or a frame) may still come, and changes nothing.
    taken_over: Vec<u64>,
}

impl Actor for PlayoutActor {
    type Msg = PlayoutMsg;
    type State = PlayoutState;
    type Arguments = Arc<Shared>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        shared: Arc<Shared>,
    ) -> Result<Self::State, ActorProcessingErr> {
        shared.set_playing(None);
        shared.reset_playout_ahead();
        Ok(PlayoutState {
            paced: shared.config.barge_in.paced_playout,
            shared,
            last_started_turn: 0,
            queue: VecDeque::new(),
            paused: false,
            clock: tokio::time::Instant::now(),
            played_until: tokio::time::Instant::now(),
            tick_pending: false,
            dropped_upto: 0,
            starved: false,
            taken_over: Vec::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PlayoutMsg::Play { turn, frame } => {
                if st.taken_over(turn) || turn <= st.dropped_upto {
                    st.shared.left_playout(frame.duration_ms());
                    return Ok(());
                }
                let ms = frame.duration_ms();
                let sentence = st
                    .shared
                    .with_playout(|turns| turns.entry(turn).or_default().queue(ms));
                st.shared.set_playing(Some(turn));
                if st.paced
                    && !st.paused
                    && turn == st.last_started_turn
                    && st.queue.is_empty()
                    && st.played_until < tokio::time::Instant::now()
                {
                    st.starved = true;
                }
                st.queue.push_back(Out::Frame {
                    turn,
                    sentence,
                    frame,
                });
                st.pump(&myself);
            }
            PlayoutMsg::Sentence { turn, text } => {
                if st.taken_over(turn) || turn <= st.dropped_upto {
                    return Ok(());
                }
                st.shared
                    .with_playout(|turns| turns.entry(turn).or_default().begin_sentence(text));
            }
            PlayoutMsg::TurnEnd { turn, interrupted } => {
                if st.taken_over(turn) {
                    return Ok(());
                }
                st.shared
                    .with_playout(|turns| turns.entry(turn).or_default().end_queued());
                st.queue.push_back(Out::End { turn, interrupted });
                st.pump(&myself);
            }
            PlayoutMsg::Tick => {
                st.tick_pending = false;
                st.pump(&myself);
            }
            PlayoutMsg::Pause => {
                if !st.paused {
                    st.paused = true;
                    // Paced, the output holds at most the frame being played:
                    // drop it. Unpaced, it holds audio that could not be
                    // resumed: only a confirmed barge-in flushes it.
                    if st.paced {
                        st.shared.output.flush();
                    }
                }
            }
            PlayoutMsg::Resume => {
                if st.paused {
                    st.paused = false;
                    st.clock = tokio::time::Instant::now();
                    st.played_until = st.clock;
                    st.pump(&myself);
                }
            }
            PlayoutMsg::TakeOver => st.take_over(myself.get_id()),
            PlayoutMsg::Flush { turn } => st.flush(&myself, turn),
            PlayoutMsg::Notice(n) => st.shared.output.notice(n),
            PlayoutMsg::Fault => panic!("fault injected into transport"),
        }
        Ok(())
    }
}

impl PlayoutState {
    /// Release what is due: everything when not paced, else one frame per
    /// frame duration (a tick is set for the next one).
    fn pump(&mut self, myself: &ActorRef<PlayoutMsg>) {
        while !self.paused {
            let Some(front) = self.queue.front() else {
                return;
            };
            if let Out::Frame { .. } = front {
                if self.paced {
                    let now = tokio::time::Instant::now();
                    if self.clock > now {
                        if !self.tick_pending {
                            self.tick_pending = true;
                            self.shared.pacer.tick_at(self.clock, myself);
                        }
                        return;
                    }
                }
            }
            match self.queue.pop_front() {
                Some(Out::Frame {
                    turn,
                    sentence,
                    frame,
                }) => self.play(turn, sentence, frame),
                Some(Out::End { turn, interrupted }) => self.end_turn(turn, interrupted),
                None => return,
            }
        }
    }

    fn play(&mut self, turn: u64, sentence: usize, frame: Pcm16Frame) {
        let ms = frame.duration_ms();
        self.shared.left_playout(ms);
        let now = tokio::time::Instant::now();
        if self.paced && turn == self.last_started_turn {
            // Mid-reply: how long after the previous frame ended this one goes.
            let late = now.saturating_duration_since(self.played_until);
            let cause = if self.starved {
                GapCause::Synthesis
            } else {
                GapCause::Node
            };
            playout_gaps().gap(cause, late);
        }
        self.starved = false;
        if turn > self.last_started_turn {
            self.last_started_turn = turn;
            self.shared.record_part(TurnPart::FirstAudio {
                turn,
                at: Instant::now(),
            });
        }
        self.shared.with_playout(|turns| {
            if let Some(p) = turns.get_mut(&turn) {
                p.played(sentence, ms);
            }
        });
        if self.paced {
            // Late by less than a frame (a timer rounds up to the next
            // millisecond): keep to the schedule, so the speech goes out at
            // its true rate. Later (a gap in the audio): start again from
            // now, not in the past.
            let frame = Duration::from_millis(ms);
            let from = if now.saturating_duration_since(self.clock) < frame {
                self.clock
            } else {
                now
            };
            self.clock = from + frame;
            self.played_until = self.played_until.max(now) + frame;
        }
        self.shared.output.play(turn, frame);
    }

    /// A turn this Playout ended when it took over: what still comes of it
    /// (nothing should) is dropped.
    fn taken_over(&self, turn: u64) -> bool {
        self.taken_over.contains(&turn)
    }

    /// After a crash: the turns whose end reached the Playout that died, or
    /// was sent to it, are over (what was not played is lost, and the
    /// record says what the user heard). A turn still being synthesized
    /// goes on here: its next frames and its end come to this Playout.
    fn take_over(&mut self, me: ractor::ActorId) {
        let orphaned: Vec<(u64, bool)> = self.shared.with_playout(|turns| {
            turns
                .iter()
                .filter(|(_, p)| p.ended_elsewhere(me))
                .map(|(t, p)| (*t, !p.all_played()))
                .collect()
        });
        for (turn, cut) in orphaned {
            self.last_started_turn = self.last_started_turn.max(turn);
            self.taken_over.push(turn);
            self.end_turn(turn, cut);
        }
    }

    /// The user talked over the agent: nothing more of what is queued is played.
    fn flush(&mut self, myself: &ActorRef<PlayoutMsg>, upto: u64) {
        self.dropped_upto = self.dropped_upto.max(upto);
        let upto = self.dropped_upto;
        let mut dropped_ms = 0;
        self.queue.retain(|o| match o {
            Out::Frame { turn, frame, .. } if *turn <= upto => {
                dropped_ms += frame.duration_ms();
                false
            }
            _ => true,
        });
        self.shared.left_playout(dropped_ms);
        self.shared.with_playout(|turns| {
            for (_, p) in turns.range_mut(..=upto) {
                p.flush();
            }
        });
        self.paused = false;
        self.shared.output.flush();
        self.pump(myself);
    }

    fn end_turn(&mut self, turn: u64, interrupted: bool) {
        let p = self
            .shared
            .with_playout(|turns| turns.remove(&turn))
            .unwrap_or_default();
        let interrupted = interrupted || p.flushed();
        let heard = p.heard();
        if interrupted {
            self.shared.with_context(|c| c.cut_reply(turn, &heard));
        }
        if !self.queue.iter().any(|o| matches!(o, Out::Frame { .. })) {
            self.shared.set_playing(None);
        }
        self.shared.record_part(TurnPart::Played {
            turn,
            text: heard,
            interrupted,
        });
        self.shared
            .output
            .notice(SessionNotice::AgentTurnDone { turn, interrupted });
        self.shared.reply_done(turn, interrupted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::FrameQueue;
    use crate::emit::ServiceIdentity;
    use crate::engine::Engines;
    use crate::session::messages::AudioOutput;
    use crate::session::pacer::Pacer;
    use crate::session::SessionConfig;
    use crate::sink::EventSink;
    use crate::synthetic::{silence_frames, EchoLlm, EnergyVad, ScriptedStt, ToneTts};
    use parking_lot::Mutex;

    /// What the caller would get: the turn-done notices and the audio.
    #[derive(Default)]
    struct Caller {
        done: Mutex<Vec<(u64, bool)>>,
        audio_ms: Mutex<u64>,
    }

    impl AudioOutput for Caller {
        fn play(&self, _turn: u64, frame: Pcm16Frame) {
            *self.audio_ms.lock() += frame.duration_ms();
        }
        fn flush(&self) {}
        fn notice(&self, notice: SessionNotice) {
            if let SessionNotice::AgentTurnDone { turn, interrupted } = notice {
                self.done.lock().push((turn, interrupted));
            }
        }
    }

    fn shared(caller: Arc<Caller>) -> Arc<Shared> {
        let engines = Engines {
            vad: Arc::new(EnergyVad::default()),
            stt: Arc::new(ScriptedStt::new(Vec::new())),
            llm: Arc::new(EchoLlm::default()),
            tts: Arc::new(ToneTts::default()),
            tools: None,
            turn: None,
        };
        let (sink, _events) = EventSink::new(64);
        let mut config = SessionConfig::default();
        config.barge_in.paced_playout = false;
        Arc::new(Shared::new(
            Arc::new(config),
            Arc::new(ServiceIdentity::local("playout-test")),
            engines,
            sink,
            caller,
            Arc::new(FrameQueue::new(8)),
            Pacer::start().0,
        ))
    }

    fn play(shared: &Shared, turn: u64, ms: u64) {
        for f in silence_frames(ms) {
            shared.to_playout(PlayoutMsg::Play {
                turn,
                frame: Pcm16Frame::from_f32(&f),
            });
        }
    }

    async fn spawn(shared: &Arc<Shared>) -> ActorRef<PlayoutMsg> {
        let (r, _) = Actor::spawn(None, PlayoutActor, shared.clone())
            .await
            .expect("spawn");
        *shared.routes.playout.write() = Some(r.clone());
        r
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// The Playout dies after the last frame of turn 1 and the Tts's
    /// `TurnEnd` goes to it (the route not yet swapped): the one that
    /// follows ends turn 1 once when it takes over, and a late end of it
    /// changes nothing. Turn 2, all sent to the new one (its end included)
    /// before that one got to its `TakeOver`, plays whole.
    #[tokio::test]
    async fn a_turn_whose_end_went_to_a_dead_playout_is_ended_once_by_the_next() {
        let caller = Arc::new(Caller::default());
        let shared = shared(caller.clone());
        let first = spawn(&shared).await;
        play(&shared, 1, 200);
        settle().await;
        first.stop(None);
        settle().await;
        shared.send_turn_end(1, false);
        assert!(caller.done.lock().is_empty());

        let next = spawn(&shared).await;
        let _ = next.cast(PlayoutMsg::TakeOver);
        // Behind the TakeOver in its mailbox (this runtime runs nothing
        // until the test waits).
        play(&shared, 2, 100);
        shared.send_turn_end(2, false);
        settle().await;
        assert_eq!(*caller.done.lock(), vec![(1, false), (2, false)]);

        // An end of turn 1 that came late, and a stray frame of it.
        let _ = next.cast(PlayoutMsg::TurnEnd {
            turn: 1,
            interrupted: false,
        });
        play(&shared, 1, 20);
        settle().await;
        assert_eq!(*caller.done.lock(), vec![(1, false), (2, false)]);
        assert_eq!(
            *caller.audio_ms.lock(),
            300,
            "turn 1's stray frame is dropped"
        );
    }
}
