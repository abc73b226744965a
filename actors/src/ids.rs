//! Identifiers: W3C/OpenTelemetry-style trace ids and prefixed request ids,
//! and the check every identifier from outside passes before it becomes part
//! of events, Pulsar keys, file names and logs.

/// Longest identifier accepted from outside (session, conversation, user,
/// agent, room).
pub const MAX_ID_LEN: usize = 128;

/// Why an identifier from outside was refused; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct BadIdentifier {
    pub field: &'static str,
    pub problem: String,
}

/// Checks an identifier that came from outside: 1 to [`MAX_ID_LEN`]
/// characters of ASCII letters, digits and `- _ . : @ + =` (enough for
/// UUIDs, LiveKit sids, e-mail-like and phone-like identities), and not `.` or
/// `..` alone. Nothing that can climb a path (`/`), break a log line or a
/// header (control characters, quotes, spaces), or carry markup.
pub fn check_identifier(field: &'static str, value: &str) -> Result<(), BadIdentifier> {
    let bad = |problem: String| Err(BadIdentifier { field, problem });
    if value.is_empty() {
        return bad("must not be empty".into());
    }
    if value.len() > MAX_ID_LEN {
        return bad(format!(
            "{} bytes; at most {MAX_ID_LEN} allowed",
            value.len()
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:@+=".contains(*c)))
    {
        return bad(format!(
            "{c:?} is not allowed (letters, digits and - _ . : @ + = only)"
        ));
    }
    if value == "." || value == ".." {
        return bad(format!("{value:?} is not an identifier"));
    }
    Ok(())
}

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
    fn identifiers_from_outside_are_checked_and_the_field_named() {
        for good in [
            "session-1",
            "sess-TR_abc123",
            "4f3c2a1e-9b7d-4c3e-8f21-0a1b2c3d4e5f",
            "user@example.com",
            "+15550100",
            "room:a=b",
        ] {
            assert_eq!(check_identifier("user_id", good), Ok(()), "{good}");
        }
        let long = "u".repeat(MAX_ID_LEN + 1);
        for bad in [
            "",
            "../../etc/passwd",
            "a/b",
            "..",
            "two words",
            "line\nbreak",
            "quote\"",
            "<script>",
            "émile",
            long.as_str(),
        ] {
            let err = check_identifier("session_id", bad).unwrap_err();
            assert_eq!(err.field, "session_id");
            assert!(err.to_string().starts_with("session_id: "), "{err}");
        }
        assert!(check_identifier("user_id", &"u".repeat(MAX_ID_LEN)).is_ok());
    }

    #[test]
    fn prefixed_ids() {
        assert!(prefixed("req").starts_with("req-"));
    }
}
