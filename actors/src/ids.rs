//! Identifiers: W3C/OpenTelemetry-style trace ids and prefixed request ids.

/// A new 128-bit trace id as 32 lowercase hex digits, the form OpenTelemetry
/// and the W3C `traceparent` header use, so an event leads straight to its trace.
pub fn new_trace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A new id with the given prefix, e.g. `req-…`, `tts-req-…` (as the seeds show).
pub fn prefixed(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_is_32_hex() {
        let t = new_trace_id();
        assert_eq!(t.len(), 32);
        assert!(t
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(t, new_trace_id());
    }

    #[test]
    fn prefixed_ids() {
        assert!(prefixed("req").starts_with("req-"));
    }
}
