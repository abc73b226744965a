//! Dispatch of new work across nodes that share nothing in memory.
//!
//! Every node joins the NATS queue group `dispatch.queue_group` on the seed's
//! `agent.voice.track.published`, so NATS hands each message to exactly one
//! member. The node that received the LiveKit webhook *offers* the track: it
//! publishes the seed event as a NATS request and waits for the taker's
//! answer. A taker below its session limit starts the track's session and
//! answers `taken`; one at its limit (or draining) answers `declined`, and the
//! offer goes out again (NATS picks a member at random) up to
//! `dispatch.max_offers` times, also when a taker dies before answering;
//! those later offers go to `dispatch.offer_subject` (the same queue group),
//! so an observer of the seed subject sees each track once. So
//! no track is lost while any node has room, and none is taken twice unless an
//! answer is lost after the session started.
//!
//! Random choice alone lets a node fall behind in a burst (it joined late, or
//! was slow), so nodes also publish their load on `dispatch.load_subject`
//! every second and after each take; a node clearly busier than the least
//! busy peer declines the first half of a track's offers, which then go
//! elsewhere.
//!
//! What a taker starts: with a LiveKit server configured (`livekit.url` or
//! `LIVEKIT_URL`), it joins the track's room as the agent
//! ([`crate::transports::room`]); without one, the track is held as a session
//! without room audio.
//!
//! Plain publications on the subject (another producer, `nats pub`) are taken
//! the same way, without an answer. With no NATS reachable the node takes the
//! track itself: one node keeps working on its own.
//!
//! `agent.voice.track.unpublished` is subscribed without a queue group: the
//! node that holds the track's session ends it, the others ignore it.

use crate::config::DispatchSection;
use crate::node::NodeContext;
use crate::transports::adapter::open_session;
use crate::transports::detached::DetachedOutput;
use arc_actors::events::nats::{TrackPublished, TrackUnpublished};
use arc_actors::session::{EndReason, SessionHandle};
use futures::StreamExt;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Why a track found no node.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DispatchError {
    #[error("track {track_sid} was not taken after {attempts} offer(s): {last}")]
    NotTaken {
        track_sid: String,
        attempts: u32,
        last: String,
    },
    #[error("track {track_sid} refused by this node: {reason}")]
    Refused { track_sid: String, reason: String },
    #[error("cannot subscribe to {subject}: {source}")]
    Subscribe {
        subject: &'static str,
        source: async_nats::SubscribeError,
    },
}

/// A taker's answer to an offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TakeReply {
    pub taken: bool,
    /// The node that answered.
    pub instance_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session_id: String,
    /// Why the track was declined.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// Where an offered track went.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Offered {
    pub instance_id: String,
    pub session_id: String,
    pub attempts: u32,
}

/// The node's side of dispatch: offers tracks and takes them.
pub(crate) struct Dispatcher {
    ctx: NodeContext,
    cfg: DispatchSection,
    max_sessions: usize,
    nats: Option<async_nats::Client>,
    /// Sessions this node holds, by track sid.
    tracks: Arc<Mutex<HashMap<String, SessionHandle>>>,
    /// Room joins under way (they count against the session limit).
    joining: Arc<std::sync::atomic::AtomicUsize>,
    /// The other nodes' loads as they last reported them on
    /// `dispatch.load_subject`: instance → (sessions, when heard).
    peers: Mutex<HashMap<String, (usize, std::time::Instant)>>,
}

/// What a node says of its load on `dispatch.load_subject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LoadReport {
    pub instance_id: String,
    pub active_sessions: usize,
    pub max_sessions: usize,
}

/// The header that tells a taker which offer of a track this is.
pub(crate) const OFFER_ATTEMPT_HEADER: &str = "Arc-Offer-Attempt";

/// A peer report older than this is not used for balancing.
const PEER_FRESH: Duration = Duration::from_secs(3);

impl Dispatcher {
    #[allow(clippy::too_many_arguments)]
    /// The dispatcher of the node `ctx`; `nats` is the mirror's client (the
    /// cluster's bus), if NATS is enabled.
    pub(crate) fn new(ctx: NodeContext, nats: Option<async_nats::Client>) -> Arc<Self> {
        let cfg = ctx.cfg.dispatch.clone();
        let max_sessions = ctx.cfg.dispatch_max_sessions();
        Arc::new(Self {
            ctx,
            cfg,
            max_sessions,
            nats,
            tracks: Arc::new(Mutex::new(HashMap::new())),
            joining: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            peers: Mutex::new(HashMap::new()),
        })
    }

    /// With a LiveKit server configured the node joins each taken track's
    /// room (`transports::room`); without one, the track is held as a session
    /// with no room audio.
    fn joins_rooms(&self) -> bool {
        !self.ctx.cfg.livekit.url.is_empty()
    }

    fn cluster(&self) -> Option<&async_nats::Client> {
        self.nats.as_ref().filter(|c| {
            self.cfg.enabled && c.connection_state() == async_nats::connection::State::Connected
        })
    }

    /// Offers `track` to the cluster; resolves when a node has taken it.
    pub(crate) async fn offer(&self, track: TrackPublished) -> Result<Offered, DispatchError> {
        self.ctx.metrics.dispatch("offered");
        let Some(client) = self.cluster() else {
            tracing::warn!(track_sid = %track.track_sid, "no NATS cluster reachable: taking the track on this node");
            let track_sid = track.track_sid.clone();
            let session_id = self
                .take(track)
                .await
                .map_err(|reason| DispatchError::Refused { track_sid, reason })?;
            self.ctx.metrics.dispatch("taken_locally");
            return Ok(Offered {
                instance_id: self.ctx.identity.instance_id.clone(),
                session_id,
                attempts: 1,
            });
        };
        let payload: bytes::Bytes = match serde_json::to_vec(&track) {
            Ok(p) => p.into(),
            Err(e) => {
                return Err(DispatchError::Refused {
                    track_sid: track.track_sid,
                    reason: e.to_string(),
                })
            }
        };
        let timeout = Duration::from_millis(self.cfg.offer_timeout_ms);
        let mut last = String::from("no answer");
        for attempt in 1..=self.cfg.max_offers {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(OFFER_ATTEMPT_HEADER, attempt.to_string().as_str());
            let request = async_nats::Request::new()
                .payload(payload.clone())
                .headers(headers)
                .timeout(Some(timeout));
            // The seed event once; offers after a decline go to the retry
            // subject, so observers of the seed subject see each track once.
            let subject = if attempt == 1 {
                TrackPublished::SUBJECT.to_string()
            } else {
                self.offer_subject()
            };
            match client.send_request(subject, request).await {
                Ok(msg) => match serde_json::from_slice::<TakeReply>(&msg.payload) {
                    Ok(r) if r.taken => {
                        tracing::info!(track_sid = %track.track_sid, taken_by = %r.instance_id, session_id = %r.session_id, attempt, "track taken");
                        return Ok(Offered {
                            instance_id: r.instance_id,
                            session_id: r.session_id,
                            attempts: attempt,
                        });
                    }
                    Ok(r) => last = format!("{} declined: {}", r.instance_id, r.reason),
                    Err(e) => last = format!("unreadable answer: {e}"),
                },
                Err(e) => {
                    last = match e.kind() {
                        async_nats::RequestErrorKind::NoResponders => {
                            "no node is taking work (no member in the queue group)".into()
                        }
                        async_nats::RequestErrorKind::TimedOut => {
                            format!("no answer within {} ms", self.cfg.offer_timeout_ms)
                        }
                        _ => e.to_string(),
                    }
                }
            }
            tracing::debug!(track_sid = %track.track_sid, attempt, %last, "offer not taken; offering again");
            tokio::time::sleep(Duration::from_millis(
                self.cfg.retry_backoff_ms * u64::from(attempt),
            ))
            .await;
        }
        self.ctx.metrics.dispatch("not_taken");
        tracing::error!(track_sid = %track.track_sid, attempts = self.cfg.max_offers, %last, "track not taken by any node");
        Err(DispatchError::NotTaken {
            track_sid: track.track_sid,
            attempts: self.cfg.max_offers,
            last,
        })
    }

    /// This node's sessions, joins under way included.
    fn load(&self) -> usize {
        self.ctx.node.active_sessions() + self.joining.load(Ordering::Relaxed)
    }

    /// Declines an early offer when this node is clearly busier than the
    /// least busy peer that reported lately, so that the offer goes to
    /// another node; from half of `max_offers` on, only the limit counts.
    fn balanced(&self, attempt: u32) -> Result<(), String> {
        if attempt >= self.cfg.max_offers.div_ceil(2) {
            return Ok(());
        }
        let now = std::time::Instant::now();
        let least = self
            .peers
            .lock()
            .iter()
            .filter(|(id, (_, at))| {
                **id != self.ctx.identity.instance_id && now.duration_since(*at) < PEER_FRESH
            })
            .map(|(id, (n, _))| (*n, id.clone()))
            .min();
        let mine = self.load();
        match least {
            Some((n, peer)) if mine > n + (n / 10).max(2) => {
                Err(format!("busier than {peer} ({mine} sessions against {n})"))
            }
            _ => Ok(()),
        }
    }

    /// Records a peer's load report.
    fn heard(&self, r: LoadReport) {
        if r.instance_id != self.ctx.identity.instance_id {
            self.peers.lock().insert(
                r.instance_id,
                (r.active_sessions, std::time::Instant::now()),
            );
        }
    }

    fn report(&self) -> LoadReport {
        LoadReport {
            instance_id: self.ctx.identity.instance_id.clone(),
            active_sessions: self.load(),
            max_sessions: self.max_sessions,
        }
    }

    /// `<dispatch.load_subject>.<queue_group>`: nodes of one queue group
    /// balance among themselves only.
    fn load_subject(&self) -> String {
        format!("{}.{}", self.cfg.load_subject, self.cfg.queue_group)
    }

    /// Where a track is offered again after its first offer was not taken.
    fn offer_subject(&self) -> String {
        format!("{}.{}", self.cfg.offer_subject, self.cfg.queue_group)
    }

    /// Tells the other nodes this node's load (at most-once, like all NATS).
    async fn publish_load(&self, client: &async_nats::Client) {
        if let Ok(body) = serde_json::to_vec(&self.report()) {
            if let Err(e) = client.publish(self.load_subject(), body.into()).await {
                tracing::debug!(error = %e, "load report not sent");
            }
        }
    }

    /// Starts this node's session for `track`, or says why not.
    pub(crate) async fn take(&self, track: TrackPublished) -> Result<String, String> {
        self.take_offer(track, u32::MAX).await
    }

    /// [`Dispatcher::take`] for the `attempt`-th offer of the track.
    async fn take_offer(&self, track: TrackPublished, attempt: u32) -> Result<String, String> {
        if self.ctx.is_draining() {
            return Err("node is draining".into());
        }
        if !track.track_kind.eq_ignore_ascii_case("audio") {
            return Err(format!("not an audio track ({:?})", track.track_kind));
        }
        if track.track_sid.is_empty() {
            return Err("track_sid is empty".into());
        }
        if let Some(h) = self.tracks.lock().get(&track.track_sid) {
            return Ok(h.session_id.clone());
        }
        let active = self.load();
        if active >= self.max_sessions {
            return Err(format!(
                "at its session limit ({active}/{} sessions)",
                self.max_sessions
            ));
        }
        self.balanced(attempt)?;
        let session_id = if track.metadata.session_id.is_empty() {
            arc_actors::ids::prefixed("sess")
        } else {
            track.metadata.session_id.clone()
        };
        if self.joins_rooms() {
            return Ok(self.join(track, session_id));
        }
        let output = Arc::new(DetachedOutput::new(session_id.clone()));
        let mut config = self.ctx.cfg.session_config();
        config.conversation_id = format!("conv-{session_id}");
        config.session_id = session_id;
        config.user_id = if track.metadata.user_id.is_empty() {
            track.participant_identity.clone()
        } else {
            track.metadata.user_id.clone()
        };
        config.room_name = track.room_name.clone();
        config.room_sid = track.room_sid.clone();
        config.participant_sid = track.participant_sid.clone();
        let handle = open_session(&self.ctx, output, config)
            .await
            .map_err(|e| e.to_string())?;
        let session_id = handle.session_id.clone();
        self.tracks
            .lock()
            .insert(track.track_sid.clone(), handle.clone());
        self.ctx.metrics.dispatch("taken");
        Ok(session_id)
    }

    /// Joins the track's room in the background (a join may take seconds of
    /// connect attempts; the queue goes on meanwhile).
    fn join(&self, track: TrackPublished, session_id: String) -> String {
        let joining = self.joining.clone();
        joining.fetch_add(1, Ordering::Relaxed);
        let ctx = self.ctx.clone();
        let req = crate::transports::room::JoinRequest {
            room_name: track.room_name.clone(),
            user_identity: Some(track.participant_identity.clone()).filter(|s| !s.is_empty()),
            url: None,
            session_id: Some(session_id.clone()),
            token: None,
        };
        let tracks = self.tracks.clone();
        tokio::spawn(async move {
            let r = crate::transports::room::join_room(&ctx, req).await;
            joining.fetch_sub(1, Ordering::Relaxed);
            match r {
                Ok(room) => {
                    tracing::info!(track_sid = %track.track_sid, session_id = %room.session.session_id, room = %room.room_name, "joined the track's room");
                    tracks
                        .lock()
                        .insert(track.track_sid.clone(), room.session.clone());
                    let reason = room.wait().await;
                    tracing::info!(track_sid = %track.track_sid, reason = reason.as_str(), "room session over");
                }
                Err(e) => {
                    tracing::error!(track_sid = %track.track_sid, room = %track.room_name, error = %e, "taken track's room could not be joined")
                }
            }
        });
        self.ctx.metrics.dispatch("taken");
        session_id
    }

    /// Ends the session of `track_sid` if this node holds it.
    pub(crate) fn end_track(&self, track_sid: &str, reason: EndReason) -> bool {
        let handle = self.tracks.lock().remove(track_sid);
        match handle {
            Some(h) => {
                h.end(reason);
                true
            }
            None => false,
        }
    }

    /// Forgets tracks whose sessions ended by themselves.
    fn prune(&self) {
        self.tracks.lock().retain(|_, h| !h.is_done());
    }

    async fn on_published(&self, client: &async_nats::Client, msg: async_nats::Message) {
        self.prune();
        let reply = |r: TakeReply| {
            let to = msg.reply.clone();
            let client = client.clone();
            async move {
                if let Some(to) = to {
                    match serde_json::to_vec(&r) {
                        Ok(body) => {
                            if let Err(e) = client.publish(to, body.into()).await {
                                tracing::warn!(error = %e, "cannot answer a track offer");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot encode a track answer"),
                    }
                }
            }
        };
        let track: TrackPublished = match serde_json::from_slice(&msg.payload) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, subject = %msg.subject, "malformed agent.voice.track.published: ignored");
                reply(TakeReply {
                    taken: false,
                    instance_id: self.ctx.identity.instance_id.clone(),
                    session_id: String::new(),
                    reason: format!("malformed agent.voice.track.published: {e}"),
                })
                .await;
                return;
            }
        };
        let track_sid = track.track_sid.clone();
        // A plain publication (no answer possible) is taken if there is room.
        let attempt = msg
            .headers
            .as_ref()
            .and_then(|h| h.get(OFFER_ATTEMPT_HEADER))
            .and_then(|v| v.as_str().parse().ok())
            .filter(|_| msg.reply.is_some())
            .unwrap_or(u32::MAX);
        let took = self.take_offer(track, attempt).await;
        if took.is_ok() {
            self.publish_load(client).await;
        }
        match took {
            Ok(session_id) => {
                tracing::info!(%track_sid, %session_id, "took a published track");
                reply(TakeReply {
                    taken: true,
                    instance_id: self.ctx.identity.instance_id.clone(),
                    session_id,
                    reason: String::new(),
                })
                .await;
            }
            Err(reason) => {
                self.ctx.metrics.dispatch("declined");
                if msg.reply.is_none() {
                    tracing::warn!(%track_sid, %reason, "published track dropped: it came without a reply subject, so it cannot go to another node");
                }
                reply(TakeReply {
                    taken: false,
                    instance_id: self.ctx.identity.instance_id.clone(),
                    session_id: String::new(),
                    reason,
                })
                .await;
            }
        }
    }

    /// Joins the queue group and the unpublished subject until `stop`.
    pub(crate) async fn spawn_taker(
        self: &Arc<Self>,
        stop: CancellationToken,
    ) -> Result<Option<JoinHandle<()>>, DispatchError> {
        let Some(client) = self.nats.clone().filter(|_| self.cfg.enabled) else {
            return Ok(None);
        };
        let mut published = client
            .queue_subscribe(TrackPublished::SUBJECT, self.cfg.queue_group.clone())
            .await
            .map_err(|source| DispatchError::Subscribe {
                subject: TrackPublished::SUBJECT,
                source,
            })?;
        let mut offered_again = client
            .queue_subscribe(self.offer_subject(), self.cfg.queue_group.clone())
            .await
            .map_err(|source| DispatchError::Subscribe {
                subject: "dispatch.offer_subject",
                source,
            })?;
        let mut unpublished =
            client
                .subscribe(TrackUnpublished::SUBJECT)
                .await
                .map_err(|source| DispatchError::Subscribe {
                    subject: TrackUnpublished::SUBJECT,
                    source,
                })?;
        let mut loads = client
            .subscribe(self.load_subject())
            .await
            .map_err(|source| DispatchError::Subscribe {
                subject: "dispatch.load_subject",
                source,
            })?;
        let me = self.clone();
        tracing::info!(queue = %me.cfg.queue_group, max_sessions = me.max_sessions, "taking published tracks from the cluster");
        Ok(Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1000));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => me.publish_load(&client).await,
                    m = loads.next() => match m {
                        Some(m) => match serde_json::from_slice::<LoadReport>(&m.payload) {
                            Ok(r) => me.heard(r),
                            Err(e) => tracing::debug!(error = %e, "unreadable load report: ignored"),
                        },
                        None => break,
                    },
                    m = published.next() => match m {
                        Some(m) => me.on_published(&client, m).await,
                        None => break,
                    },
                    m = offered_again.next() => match m {
                        Some(m) => me.on_published(&client, m).await,
                        None => break,
                    },
                    m = unpublished.next() => match m {
                        Some(m) => match serde_json::from_slice::<TrackUnpublished>(&m.payload) {
                            Ok(t) => {
                                if me.end_track(&t.track_sid, EndReason::UserLeft) {
                                    tracing::info!(track_sid = %t.track_sid, "track unpublished: session ended");
                                }
                            }
                            Err(e) => tracing::warn!(error = %e, "malformed agent.voice.track.unpublished: ignored"),
                        },
                        None => break,
                    },
                }
            }
            // Leave the queue group at once, so offers go to the other nodes.
            let _ = published.unsubscribe().await;
            let _ = offered_again.unsubscribe().await;
            let _ = unpublished.unsubscribe().await;
            let _ = loads.unsubscribe().await;
        })))
    }
}
