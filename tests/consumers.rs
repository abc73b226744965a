//! The readers against the machine's real PostgreSQL and Redis and a
//! pulsar-lite of the test's own: a node's scripted 10-turn session lands in
//! `agent_turns`, `session_kpis`, the Redis hashes and `billing_usage` with
//! the figures of its events; the same events delivered a second time (by
//! another producer, the Python client) change nothing; poison messages go
//! to `<topic>-dlq` with their reason after 3 attempts while the consumers go
//! on. The `pulsar` crate's consumer reads pulsar-lite only with our patch
//! (patches/pulsar-6.9.1-optional-checksum.patch): without it this test
//! receives nothing.

use arc_agent::config::Config;
use arc_agent::consumers::{self, ConsumerKind};
use arc_testkit::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const REDIS: &str = "redis://127.0.0.1:6379";

/// A consumer running in this process until its token is cancelled.
struct Running {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    metrics: SocketAddr,
}

async fn start_consumer(pulsar: &str, db: &TestDb, archive: &Path, kind: ConsumerKind) -> Running {
    let archive = archive.display().to_string();
    let cfg = Config::load_with(
        None,
        vars([
            ("ARC__PULSAR__URL", pulsar),
            ("ARC__CONSUMERS__POSTGRES_URL", db.url.as_str()),
            ("ARC__CONSUMERS__REDIS_URL", REDIS),
            ("ARC__CONSUMERS__ARCHIVE_DIR", archive.as_str()),
            ("ARC__CONSUMERS__ARCHIVE_FLUSH_MS", "300"),
            ("ARC__CONSUMERS__METRICS_LISTEN", "127.0.0.1:0"),
            ("ARC__CONSUMERS__BATCH_TIMEOUT_MS", "100"),
            ("ARC__CONSUMERS__RETRY_BACKOFF_MS", "200"),
        ]),
    )
    .expect("consumer config");
    let stop = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let s = stop.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = consumers::run(&cfg, kind, s, Some(tx)).await {
            panic!("consumer {} failed: {e}", kind.as_str());
        }
    });
    let metrics = tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .expect("consumer starts")
        .expect("consumer reports its address");
    Running {
        stop,
        task,
        metrics,
    }
}

impl Running {
    /// `arc_consumer_processed_total` for `topic`, from its /metrics.
    fn processed(&self, topic: &str) -> f64 {
        let (_, body) = http("GET", &format!("http://{}/metrics", self.metrics), None);
        body.lines()
            .filter(|l| l.starts_with("arc_consumer_processed_total{") && l.contains(topic))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn metrics_text(&self) -> String {
        http("GET", &format!("http://{}/metrics", self.metrics), None).1
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

/// Polls `f` (async) every 200 ms until it returns `Some`, or panics after `secs`.
async fn until<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Everything the readers wrote about one session, for before/after comparisons.
#[derive(Debug, PartialEq)]
struct Snapshot {
    turns: Vec<String>,
    kpis: Vec<String>,
    billing: Vec<String>,
    state: BTreeMap<String, String>,
    metrics: BTreeMap<String, String>,
}

async fn snapshot(db: &tokio_postgres::Client, session: &str, user: &str) -> Snapshot {
    let rows = |sql: &'static str, key: String| async move {
        db.query(sql, &[&key])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<String>>()
    };
    let turns = rows(
        "SELECT row_to_json(t)::text FROM agent_turns t WHERE session_id = $1 ORDER BY ts_ms, turn_id",
        session.to_string(),
    )
    .await;
    let kpis = rows(
        "SELECT (to_jsonb(k) - 'updated_at')::text FROM session_kpis k WHERE session_id = $1",
        session.to_string(),
    )
    .await;
    let billing = rows(
        "SELECT (to_jsonb(b) - 'updated_at')::text FROM billing_usage b WHERE account_id = $1 ORDER BY hour",
        user.to_string(),
    )
    .await;
    let mut r = redis::Client::open(REDIS)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let state: BTreeMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("session:{session}:state"))
        .query_async(&mut r)
        .await
        .expect("state hash");
    let metrics: BTreeMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("session:{session}:metrics"))
        .query_async(&mut r)
        .await
        .expect("metrics hash");
    Snapshot {
        turns,
        kpis,
        billing,
        state,
        metrics,
    }
}

/// Every row of every Parquet file under `root` (the `parquet` crate's own
/// row reader, nothing of ARC's), and the folders they sit in.
fn archived(root: &Path) -> Vec<Value> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let mut files: Vec<PathBuf> = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    let mut rows = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap();
        if name.starts_with('.') && name.ends_with(".tmp") {
            // A part a killed reader was writing: never renamed, never read.
            continue;
        }
        assert!(
            name.starts_with("part-") && name.ends_with(".parquet"),
            "stray file {f:?}"
        );
        let rel = f.strip_prefix(root).unwrap().to_str().unwrap().to_string();
        assert!(rel.starts_with("date=") && rel.contains("/hour="), "{rel}");
        let reader = SerializedFileReader::new(std::fs::File::open(&f).unwrap()).unwrap();
        let kv = reader
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .cloned()
            .unwrap_or_default();
        assert!(
            kv.iter()
                .any(|k| k.key == "arc.archive.schema"
                    && k.value.as_deref() == Some("arc-archive-v1"))
        );
        for row in reader.get_row_iter(None).unwrap() {
            let row = row.unwrap();
            let mut obj = serde_json::Map::new();
            for (name, field) in row.get_column_iter() {
                use parquet::record::Field;
                let v = match field {
                    Field::Str(s) => Value::from(s.as_str()),
                    Field::TimestampMillis(t) => Value::from(*t),
                    Field::Null => Value::Null,
                    other => panic!("unexpected column {name}: {other:?}"),
                };
                obj.insert(name.clone(), v);
            }
            rows.push(Value::Object(obj));
        }
    }
    rows
}

/// One number from `sql` (a count or a sum); `None` while the tables are not
/// there yet (the reader has not run its migrations).
async fn scalar(
    client: &tokio_postgres::Client,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Option<i64> {
    Some(client.query_one(sql, params).await.ok()?.get(0))
}

/// The session's `session_kpis` row has its end.
async fn session_ended(client: &tokio_postgres::Client, session: &str) -> bool {
    client
        .query_opt(
            "SELECT 1 FROM session_kpis WHERE session_id = $1 AND ended_at IS NOT NULL",
            &[&session],
        )
        .await
        .ok()
        .flatten()
        .is_some()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not a count"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_turn_session_lands_once_in_postgres_redis_and_billing() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let broker = PulsarLite::start_provisioned(dir.path());
    let nats = NatsServer::start();
    let app = start_app(node_env(
        &broker.url(),
        &nats.url(),
        &dir.path().join("data"),
        0,
    ))
    .await;
    let sc = user_session(&app, "kpi");
    let (session, user) = (sc.session_id.clone(), sc.user_id.clone());
    let script: Vec<String> = (1..=10)
        .map(|i| format!("This is question number {i}, what do you say?"))
        .collect();
    let call = ScriptedCall::start(&app.ctx.node, &app.ctx.scripts, sc, script)
        .await
        .unwrap();
    assert_eq!(call.say_all(Duration::from_secs(30)).await, 10);
    call.hang_up().await.unwrap();
    let app_instance = app.ctx.identity.instance_id.clone();
    app.shutdown("test done").await;

    // What the node wrote, read by an independent client.
    let events = read_conversations(&broker.url(), &session, 10);
    assert_eq!(events.len(), 10, "the node's records: {events:#?}");
    let metrics_events = read_pulsar(
        &broker.url(),
        &["persistent://arc/analytics/session-metrics"],
        &session,
        1,
        Duration::from_secs(20),
    );
    assert_eq!(metrics_events.len(), 1);
    // The node's partial hour at shutdown: this session and its 10 turns.
    let instance = app_instance.as_str();
    let performance = read_pulsar(
        &broker.url(),
        &["persistent://arc/analytics/agent-performance"],
        instance,
        1,
        Duration::from_secs(20),
    );
    assert_eq!(performance.len(), 1, "{performance:#?}");
    let perf = &performance[0].payload;
    assert_eq!(perf["schema"], "agent-performance-v1");
    assert_eq!(
        perf["agent_id"],
        metrics_events[0].payload["session"]["agent_id"]
    );
    assert_eq!(u(&perf["metrics"]["total_sessions"]), 1);
    assert_eq!(u(&perf["metrics"]["total_conversations"]), 10);
    let turn_latencies: Vec<u64> = events
        .iter()
        .map(|e| u(&e.payload["performance"]["total_latency_ms"]))
        .collect();
    assert_eq!(
        u(&perf["metrics"]["avg_latency_ms"]),
        turn_latencies.iter().sum::<u64>() / 10
    );
    assert_eq!(
        u(&perf["metrics"]["p95_latency_ms"]),
        *turn_latencies.iter().max().unwrap()
    );
    assert!(perf["metrics"]["uptime_percent"].as_f64().unwrap() > 0.0);
    assert!(u(&perf["resource_usage"]["peak_memory_mb"]) > 0);

    let db = TestDb::create("arc_test").await;
    let archive_dir = dir.path().join("archive");
    let kpi = start_consumer(&broker.url(), &db, &archive_dir, ConsumerKind::Kpi).await;
    let billing = start_consumer(&broker.url(), &db, &archive_dir, ConsumerKind::Billing).await;
    let archive = start_consumer(&broker.url(), &db, &archive_dir, ConsumerKind::Archive).await;
    let client = pg(&db.url).await;
    until(
        60,
        "10 turns and the session's end in PostgreSQL",
        || async {
            let n = scalar(
                &client,
                "SELECT COUNT(*) FROM agent_turns WHERE session_id = $1",
                &[&session],
            )
            .await?;
            let billed = scalar(
                &client,
                "SELECT COALESCE(SUM(sessions), 0) FROM billing_usage WHERE account_id = $1",
                &[&user],
            )
            .await?;
            (n == 10 && session_ended(&client, &session).await && billed == 1).then_some(())
        },
    )
    .await;

    // agent_turns: each row is its event's figures.
    for e in &events {
        let p = &e.payload;
        let turn_id = format!("turn_{}", u(&p["conversation"]["turn_index"]));
        let row = client
            .query_one(
                "SELECT user_id, channel, model, tokens_in, tokens_out, latency_ms, response_text, ts_ms
                 FROM agent_turns WHERE session_id = $1 AND turn_id = $2",
                &[&session, &turn_id],
            )
            .await
            .unwrap_or_else(|e| panic!("{turn_id}: {e}"));
        assert_eq!(row.get::<_, String>(0), user);
        assert_eq!(row.get::<_, String>(1), "voice");
        assert_eq!(row.get::<_, String>(2), p["agent_response"]["llm_model"]);
        assert_eq!(
            row.get::<_, i32>(3) as u64,
            u(&p["context"]["context_tokens_used"])
        );
        assert_eq!(
            row.get::<_, i32>(4) as u64,
            u(&p["agent_response"]["llm_tokens_used"])
        );
        assert_eq!(
            row.get::<_, f64>(5),
            u(&p["performance"]["total_latency_ms"]) as f64
        );
        assert_eq!(row.get::<_, String>(6), p["agent_response"]["text"]);
        let ts = chrono::DateTime::parse_from_rfc3339(p["timestamp"].as_str().unwrap()).unwrap();
        assert_eq!(row.get::<_, i64>(7), ts.timestamp_millis());
    }

    // session_kpis: the totals and averages of those rows, the session's times.
    let latencies: Vec<f64> = events
        .iter()
        .map(|e| u(&e.payload["performance"]["total_latency_ms"]) as f64)
        .collect();
    let sum = |path: [&str; 2]| -> i64 {
        events
            .iter()
            .map(|e| u(&e.payload[path[0]][path[1]]) as i64)
            .sum()
    };
    let k = client
        .query_one(
            "SELECT user_id, turns, tokens_in, tokens_out, avg_latency_ms, started_at, ended_at
             FROM session_kpis WHERE session_id = $1",
            &[&session],
        )
        .await
        .unwrap();
    assert_eq!(k.get::<_, String>(0), user);
    assert_eq!(k.get::<_, i32>(1), 10);
    assert_eq!(k.get::<_, i64>(2), sum(["context", "context_tokens_used"]));
    assert_eq!(
        k.get::<_, i64>(3),
        sum(["agent_response", "llm_tokens_used"])
    );
    let avg = latencies.iter().sum::<f64>() / latencies.len() as f64;
    assert!((k.get::<_, f64>(4) - avg).abs() < 1e-6, "average latency");
    let m = &metrics_events[0].payload["session"];
    let started = chrono::DateTime::parse_from_rfc3339(m["started_at"].as_str().unwrap()).unwrap();
    let ended = chrono::DateTime::parse_from_rfc3339(m["ended_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        k.get::<_, chrono::DateTime<chrono::Utc>>(5),
        started.with_timezone(&chrono::Utc)
    );
    assert_eq!(
        k.get::<_, chrono::DateTime<chrono::Utc>>(6),
        ended.with_timezone(&chrono::Utc)
    );

    // Redis: the hot state of the session, with a TTL.
    let before = snapshot(&client, &session, &user).await;
    assert_eq!(before.state["last_turn_id"], "turn_10");
    assert_eq!(before.state["seq"], "10");
    assert_eq!(before.state["status"], "ended");
    assert_eq!(before.state["channel"], "voice");
    assert_eq!(
        before.state["last_message"],
        events[9].payload["agent_response"]["text"]
            .as_str()
            .unwrap()
    );
    assert_eq!(before.metrics["total_turns"], "10");
    assert_eq!(
        before.metrics["avg_response_time"],
        (avg.round() as i64).to_string()
    );
    let mut r = redis::Client::open(REDIS)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("session:{session}:state"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 86400, "TTL {ttl}");

    // billing_usage: the account's usage, summed over its hours.
    let b = client
        .query_one(
            "SELECT SUM(llm_tokens_in)::int8, SUM(llm_tokens_out)::int8, SUM(tts_characters)::int8,
                    SUM(tts_seconds), SUM(stt_seconds), SUM(session_minutes), SUM(sessions)::int8, SUM(turns)::int8
             FROM billing_usage WHERE account_id = $1",
            &[&user],
        )
        .await
        .unwrap();
    assert_eq!(b.get::<_, i64>(0), sum(["context", "context_tokens_used"]));
    assert_eq!(
        b.get::<_, i64>(1),
        sum(["agent_response", "llm_tokens_used"])
    );
    let chars: i64 = events
        .iter()
        .map(|e| {
            e.payload["agent_response"]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count() as i64
        })
        .sum();
    assert_eq!(b.get::<_, i64>(2), chars);
    let tts_s = sum(["agent_response", "tts_audio_duration_ms"]) as f64 / 1000.0;
    let stt_s = sum(["user_message", "audio_duration_ms"]) as f64 / 1000.0;
    assert!((b.get::<_, f64>(3) - tts_s).abs() < 1e-6);
    assert!((b.get::<_, f64>(4) - stt_s).abs() < 1e-6);
    let minutes = u(&m["duration_seconds"]) as f64 / 60.0;
    assert!((b.get::<_, f64>(5) - minutes).abs() < 1e-6);
    assert_eq!(b.get::<_, i64>(6), 1);
    assert_eq!(b.get::<_, i64>(7), 10);

    // Every event a second time, from another producer, and two poison
    // messages between them.
    let conv = "persistent://arc/events/conversation";
    let mut again: Vec<SendMessage> = events
        .iter()
        .chain(metrics_events.iter())
        .map(|e| SendMessage {
            topic: e
                .topic
                .split("-partition-")
                .next()
                .unwrap_or(&e.topic)
                .to_string(),
            key: e.key.clone(),
            properties: e.properties.clone(),
            payload: e.payload.to_string(),
        })
        .collect();
    let poison = |payload: &str| SendMessage {
        topic: conv.to_string(),
        key: user.clone(),
        properties: serde_json::json!({}),
        payload: payload.to_string(),
    };
    again.insert(3, poison("this is not JSON"));
    again.insert(
        7,
        poison(&format!(
            r#"{{"schema":"conversation-v9","session":"{session}"}}"#
        )),
    );
    send_pulsar(&broker.url(), &again);

    for c in [&kpi, &billing, &archive] {
        until(60, "the second delivery read", || async {
            (c.processed(conv) >= 20.0).then_some(())
        })
        .await;
    }
    let dead = read_pulsar(
        &broker.url(),
        &["persistent://arc/events/conversation-dlq"],
        "",
        6,
        Duration::from_secs(60),
    );
    assert_eq!(
        dead.len(),
        6,
        "each poison message once per subscription: {dead:#?}"
    );
    for sub in ["arc-kpi", "arc-billing", "arc-archive"] {
        let n = dead
            .iter()
            .filter(|d| d.properties["subscription"] == sub)
            .count();
        assert_eq!(n, 2, "{sub}");
    }
    for d in &dead {
        assert_eq!(d.properties["attempts"], "3");
        let reason = d.properties["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("not JSON") || reason.contains("conversation-v9"),
            "{reason}"
        );
    }
    let after = snapshot(&client, &session, &user).await;
    assert_eq!(before, after, "a second delivery changed nothing");
    let text = kpi.metrics_text();
    assert!(
        text.contains("arc_consumer_dead_lettered_total{consumer=\"kpi\""),
        "{text}"
    );
    assert!(
        text.contains("arc_consumer_write_seconds_count{consumer=\"kpi\",store=\"redis\"}"),
        "{text}"
    );
    assert!(text.contains("arc_consumer_lag_seconds{consumer=\"kpi\"}"));

    // The archive: every event once, in its hour's folder, as published.
    let rows = archived(&archive_dir.join("v1"));
    let mut ids = std::collections::HashSet::new();
    for r in &rows {
        assert!(
            ids.insert(r["message_id"].as_str().unwrap().to_string()),
            "archived twice: {}",
            r["message_id"]
        );
    }
    let mine: Vec<&Value> = rows
        .iter()
        .filter(|r| r["topic"] == conv && r["payload"].as_str().unwrap().contains(&session))
        .collect();
    assert_eq!(mine.len(), 10);
    for e in &events {
        let id = e.payload["message_id"].as_str().unwrap();
        let row = mine
            .iter()
            .find(|r| r["message_id"] == id)
            .unwrap_or_else(|| panic!("{id} not archived"));
        let stored: Value = serde_json::from_str(row["payload"].as_str().unwrap()).unwrap();
        assert_eq!(stored, e.payload);
        assert_eq!(row["schema"], "conversation-v1");
        assert_eq!(row["key"], user.as_str());
    }
    assert!(rows
        .iter()
        .any(|r| r["message_id"] == metrics_events[0].payload["message_id"]));

    // `replay`: the conversation back from the log (where every event is now
    // twice, with poison between), in order, each turn once, nothing missing.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_arc-agent"))
        .args(["replay", "--session", &session])
        .env("ARC__PULSAR__URL", broker.url())
        .output()
        .expect("arc-agent replay runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let turn_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("turn ")).collect();
    assert_eq!(turn_lines.len(), 10, "{text}");
    for (i, line) in turn_lines.iter().enumerate() {
        assert!(line.starts_with(&format!("turn {}  ", i + 1)), "{line}");
        assert!(!line.contains("MISSING"), "{line}");
    }
    for e in &events {
        let said = e.payload["user_message"]["text"].as_str().unwrap();
        assert_eq!(
            text.matches(&format!("user:  {said:?}")).count(),
            1,
            "{said}: {text}"
        );
        let latency = u(&e.payload["performance"]["total_latency_ms"]);
        assert!(
            text.contains(&format!("voice-to-voice {latency} ms")),
            "{text}"
        );
    }
    assert!(text
        .lines()
        .next()
        .unwrap()
        .starts_with(&format!("session {session}")));

    kpi.stop().await;
    billing.stop().await;
    archive.stop().await;
    drop(client);
    db.drop_it().await;
}

/// `arc-agent consume <kind>` as its own process.
fn consume_process(
    kind: &str,
    pulsar: &str,
    db: &TestDb,
    metrics_port: u16,
    archive: &Path,
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_arc-agent"))
        .args(["consume", kind])
        .env("ARC__CONSUMERS__ARCHIVE_DIR", archive)
        .env("ARC__CONSUMERS__ARCHIVE_BATCH_SIZE", "50")
        .env("ARC__CONSUMERS__ARCHIVE_FLUSH_MS", "100")
        .env("ARC__PULSAR__URL", pulsar)
        .env("DATABASE_URL", &db.url)
        .env("REDIS_URL", REDIS)
        .env(
            "ARC__CONSUMERS__METRICS_LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .env("ARC__CONSUMERS__BATCH_SIZE", "20")
        .env("ARC__CONSUMERS__BATCH_TIMEOUT_MS", "50")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("arc-agent consume starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_killed_mid_run_and_restarted_write_each_turn_once() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let broker = PulsarLite::start_provisioned(dir.path());
    let prefix = format!("kill{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (sessions, turns) = (100, 10);
    let events = synthetic_conversations(&prefix, sessions, turns);
    send_pulsar(&broker.url(), &events);
    let total = (sessions * turns) as i64;
    let tokens_out: i64 = (1..=turns as i64).map(|t| 10 + t).sum::<i64>() * sessions as i64;
    let db = TestDb::create("arc_test").await;
    let client_for = || pg(&db.url);
    let (kpi_port, billing_port, archive_port) = (free_port(), free_port(), free_port());
    let archive_dir = dir.path().join("archive");
    let archived_ids = || -> std::collections::HashMap<String, usize> {
        let mut ids = std::collections::HashMap::new();
        if archive_dir.join("v1").exists() {
            for r in archived(&archive_dir.join("v1")) {
                *ids.entry(r["message_id"].as_str().unwrap().to_string())
                    .or_insert(0) += 1;
            }
        }
        ids
    };
    let mut kpi = consume_process("kpi", &broker.url(), &db, kpi_port, &archive_dir);
    let mut billing = consume_process("billing", &broker.url(), &db, billing_port, &archive_dir);
    let mut archive = consume_process("archive", &broker.url(), &db, archive_port, &archive_dir);

    // SIGKILL both while they are part way through (batches of 20).
    let client = client_for().await;
    let count = |sql: &'static str| {
        let client = &client;
        async move { scalar(client, sql, &[]).await.unwrap_or(0) }
    };
    let turns_sql = "SELECT COUNT(*) FROM agent_turns";
    let billed_sql = "SELECT COUNT(*) FROM billing_events";
    until(60, "the readers under way", || async {
        (count(turns_sql).await >= 100
            && count(billed_sql).await >= 100
            && archived_ids().len() >= 100)
            .then_some(())
    })
    .await;
    kpi.kill().unwrap();
    billing.kill().unwrap();
    archive.kill().unwrap();
    let _ = kpi.wait();
    let _ = billing.wait();
    let _ = archive.wait();
    let archived_at_kill = archived_ids().len();
    let (turns_at_kill, billed_at_kill) = (count(turns_sql).await, count(billed_sql).await);
    assert!(
        turns_at_kill < total || billed_at_kill < total || (archived_at_kill as i64) < total,
        "killed too late to prove anything ({turns_at_kill}, {billed_at_kill}, {archived_at_kill})"
    );

    let mut kpi = consume_process("kpi", &broker.url(), &db, kpi_port, &archive_dir);
    let mut billing = consume_process("billing", &broker.url(), &db, billing_port, &archive_dir);
    let mut archive = consume_process("archive", &broker.url(), &db, archive_port, &archive_dir);
    until(120, "every turn after the restart", || async {
        let done = count(turns_sql).await == total
            && archived_ids().len() as i64 == total
            && count(billed_sql).await == total
            && count("SELECT COALESCE(SUM(turns), 0)::int8 FROM session_kpis").await == total
            && count("SELECT COALESCE(SUM(turns), 0)::int8 FROM billing_usage").await == total;
        done.then_some(())
    })
    .await;
    // Once each: no session over 10 turns, the token sums exact.
    assert_eq!(
        count("SELECT COUNT(*) FROM session_kpis WHERE turns = 10").await,
        sessions as i64
    );
    assert_eq!(
        count("SELECT SUM(llm_tokens_out)::int8 FROM billing_usage").await,
        tokens_out
    );
    assert_eq!(
        count("SELECT SUM(tokens_out)::int8 FROM agent_turns").await,
        tokens_out
    );
    let mut r = redis::Client::open(REDIS)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for s in [0, sessions / 2, sessions - 1] {
        let seq: String = redis::cmd("HGET")
            .arg(format!("session:{prefix}-session-{s}:state"))
            .arg("seq")
            .query_async(&mut r)
            .await
            .unwrap();
        assert_eq!(seq, turns.to_string());
    }
    let (_, m) = http(
        "GET",
        &format!("http://127.0.0.1:{billing_port}/metrics"),
        None,
    );
    eprintln!(
        "killed at {turns_at_kill} turns / {billed_at_kill} billed events; after the restart billing read: {}",
        m.lines().filter(|l| l.starts_with("arc_consumer_processed_total")).collect::<Vec<_>>().join(" ")
    );
    // The Parquet parts too: each event in exactly one row.
    let ids = archived_ids();
    assert!(
        ids.values().all(|n| *n == 1),
        "archived twice: {:?}",
        ids.iter()
            .filter(|(_, n)| **n > 1)
            .take(5)
            .collect::<Vec<_>>()
    );
    kpi.kill().unwrap();
    billing.kill().unwrap();
    archive.kill().unwrap();
    let _ = kpi.wait();
    let _ = billing.wait();
    let _ = archive.wait();
    drop(client);
    db.drop_it().await;
}

/// A node killed with SIGKILL may have sent events whose spool commit never
/// happened: on restart it sends them again, with the same message ids. The
/// worst case is a lost cursor (everything on disk is sent again), made
/// here by removing it after the kill. The readers' rows, hashes and Parquet
/// records stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_and_restarted_replays_without_changing_what_readers_wrote() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let broker = PulsarLite::start_provisioned(dir.path());
    let data = dir.path().join("data");
    let http_port = free_port();
    let env = node_env(&broker.url(), SHARED_NATS, &data, http_port);
    let log = dir.path().join("node.log");
    let binary = env!("CARGO_BIN_EXE_arc-agent");
    let mut node = TestNode::serve(binary, &env, http_port, &log);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (session, user) = (format!("replay-{id}"), format!("replay-user-{id}"));
    let (code, body) = node.post(
        "/v1/sessions",
        Some(&format!(
            r#"{{"session_id":"{session}","user_id":"{user}","script":["one","two","three","four","five"]}}"#
        )),
    );
    assert_eq!(code, 201, "{body}");

    let db = TestDb::create("arc_test").await;
    let archive_dir = dir.path().join("archive");
    let kpi = start_consumer(&broker.url(), &db, &archive_dir, ConsumerKind::Kpi).await;
    let billing = start_consumer(&broker.url(), &db, &archive_dir, ConsumerKind::Billing).await;
    let archive = start_consumer(&broker.url(), &db, &archive_dir, ConsumerKind::Archive).await;
    let client = pg(&db.url).await;
    let mine = |rows: Vec<Value>| {
        let mut v: Vec<String> = rows
            .into_iter()
            .map(|r| r.to_string())
            .filter(|r| r.contains(&session) || r.contains(&user))
            .collect();
        v.sort();
        v
    };
    until(60, "the session in every reader", || async {
        let turns = scalar(
            &client,
            "SELECT COUNT(*) FROM agent_turns WHERE session_id = $1",
            &[&session],
        )
        .await?;
        let billed = scalar(
            &client,
            "SELECT COUNT(*) FROM billing_usage WHERE account_id = $1",
            &[&user],
        )
        .await?;
        let files = if archive_dir.join("v1").exists() {
            mine(archived(&archive_dir.join("v1")))
        } else {
            Vec::new()
        };
        let ended = session_ended(&client, &session).await;
        (turns == 5 && ended && billed > 0 && files.len() >= 6).then_some(())
    })
    .await;
    // Settle: nothing more is on its way.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = snapshot(&client, &session, &user).await;
    let files_before = mine(archived(&archive_dir.join("v1")));
    let seen = |r: &Running| r.processed("conversation") + r.processed("session-metrics");
    let (kpi_seen, billing_seen, archive_seen) = (seen(&kpi), seen(&billing), seen(&archive));

    node.kill(); // SIGKILL
    let cursor = data.join("spool").join("cursor");
    assert!(cursor.exists(), "the spool's cursor at {cursor:?}");
    std::fs::remove_file(&cursor).unwrap();
    let node = TestNode::serve(binary, &env, http_port, &log);
    let replayed = eventually(Duration::from_secs(30), || {
        let (_, m) = node.get("/metrics");
        let replayed = metric(&m, "arc_pulsar_replayed_total")?;
        let depth = metric(&m, "arc_pulsar_spool_depth_events")?;
        (depth == 0.0 && replayed >= 7.0).then_some(replayed)
    });
    assert!(
        replayed.is_some(),
        "the spool was not sent again: {}",
        node.log_tail(30)
    );
    // Each reader has seen the session's 5 turns and its metrics again.
    until(60, "the replay read by every reader", || async {
        (seen(&kpi) >= kpi_seen + 6.0
            && seen(&billing) >= billing_seen + 6.0
            && seen(&archive) >= archive_seen + 6.0)
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(snapshot(&client, &session, &user).await, before);
    assert_eq!(mine(archived(&archive_dir.join("v1"))), files_before);
    node.stop(Duration::from_secs(10));

    kpi.stop().await;
    billing.stop().await;
    archive.stop().await;
    drop(client);
    db.drop_it().await;
}

/// A backlog of 20,000 events in producer batches of 128 over the
/// conversation topic's 16 partitions is read to the end. Without
/// patches/pulsar-6.9.1-idle-flow.patch the `pulsar` crate's consumers stop
/// part way (pulsar-lite parks an entry when the connection's queue is full
/// and dispatches again only on a Flow; the crate sends one only after half
/// of its window has arrived): 5,000–15,000 read, then nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batched_backlog_is_read_to_the_end() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let broker = PulsarLite::start_provisioned(dir.path());
    let prefix = format!("backlog{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let events = synthetic_conversations(&prefix, 2_000, 10);
    send_pulsar_batched(&broker.url(), &events, 128);
    let db = TestDb::create("arc_test").await;
    let kpi = start_consumer(
        &broker.url(),
        &db,
        &dir.path().join("archive"),
        ConsumerKind::Kpi,
    )
    .await;
    let client = pg(&db.url).await;
    until(120, "all 20,000 turns in agent_turns", || async {
        let n = scalar(&client, "SELECT COUNT(*) FROM agent_turns", &[]).await?;
        (n == 20_000).then_some(())
    })
    .await;
    assert_eq!(kpi.processed("conversation"), 20_000.0);
    kpi.stop().await;
    drop(client);
    db.drop_it().await;
}

/// `consume archive` into an S3-compatible store (moto's server; read back
/// with boto3): hourly parts under the URL's prefix, each event once, and the
/// same events delivered again write nothing new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_writes_to_an_s3_compatible_store_once() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let broker = PulsarLite::start_provisioned(dir.path());
    let s3 = MotoS3::start();
    s3.create_bucket("arc-archive");
    let prefix = format!("s3arc{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let events = synthetic_conversations(&prefix, 5, 10);
    send_pulsar(&broker.url(), &events);
    let port = free_port();
    let mut archive = std::process::Command::new(env!("CARGO_BIN_EXE_arc-agent"))
        .args(["consume", "archive"])
        .env("ARC__PULSAR__URL", broker.url())
        .env("ARC__CONSUMERS__ARCHIVE_URL", "s3://arc-archive/events")
        .env("ARC__CONSUMERS__ARCHIVE_FLUSH_MS", "300")
        .env(
            "ARC__CONSUMERS__METRICS_LISTEN",
            format!("127.0.0.1:{port}"),
        )
        .envs(s3.env())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("arc-agent consume archive starts");
    let local = dir.path().join("downloaded");
    let rows = |keys: &[String]| -> Vec<Value> {
        assert!(
            keys.iter().all(|k| k.starts_with("events/v1/date=")),
            "{keys:?}"
        );
        let mut rows = if local.join("events/v1").exists() {
            archived(&local.join("events/v1"))
        } else {
            Vec::new()
        };
        rows.retain(|r| r.to_string().contains(&prefix));
        rows
    };
    let first = eventually(Duration::from_secs(60), || {
        let keys = s3.download("arc-archive", &local);
        let r = rows(&keys);
        (r.len() == 50).then_some((keys, r))
    });
    let Some((keys, before)) = first else {
        let _ = archive.kill();
        panic!("the 50 events never reached the bucket");
    };
    let ids: std::collections::HashSet<String> = before
        .iter()
        .map(|r| r["message_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 50, "each event once");

    // The same events again (another producer): nothing new in the bucket.
    send_pulsar(&broker.url(), &events);
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    let seen = eventually(Duration::from_secs(60), || {
        let (_, m) = http("GET", &metrics, None);
        (metric(&m, "arc_consumer_processed_total")? >= 100.0).then_some(())
    });
    let _ = archive.kill();
    let _ = archive.wait();
    assert!(seen.is_some(), "the second delivery was not read");
    let keys_after = s3.download("arc-archive", &local);
    assert_eq!(keys_after, keys, "no new part");
    assert_eq!(rows(&keys_after).len(), 50);
}
