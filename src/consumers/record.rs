//! What a consumer reads off a topic: a known event of the right schema
//! version, or the reason it is poison (sent to `<topic>-dlq` in the end).

use arc_actors::events::{pulsar, Event, PulsarTopic};

/// One decoded message.
#[derive(Debug, Clone)]
pub struct Record {
    pub topic: PulsarTopic,
    pub event: Event,
    /// The message as it came (the archive keeps it as written).
    pub raw: Vec<u8>,
    /// The broker's publish time, ms since the epoch.
    pub publish_time_ms: u64,
    /// When the event happened (the producer's event time), ms since the
    /// epoch; the publish time when the producer set none. A replay keeps it.
    pub event_time_ms: u64,
    /// The message's partition key.
    pub key: Option<String>,
}

/// The schema string each topic's payload must carry.
pub(crate) fn expected_schema(topic: PulsarTopic) -> &'static str {
    match topic {
        PulsarTopic::Conversation => pulsar::Conversation::SCHEMA,
        PulsarTopic::AgentLifecycle => pulsar::AgentLifecycle::SCHEMA,
        PulsarTopic::LivekitWebhooks => pulsar::LivekitWebhook::SCHEMA,
        PulsarTopic::SessionMetrics => pulsar::SessionMetrics::SCHEMA,
        PulsarTopic::AgentPerformance => pulsar::AgentPerformance::SCHEMA,
        PulsarTopic::ComplianceEvents => pulsar::ComplianceAudit::SCHEMA,
    }
}

/// The topic a message came from: `…/conversation-partition-3` is `…/conversation`.
pub(crate) fn base_topic(name: &str) -> &str {
    match name.rfind("-partition-") {
        Some(i) if name[i + "-partition-".len()..].parse::<u32>().is_ok() => &name[..i],
        _ => name,
    }
}

/// Decodes a message of `topic_name`; `Err` says why it can never be read.
pub(crate) fn decode(
    topic_name: &str,
    payload: &[u8],
    meta: &::pulsar::message::proto::MessageMetadata,
) -> Result<Record, String> {
    let base = base_topic(topic_name);
    let topic = PulsarTopic::from_name(base).ok_or_else(|| format!("unknown topic {base:?}"))?;
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    let want = expected_schema(topic);
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(s) if s == want => {}
        Some(s) => return Err(format!("schema {s:?} on {base}, which carries {want:?}")),
        None => return Err(format!("no \"schema\" field (expected {want:?})")),
    }
    let event = Event::from_pulsar(topic, payload)
        .map_err(|e| format!("not a valid {want} payload: {e}"))?;
    Ok(Record {
        topic,
        event,
        raw: payload.to_vec(),
        publish_time_ms: meta.publish_time,
        event_time_ms: meta
            .event_time
            .filter(|t| *t > 0)
            .unwrap_or(meta.publish_time),
        key: meta.partition_key.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_suffix_is_dropped() {
        assert_eq!(
            base_topic("persistent://arc/events/conversation-partition-12"),
            "persistent://arc/events/conversation"
        );
        assert_eq!(
            base_topic("persistent://arc/events/conversation"),
            "persistent://arc/events/conversation"
        );
        assert_eq!(base_topic("a-partition-x"), "a-partition-x");
    }

    #[test]
    fn poison_says_why() {
        let t = "persistent://arc/events/conversation-partition-0";
        let m = ::pulsar::message::proto::MessageMetadata::default();
        assert!(decode(t, b"not json", &m)
            .unwrap_err()
            .starts_with("not JSON"));
        let wrong = br#"{"schema":"conversation-v2"}"#;
        assert!(decode(t, wrong, &m)
            .unwrap_err()
            .contains("conversation-v2"));
        let missing = br#"{"schema":"conversation-v1"}"#;
        assert!(decode(t, missing, &m)
            .unwrap_err()
            .starts_with("not a valid conversation-v1"));
        assert!(decode("persistent://x/y/z", b"{}", &m)
            .unwrap_err()
            .starts_with("unknown topic"));
    }
}
