//! `analytics/agent-performance`: the seed's hourly rollup per agent and
//! instance, made by the node itself from the sessions that ended on it in
//! each hour (and, at shutdown, the partial hour).
//!
//! Why node-side rather than a separate aggregator: the node is the only
//! place that knows its own uptime and resource use (an aggregator reading
//! session-metrics would have neither), its per-turn latencies are already in
//! its hands (no second pass over the conversation log for percentiles), and
//! a rollup per instance is what the seed's `instance_id` asks for. The cost
//! is a few hundred bytes per live session (the turn latencies until the
//! session ends) and one small task.
//!
//! What is counted, from the node's own event stream (a tap of the fan-out):
//! - a session belongs to the hour in which its `session-metrics` came out
//!   (exactly one per started session); `total_conversations` is the sum of
//!   its `total_turns`, `avg_session_duration_seconds` the mean duration;
//! - latencies are the turns' `total_latency_ms` (conversation-v1) of those
//!   sessions: mean and p95 (nearest rank); `sla_violations` the turns over
//!   their session's `target_latency_ms`;
//! - `error_rate_percent`: sessions that ended `failed` over sessions ended;
//! - `uptime_percent`: the share of the hour this process was running;
//! - `resource_usage`: the process's CPU, resident memory and live tokio
//!   tasks (`avg_goroutines`, the seed's Go name), sampled every
//!   `analytics.sample_interval_ms`; these are the node's, so every agent the
//!   node served in the hour reports the same figures.
//!
//! An hour in which no session ended still yields one record, for the node's
//! own `session.agent_id`, so a quiet node is seen to be up.

mod histogram;

use crate::ops::procinfo::{self, CpuMeter};
use arc_actors::emit::ServiceIdentity;
use arc_actors::events::pulsar::{
    new_message_id, AgentMetrics, AgentPerformance, AgentResourceUsage,
};
use arc_actors::events::Event;
use arc_actors::sink::EventSink;
use arc_actors::sparse::{shrink_deque_if_sparse, shrink_if_sparse};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use histogram::LatencyHistogram;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The event kinds the rollup reads (the tap's filter).
pub(crate) const KINDS: &[&str] = &["conversation", "session_metrics", "session_ended"];

/// The aggregation window: the seed's `hourly`.
const HOUR: TimeDelta = TimeDelta::hours(1);

/// Wall-clock time for the rollup.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Clock {
    System,
    /// `wall` at tokio's `at`, moving with tokio's clock: under
    /// `tokio::time::pause` a test crosses an hour in microseconds.
    #[cfg_attr(not(test), allow(dead_code))]
    Anchored {
        wall: DateTime<Utc>,
        at: tokio::time::Instant,
    },
}

impl Clock {
    fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Anchored { wall, at } => {
                let elapsed = tokio::time::Instant::now().duration_since(*at);
                *wall + TimeDelta::from_std(elapsed).unwrap_or(TimeDelta::zero())
            }
        }
    }
}

/// One agent's sessions that ended in the open hour.
#[derive(Debug, Default)]
struct AgentHour {
    sessions: u64,
    failed: u64,
    turns: u64,
    duration_seconds: u64,
    latencies_ms: LatencyHistogram,
    sla_violations: u64,
}

/// A session still running: its turns' latencies so far, and the hour of
/// its last turn (a session whose end never came is forgotten after two).
#[derive(Debug)]
struct LiveSession {
    latencies_ms: Vec<u64>,
    last_turn: DateTime<Utc>,
}

/// A session that ended in the open hour: where a late turn record or its
/// `session_ended` status goes.
#[derive(Debug)]
struct EndedSession {
    /// Shared with every session of the agent (see [`HourlyRollup::agent_ids`]).
    agent_id: Arc<str>,
    target_ms: u64,
}

/// An ended session, as the rollup remembers it: a 64-bit hash of its id, not
/// the id. The minutes of ended sessions are kept in two tables that grow and
/// shrink as a whole, not as a few small strings each: strings allocated as
/// sessions end land among the pages the sessions freed and keep the kernel
/// from getting them back (`tests/memory_return.rs`). Two ids that ended
/// within minutes of each other colliding in 64 bits is not a concern.
type SessionKey = u64;

fn session_key(session_id: &str) -> SessionKey {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same id gives the same key for the
    // process's life.
    let mut h = std::hash::DefaultHasher::new();
    session_id.hash(&mut h);
    h.finish()
}

/// How long an ended session is remembered for its late events (a turn
/// record or status that arrives after its session-metrics comes within
/// seconds): a node that ends a hundred sessions a second keeps minutes of
/// them, not the whole hour.
const ENDED_KEPT: TimeDelta = TimeDelta::minutes(5);

#[derive(Debug, Default)]
struct Resources {
    samples: u64,
    cpu_percent: f64,
    memory_mb: u64,
    peak_memory_mb: u64,
    tasks: u64,
}

/// The open hour's counts; [`HourlyRollup::close`] turns them into records.
#[derive(Debug)]
pub(crate) struct HourlyRollup {
    /// Start of the open hour.
    bucket: DateTime<Utc>,
    /// When this process started (for uptime).
    up_since: DateTime<Utc>,
    default_agent: String,
    agents: BTreeMap<String, AgentHour>,
    live: HashMap<String, LiveSession>,
    ended: HashMap<SessionKey, EndedSession>,
    /// `ended`'s sessions in the order they ended, to forget them after
    /// [`ENDED_KEPT`].
    ended_order: VecDeque<(DateTime<Utc>, SessionKey)>,
    /// The hour before's, for a late turn record or status right after the
    /// boundary (counted in the open hour).
    ended_before: HashMap<SessionKey, EndedSession>,
    /// The agents' ids, one allocation each for all their ended sessions.
    agent_ids: HashSet<Arc<str>>,
    resources: Resources,
}

impl HourlyRollup {
    pub(crate) fn new(now: DateTime<Utc>, default_agent: &str) -> Self {
        Self {
            bucket: hour_of(now),
            up_since: now,
            default_agent: default_agent.to_string(),
            agents: BTreeMap::new(),
            live: HashMap::new(),
            ended: HashMap::new(),
            ended_order: VecDeque::new(),
            ended_before: HashMap::new(),
            agent_ids: HashSet::new(),
            resources: Resources::default(),
        }
    }

    /// Start of the open hour.
    pub(crate) fn bucket(&self) -> DateTime<Utc> {
        self.bucket
    }

    /// Count one event of the node's stream.
    pub(crate) fn observe(&mut self, event: &Event) {
        match event {
            Event::Conversation(c) => {
                let latency = c.performance.total_latency_ms;
                let session = &c.conversation.session_id;
                if let Some(ended) = self.ended_session(session) {
                    // A turn record after its session's metrics: the open hour.
                    let (agent, target_ms) = (ended.agent_id.to_string(), ended.target_ms);
                    let hour = self.agents.entry(agent).or_default();
                    hour.latencies_ms.record(latency);
                    hour.sla_violations += u64::from(latency > target_ms);
                } else {
                    let bucket = self.bucket;
                    let live = self
                        .live
                        .entry(session.clone())
                        .or_insert_with(|| LiveSession {
                            latencies_ms: Vec::new(),
                            last_turn: bucket,
                        });
                    live.latencies_ms.push(latency);
                    live.last_turn = bucket;
                }
            }
            Event::SessionMetrics(m) => {
                let target_ms = m.performance_metrics.target_latency_ms;
                let live = self
                    .live
                    .remove(&m.session.id)
                    .map(|l| l.latencies_ms)
                    .unwrap_or_default();
                shrink_if_sparse(&mut self.live);
                let hour = self.agents.entry(m.session.agent_id.clone()).or_default();
                hour.sessions += 1;
                hour.turns += m.conversation_stats.total_turns;
                hour.duration_seconds += m.session.duration_seconds;
                hour.sla_violations += live.iter().filter(|l| **l > target_ms).count() as u64;
                hour.latencies_ms.extend(live);
                let key = session_key(&m.session.id);
                let agent_id = self.agent_id(&m.session.agent_id);
                self.ended.insert(
                    key,
                    EndedSession {
                        agent_id,
                        target_ms,
                    },
                );
                self.ended_order.push_back((m.timestamp, key));
                while let Some((at, old)) = self.ended_order.front() {
                    if *at + ENDED_KEPT > m.timestamp {
                        break;
                    }
                    self.ended.remove(old);
                    self.ended_before.remove(old);
                    self.ended_order.pop_front();
                }
                shrink_if_sparse(&mut self.ended);
                shrink_if_sparse(&mut self.ended_before);
                shrink_deque_if_sparse(&mut self.ended_order);
            }
            Event::SessionEnded(e) if e.final_status == "failed" => {
                if let Some(ended) = self.ended_session(&e.session_id) {
                    let agent = ended.agent_id.to_string();
                    self.agents.entry(agent).or_default().failed += 1;
                }
            }
            _ => {}
        }
    }

    fn ended_session(&self, session: &str) -> Option<&EndedSession> {
        let key = session_key(session);
        self.ended.get(&key).or_else(|| self.ended_before.get(&key))
    }

    /// `agent`'s shared id (allocated on its first session).
    fn agent_id(&mut self, agent: &str) -> Arc<str> {
        if let Some(id) = self.agent_ids.get(agent) {
            return id.clone();
        }
        let id: Arc<str> = agent.into();
        self.agent_ids.insert(id.clone());
        id
    }

    /// One reading of the process's resources.
    pub(crate) fn sample(&mut self, cpu_percent: f64, memory_mb: u64, tasks: u64) {
        let r = &mut self.resources;
        r.samples += 1;
        r.cpu_percent += cpu_percent;
        r.memory_mb += memory_mb;
        r.peak_memory_mb = r.peak_memory_mb.max(memory_mb);
        r.tasks += tasks;
    }

    /// Close the open hour at `end` (its boundary, or now at shutdown): one
    /// record per agent that had a session end in it (at least the node's
    /// own), then open the hour that holds `end`.
    pub(crate) fn close(
        &mut self,
        end: DateTime<Utc>,
        id: &ServiceIdentity,
    ) -> Vec<AgentPerformance> {
        let bucket = self.bucket;
        let up_from = self.up_since.max(bucket);
        let up_seconds = (end - up_from).num_milliseconds().max(0) as f64 / 1000.0;
        let uptime_percent = round1((up_seconds / HOUR.num_seconds() as f64 * 100.0).min(100.0));
        let r = std::mem::take(&mut self.resources);
        let avg = |sum: u64| sum.checked_div(r.samples).unwrap_or(0);
        let resource_usage = AgentResourceUsage {
            avg_cpu_percent: if r.samples == 0 {
                0.0
            } else {
                round1(r.cpu_percent / r.samples as f64)
            },
            avg_memory_mb: avg(r.memory_mb),
            peak_memory_mb: r.peak_memory_mb,
            avg_goroutines: avg(r.tasks),
        };
        let mut agents = std::mem::take(&mut self.agents);
        agents.entry(self.default_agent.clone()).or_default();
        let records = agents
            .into_iter()
            .map(|(agent_id, h)| {
                let avg_latency_ms = h.latencies_ms.mean();
                let p95_latency_ms = h.latencies_ms.percentile(95.0);
                AgentPerformance {
                    schema: AgentPerformance::SCHEMA.into(),
                    message_id: new_message_id(),
                    timestamp: end,
                    trace_id: arc_actors::ids::new_trace_id(),
                    aggregation_period: AgentPerformance::HOURLY.into(),
                    time_bucket: bucket,
                    agent_id,
                    instance_id: id.instance_id.clone(),
                    metrics: AgentMetrics {
                        total_sessions: h.sessions,
                        total_conversations: h.turns,
                        avg_session_duration_seconds: h
                            .duration_seconds
                            .checked_div(h.sessions)
                            .unwrap_or(0),
                        avg_latency_ms,
                        p95_latency_ms,
                        sla_violations: h.sla_violations,
                        error_rate_percent: if h.sessions == 0 {
                            0.0
                        } else {
                            round1(h.failed as f64 / h.sessions as f64 * 100.0)
                        },
                        uptime_percent,
                    },
                    resource_usage: resource_usage.clone(),
                }
            })
            .collect();
        self.ended_before = std::mem::take(&mut self.ended);
        // Agents with no session in the hour before nor this one go.
        let in_use: HashSet<&str> = self.ended_before.values().map(|e| &*e.agent_id).collect();
        self.agent_ids.retain(|a| in_use.contains(&**a));
        // A session whose end never came (its last events dropped) is
        // forgotten two hours after its last turn.
        self.live.retain(|_, l| l.last_turn + HOUR >= bucket);
        self.bucket = hour_of(end);
        records
    }
}

fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(HOUR).unwrap_or(t)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// What the rollup task needs.
pub(crate) struct PerformanceSources {
    pub identity: ServiceIdentity,
    /// Where the records go (and whose backlog is waited for at shutdown).
    pub sink: EventSink,
    /// `session.agent_id`: the agent reported for an hour with no session.
    pub default_agent: String,
    pub sample_interval: Duration,
    pub clock: Clock,
}

/// Read `events` (a tap filtered to [`KINDS`]) and emit the agent-performance
/// records at every hour boundary, and the partial hour when `stop` is
/// cancelled (after the sink's backlog has reached the tap: sessions are
/// drained before this stage stops, so their last records count).
pub(crate) fn spawn(
    src: PerformanceSources,
    mut events: mpsc::Receiver<Arc<Event>>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut rollup = HourlyRollup::new(src.clock.now(), &src.default_agent);
        let mut cpu = CpuMeter::new();
        let mut tick = tokio::time::interval(src.sample_interval.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let boundary_in = |rollup: &HourlyRollup| {
            let left = (rollup.bucket() + HOUR) - src.clock.now();
            tokio::time::Instant::now() + left.to_std().unwrap_or(Duration::ZERO)
        };
        let boundary = tokio::time::sleep_until(boundary_in(&rollup));
        tokio::pin!(boundary);
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                // The boundary and the samples before the events: a busy
                // stream must not hold an hour open.
                _ = &mut boundary => {
                    let end = rollup.bucket() + HOUR;
                    emit_all(&src, rollup.close(end, &src.identity));
                    boundary.as_mut().reset(boundary_in(&rollup));
                }
                _ = tick.tick() => {
                    let p = procinfo::sample();
                    let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks() as u64;
                    rollup.sample(cpu.percent(&p), p.rss_bytes / (1024 * 1024), tasks);
                }
                ev = events.recv() => match ev {
                    Some(ev) => rollup.observe(&ev),
                    None => break,
                },
            }
        }
        let end = src.clock.now();
        // The last sessions' events may still be on their way through the
        // fan-out: wait (briefly) until the sink is empty, then read the rest.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while src.sink.depth() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        while let Ok(ev) = events.try_recv() {
            rollup.observe(&ev);
        }
        emit_all(&src, rollup.close(end, &src.identity));
    })
}

fn emit_all(src: &PerformanceSources, records: Vec<AgentPerformance>) {
    for r in records {
        tracing::info!(
            agent_id = %r.agent_id,
            time_bucket = %r.time_bucket,
            sessions = r.metrics.total_sessions,
            turns = r.metrics.total_conversations,
            "agent-performance for the hour"
        );
        src.sink.emit(r);
    }
}

#[cfg(test)]
mod tests;
