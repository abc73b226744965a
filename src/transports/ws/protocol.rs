//! The small pieces of the `/ws` wire: the query parameters, a refused
//! message and its `error` JSON, and the close frame's code and reason.

use serde::Deserialize;
use serde_json::json;

/// Longest allowed query-parameter identifier.
const MAX_ID_LEN: usize = 128;

/// `GET /ws?user_id=..&agent_id=..`.
#[derive(Debug, Deserialize)]
pub(super) struct WsQuery {
    #[serde(default)]
    pub(super) user_id: Option<String>,
    #[serde(default)]
    pub(super) agent_id: Option<String>,
}

/// An identifier of the query: bounded, without control characters; empty = none.
pub(super) fn valid_id(id: Option<String>) -> Result<Option<String>, String> {
    match id {
        Some(s) if s.len() > MAX_ID_LEN || s.chars().any(char::is_control) => Err(format!(
            "identifiers are at most {MAX_ID_LEN} bytes without control characters"
        )),
        Some(s) if s.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// A bad client message: answered with an `error`, the session goes on.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl Refusal {
    pub(super) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// `{"type":"error","code","message"}`.
pub(super) fn error_json(code: &str, message: &str) -> String {
    json!({ "type": "error", "code": code, "message": message }).to_string()
}

/// The close code for a session's end reason.
pub(super) fn close_code(reason: &str) -> u16 {
    match reason {
        "error" => 1011,
        "node_shutdown" => 1001,
        _ => 1000,
    }
}

/// A close frame's reason holds at most 123 bytes.
pub(super) fn close_reason(mut reason: String) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason.truncate(end);
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_frame() {
        assert_eq!(close_reason("user_left".into()), "user_left");
        let long = close_reason("é".repeat(100));
        assert!(long.len() <= 123 && long.chars().all(|c| c == 'é'));
    }

    #[test]
    fn identifiers_are_bounded() {
        assert_eq!(valid_id(None), Ok(None));
        assert_eq!(valid_id(Some(String::new())), Ok(None));
        assert_eq!(valid_id(Some("u-1".into())), Ok(Some("u-1".into())));
        assert!(valid_id(Some("x".repeat(129))).is_err());
        assert!(valid_id(Some("a\nb".into())).is_err());
    }
}
