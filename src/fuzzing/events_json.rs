//! The `events_json` target: every event type's JSON.

use super::Input;
use arc_actors::events::{Event, PulsarTopic};

/// An event's JSON. First byte: which decoder (the NATS subjects, then the
/// Pulsar topics, then the envelope's own tagged form), modulo their count;
/// the rest is the JSON.
///
/// Promises: a bad payload is an error; what is read has every accessor
/// answer, and writes JSON that reads back and writes the same again.
pub fn events_json(data: &[u8]) {
    let mut input = Input(data);
    let which = usize::from(input.byte());
    let subjects: Vec<&str> = Event::NATS_SUBJECTS
        .iter()
        .chain(&Event::NATS_EXTENSION_SUBJECTS)
        .copied()
        .collect();
    let decoders = subjects.len() + PulsarTopic::ALL.len() + 1;
    let which = which % decoders;
    let decode = |bytes: &[u8]| -> Result<Event, String> {
        if let Some(subject) = subjects.get(which) {
            Event::from_nats(subject, bytes).map_err(|e| e.to_string())
        } else if let Some(topic) = PulsarTopic::ALL.get(which - subjects.len()) {
            Event::from_pulsar(*topic, bytes).map_err(|e| e.to_string())
        } else {
            serde_json::from_slice::<Event>(bytes).map_err(|e| e.to_string())
        }
    };
    let encode = |e: &Event| {
        if which < decoders - 1 {
            e.to_json()
        } else {
            serde_json::to_vec(e)
        }
        .expect("an event serializes")
    };
    let Ok(event) = decode(input.rest()) else {
        return;
    };
    let _ = (
        event.kind(),
        event.nats_subject(),
        event.pulsar_topic(),
        event.partition_key(),
        event.message_id(),
        event.trace_id(),
        event.timestamp(),
        event.session_id(),
    );
    let json = encode(&event);
    let again = decode(&json).unwrap_or_else(|e| {
        panic!(
            "our own JSON of a {} does not read back: {e}\n{}",
            event.kind(),
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(
        String::from_utf8_lossy(&encode(&again)),
        String::from_utf8_lossy(&json),
        "written again differently"
    );
}
