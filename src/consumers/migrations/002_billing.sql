-- The billing consumer's tables (ARC's design; README "Readers").
-- billing_events: one row per priced event, keyed by the event's message_id,
-- so an event delivered twice is priced once.
CREATE TABLE IF NOT EXISTS billing_events (
    message_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    hour TIMESTAMPTZ NOT NULL,
    session_id TEXT NOT NULL,
    llm_tokens_in BIGINT NOT NULL DEFAULT 0,
    llm_tokens_out BIGINT NOT NULL DEFAULT 0,
    tts_characters BIGINT NOT NULL DEFAULT 0,
    tts_ms BIGINT NOT NULL DEFAULT 0,
    stt_ms BIGINT NOT NULL DEFAULT 0,
    session_seconds BIGINT NOT NULL DEFAULT 0,
    sessions INT NOT NULL DEFAULT 0,
    turns INT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS billing_events_bucket ON billing_events (account_id, agent_id, hour);

-- billing_usage: what an invoice reads, per account (the session's user_id),
-- agent and hour; always the sum of billing_events for that bucket.
CREATE TABLE IF NOT EXISTS billing_usage (
    account_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    hour TIMESTAMPTZ NOT NULL,
    llm_tokens_in BIGINT NOT NULL,
    llm_tokens_out BIGINT NOT NULL,
    tts_characters BIGINT NOT NULL,
    tts_seconds DOUBLE PRECISION NOT NULL,
    stt_seconds DOUBLE PRECISION NOT NULL,
    session_minutes DOUBLE PRECISION NOT NULL,
    sessions INT NOT NULL,
    turns INT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (account_id, agent_id, hour)
);
