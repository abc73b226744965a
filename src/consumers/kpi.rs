//! `consume kpi`: conversation-v1 turns into `agent_turns`, the session's
//! totals into `session_kpis` (seed 003, column for column), and the hot
//! state into Redis (`session:{id}:state`, `session:{id}:metrics`, with a TTL).
//!
//! Idempotent by construction: a turn is inserted once (its primary key), a
//! session's KPIs are recomputed from its turns (a row that would not change
//! is not touched), and the Redis hashes are written from the committed rows
//! after the commit, so a redelivery or a replay leaves the same state.

use super::error::{ConsumeError, WriteError};
use super::metrics::ConsumerMetrics;
use super::postgres::Pg;
use super::record::Record;
use super::subscription::Writer;
use crate::config::{redacted_url, ConsumersSection};
use arc_actors::events::{Event, PulsarTopic};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

/// The channel ARC's sessions are on (the seed's default is `text`).
const CHANNEL: &str = "voice";

pub(crate) struct KpiWriter {
    pg: Pg,
    redis: redis::aio::ConnectionManager,
    ttl_s: u64,
    metrics: Arc<ConsumerMetrics>,
}

impl KpiWriter {
    pub(crate) async fn start(
        cfg: &ConsumersSection,
        metrics: Arc<ConsumerMetrics>,
    ) -> Result<KpiWriter, ConsumeError> {
        let pg = Pg::start(cfg).await?;
        let redis_error = |source| ConsumeError::Redis {
            url: redacted_url(&cfg.redis_url),
            source,
        };
        let client = redis::Client::open(cfg.redis_url.as_str()).map_err(redis_error)?;
        let redis = client.get_connection_manager().await.map_err(redis_error)?;
        Ok(KpiWriter {
            pg,
            redis,
            ttl_s: cfg.redis_ttl_s,
            metrics,
        })
    }
}

/// One `agent_turns` row.
struct Turn {
    session_id: String,
    turn_id: String,
    user_id: String,
    model: String,
    tokens_in: i32,
    tokens_out: i32,
    latency_ms: f64,
    response_text: String,
    ts_ms: i64,
}

/// The `turn_id` of a turn: `turn_<index>` (seed 003's Redis example).
pub(crate) fn turn_id(index: u64) -> String {
    format!("turn_{index}")
}

fn clamp_i32(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

impl Writer for KpiWriter {
    fn topics(&self) -> &'static [PulsarTopic] {
        &[PulsarTopic::Conversation, PulsarTopic::SessionMetrics]
    }

    async fn write(&mut self, batch: &[Record]) -> Result<(), WriteError> {
        let mut turns = Vec::new();
        let mut ended = Vec::new();
        for r in batch {
            match &r.event {
                Event::Conversation(c) => turns.push(Turn {
                    session_id: c.conversation.session_id.clone(),
                    turn_id: turn_id(c.conversation.turn_index),
                    user_id: c.conversation.user_id.clone(),
                    model: c.agent_response.llm_model.clone(),
                    tokens_in: clamp_i32(c.context.context_tokens_used),
                    tokens_out: clamp_i32(c.agent_response.llm_tokens_used),
                    latency_ms: c.performance.total_latency_ms as f64,
                    response_text: c.agent_response.text.clone(),
                    ts_ms: c.timestamp.timestamp_millis(),
                }),
                Event::SessionMetrics(m) => ended.push((
                    m.session.id.clone(),
                    m.session.user_id.clone(),
                    m.session.started_at,
                    m.session.ended_at,
                )),
                _ => {}
            }
        }
        let sessions: BTreeSet<String> = turns
            .iter()
            .map(|t| t.session_id.clone())
            .chain(ended.iter().map(|e| e.0.clone()))
            .collect();
        if sessions.is_empty() {
            return Ok(());
        }
        let sessions: Vec<String> = sessions.into_iter().collect();
        let t0 = Instant::now();
        let hot = {
            let client = self.pg.client().await?;
            let tx = client.transaction().await?;
            insert_turns(&tx, &turns).await?;
            for (session_id, user_id, started, ended_at) in &ended {
                tx.execute(
                    "INSERT INTO session_kpis (session_id, user_id, channel, turns, tokens_in, tokens_out, avg_latency_ms, started_at, ended_at)
                     VALUES ($1, $2, $3, 0, 0, 0, NULL, $4, $5)
                     ON CONFLICT (session_id) DO UPDATE SET
                         started_at = LEAST(session_kpis.started_at, EXCLUDED.started_at),
                         ended_at = EXCLUDED.ended_at,
                         updated_at = NOW()
                     WHERE session_kpis.ended_at IS DISTINCT FROM EXCLUDED.ended_at
                        OR session_kpis.started_at IS DISTINCT FROM LEAST(session_kpis.started_at, EXCLUDED.started_at)",
                    &[session_id, user_id, &CHANNEL, started, ended_at],
                )
                .await?;
            }
            // Each touched session's totals, from its turns.
            tx.execute(
                "INSERT INTO session_kpis (session_id, user_id, channel, turns, tokens_in, tokens_out, avg_latency_ms, started_at)
                 SELECT session_id, MAX(user_id), $2, COUNT(*), SUM(tokens_in), SUM(tokens_out), AVG(latency_ms),
                        to_timestamp(MIN(ts_ms) / 1000.0)
                 FROM agent_turns WHERE session_id = ANY($1) GROUP BY session_id
                 ON CONFLICT (session_id) DO UPDATE SET
                     user_id = EXCLUDED.user_id,
                     channel = EXCLUDED.channel,
                     turns = EXCLUDED.turns,
                     tokens_in = EXCLUDED.tokens_in,
                     tokens_out = EXCLUDED.tokens_out,
                     avg_latency_ms = EXCLUDED.avg_latency_ms,
                     started_at = LEAST(session_kpis.started_at, EXCLUDED.started_at),
                     updated_at = NOW()
                 WHERE (session_kpis.turns, session_kpis.tokens_in, session_kpis.tokens_out, session_kpis.avg_latency_ms)
                       IS DISTINCT FROM (EXCLUDED.turns, EXCLUDED.tokens_in, EXCLUDED.tokens_out, EXCLUDED.avg_latency_ms)",
                &[&sessions, &CHANNEL],
            )
            .await?;
            let hot = hot_state(&tx, &sessions).await?;
            tx.commit().await?;
            hot
        };
        self.metrics
            .write_took("postgres", t0.elapsed().as_secs_f64());
        let t1 = Instant::now();
        let mut pipe = redis::pipe();
        pipe.atomic();
        for h in &hot {
            h.write(&mut pipe, self.ttl_s);
        }
        pipe.query_async::<()>(&mut self.redis).await?;
        self.metrics.write_took("redis", t1.elapsed().as_secs_f64());
        Ok(())
    }
}

async fn insert_turns(
    tx: &tokio_postgres::Transaction<'_>,
    turns: &[Turn],
) -> Result<(), tokio_postgres::Error> {
    if turns.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&Turn) -> String| turns.iter().map(f).collect::<Vec<String>>();
    let sessions = col(|t| t.session_id.clone());
    let ids = col(|t| t.turn_id.clone());
    let users = col(|t| t.user_id.clone());
    let models = col(|t| t.model.clone());
    let texts = col(|t| t.response_text.clone());
    let tokens_in: Vec<i32> = turns.iter().map(|t| t.tokens_in).collect();
    let tokens_out: Vec<i32> = turns.iter().map(|t| t.tokens_out).collect();
    let latency: Vec<f64> = turns.iter().map(|t| t.latency_ms).collect();
    let ts: Vec<i64> = turns.iter().map(|t| t.ts_ms).collect();
    tx.execute(
        "INSERT INTO agent_turns (session_id, turn_id, user_id, channel, model, tokens_in, tokens_out, latency_ms, response_text, ts_ms)
         SELECT s, t, u, $10, m, ti, tout, l, r, ts
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::float8[], $8::text[], $9::int8[])
              AS x(s, t, u, m, ti, tout, l, r, ts)
         ON CONFLICT (session_id, turn_id) DO NOTHING",
        &[
            &sessions, &ids, &users, &models, &tokens_in, &tokens_out, &latency, &texts, &ts, &CHANNEL,
        ],
    )
    .await?;
    Ok(())
}

/// What the Redis hashes of one session hold, read back from the committed rows.
struct HotState {
    session_id: String,
    turns: i32,
    avg_latency_ms: Option<f64>,
    ended: bool,
    last_turn_id: Option<String>,
    last_message: Option<String>,
    last_ts_ms: Option<i64>,
    ended_at: Option<DateTime<Utc>>,
}

async fn hot_state(
    tx: &tokio_postgres::Transaction<'_>,
    sessions: &[String],
) -> Result<Vec<HotState>, tokio_postgres::Error> {
    let rows = tx
        .query(
            "SELECT k.session_id, k.turns, k.avg_latency_ms, k.ended_at, t.turn_id, t.response_text, t.ts_ms
             FROM session_kpis k
             LEFT JOIN LATERAL (
                 SELECT turn_id, response_text, ts_ms FROM agent_turns a
                 WHERE a.session_id = k.session_id
                 ORDER BY ts_ms DESC, length(turn_id) DESC, turn_id DESC LIMIT 1
             ) t ON TRUE
             WHERE k.session_id = ANY($1)",
            &[&sessions],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let ended_at: Option<DateTime<Utc>> = r.get(3);
            HotState {
                session_id: r.get(0),
                turns: r.get::<_, Option<i32>>(1).unwrap_or(0),
                avg_latency_ms: r.get(2),
                ended: ended_at.is_some(),
                last_turn_id: r.get(4),
                last_message: r.get(5),
                last_ts_ms: r.get(6),
                ended_at,
            }
        })
        .collect())
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl HotState {
    /// `session:{id}:state` and `session:{id}:metrics` (seed 003), each
    /// with its TTL. Times come from the events, so a replay writes the same.
    fn write(&self, pipe: &mut redis::Pipeline, ttl_s: u64) {
        let last_activity = self
            .last_ts_ms
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
        let updated = match (last_activity, self.ended_at) {
            (Some(a), Some(e)) => Some(a.max(e)),
            (a, e) => a.or(e),
        };
        let seq = self
            .last_turn_id
            .as_deref()
            .and_then(|t| t.strip_prefix("turn_"))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        let state_key = format!("session:{}:state", self.session_id);
        let mut state: Vec<(&str, String)> = vec![
            (
                "last_turn_id",
                self.last_turn_id.clone().unwrap_or_default(),
            ),
            (
                "last_message",
                self.last_message.clone().unwrap_or_default(),
            ),
            ("seq", seq.to_string()),
            ("channel", CHANNEL.to_string()),
            (
                "status",
                if self.ended { "ended" } else { "active" }.to_string(),
            ),
        ];
        if let Some(u) = updated {
            state.push(("updated_at", iso(u)));
        }
        pipe.hset_multiple(&state_key, &state)
            .ignore()
            .expire(&state_key, ttl_s as i64)
            .ignore();
        let metrics_key = format!("session:{}:metrics", self.session_id);
        let mut metrics: Vec<(&str, String)> = vec![
            ("total_turns", self.turns.to_string()),
            (
                "avg_response_time",
                self.avg_latency_ms
                    .map(|v| format!("{}", v.round() as i64))
                    .unwrap_or_default(),
            ),
        ];
        if let Some(a) = last_activity.or(updated) {
            metrics.push(("last_activity", iso(a)));
        }
        pipe.hset_multiple(&metrics_key, &metrics)
            .ignore()
            .expire(&metrics_key, ttl_s as i64)
            .ignore();
    }
}
