//! State a session's children share: configuration, engines, the routing table
//! to each other, and what must survive a child's restart. It uses only the
//! messages and the session's plain data (`config`, `stats`, `turn_audio`),
//! never an actor: every child uses it, it uses no child.

use super::config::SessionConfig;
use super::emit::{self, SessionFacts};
use super::messages::{
    ArchiverMsg, AudioOutput, BrainMsg, EndReason, PlayoutMsg, SessionMsg, SessionSummary, SttMsg,
    TtsMsg, UserTurn,
};
use super::pacer::Pacer;
use super::stats::SessionStats;
use super::stt_carry::CarriedUtterance;
use super::tts_book::TtsBook;
use super::tts_lead::TtsLead;
use super::turn_audio::TurnAudio;
use super::turn_parts::{TurnPart, TurnParts};
use crate::audio::FrameQueue;
use crate::context::ConversationContext;
use crate::emit::ServiceIdentity;
use crate::engine::Engines;
use crate::sink::EventSink;
use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use ractor::ActorRef;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Current address of each child; replaced when the supervisor restarts one.
#[derive(Default)]
pub(crate) struct Routes {
    pub(crate) playout: RwLock<Option<ActorRef<PlayoutMsg>>>,
    pub(crate) stt: RwLock<Option<ActorRef<SttMsg>>>,
    pub(crate) brain: RwLock<Option<ActorRef<BrainMsg>>>,
    pub(crate) tts: RwLock<Option<ActorRef<TtsMsg>>>,
    pub(crate) archiver: RwLock<Option<ActorRef<ArchiverMsg>>>,
}

pub(crate) struct Shared {
    /// The node's table holds the same one.
    pub(crate) config: Arc<SessionConfig>,
    /// The node's, shared.
    pub(crate) identity: Arc<ServiceIdentity>,
    pub(crate) engines: Engines,
    pub(crate) sink: EventSink,
    pub(crate) output: Arc<dyn AudioOutput>,
    pub(crate) frames: Arc<FrameQueue>,
    /// The node's playout pacer (the Playout's frame clock).
    pub(crate) pacer: Pacer,
    pub(crate) context: Mutex<ConversationContext>,
    pub(crate) routes: Routes,
    pub(crate) started_at: DateTime<Utc>,
    turn_seq: AtomicU64,
    /// The turn the Brain is answering, so a restarted Brain can answer it.
    inflight: Mutex<Option<UserTurn>>,
    /// The utterance the Stt was hearing when it died, so a restarted Stt
    /// goes on with it instead of losing what the user said.
    stt_carry: Mutex<Option<CarriedUtterance>>,
    /// `stt_carry` holds one (read on every frame: an atomic, not the lock).
    stt_carried: AtomicBool,
    /// The turn whose reply is being spoken, if any.
    speaking: Mutex<Option<u64>>,
    /// The turn whose audio the Playout is still playing out, if any.
    playing: Mutex<Option<u64>>,
    /// Agent audio sent to the Playout and not yet played or dropped (ms):
    /// the Tts waits past its lead (`tts_lead`).
    playout_ahead_ms: AtomicU64,
    /// How much of it the engine's pace calls for.
    pub(crate) tts_lead: TtsLead,
    /// Per turn, what of its audio was queued and played (the Playout
    /// writes it; a barge-in reads what was heard). Boxed, as `record_parts`
    /// below: a map node has room for 11 values (~1 KB of them unboxed) for
    /// the one or two turns a session has playing.
    playout: Mutex<BTreeMap<u64, Box<TurnAudio>>>,
    stats: Mutex<SessionStats>,
    /// Per turn, the parts of its record not yet archived. Boxed: a map
    /// node has room for 11 values, 4 KB of them unboxed, for the one or two
    /// turns a session has in flight.
    record_parts: Mutex<BTreeMap<u64, Box<TurnParts>>>,
    /// What the Tts owes the Playout (a restarted Tts goes on with it).
    tts_book: Mutex<TtsBook>,
    /// Messages that found no live child (lost during a restart).
    pub(crate) undelivered: AtomicU64,
    /// The session's supervisor (children ask it to end the session).
    pub(crate) supervisor: OnceLock<ActorRef<SessionMsg>>,
    /// The model called `end_call` in this turn: end once its reply is spoken.
    end_after: Mutex<Option<u64>>,
    /// session-metrics went out: one per session, the Archiver's, or the
    /// supervisor's from these totals when the Archiver is gone or slow.
    metrics_sent: AtomicBool,
}

fn send<M: Send + 'static>(slot: &RwLock<Option<ActorRef<M>>>, msg: M, lost: &AtomicU64) -> bool {
    send_to(&slot.read(), msg, lost)
}

/// To the child a route holds (its lock already taken); counted if it is gone.
fn send_to<M: Send + 'static>(to: &Option<ActorRef<M>>, msg: M, lost: &AtomicU64) -> bool {
    match to.as_ref() {
        Some(r) if r.cast(msg).is_ok() => true,
        _ => {
            lost.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

impl Shared {
    pub(crate) fn new(
        config: Arc<SessionConfig>,
        identity: Arc<ServiceIdentity>,
        engines: Engines,
        sink: EventSink,
        output: Arc<dyn AudioOutput>,
        frames: Arc<FrameQueue>,
        pacer: Pacer,
    ) -> Self {
        let context = ConversationContext::new(
            config.brain.system_prompt.clone(),
            config.brain.context_token_budget,
        )
        .with_examples(&config.brain.examples)
        // A brain tier answers seed requests with its own prompt: it cannot
        // be asked for a summary.
        .with_summaries(config.brain.summarize && !engines.llm.publishes_seed_request());
        Self {
            frames,
            pacer,
            config,
            identity,
            engines,
            sink,
            output,
            context: Mutex::new(context),
            routes: Routes::default(),
            started_at: Utc::now(),
            turn_seq: AtomicU64::new(0),
            inflight: Mutex::new(None),
            stt_carry: Mutex::new(None),
            stt_carried: AtomicBool::new(false),
            speaking: Mutex::new(None),
            playing: Mutex::new(None),
            playout_ahead_ms: AtomicU64::new(0),
            tts_lead: TtsLead::default(),
            playout: Mutex::default(),
            stats: Mutex::default(),
            record_parts: Mutex::default(),
            tts_book: Mutex::default(),
            undelivered: AtomicU64::new(0),
            metrics_sent: AtomicBool::new(false),
            supervisor: OnceLock::new(),
            end_after: Mutex::new(None),
        }
    }

    /// Turns are numbered from 1 in the order the user finished speaking.
    pub(crate) fn next_turn(&self) -> u64 {
        self.turn_seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The number the utterance being spoken now will get.
    pub(crate) fn peek_next_turn(&self) -> u64 {
        self.turn_seq.load(Ordering::Relaxed) + 1
    }

    pub(crate) fn to_playout(&self, m: PlayoutMsg) -> bool {
        send(&self.routes.playout, m, &self.undelivered)
    }
    /// Tell the Playout that `turn`'s audio is all sent, marked in the
    /// shared state with the Playout it went to (under the route's lock, so
    /// the mark and the send agree): if that Playout dies with the message
    /// in its mailbox, or was dead already, the one that follows ends the
    /// turn when it takes over ([`PlayoutMsg::TakeOver`]).
    pub(crate) fn send_turn_end(&self, turn: u64, interrupted: bool) {
        let route = self.routes.playout.read();
        let to = route.as_ref().map(|r| r.get_id());
        self.with_playout(|turns| turns.entry(turn).or_default().end_sent(to));
        send_to(
            &route,
            PlayoutMsg::TurnEnd { turn, interrupted },
            &self.undelivered,
        );
    }
    pub(crate) fn to_stt(&self, m: SttMsg) -> bool {
        send(&self.routes.stt, m, &self.undelivered)
    }
    pub(crate) fn to_brain(&self, m: BrainMsg) -> bool {
        send(&self.routes.brain, m, &self.undelivered)
    }
    pub(crate) fn to_tts(&self, m: TtsMsg) -> bool {
        send(&self.routes.tts, m, &self.undelivered)
    }
    pub(crate) fn to_archiver(&self, m: ArchiverMsg) -> bool {
        send(&self.routes.archiver, m, &self.undelivered)
    }

    /// A part of a turn's record: kept here (a restarting Archiver loses
    /// nothing), and the Archiver told to look at that turn.
    pub(crate) fn record_part(&self, part: TurnPart) {
        let turn = part.turn();
        if matches!(part, TurnPart::Interrupted { .. }) {
            self.with_stats(|s| s.interruptions += 1);
        }
        self.record_parts.lock().entry(turn).or_default().add(part);
        self.to_archiver(ArchiverMsg::Turn(turn));
    }

    /// The parts of `turn`'s record, taken out, if they are all in (`force`:
    /// the session is ending, see [`TurnParts::ready`]).
    pub(crate) fn take_ready_parts(&self, turn: u64, force: bool) -> Option<TurnParts> {
        let mut parts = self.record_parts.lock();
        if !parts.get(&turn)?.ready(force) {
            return None;
        }
        parts.remove(&turn).map(|p| *p)
    }

    /// Turns with parts of their record waiting.
    pub(crate) fn pending_record_turns(&self) -> Vec<u64> {
        self.record_parts.lock().keys().copied().collect()
    }

    /// What is known of the turns never archived (for the log at the end).
    pub(crate) fn unarchived_turns(&self) -> Vec<(u64, bool, bool, bool)> {
        self.record_parts
            .lock()
            .iter()
            .map(|(t, p)| (*t, p.user.is_some(), p.agent.is_some(), p.spoken.is_some()))
            .collect()
    }

    pub(crate) fn set_inflight(&self, t: Option<UserTurn>) {
        *self.inflight.lock() = t;
    }
    pub(crate) fn inflight(&self) -> Option<UserTurn> {
        self.inflight.lock().clone()
    }
    pub(crate) fn clear_inflight(&self, turn: u64) {
        let mut g = self.inflight.lock();
        if g.as_ref().is_some_and(|t| t.turn == turn) {
            *g = None;
        }
    }

    /// The Stt is going away mid-utterance: keep what it heard.
    /// (The dying actor's state is dropped after its supervisor heard of the
    /// death, so the next Stt may already be running: it looks for it.)
    pub(crate) fn carry_utterance(&self, u: CarriedUtterance) {
        *self.stt_carry.lock() = Some(u);
        self.stt_carried.store(true, Ordering::Release);
    }
    /// What a previous Stt was hearing when it died, once.
    pub(crate) fn take_carried_utterance(&self) -> Option<CarriedUtterance> {
        if !self.stt_carried.swap(false, Ordering::AcqRel) {
            return None;
        }
        self.stt_carry.lock().take()
    }

    pub(crate) fn set_speaking(&self, turn: Option<u64>) {
        *self.speaking.lock() = turn;
    }
    pub(crate) fn speaking(&self) -> Option<u64> {
        *self.speaking.lock()
    }

    pub(crate) fn with_tts_book<R>(&self, f: impl FnOnce(&mut TtsBook) -> R) -> R {
        f(&mut self.tts_book.lock())
    }

    pub(crate) fn with_playout<R>(
        &self,
        f: impl FnOnce(&mut BTreeMap<u64, Box<TurnAudio>>) -> R,
    ) -> R {
        f(&mut self.playout.lock())
    }

    /// The reply of `turn` was interrupted: the history keeps what was heard of it.
    pub(crate) fn cut_reply(&self, turn: u64) {
        let heard = self.with_playout(|t| t.get_mut(&turn).map(|p| p.cut()).unwrap_or_default());
        self.with_context(|c| c.cut_reply(turn, &heard));
    }

    /// `ms` of agent audio sent to the Playout (the Tts).
    pub(crate) fn queued_for_playout(&self, ms: u64) {
        self.playout_ahead_ms.fetch_add(ms, Ordering::Relaxed);
    }
    /// `ms` of agent audio played or dropped (the Playout).
    pub(crate) fn left_playout(&self, ms: u64) {
        let _ = self
            .playout_ahead_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(ms))
            });
    }
    /// A new Playout: what the old one held is gone.
    pub(crate) fn reset_playout_ahead(&self) {
        self.playout_ahead_ms.store(0, Ordering::Relaxed);
    }
    pub(crate) fn playout_ahead_ms(&self) -> u64 {
        self.playout_ahead_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn set_playing(&self, turn: Option<u64>) {
        *self.playing.lock() = turn;
    }

    /// The agent is answering, speaking or still being heard: user speech
    /// now is a barge-in.
    pub(crate) fn agent_busy(&self) -> Option<u64> {
        self.speaking()
            .or(*self.playing.lock())
            .or_else(|| self.inflight().map(|t| t.turn))
    }

    /// End the session once `turn`'s reply has been spoken.
    pub(crate) fn end_after(&self, turn: u64) {
        *self.end_after.lock() = Some(turn);
    }

    /// `turn`'s reply is over: end the session if the agent asked to.
    /// An interrupted reply cancels that (the user is still talking).
    pub(crate) fn reply_done(&self, turn: u64, interrupted: bool) {
        let mut g = self.end_after.lock();
        if *g != Some(turn) {
            return;
        }
        *g = None;
        if interrupted {
            return;
        }
        if let Some(s) = self.supervisor.get() {
            tracing::info!(session_id = %self.config.session_id, turn, "the agent ended the call");
            let _ = s.cast(SessionMsg::End(EndReason::Other(
                crate::tools::AGENT_ENDED_CALL.into(),
            )));
        }
    }

    pub(crate) fn with_stats<R>(&self, f: impl FnOnce(&mut SessionStats) -> R) -> R {
        f(&mut self.stats.lock())
    }

    /// The session's totals at `ended_at`; session-metrics from them, unless
    /// it already went out (whoever comes first sends it, the other does not).
    pub(crate) fn finish_metrics(&self, ended_at: DateTime<Utc>) -> SessionSummary {
        let facts = SessionFacts {
            config: self.config.clone(),
            started_at: self.started_at,
            ended_at,
            duration_seconds: (ended_at - self.started_at).num_seconds().max(0) as u64,
            stats: self.with_stats(|s| s.clone()),
        };
        if !self.metrics_sent.swap(true, Ordering::SeqCst) {
            self.sink.emit(emit::session_metrics(&facts));
        }
        SessionSummary {
            turns: facts.stats.turns,
            interruptions: facts.stats.interruptions,
            total_tokens: facts.stats.tokens,
            duration_seconds: facts.duration_seconds,
        }
    }

    /// The session is over (its session-metrics went out).
    pub(crate) fn ended(&self) -> bool {
        self.metrics_sent.load(Ordering::Relaxed)
    }

    pub(crate) fn with_context<R>(&self, f: impl FnOnce(&mut ConversationContext) -> R) -> R {
        f(&mut self.context.lock())
    }
}
