use super::*;
use arc_actors::events::{nats, pulsar};
use arc_actors::sink::EventStream;
use arc_testkit::seed_example;

const SEED: &str = "000_a36cdaf97a05c199.txt";

fn at(hms: &str) -> DateTime<Utc> {
    format!("2026-12-02T{hms}Z").parse().expect("time")
}

fn turn(session: &str, agent: &str, latency_ms: u64) -> Event {
    let mut c: pulsar::Conversation =
        serde_json::from_value(seed_example(SEED, "persistent://arc/events/conversation"))
            .expect("seed conversation");
    c.conversation.session_id = session.into();
    c.conversation.agent_id = agent.into();
    c.performance.total_latency_ms = latency_ms;
    c.into()
}

fn ended(session: &str, agent: &str, turns: u64, duration_seconds: u64) -> Event {
    let mut m: pulsar::SessionMetrics = serde_json::from_value(seed_example(
        SEED,
        "persistent://arc/analytics/session-metrics",
    ))
    .expect("seed session-metrics");
    m.session.id = session.into();
    m.session.agent_id = agent.into();
    m.session.duration_seconds = duration_seconds;
    m.conversation_stats.total_turns = turns;
    m.performance_metrics.target_latency_ms = 500;
    m.into()
}

fn status(session: &str, final_status: &str) -> Event {
    Event::SessionEnded(nats::SessionEnded {
        event: nats::SessionEnded::EVENT.into(),
        timestamp: Utc::now(),
        trace_id: String::new(),
        user_id: "u".into(),
        session_id: session.into(),
        room_name: String::new(),
        duration_seconds: 0,
        total_turns: 0,
        reason: "error".into(),
        final_status: final_status.into(),
    })
}

fn records(stream: &mut EventStream) -> Vec<AgentPerformance> {
    let mut out = Vec::new();
    while let Some(e) = stream.try_recv() {
        if let Event::AgentPerformance(p) = &*e {
            out.push(p.clone());
        }
    }
    out
}

/// The node starts at 12:59:00; sessions end at 12:59:10..30, one at 13:10;
/// the node stops at 13:20. Paused time: the hour boundary passes in no time.
#[tokio::test(start_paused = true)]
async fn each_hour_reports_the_sessions_that_ended_in_it_and_shutdown_the_partial_hour() {
    let (sink, mut stream) = EventSink::new(1000);
    let (tx, rx) = mpsc::channel(1000);
    let stop = CancellationToken::new();
    let start = tokio::time::Instant::now();
    let clock = Clock::Anchored {
        wall: at("12:59:00"),
        at: start,
    };
    let id = ServiceIdentity::local("arc-agent");
    let task = spawn(
        PerformanceSources {
            identity: id.clone(),
            sink,
            default_agent: "arc-agent".into(),
            sample_interval: Duration::from_secs(10),
            clock,
        },
        rx,
        stop.clone(),
    );
    let send_at = |secs: u64, e: Event| {
        let tx = tx.clone();
        async move {
            tokio::time::sleep_until(start + Duration::from_secs(secs)).await;
            tx.send(Arc::new(e)).await.expect("tap open");
        }
    };
    // s1 (agent scarlett): 3 turns, one over the 500 ms target; failed.
    send_at(5, turn("s1", "scarlett", 100)).await;
    send_at(6, turn("s1", "scarlett", 300)).await;
    send_at(7, turn("s1", "scarlett", 900)).await;
    send_at(10, ended("s1", "scarlett", 3, 40)).await;
    send_at(10, status("s1", "failed")).await;
    // s2 (scarlett): 1 turn, completed; its record comes after its metrics.
    send_at(20, ended("s2", "scarlett", 1, 20)).await;
    send_at(21, turn("s2", "scarlett", 200)).await;
    send_at(21, status("s2", "completed")).await;
    // s3 (agent sherlock) is still talking at the boundary.
    send_at(25, turn("s3", "sherlock", 700)).await;
    tokio::time::sleep_until(start + Duration::from_secs(65)).await;

    let mut hour = records(&mut stream);
    hour.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
    let agents: Vec<&str> = hour.iter().map(|r| r.agent_id.as_str()).collect();
    assert_eq!(agents, ["arc-agent", "scarlett"], "{hour:#?}");
    let s = &hour[1];
    assert_eq!(s.time_bucket, at("12:00:00"));
    assert_eq!(s.timestamp, at("13:00:00"));
    assert_eq!(s.schema, "agent-performance-v1");
    assert_eq!(s.aggregation_period, "hourly");
    assert_eq!(s.instance_id, id.instance_id);
    let m = &s.metrics;
    assert_eq!((m.total_sessions, m.total_conversations), (2, 4));
    assert_eq!(m.avg_session_duration_seconds, 30);
    assert_eq!(m.avg_latency_ms, (100 + 300 + 900 + 200) / 4);
    assert_eq!(m.p95_latency_ms, 900);
    assert_eq!(m.sla_violations, 1);
    assert_eq!(m.error_rate_percent, 50.0);
    // Up 60 s of the hour.
    assert_eq!(m.uptime_percent, 1.7);
    assert!(s.resource_usage.avg_memory_mb > 0, "{:?}", s.resource_usage);
    assert!(s.resource_usage.peak_memory_mb >= s.resource_usage.avg_memory_mb);
    assert!(s.resource_usage.avg_goroutines > 0);
    // The quiet default agent is still reported, with nothing in it.
    assert_eq!(hour[0].metrics.total_sessions, 0);
    assert_eq!(hour[0].metrics.uptime_percent, 1.7);

    // 13:10: s3 ends (its turn of 12:59 counts in the hour it ended in).
    send_at(11 * 60, turn("s3", "sherlock", 300)).await;
    send_at(11 * 60, ended("s3", "sherlock", 2, 700)).await;
    tokio::time::sleep_until(start + Duration::from_secs(21 * 60)).await;
    assert!(records(&mut stream).is_empty(), "nothing before 14:00");
    stop.cancel();
    task.await.expect("rollup task");
    let mut partial = records(&mut stream);
    partial.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
    let agents: Vec<&str> = partial.iter().map(|r| r.agent_id.as_str()).collect();
    assert_eq!(agents, ["arc-agent", "sherlock"], "{partial:#?}");
    let s = &partial[1];
    assert_eq!(s.time_bucket, at("13:00:00"));
    assert_eq!(s.timestamp, at("13:20:00"));
    assert_eq!(
        (s.metrics.total_sessions, s.metrics.total_conversations),
        (1, 2)
    );
    assert_eq!(s.metrics.avg_latency_ms, 500);
    assert_eq!(s.metrics.p95_latency_ms, 700);
    assert_eq!(s.metrics.sla_violations, 1);
    assert_eq!(s.metrics.error_rate_percent, 0.0);
    // Up 20 of its 60 minutes.
    assert_eq!(s.metrics.uptime_percent, 33.3);
}

#[test]
fn p95_is_the_nearest_rank() {
    let mut r = HourlyRollup::new(at("10:00:00"), "a");
    for l in 1..=100 {
        r.observe(&turn("s", "a", l));
    }
    r.observe(&ended("s", "a", 100, 1));
    let out = r.close(at("11:00:00"), &ServiceIdentity::local("arc-agent"));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].metrics.p95_latency_ms, 95);
    assert_eq!(out[0].metrics.avg_latency_ms, 50);
    assert_eq!(out[0].metrics.sla_violations, 0);
    assert_eq!(out[0].metrics.uptime_percent, 100.0);
    assert_eq!(r.bucket(), at("11:00:00"));
}

/// A turn record or a failed status right after the boundary still counts
/// (in the open hour); a session whose end never came is forgotten.
#[test]
fn late_events_count_and_lost_sessions_are_forgotten() {
    let id = ServiceIdentity::local("arc-agent");
    let mut r = HourlyRollup::new(at("10:00:00"), "a");
    r.observe(&turn("s", "a", 100));
    r.observe(&ended("s", "a", 2, 10));
    r.observe(&turn("lost", "a", 100));
    let first = r.close(at("11:00:00"), &id);
    assert_eq!(first[0].metrics.total_sessions, 1);
    r.observe(&turn("s", "a", 900));
    r.observe(&status("s", "failed"));
    let second = r.close(at("12:00:00"), &id);
    assert_eq!(second[0].metrics.avg_latency_ms, 900);
    assert_eq!(second[0].metrics.sla_violations, 1);
    assert_eq!(r.live.len(), 1, "the lost session is kept a while");
    r.close(at("13:00:00"), &id);
    assert!(
        r.live.is_empty(),
        "and forgotten two hours after its last turn"
    );
}

/// A node that ends many sessions an hour keeps only the last minutes of
/// them for their late events, not the whole hour.
#[test]
fn ended_sessions_are_kept_for_their_late_events_only_minutes() {
    let mut r = HourlyRollup::new(at("10:00:00"), "a");
    let ended_at = |session: &str, hms: &str| {
        let mut e = ended(session, "a", 1, 1);
        if let Event::SessionMetrics(m) = &mut e {
            m.timestamp = at(hms);
        }
        e
    };
    for i in 0..100 {
        r.observe(&ended_at(&format!("early-{i}"), "10:01:00"));
    }
    r.observe(&ended_at("late", "10:07:00"));
    assert_eq!(
        r.ended.len(),
        1,
        "the sessions of 10:01 are forgotten at 10:07"
    );
    assert_eq!(r.ended_order.len(), 1);
    // A late turn record of the one kept still counts.
    r.observe(&turn("late", "a", 700));
    let out = r.close(at("11:00:00"), &ServiceIdentity::local("arc-agent"));
    assert_eq!(out[0].metrics.total_sessions, 101);
    assert_eq!(out[0].metrics.sla_violations, 1);
}
