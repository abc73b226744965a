//! `consume billing`: usage per account (the session's `user_id`), agent and
//! hour into `billing_usage`, for invoicing. Turns (conversation-v1) bring
//! LLM tokens in and out, TTS characters and seconds, STT seconds; ended
//! sessions (session-metrics-v1) bring session minutes.
//!
//! Idempotent: each priced event is one `billing_events` row keyed by its
//! `message_id` (a second delivery inserts nothing), and a bucket of
//! `billing_usage` is always recomputed as the sum of its events.

use super::error::{ConsumeError, WriteError};
use super::metrics::ConsumerMetrics;
use super::postgres::Pg;
use super::record::Record;
use super::subscription::Writer;
use crate::config::ConsumersSection;
use arc_actors::events::{Event, PulsarTopic};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

pub(crate) struct BillingWriter {
    pg: Pg,
    metrics: Arc<ConsumerMetrics>,
}

impl BillingWriter {
    pub(crate) async fn start(
        cfg: &ConsumersSection,
        metrics: Arc<ConsumerMetrics>,
    ) -> Result<BillingWriter, ConsumeError> {
        Ok(BillingWriter {
            pg: Pg::start(cfg).await?,
            metrics,
        })
    }
}

/// One `billing_events` row.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Priced {
    pub(crate) message_id: String,
    pub(crate) account_id: String,
    pub(crate) agent_id: String,
    pub(crate) hour: DateTime<Utc>,
    pub(crate) session_id: String,
    pub(crate) llm_tokens_in: i64,
    pub(crate) llm_tokens_out: i64,
    pub(crate) tts_characters: i64,
    pub(crate) tts_ms: i64,
    pub(crate) stt_ms: i64,
    pub(crate) session_seconds: i64,
    pub(crate) sessions: i32,
    pub(crate) turns: i32,
}

fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// What an event costs, or `None` when it is not priced.
pub(crate) fn price(event: &Event) -> Option<Priced> {
    match event {
        Event::Conversation(c) => Some(Priced {
            message_id: c.message_id.clone(),
            account_id: c.conversation.user_id.clone(),
            agent_id: c.conversation.agent_id.clone(),
            hour: hour_of(c.timestamp),
            session_id: c.conversation.session_id.clone(),
            llm_tokens_in: i64_of(c.context.context_tokens_used),
            llm_tokens_out: i64_of(c.agent_response.llm_tokens_used),
            tts_characters: c.agent_response.text.chars().count() as i64,
            tts_ms: i64_of(c.agent_response.tts_audio_duration_ms),
            stt_ms: i64_of(c.user_message.audio_duration_ms),
            turns: 1,
            ..Default::default()
        }),
        Event::SessionMetrics(m) => Some(Priced {
            message_id: m.message_id.clone(),
            account_id: m.session.user_id.clone(),
            agent_id: m.session.agent_id.clone(),
            hour: hour_of(m.session.ended_at),
            session_id: m.session.id.clone(),
            session_seconds: i64_of(m.session.duration_seconds),
            sessions: 1,
            ..Default::default()
        }),
        _ => None,
    }
}

impl Writer for BillingWriter {
    fn topics(&self) -> &'static [PulsarTopic] {
        &[PulsarTopic::Conversation, PulsarTopic::SessionMetrics]
    }

    async fn write(&mut self, batch: &[Record]) -> Result<(), WriteError> {
        let priced: Vec<Priced> = batch.iter().filter_map(|r| price(&r.event)).collect();
        if priced.is_empty() {
            return Ok(());
        }
        let t0 = Instant::now();
        let client = self.pg.client().await?;
        let tx = client.transaction().await?;
        let col_s = |f: fn(&Priced) -> String| priced.iter().map(f).collect::<Vec<String>>();
        let col_i = |f: fn(&Priced) -> i64| priced.iter().map(f).collect::<Vec<i64>>();
        let col_n = |f: fn(&Priced) -> i32| priced.iter().map(f).collect::<Vec<i32>>();
        let hours: Vec<DateTime<Utc>> = priced.iter().map(|p| p.hour).collect();
        tx.execute(
            "INSERT INTO billing_events (message_id, account_id, agent_id, hour, session_id, llm_tokens_in, llm_tokens_out,
                                         tts_characters, tts_ms, stt_ms, session_seconds, sessions, turns)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::int8[], $7::int8[],
                                  $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int4[], $13::int4[])
             ON CONFLICT (message_id) DO NOTHING",
            &[
                &col_s(|p| p.message_id.clone()),
                &col_s(|p| p.account_id.clone()),
                &col_s(|p| p.agent_id.clone()),
                &hours,
                &col_s(|p| p.session_id.clone()),
                &col_i(|p| p.llm_tokens_in),
                &col_i(|p| p.llm_tokens_out),
                &col_i(|p| p.tts_characters),
                &col_i(|p| p.tts_ms),
                &col_i(|p| p.stt_ms),
                &col_i(|p| p.session_seconds),
                &col_n(|p| p.sessions),
                &col_n(|p| p.turns),
            ],
        )
        .await?;
        let buckets: BTreeSet<(String, String, DateTime<Utc>)> = priced
            .iter()
            .map(|p| (p.account_id.clone(), p.agent_id.clone(), p.hour))
            .collect();
        for (account, agent, hour) in &buckets {
            tx.execute(
                "INSERT INTO billing_usage (account_id, agent_id, hour, llm_tokens_in, llm_tokens_out, tts_characters,
                                            tts_seconds, stt_seconds, session_minutes, sessions, turns)
                 SELECT account_id, agent_id, hour, SUM(llm_tokens_in), SUM(llm_tokens_out), SUM(tts_characters),
                        SUM(tts_ms) / 1000.0, SUM(stt_ms) / 1000.0, SUM(session_seconds) / 60.0, SUM(sessions), SUM(turns)
                 FROM billing_events WHERE account_id = $1 AND agent_id = $2 AND hour = $3
                 GROUP BY account_id, agent_id, hour
                 ON CONFLICT (account_id, agent_id, hour) DO UPDATE SET
                     llm_tokens_in = EXCLUDED.llm_tokens_in,
                     llm_tokens_out = EXCLUDED.llm_tokens_out,
                     tts_characters = EXCLUDED.tts_characters,
                     tts_seconds = EXCLUDED.tts_seconds,
                     stt_seconds = EXCLUDED.stt_seconds,
                     session_minutes = EXCLUDED.session_minutes,
                     sessions = EXCLUDED.sessions,
                     turns = EXCLUDED.turns,
                     updated_at = NOW()
                 WHERE (billing_usage.llm_tokens_in, billing_usage.llm_tokens_out, billing_usage.tts_characters,
                        billing_usage.tts_seconds, billing_usage.stt_seconds, billing_usage.session_minutes,
                        billing_usage.sessions, billing_usage.turns)
                       IS DISTINCT FROM
                       (EXCLUDED.llm_tokens_in, EXCLUDED.llm_tokens_out, EXCLUDED.tts_characters,
                        EXCLUDED.tts_seconds, EXCLUDED.stt_seconds, EXCLUDED.session_minutes,
                        EXCLUDED.sessions, EXCLUDED.turns)",
                &[account, agent, hour],
            )
            .await?;
        }
        tx.commit().await?;
        self.metrics
            .write_took("postgres", t0.elapsed().as_secs_f64());
        Ok(())
    }
}
