//! Transport: hands agent audio and notices to the session's output, marks the
//! moment each turn's first audio leaves (the end of the voice-to-voice
//! latency), and is the playout clock: with `barge_in.paced_playout` it
//! releases one frame per frame duration, so a barge-in pauses or drops the
//! audio within one frame, and the text the user actually heard is known
//! (the sentences whose frames were played). A turn is done when its last
//! frame has played, not when synthesis ends.

use super::messages::{ArchiverMsg, SessionNotice, TransportMsg};
use super::shared::Shared;
use crate::audio::AudioFrame;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) struct TransportActor;

enum Out {
    Frame {
        turn: u64,
        sentence: usize,
        frame: AudioFrame,
    },
    End {
        turn: u64,
        interrupted: bool,
    },
}

#[derive(Default)]
pub(crate) struct Sentence {
    text: String,
    queued_ms: u64,
    played_ms: u64,
    /// All its audio has arrived (the next sentence began, or the turn ended).
    complete: bool,
}

/// What is known of a turn's audio: each sentence, how much was queued and played.
#[derive(Default)]
pub(crate) struct Playout {
    sentences: Vec<Sentence>,
    /// Its frames were dropped by a barge-in.
    flushed: bool,
}

impl Playout {
    /// The words the user heard: whole sentences played out, and of a sentence
    /// cut midway the share of its words that its played audio covers.
    pub(crate) fn heard(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for s in &self.sentences {
            if s.complete && s.played_ms >= s.queued_ms {
                out.push(s.text.clone());
                continue;
            }
            if s.complete && s.queued_ms > 0 && s.played_ms > 0 {
                let words: Vec<&str> = s.text.split_whitespace().collect();
                let n = (words.len() as u64 * s.played_ms / s.queued_ms) as usize;
                if n > 0 {
                    out.push(words[..n].join(" "));
                }
            }
            break;
        }
        out.join(" ")
    }
}

pub(crate) struct TransportState {
    shared: Arc<Shared>,
    last_started_turn: u64,
    queue: VecDeque<Out>,
    paced: bool,
    paused: bool,
    /// When the next frame may go out (paced playout).
    clock: tokio::time::Instant,
    tick_pending: bool,
    /// Frames of turns up to this one were dropped by a barge-in; late ones are too.
    dropped_upto: u64,
}

impl Actor for TransportActor {
    type Msg = TransportMsg;
    type State = TransportState;
    type Arguments = Arc<Shared>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        shared: Arc<Shared>,
    ) -> Result<Self::State, ActorProcessingErr> {
        shared.set_playing(None);
        Ok(TransportState {
            paced: shared.config.barge_in.paced_playout,
            shared,
            last_started_turn: 0,
            queue: VecDeque::new(),
            paused: false,
            clock: tokio::time::Instant::now(),
            tick_pending: false,
            dropped_upto: 0,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TransportMsg::Play { turn, frame } => {
                if turn <= st.dropped_upto {
                    return Ok(());
                }
                let ms = frame.duration_ms();
                let sentence = st.shared.with_playout(|turns| {
                    let p = turns.entry(turn).or_default();
                    if p.sentences.is_empty() {
                        p.sentences.push(Sentence::default());
                    }
                    let sentence = p.sentences.len() - 1;
                    p.sentences[sentence].queued_ms += ms;
                    sentence
                });
                st.shared.set_playing(Some(turn));
                st.queue.push_back(Out::Frame {
                    turn,
                    sentence,
                    frame,
                });
                st.pump(&myself);
            }
            TransportMsg::Sentence { turn, text } => {
                if turn <= st.dropped_upto {
                    return Ok(());
                }
                st.shared.with_playout(|turns| {
                    let p = turns.entry(turn).or_default();
                    if let Some(last) = p.sentences.last_mut() {
                        last.complete = true;
                    }
                    p.sentences.push(Sentence {
                        text,
                        ..Default::default()
                    });
                });
            }
            TransportMsg::TurnEnd { turn, interrupted } => {
                st.shared.with_playout(|turns| {
                    if let Some(last) = turns.get_mut(&turn).and_then(|p| p.sentences.last_mut()) {
                        last.complete = true;
                    }
                });
                st.queue.push_back(Out::End { turn, interrupted });
                st.pump(&myself);
            }
            TransportMsg::Tick => {
                st.tick_pending = false;
                st.pump(&myself);
            }
            TransportMsg::Pause => {
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
            TransportMsg::Resume => {
                if st.paused {
                    st.paused = false;
                    st.clock = tokio::time::Instant::now();
                    st.pump(&myself);
                }
            }
            TransportMsg::Flush { turn } => st.flush(&myself, turn),
            TransportMsg::Notice(n) => st.shared.output.notice(n),
            TransportMsg::Fault => panic!("fault injected into transport"),
        }
        Ok(())
    }
}

impl TransportState {
    /// Release what is due: everything when not paced, else one frame per
    /// frame duration (a tick is set for the next one).
    fn pump(&mut self, myself: &ActorRef<TransportMsg>) {
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
                            myself.send_after(self.clock - now, || TransportMsg::Tick);
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

    fn play(&mut self, turn: u64, sentence: usize, frame: AudioFrame) {
        let ms = frame.duration_ms();
        if turn > self.last_started_turn {
            self.last_started_turn = turn;
            self.shared.to_archiver(ArchiverMsg::FirstAudio {
                turn,
                at: Instant::now(),
            });
        }
        self.shared.with_playout(|turns| {
            if let Some(s) = turns
                .get_mut(&turn)
                .and_then(|p| p.sentences.get_mut(sentence))
            {
                s.played_ms += ms;
            }
        });
        if self.paced {
            // Late (a gap in the audio): start again from now, not in the past.
            let now = tokio::time::Instant::now();
            self.clock = self.clock.max(now) + Duration::from_millis(ms);
        }
        self.shared.output.play(turn, frame);
    }

    /// The user talked over the agent: nothing more of what is queued is played.
    fn flush(&mut self, myself: &ActorRef<TransportMsg>, upto: u64) {
        self.dropped_upto = self.dropped_upto.max(upto);
        let upto = self.dropped_upto;
        self.queue
            .retain(|o| !matches!(o, Out::Frame { turn, .. } if *turn <= upto));
        self.shared.with_playout(|turns| {
            for (_, p) in turns.range_mut(..=upto) {
                p.flushed = true;
                // Only what was played counts from now on.
                for s in &mut p.sentences {
                    s.complete = true;
                }
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
        let interrupted = interrupted || p.flushed;
        let heard = p.heard();
        if interrupted {
            self.shared.with_context(|c| c.cut_reply(turn, &heard));
        }
        if !self.queue.iter().any(|o| matches!(o, Out::Frame { .. })) {
            self.shared.set_playing(None);
        }
        self.shared.to_archiver(ArchiverMsg::Played {
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
