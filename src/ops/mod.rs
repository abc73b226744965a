//! Operations: what operators see of a node.
//!
//! - [`metrics`]: the `arc_*` Prometheus metrics, fed by a tap of the event stream.
//! - [`heartbeat`]: `system.health.heartbeat` on an interval.
//! - [`performance`]: the hourly `analytics/agent-performance` rollup.
//! - [`telemetry`]: tracing subscriber and OpenTelemetry export.
//! - [`procinfo`]: this process's memory and CPU, for metrics and the load generator.
//! - [`memory_trim`]: memory freed by ended sessions given back to the kernel.
//! - [`allocator`]: the node's allocator (jemalloc) and its trim.
//!
//! `ops` reads the event stream, the mirrors' counters and `config`; it calls
//! nothing above it. Its endpoints are served by `app::http`.

pub mod allocator;
pub(crate) mod heartbeat;
pub(crate) mod memory_trim;
pub(crate) mod metrics;
pub(crate) mod performance;
pub mod procinfo;
pub mod telemetry;
