//! An event the broker refused `max_attempts` times goes to `<topic>-dlq` in a
//! `dead-letter-v1` envelope with the reason. If the broker refuses that too
//! (e.g. the event's size), the envelope is kept whole in the local
//! dead-letter file and a notice without the payload goes to the -dlq topic.

use super::producers::Producers;
use super::shared::Shared;
use crate::mirror::spool::SpoolRecord;
use std::io::Write;
use std::sync::atomic::Ordering;

/// Dead-letter `rec`; true when it is (and is counted), false when it must
/// stay spooled (not even the local file could take it).
pub(super) async fn dead_letter(
    producers: &mut Producers,
    shared: &Shared,
    seq: u64,
    rec: &SpoolRecord,
    attempts: u32,
    reason: &str,
) -> bool {
    let dlq_topic = format!("{}-dlq", rec.topic);
    let original: serde_json::Value = serde_json::from_slice(&rec.payload).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&rec.payload).into_owned())
    });
    let envelope = serde_json::json!({
        "schema": "dead-letter-v1",
        "message_id": rec.message_id,
        "timestamp": arc_actors::events::ts::format(&chrono::Utc::now()),
        "original_topic": rec.topic,
        "partition_key": rec.key,
        "attempts": attempts,
        "reason": reason,
        "payload": original,
    });
    let body = serde_json::to_vec(&envelope).unwrap_or_default();
    if producers.send_one(&dlq_topic, seq, rec, body.clone()).await {
        tracing::error!(message_id = %rec.message_id, topic = %rec.topic, %dlq_topic, %reason, "event dead-lettered after {attempts} rejections");
    } else {
        // The event itself may be what the broker refuses (e.g. its size):
        // keep it whole in a local file an operator can replay, and put a
        // notice without the payload on the -dlq topic.
        let path = shared.dead_letter_file.clone();
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| {
                f.write_all(&body)?;
                f.write_all(b"\n")?;
                f.sync_data()
            });
        if let Err(e) = written {
            tracing::error!(message_id = %rec.message_id, file = %path.display(), error = %e, "cannot write the dead-letter file: keeping the event spooled");
            return false;
        }
        let mut notice = envelope;
        notice["payload"] = serde_json::Value::Null;
        notice["payload_bytes"] = rec.payload.len().into();
        notice["payload_file"] = path.display().to_string().into();
        let sent = producers
            .send_one(
                &dlq_topic,
                seq,
                rec,
                serde_json::to_vec(&notice).unwrap_or_default(),
            )
            .await;
        tracing::error!(message_id = %rec.message_id, topic = %rec.topic, %dlq_topic, file = %path.display(), %reason, notice_sent = sent, "event dead-lettered after {attempts} rejections: too large for the -dlq topic too, kept in the local dead-letter file");
    }
    shared.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
    true
}
