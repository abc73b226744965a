//! Why an incoming message could not be decoded into an [`Event`](super::Event).

/// Error from [`Event::from_nats`](super::Event::from_nats) /
/// [`Event::from_pulsar_name`](super::Event::from_pulsar_name).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown NATS subject {0:?}")]
    UnknownSubject(String),
    #[error("unknown Pulsar topic {0:?}")]
    UnknownTopic(String),
    #[error("invalid payload: {0}")]
    Json(#[from] serde_json::Error),
}
