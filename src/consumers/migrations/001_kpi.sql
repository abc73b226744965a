-- The kpi consumer's tables, column for column as seed 003 defines them.
CREATE TABLE IF NOT EXISTS agent_turns (
    session_id TEXT,
    turn_id TEXT,
    user_id TEXT,
    channel TEXT DEFAULT 'text',
    model TEXT,
    tokens_in INT,
    tokens_out INT,
    latency_ms DOUBLE PRECISION,
    response_text TEXT,
    ts_ms BIGINT,
    PRIMARY KEY (session_id, turn_id)
);

CREATE TABLE IF NOT EXISTS session_kpis (
    session_id TEXT PRIMARY KEY,
    user_id TEXT,
    channel TEXT,
    turns INT,
    tokens_in BIGINT,
    tokens_out BIGINT,
    avg_latency_ms DOUBLE PRECISION,
    started_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ DEFAULT NOW()
);
