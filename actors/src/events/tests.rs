//! The envelope's unit tests: partition keys, topics and subjects, trace ids,
//! timestamps and message ids, on one example payload per Pulsar topic.

use super::*;
use chrono::TimeZone;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

fn conversation() -> pulsar::Conversation {
    serde_json::from_value(json!({
        "schema": "conversation-v1",
        "message_id": "msg-550e8400-e29b-41d4-a716-446655440000",
        "timestamp": "2025-12-14T13:30:06.500Z",
        "event_type": "conversation_turn_completed",
        "conversation": {"id": "conv-789", "session_id": "session-456", "user_id": "user-123",
                         "agent_id": "arc-scarlett-voice", "turn_index": 3},
        "user_message": {"text": "hi", "audio_duration_ms": 1200, "stt_model": "whisper-large-v3",
                         "stt_confidence": 0.98, "stt_latency_ms": 150},
        "agent_response": {"text": "hello", "llm_model": "gpt-4-turbo", "llm_tokens_used": 45,
                           "llm_latency_ms": 450, "tts_model": "piper", "tts_audio_duration_ms": 2500,
                           "tts_latency_ms": 200},
        "context": {"previous_turn_count": 2, "context_tokens_used": 120, "tools_invoked": []},
        "performance": {"total_latency_ms": 800, "stt_latency_ms": 150, "llm_latency_ms": 450,
                        "tts_latency_ms": 200, "network_overhead_ms": 50},
        "metadata": {"room_name": "room-1", "participant_sid": "PA_1", "trace_id": "trace-conv",
                     "environment": "production", "region": "us-west-2"}
    }))
    .unwrap()
}

fn lifecycle() -> pulsar::AgentLifecycle {
    serde_json::from_value(json!({
        "schema": "agent-lifecycle-v1",
        "message_id": "msg-lifecycle-123",
        "timestamp": "2025-12-14T13:25:00.000Z",
        "event_type": "service_started",
        "service": {"name": "arc-scarlett-voice", "instance_id": "pod-1", "version": "v1.2.3",
                    "node": "k8s-node-05"},
        "event_details": {"type": "started", "reason": "scheduled_deployment",
                          "previous_state": "stopped", "current_state": "running"},
        "health": {"cpu_limit": "2000m", "memory_limit": "4Gi", "initial_goroutines": 12,
                   "dependencies_healthy": true}
    }))
    .unwrap()
}

fn webhook(with_room: bool) -> pulsar::LivekitWebhook {
    let mut payload = json!({"event": "track_published", "id": "EV_1", "createdAt": "1702563001"});
    if with_room {
        payload["room"] = json!({"sid": "RM_1", "name": "room-user-123", "createdAt": "1702563000",
                                 "emptyTimeout": 300});
    }
    serde_json::from_value(json!({
        "schema": "livekit-webhook-v1",
        "message_id": "msg-webhook-456",
        "timestamp": "2025-12-14T13:30:01.000Z",
        "trace_id": "trace-wh",
        "event": "track_published",
        "webhook_payload": payload,
        "metadata": {"webhook_id": "wh-123", "received_at": "2025-12-14T13:30:01.050Z",
                     "processing_latency_ms": 5}
    }))
    .unwrap()
}

fn session_metrics() -> pulsar::SessionMetrics {
    serde_json::from_value(json!({
        "schema": "session-metrics-v1",
        "message_id": "msg-metrics-789",
        "timestamp": "2025-12-14T23:59:59.999Z",
        "event_type": "session_ended",
        "session": {"id": "session-456", "user_id": "user-123", "agent_id": "arc", "room_name": "r",
                    "room_sid": "RM_1", "started_at": "2025-12-14T13:30:00.000Z",
                    "ended_at": "2025-12-14T13:35:00.000Z", "duration_seconds": 300},
        "conversation_stats": {"total_turns": 12, "user_messages": 12, "agent_messages": 12,
                               "avg_turn_length_words": 18, "total_tokens_used": 540},
        "performance_metrics": {"avg_latency_ms": 750, "p50_latency_ms": 700, "p95_latency_ms": 1200,
                                "p99_latency_ms": 1500, "max_latency_ms": 1800,
                                "avg_stt_latency_ms": 140, "avg_llm_latency_ms": 430,
                                "avg_tts_latency_ms": 180, "sla_compliance_percent": 95.5,
                                "target_latency_ms": 2000},
        "connection_quality": {"avg_packet_loss_percent": 0.2, "avg_jitter_ms": 5,
                               "connection_type": "udp", "reconnect_count": 0,
                               "quality_rating": "excellent"},
        "resource_usage": {"total_audio_bytes": 7200000, "total_llm_tokens": 540,
                           "api_calls": {"stt": 12, "llm": 12, "tts": 12, "weather_api": 2}},
        "user_experience": {"interruptions": 1, "silence_gaps_ms": [500, 300],
                            "user_satisfaction_score": 4.5}
    }))
    .unwrap()
}

fn agent_performance() -> pulsar::AgentPerformance {
    serde_json::from_value(json!({
        "schema": "agent-performance-v1",
        "message_id": "msg-perf-001",
        "timestamp": "2025-12-14T14:00:00.000Z",
        "aggregation_period": "hourly",
        "time_bucket": "2025-12-14T13:00:00.000Z",
        "agent_id": "arc-scarlett-voice",
        "instance_id": "pod-1",
        "metrics": {"total_sessions": 156, "total_conversations": 1872,
                    "avg_session_duration_seconds": 245, "avg_latency_ms": 780,
                    "p95_latency_ms": 1250, "sla_violations": 8, "error_rate_percent": 0.5,
                    "uptime_percent": 99.8},
        "resource_usage": {"avg_cpu_percent": 42, "avg_memory_mb": 1024, "peak_memory_mb": 1536,
                           "avg_goroutines": 250}
    }))
    .unwrap()
}

fn compliance() -> pulsar::ComplianceAudit {
    serde_json::from_value(json!({
        "schema": "compliance-audit-v1",
        "message_id": "msg-audit-001",
        "timestamp": "2025-12-14T13:30:00.000Z",
        "event_type": "user_consent_granted",
        "actor": {"type": "service", "service_name": "arc-sherlock-brain", "instance_id": "pod-2",
                  "authenticated_as": "system-service-account"},
        "action": {"type": "consent", "operation": "write", "resource": "user_consent",
                   "resource_id": "user-123", "reason": "user_request"},
        "compliance": {"legal_basis": "consent", "data_retention_policy": "30_days",
                       "encryption": "AES-256", "anonymization": false},
        "context": {"trace_id": "trace-audit", "user_consent_id": "consent-789",
                    "session_id": "session-456"}
    }))
    .unwrap()
}

fn heartbeat() -> nats::Heartbeat {
    serde_json::from_value(json!({
        "service": "arc-agent",
        "timestamp": "2025-12-14T13:30:00.000Z",
        "status": "healthy",
        "metrics": {"active_sessions": 42, "cpu_percent": 23.5, "memory_mb": 512, "goroutines": 156}
    }))
    .unwrap()
}

#[test]
fn partition_key_for_each_pulsar_event() {
    let cases: Vec<(Event, Option<&str>)> = vec![
        (conversation().into(), Some("user-123")),
        (lifecycle().into(), Some("arc-scarlett-voice")),
        (compliance().into(), Some("user-123")),
        (session_metrics().into(), Some("2025-12-14")),
        (webhook(true).into(), Some("room-user-123")),
        (webhook(false).into(), None),
        (agent_performance().into(), Some("arc-scarlett-voice")),
        (heartbeat().into(), None),
    ];
    for (event, want) in cases {
        assert_eq!(event.partition_key().as_deref(), want, "{}", event.kind());
    }
}

#[test]
fn topics_subjects_and_message_ids() {
    let pulsar_events: Vec<Event> = vec![
        conversation().into(),
        lifecycle().into(),
        webhook(true).into(),
        session_metrics().into(),
        agent_performance().into(),
        compliance().into(),
    ];
    let topics: Vec<_> = pulsar_events
        .iter()
        .map(|e| e.pulsar_topic().unwrap())
        .collect();
    assert_eq!(topics, PulsarTopic::ALL);
    for e in &pulsar_events {
        assert!(e.nats_subject().is_none());
        assert!(e.message_id().unwrap().starts_with("msg-"));
        let topic = e.pulsar_topic().unwrap();
        let back = Event::from_pulsar_name(topic.name(), &e.to_json().unwrap()).unwrap();
        assert_eq!(&back, e);
    }
    let hb: Event = heartbeat().into();
    assert_eq!(hb.nats_subject(), Some("system.health.heartbeat"));
    assert_eq!(hb.pulsar_topic(), None);
    assert_eq!(hb.message_id(), None);
    assert_eq!(hb.trace_id(), "", "missing trace_id defaults to empty");
    assert!(matches!(
        Event::from_nats("agent.nope", b"{}"),
        Err(DecodeError::UnknownSubject(_))
    ));
}

#[test]
fn trace_id_from_nested_locations() {
    assert_eq!(Event::from(conversation()).trace_id(), "trace-conv");
    assert_eq!(Event::from(compliance()).trace_id(), "trace-audit");
    assert_eq!(Event::from(webhook(true)).trace_id(), "trace-wh");
}

#[test]
fn pulsar_topic_tables() {
    let t = PulsarTopic::Conversation;
    assert_eq!(t.name(), "persistent://arc/events/conversation");
    assert_eq!(t.dlq_name(), "persistent://arc/events/conversation-dlq");
    let parts: Vec<u32> = PulsarTopic::ALL
        .iter()
        .map(|t| t.seed_partitions())
        .collect();
    assert_eq!(parts, [16, 4, 0, 8, 0, 32]);
    for t in PulsarTopic::ALL {
        assert_eq!(PulsarTopic::from_name(t.name()), Some(t));
    }
    assert_eq!(PulsarTopic::from_name("persistent://arc/events/nope"), None);
    assert_eq!(
        PulsarTopic::ComplianceEvents.config_key(),
        "compliance_events"
    );
}

#[test]
fn timestamp_format_round_trip() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct T {
        #[serde(with = "ts")]
        at: DateTime<Utc>,
        #[serde(default, with = "ts::option", skip_serializing_if = "Option::is_none")]
        maybe: Option<DateTime<Utc>>,
    }
    let at = Utc.with_ymd_and_hms(2025, 12, 14, 13, 30, 0).unwrap();
    let t = T { at, maybe: None };
    let s = serde_json::to_string(&t).unwrap();
    assert_eq!(s, r#"{"at":"2025-12-14T13:30:00.000Z"}"#);
    assert_eq!(serde_json::from_str::<T>(&s).unwrap(), t);

    // Milliseconds are kept, sub-millisecond digits are dropped on output,
    // and other offsets are normalised to UTC `Z`.
    let t: T = serde_json::from_str(
        r#"{"at":"2025-12-14T14:30:06.5+01:00","maybe":"2025-12-14T13:30:06.123456Z"}"#,
    )
    .unwrap();
    assert_eq!(ts::format(&t.at), "2025-12-14T13:30:06.500Z");
    let s = serde_json::to_string(&t).unwrap();
    assert_eq!(
        s,
        r#"{"at":"2025-12-14T13:30:06.500Z","maybe":"2025-12-14T13:30:06.123Z"}"#
    );
    assert!(serde_json::from_str::<T>(r#"{"at":"14/12/2025"}"#).is_err());

    assert_eq!(Event::from(heartbeat()).timestamp(), at);
}

#[test]
fn message_id_format() {
    let id = new_message_id();
    let rest = id.strip_prefix("msg-").expect("msg- prefix");
    let uuid = uuid::Uuid::parse_str(rest).unwrap();
    assert_eq!(uuid.get_version_num(), 4);
    assert_eq!(rest, uuid.hyphenated().to_string());
    assert_eq!(id.len(), "msg-550e8400-e29b-41d4-a716-446655440000".len());
    assert_ne!(id, new_message_id());
}

#[test]
fn to_json_is_bare_payload_and_enum_tag_matches_kind() {
    let e: Event = heartbeat().into();
    let v: serde_json::Value = serde_json::from_slice(&e.to_json().unwrap()).unwrap();
    assert_eq!(v["service"], "arc-agent");
    let tagged = serde_json::to_value(&e).unwrap();
    assert!(tagged.get(e.kind()).is_some());
    let webhook_event: Event = webhook(true).into();
    let tagged = serde_json::to_value(&webhook_event).unwrap();
    assert!(tagged.get(webhook_event.kind()).is_some());
    // Unknown LiveKit keys survive a round trip.
    let v: serde_json::Value = serde_json::from_slice(&webhook_event.to_json().unwrap()).unwrap();
    assert_eq!(v["webhook_payload"]["id"], "EV_1");
    assert_eq!(v["webhook_payload"]["room"]["emptyTimeout"], 300);
}
