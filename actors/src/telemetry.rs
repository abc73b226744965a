//! Per-turn tracing spans.
//!
//! A turn's spans (`turn` with `stt`, `llm` and `tts` children) carry the
//! turn's `trace_id`, the same id every event of the turn carries. This crate
//! knows nothing of OpenTelemetry: the node installs a hook that makes the
//! span's OpenTelemetry trace id equal to that `trace_id`, so an event found
//! in Pulsar or NATS leads to its trace.

use std::sync::OnceLock;

/// Sets the exported trace id of a new root span from a 32-hex-digit id.
pub type TraceParentHook = fn(&tracing::Span, &str);

static HOOK: OnceLock<TraceParentHook> = OnceLock::new();

/// Install the hook (once per process; later calls are ignored).
pub fn set_trace_parent_hook(hook: TraceParentHook) {
    let _ = HOOK.set(hook);
}

/// The root span of one turn.
pub fn turn_span(session_id: &str, trace_id: &str, turn: u64) -> tracing::Span {
    let span = tracing::info_span!("turn", session_id = %session_id, trace_id = %trace_id, turn);
    if let Some(hook) = HOOK.get() {
        hook(&span, trace_id);
    }
    span
}
