//! Logs and traces: a `tracing` subscriber with the configured filter and
//! format, and, when `telemetry.otlp_endpoint` is set, an OpenTelemetry layer
//! exporting spans over OTLP/HTTP. Off by default, and no error when the
//! collector is absent (spans are dropped, the node goes on).

use crate::config::{Config, LogFormat, OtlpProtocol};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("telemetry.otlp_endpoint = {endpoint:?}: cannot build the OTLP exporter: {message}")]
    Exporter { endpoint: String, message: String },
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Flushes and stops the exporter when dropped.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.force_flush();
            let _ = p.shutdown();
        }
    }
}

/// Make the OpenTelemetry trace id of `span` equal to `trace_id` (32 hex digits)
/// by giving it a remote parent in that trace.
fn set_parent_from_trace_id(span: &tracing::Span, trace_id: &str) {
    let Ok(tid) = TraceId::from_hex(trace_id) else {
        return;
    };
    let mut raw = [0u8; 8];
    let uuid = uuid::Uuid::new_v4();
    raw.copy_from_slice(&uuid.as_bytes()[..8]);
    raw[0] |= 1; // never the invalid all-zero id
    let sc = SpanContext::new(
        tid,
        SpanId::from_bytes(raw),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(sc));
}

/// Install the global subscriber for this process.
pub fn init(cfg: &Config) -> Result<TelemetryGuard, TelemetryError> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = if cfg.log.format == LogFormat::Json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed()
    };
    let endpoint = cfg.telemetry.otlp_endpoint.trim().trim_end_matches('/');
    let mut provider = None;
    let otel = if endpoint.is_empty() {
        None
    } else {
        let protocol = if cfg.telemetry.otlp_protocol == OtlpProtocol::HttpJson {
            Protocol::HttpJson
        } else {
            Protocol::HttpBinary
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(format!("{endpoint}/v1/traces"))
            .build()
            .map_err(|e| TelemetryError::Exporter {
                endpoint: endpoint.to_string(),
                message: e.to_string(),
            })?;
        let p = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(cfg.node.service_name.clone())
                    .build(),
            )
            .build();
        let tracer = p.tracer("arc-agent");
        provider = Some(p);
        arc_actors::telemetry::set_trace_parent_hook(set_parent_from_trace_id);
        Some(tracing_opentelemetry::layer().with_tracer(tracer))
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(TelemetryGuard { provider })
}
