//! What stops a consumer from starting, and why a batch did not commit.

/// A consumer could not start (each names what it could not reach).
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("cannot subscribe {subscription:?} to {topics} at {url}: {source}")]
    Subscribe {
        url: String,
        subscription: String,
        topics: String,
        /// Boxed: the client's error is large, and every consumer result carries it.
        source: Box<crate::mirror::pulsar::access::PulsarConnectError>,
    },
    #[error("PostgreSQL at {url}: {source}")]
    Postgres {
        url: String,
        source: tokio_postgres::Error,
    },
    #[error("PostgreSQL migration {name} failed: {source}")]
    Migration {
        name: &'static str,
        source: tokio_postgres::Error,
    },
    #[error("Redis at {url}: {source}")]
    Redis {
        url: String,
        source: redis::RedisError,
    },
    #[error("archive directory {path}: {source}")]
    Archive {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("consumers.archive_url = {url:?}: {reason}")]
    ArchiveUrl { url: String, reason: String },
    #[error("cannot listen on {addr} for /metrics: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// A batch that did not commit; its messages stay unacknowledged and the
/// batch is tried again.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("archive: {0}")]
    Archive(String),
}
