//! The seed documents are the source of truth for the event contracts: this
//! test reads them at run time, parses every example payload into our types,
//! re-serializes it and checks nothing was lost or renamed. A seed that gains
//! a subject or topic fails the coverage assertions until events.rs follows.

use arc_actors::events::{Event, PulsarTopic};
use serde_json::Value;
use std::collections::BTreeSet;

const NATS_SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/seeds/001_d0bc8d4814212cc7.txt"
);
const PULSAR_SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/seeds/000_a36cdaf97a05c199.txt"
);

/// Every ```json block of a markdown document, paired with the backticked
/// name in the nearest preceding heading (e.g. `#### \`agent.brain.request\``).
fn json_blocks(path: &str) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read seed {path}: {e}"));
    let mut out = Vec::new();
    let mut heading: Option<String> = None;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            heading = Some(trimmed.to_owned());
        } else if trimmed == "```json" {
            let mut body = String::new();
            for l in lines.by_ref() {
                if l.trim() == "```" {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            let h = heading
                .clone()
                .unwrap_or_else(|| panic!("json block without a heading in {path}"));
            let name = h
                .split('`')
                .nth(1)
                .unwrap_or_else(|| panic!("heading {h:?} in {path} has no `name`"))
                .to_owned();
            out.push((name, body));
        }
    }
    out
}

fn num_eq(a: &Value, b: &Value) -> bool {
    a.as_f64().zip(b.as_f64()).is_some_and(|(x, y)| x == y)
}

/// Every key path of `seed` must exist in `out` with an equal value (numbers
/// compared as f64). Returns the extra keys found in `out` objects, as paths.
fn check_contains(seed: &Value, out: &Value, path: &str, extra: &mut Vec<String>) {
    match (seed, out) {
        (Value::Object(s), Value::Object(o)) => {
            for (k, sv) in s {
                let p = format!("{path}/{k}");
                let ov = o
                    .get(k)
                    .unwrap_or_else(|| panic!("key {p} missing from output"));
                check_contains(sv, ov, &p, extra);
            }
            extra.extend(
                o.keys()
                    .filter(|k| !s.contains_key(*k))
                    .map(|k| format!("{path}/{k}")),
            );
        }
        (Value::Array(s), Value::Array(o)) => {
            assert_eq!(s.len(), o.len(), "array length differs at {path}");
            for (i, (sv, ov)) in s.iter().zip(o).enumerate() {
                check_contains(sv, ov, &format!("{path}/{i}"), extra);
            }
        }
        (Value::Number(_), Value::Number(_)) => {
            assert!(
                num_eq(seed, out),
                "number differs at {path}: {seed} vs {out}"
            )
        }
        _ => assert_eq!(seed, out, "value differs at {path}"),
    }
}

/// Round-trips one seed example through `event` and checks the JSON.
fn assert_round_trip(name: &str, body: &str, event: &Event) {
    let seed: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{name}: seed is not JSON: {e}"));
    let out: Value = serde_json::from_slice(&event.to_json().unwrap()).unwrap();
    let mut extra = Vec::new();
    check_contains(&seed, &out, "", &mut extra);
    for k in &extra {
        assert_eq!(k, "/trace_id", "{name}: unexpected extra key {k} in output");
    }
    // Added trace ids must be empty here (the seed had none), and present.
    if !extra.is_empty() {
        assert_eq!(out["trace_id"], "", "{name}: defaulted trace_id");
    }
    // A second pass through the type is lossless.
    let again = match event.pulsar_topic() {
        Some(t) => Event::from_pulsar(t, &event.to_json().unwrap()).unwrap(),
        None => Event::from_nats(name, &event.to_json().unwrap()).unwrap(),
    };
    assert_eq!(&again, event, "{name}: second round trip differs");
    // Timestamp accessor agrees with the payload.
    assert_eq!(
        arc_actors::events::ts::format(&event.timestamp()),
        seed["timestamp"].as_str().unwrap(),
        "{name}: timestamp"
    );
}

#[test]
fn nats_seed_examples_round_trip() {
    let blocks = json_blocks(NATS_SEED);
    let found: BTreeSet<&str> = blocks.iter().map(|(n, _)| n.as_str()).collect();
    let expected: BTreeSet<&str> = Event::NATS_SUBJECTS.into_iter().collect();
    assert_eq!(expected.len(), 11);
    assert_eq!(
        found, expected,
        "NATS seed subjects changed: update events::nats"
    );
    assert_eq!(blocks.len(), 11, "one example per subject");

    for (subject, body) in &blocks {
        let event =
            Event::from_nats(subject, body.as_bytes()).unwrap_or_else(|e| panic!("{subject}: {e}"));
        assert_eq!(event.nats_subject(), Some(subject.as_str()));
        assert_eq!(event.pulsar_topic(), None);
        assert_eq!(event.message_id(), None);
        assert_eq!(event.partition_key(), None);
        assert_round_trip(subject, body, &event);
        let seed: Value = serde_json::from_str(body).unwrap();
        if let Some(t) = seed.get("trace_id") {
            assert_eq!(event.trace_id(), t.as_str().unwrap(), "{subject}");
        }
    }
}

#[test]
fn pulsar_seed_examples_round_trip() {
    let blocks = json_blocks(PULSAR_SEED);
    let found: BTreeSet<&str> = blocks.iter().map(|(n, _)| n.as_str()).collect();
    let expected: BTreeSet<&str> = PulsarTopic::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(expected.len(), 6);
    assert_eq!(
        found, expected,
        "Pulsar seed topics changed: update events::pulsar"
    );
    assert_eq!(blocks.len(), 6, "one example per topic");

    for (topic, body) in &blocks {
        let t = PulsarTopic::from_name(topic).unwrap();
        let event =
            Event::from_pulsar(t, body.as_bytes()).unwrap_or_else(|e| panic!("{topic}: {e}"));
        assert_eq!(
            event.pulsar_topic().map(PulsarTopic::name),
            Some(topic.as_str())
        );
        assert_eq!(event.nats_subject(), None);
        assert_round_trip(topic, body, &event);

        let seed: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            event.message_id(),
            seed["message_id"].as_str(),
            "{topic}: message_id"
        );
        // The partition key comes from the field the seed names.
        let key = event.partition_key();
        let want = match t {
            PulsarTopic::Conversation => seed["conversation"]["user_id"].as_str(),
            PulsarTopic::AgentLifecycle => seed["service"]["name"].as_str(),
            PulsarTopic::ComplianceEvents => seed["action"]["resource_id"].as_str(),
            PulsarTopic::SessionMetrics => seed["timestamp"].as_str().map(|s| &s[..10]),
            PulsarTopic::LivekitWebhooks => seed["webhook_payload"]["room"]["name"].as_str(),
            PulsarTopic::AgentPerformance => seed["agent_id"].as_str(),
        };
        assert!(
            want.is_some(),
            "{topic}: seed lacks its partition key field"
        );
        assert_eq!(key.as_deref(), want, "{topic}: partition key");
        // Nested trace ids are read from where the seed keeps them.
        let nested = seed["metadata"]["trace_id"]
            .as_str()
            .or(seed["context"]["trace_id"].as_str());
        if let Some(tr) = nested {
            assert_eq!(event.trace_id(), tr, "{topic}: trace_id");
        }
    }
}

#[test]
fn schema_constants_match_seed() {
    use arc_actors::events::pulsar::*;
    let blocks = json_blocks(PULSAR_SEED);
    for (topic, body) in &blocks {
        let seed: Value = serde_json::from_str(body).unwrap();
        let want = match PulsarTopic::from_name(topic).unwrap() {
            PulsarTopic::Conversation => Conversation::SCHEMA,
            PulsarTopic::AgentLifecycle => AgentLifecycle::SCHEMA,
            PulsarTopic::LivekitWebhooks => LivekitWebhook::SCHEMA,
            PulsarTopic::SessionMetrics => SessionMetrics::SCHEMA,
            PulsarTopic::AgentPerformance => AgentPerformance::SCHEMA,
            PulsarTopic::ComplianceEvents => ComplianceAudit::SCHEMA,
        };
        assert_eq!(seed["schema"], want, "{topic}");
    }
}

/// The webhook payload keeps unknown keys in `extra`, so a misspelt field
/// name would still round-trip; check the typed fields really were filled.
#[test]
fn livekit_webhook_fields_are_typed() {
    let blocks = json_blocks(PULSAR_SEED);
    let (_, body) = blocks
        .iter()
        .find(|(n, _)| n == PulsarTopic::LivekitWebhooks.name())
        .unwrap();
    let seed: Value = serde_json::from_str(body).unwrap();
    let hook: arc_actors::events::pulsar::LivekitWebhook = serde_json::from_str(body).unwrap();
    let p = &hook.webhook_payload;
    let sp = &seed["webhook_payload"];
    assert!(p.extra.is_empty(), "unexpected extra keys: {:?}", p.extra);
    assert_eq!(p.event, sp["event"]);
    let room = p.room.as_ref().unwrap();
    assert!(room.extra.is_empty(), "{:?}", room.extra);
    assert_eq!(room.sid, sp["room"]["sid"]);
    assert_eq!(room.name, sp["room"]["name"]);
    assert_eq!(room.created_at, sp["room"]["createdAt"]);
    let part = p.participant.as_ref().unwrap();
    assert!(part.extra.is_empty(), "{:?}", part.extra);
    assert_eq!(part.sid, sp["participant"]["sid"]);
    assert_eq!(part.identity, sp["participant"]["identity"]);
    assert_eq!(part.state, sp["participant"]["state"]);
    let track = p.track.as_ref().unwrap();
    assert!(track.extra.is_empty(), "{:?}", track.extra);
    assert_eq!(track.sid, sp["track"]["sid"]);
    assert_eq!(track.kind, sp["track"]["type"]);
    assert_eq!(track.source, sp["track"]["source"]);
    assert_eq!(track.mime_type, sp["track"]["mimeType"]);
}
