//! The small pieces of the `/ws` wire: the query parameters, a refused
//! message and its `error` JSON, and the close frame's code and reason.

use arc_actors::ids::{check_identifier, BadIdentifier};
use serde::Deserialize;
use serde_json::json;

/// `GET /ws?user_id=..&agent_id=..`.
#[derive(Debug, Deserialize)]
pub(super) struct WsQuery {
    #[serde(default)]
    pub(super) user_id: Option<String>,
    #[serde(default)]
    pub(super) agent_id: Option<String>,
    /// A `/ws` token from `POST /v1/tokens` (required off loopback).
    #[serde(default)]
    pub(super) token: Option<String>,
}

impl WsQuery {
    /// The query's identifiers, checked as every identifier from outside is
    /// ([`check_identifier`]); empty = none.
    pub(super) fn checked(&self) -> Result<(Option<String>, Option<String>), BadIdentifier> {
        let check = |field, id: Option<String>| match id {
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => check_identifier(field, &s).map(|()| Some(s)),
            None => Ok(None),
        };
        Ok((
            check("user_id", self.user_id.clone())?,
            check("agent_id", self.agent_id.clone())?,
        ))
    }
}

/// At most `per_s` messages a second from one socket, with a burst of one
/// second's worth (a microphone sends 50 frames a second). What is over is
/// refused, not processed.
#[derive(Debug)]
pub(super) struct MessageRate {
    per_s: f64,
    tokens: f64,
    last: std::time::Instant,
}

impl MessageRate {
    pub(super) fn new(per_s: u32, now: std::time::Instant) -> Self {
        let per_s = f64::from(per_s.max(1));
        Self {
            per_s,
            tokens: per_s,
            last: now,
        }
    }

    /// Whether one more message fits now.
    pub(super) fn allow(&mut self, now: std::time::Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_s).min(self.per_s);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
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
    fn the_message_rate_allows_a_burst_then_the_steady_rate() {
        let t0 = std::time::Instant::now();
        let mut r = MessageRate::new(50, t0);
        assert_eq!((0..60).filter(|_| r.allow(t0)).count(), 50);
        // A tenth of a second later: five more.
        let t1 = t0 + std::time::Duration::from_millis(100);
        assert_eq!((0..60).filter(|_| r.allow(t1)).count(), 5);
        // A microphone's pace (one per 20 ms) is never refused.
        let mut mic = MessageRate::new(50, t0);
        assert!((0..500).all(|i| mic.allow(t0 + std::time::Duration::from_millis(20 * i))));
    }

    #[test]
    fn query_identifiers_are_checked_and_empty_means_none() {
        let q = |u: Option<&str>, a: Option<&str>| WsQuery {
            user_id: u.map(str::to_string),
            agent_id: a.map(str::to_string),
            token: None,
        };
        assert_eq!(q(None, None).checked(), Ok((None, None)));
        assert_eq!(q(Some(""), None).checked(), Ok((None, None)));
        assert_eq!(
            q(Some("u-1"), Some("a-1")).checked(),
            Ok((Some("u-1".into()), Some("a-1".into())))
        );
        let long = "x".repeat(129);
        assert_eq!(q(Some(&long), None).checked().unwrap_err().field, "user_id");
        assert_eq!(
            q(None, Some("a\nb")).checked().unwrap_err().field,
            "agent_id"
        );
        assert_eq!(
            q(Some("../../etc/passwd"), None)
                .checked()
                .unwrap_err()
                .field,
            "user_id"
        );
    }
}
