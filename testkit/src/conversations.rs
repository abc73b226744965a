//! Made-up conversation-v1 events in bulk (from seed 000's example), for the
//! readers' tests and benchmark: `sessions` sessions of `turns` turns, users
//! and sessions named after `prefix`, each with its own message id.

use crate::pulsar_read::SendMessage;
use crate::seeds::seed_example;
use serde_json::Value;

/// The topic they go to.
pub const CONVERSATION_TOPIC: &str = "persistent://arc/events/conversation";

/// The events, in session and turn order, keyed by user as the node keys them.
pub fn synthetic_conversations(prefix: &str, sessions: usize, turns: usize) -> Vec<SendMessage> {
    let example = seed_example("000_a36cdaf97a05c199.txt", CONVERSATION_TOPIC);
    let start = chrono::Utc::now();
    let mut out = Vec::with_capacity(sessions * turns);
    for s in 0..sessions {
        let user = format!("{prefix}-user-{s}");
        for t in 1..=turns {
            let i = s * turns + t;
            let mut e: Value = example.clone();
            e["message_id"] = Value::from(format!("msg-{prefix}-{i}"));
            e["timestamp"] = Value::from(
                (start + chrono::TimeDelta::milliseconds(i as i64))
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            );
            e["conversation"]["session_id"] = Value::from(format!("{prefix}-session-{s}"));
            e["conversation"]["user_id"] = Value::from(user.clone());
            e["conversation"]["turn_index"] = Value::from(t);
            e["agent_response"]["llm_tokens_used"] = Value::from(10 + t);
            e["context"]["embedding_vector_id"] = Value::Null;
            out.push(SendMessage {
                topic: CONVERSATION_TOPIC.to_string(),
                key: user.clone(),
                properties: serde_json::json!({ "message_id": format!("msg-{prefix}-{i}") }),
                payload: e.to_string(),
            });
        }
    }
    out
}
