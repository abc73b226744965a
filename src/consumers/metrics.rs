//! `arc_consumer_*`: what an operator watches on a consumer (processed,
//! failed, dead-lettered, lag, write latency), on the consumer's own
//! `/metrics` beside `/healthz`.

use super::error::ConsumeError;
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

type Labels = Vec<(String, String)>;

/// Write latency buckets: a millisecond to seconds (seed 003 targets:
/// PostgreSQL p95 < 100 ms, Redis p95 < 10 ms).
const WRITE_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The metric families of one consumer process.
pub(crate) struct ConsumerMetrics {
    consumer: String,
    registry: Registry,
    processed: Family<Labels, Counter>,
    failed: Family<Labels, Counter>,
    dead_lettered: Family<Labels, Counter>,
    lag: Family<Labels, Gauge<f64, AtomicU64>>,
    write: Family<Labels, Histogram>,
}

impl ConsumerMetrics {
    pub(crate) fn new(consumer: &str) -> Arc<Self> {
        let mut registry = Registry::default();
        let processed = Family::<Labels, Counter>::default();
        let failed = Family::<Labels, Counter>::default();
        let dead_lettered = Family::<Labels, Counter>::default();
        let lag = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let write =
            Family::<Labels, Histogram>::new_with_constructor(|| Histogram::new(WRITE_BUCKETS));
        registry.register(
            "arc_consumer_processed",
            "Messages written and acknowledged, by consumer and topic",
            processed.clone(),
        );
        registry.register(
            "arc_consumer_failed",
            "Failures, by consumer and stage (decode: a poison message; write: a batch that did not commit and is tried again)",
            failed.clone(),
        );
        registry.register(
            "arc_consumer_dead_lettered",
            "Messages sent to <topic>-dlq after max_attempts, by consumer and topic",
            dead_lettered.clone(),
        );
        registry.register(
            "arc_consumer_lag_seconds",
            "Age of the newest message written (now minus its publish time)",
            lag.clone(),
        );
        registry.register(
            "arc_consumer_write_seconds",
            "Time to commit one batch, by consumer and store",
            write.clone(),
        );
        Arc::new(ConsumerMetrics {
            consumer: consumer.to_string(),
            registry,
            processed,
            failed,
            dead_lettered,
            lag,
            write,
        })
    }

    fn labels(&self, key: &str, value: &str) -> Labels {
        vec![
            ("consumer".into(), self.consumer.clone()),
            (key.into(), value.into()),
        ]
    }

    pub(crate) fn processed(&self, topic: &str, n: u64) {
        self.processed
            .get_or_create(&self.labels("topic", topic))
            .inc_by(n);
    }

    pub(crate) fn failed(&self, stage: &str) {
        self.failed
            .get_or_create(&self.labels("stage", stage))
            .inc();
    }

    pub(crate) fn dead_lettered(&self, topic: &str) {
        self.dead_lettered
            .get_or_create(&self.labels("topic", topic))
            .inc();
    }

    pub(crate) fn lag(&self, seconds: f64) {
        self.lag
            .get_or_create(&vec![("consumer".into(), self.consumer.clone())])
            .set(seconds.max(0.0));
    }

    pub(crate) fn write_took(&self, store: &str, seconds: f64) {
        self.write
            .get_or_create(&self.labels("store", store))
            .observe(seconds);
    }

    /// The Prometheus text format.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// Serves `/metrics` and `/healthz` on `listen` until `stop`.
    pub(crate) async fn serve(
        self: Arc<Self>,
        listen: &str,
        stop: CancellationToken,
    ) -> Result<std::net::SocketAddr, ConsumeError> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| ConsumeError::Listen {
                addr: listen.to_string(),
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ConsumeError::Listen {
                addr: listen.to_string(),
                source,
            })?;
        let me = self.clone();
        let app = axum::Router::new()
            .route(
                "/metrics",
                get(move || {
                    let me = me.clone();
                    async move {
                        (
                            [(
                                axum::http::header::CONTENT_TYPE,
                                "text/plain; version=0.0.4; charset=utf-8",
                            )],
                            me.render(),
                        )
                    }
                }),
            )
            .route("/healthz", get(|| async { "ok" }));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        Ok(addr)
    }
}
