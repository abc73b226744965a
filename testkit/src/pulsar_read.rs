//! What a Pulsar broker holds, read with the official Python client
//! (python/pulsar_read.py, python/pulsar_partitions.py); and messages sent
//! with it (python/pulsar_send.py), as another producer would.

use crate::python;
use serde_json::Value;
use std::time::Duration;

/// How many partitions the broker reports for each topic.
pub fn partitions(url: &str, topics: &[&str]) -> Vec<usize> {
    let mut args = vec![url];
    args.extend(topics);
    python::run_ok("pulsar_partitions.py", &args, None, "")
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json");
            let p = v["partitions"].as_array().expect("array").len();
            if p == 1
                && !v["partitions"][0]
                    .as_str()
                    .unwrap_or("")
                    .contains("-partition-")
            {
                0
            } else {
                p
            }
        })
        .collect()
}

/// One message as the Python reader saw it.
#[derive(Debug, Clone)]
pub struct ReadMessage {
    pub topic: String,
    pub key: String,
    pub properties: Value,
    pub payload: Value,
}

/// Read `topics` with the Python client until `expect` messages containing
/// `matching` arrived (then a little longer, to catch duplicates) or `timeout`.
pub fn read_pulsar(
    url: &str,
    topics: &[&str],
    matching: &str,
    expect: usize,
    timeout: Duration,
) -> Vec<ReadMessage> {
    let expect = expect.to_string();
    let timeout = timeout.as_secs_f64().to_string();
    let mut args = vec![
        "--url",
        url,
        "--expect",
        &expect,
        "--timeout",
        &timeout,
        "--match",
        matching,
    ];
    for t in topics {
        args.extend(["--topic", t]);
    }
    python::run_ok("pulsar_read.py", &args, None, "reader failed: ")
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("reader json");
            ReadMessage {
                topic: v["topic"].as_str().unwrap_or_default().to_string(),
                key: v["key"].as_str().unwrap_or_default().to_string(),
                properties: v["properties"].clone(),
                payload: v["payload"].clone(),
            }
        })
        .collect()
}

/// The conversation-v1 records of `user` (`persistent://arc/events/conversation`),
/// until `expect` came or 20 s passed.
pub fn read_conversations(url: &str, user: &str, expect: usize) -> Vec<ReadMessage> {
    read_pulsar(
        url,
        &["persistent://arc/events/conversation"],
        user,
        expect,
        Duration::from_secs(20),
    )
}

/// One message for [`send_pulsar`]; `payload` goes as its UTF-8 text.
#[derive(Debug, Clone)]
pub struct SendMessage {
    pub topic: String,
    pub key: String,
    pub properties: Value,
    pub payload: String,
}

/// Send `messages` with the Python client (no batching), in order.
pub fn send_pulsar(url: &str, messages: &[SendMessage]) {
    send_pulsar_batched(url, messages, 0)
}

/// [`send_pulsar`] with the producer batching up to `batch` messages per
/// broker entry (0 or 1: one message per entry).
pub fn send_pulsar_batched(url: &str, messages: &[SendMessage], batch: usize) {
    let batch = batch.to_string();
    let input: String = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "topic": m.topic, "key": m.key, "properties": m.properties, "payload": m.payload,
            })
            .to_string()
                + "\n"
        })
        .collect();
    let out = python::run_ok(
        "pulsar_send.py",
        &[url, &batch],
        Some(input.as_bytes()),
        "sender failed: ",
    );
    assert_eq!(out.trim(), messages.len().to_string(), "sent");
}
