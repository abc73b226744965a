//! The built-in tools every session can offer its model (`session.brain.builtin_tools`).
//! They need the session itself (its clock, ending it), so the Brain runs them;
//! tools declared in config run behind [`crate::engine::ToolEngine`].

use crate::engine::ToolSpec;

pub const CURRENT_TIME: &str = "current_time";
pub const END_CALL: &str = "end_call";
/// Every built-in, by name.
pub const BUILTINS: [&str; 2] = [CURRENT_TIME, END_CALL];

/// The `session.ended` reason when the agent ends the call.
pub const AGENT_ENDED_CALL: &str = "agent_ended_call";

/// What the model is told about a built-in.
pub fn builtin_spec(name: &str) -> Option<ToolSpec> {
    let no_args = serde_json::json!({"type": "object", "properties": {}});
    match name {
        CURRENT_TIME => Some(ToolSpec {
            name: CURRENT_TIME.into(),
            description: "The current date and time (UTC, ISO 8601).".into(),
            parameters: no_args,
        }),
        END_CALL => Some(ToolSpec {
            name: END_CALL.into(),
            description: "End the call after your reply, when the user says goodbye or the conversation is over.".into(),
            parameters: no_args,
        }),
        _ => None,
    }
}

/// The result of `current_time`.
pub fn current_time(now: chrono::DateTime<chrono::Utc>) -> String {
    serde_json::json!({
        "utc": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "unix": now.timestamp(),
    })
    .to_string()
}

/// The result a failed call gives the model: it can say so instead of guessing.
pub fn error_result(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_have_object_schemas_and_iso_time() {
        for name in BUILTINS {
            assert_eq!(builtin_spec(name).unwrap().parameters["type"], "object");
        }
        assert!(builtin_spec("nope").is_none());
        let t: serde_json::Value = serde_json::from_str(&current_time(
            chrono::DateTime::from_timestamp(1_765_000_000, 0).unwrap(),
        ))
        .unwrap();
        assert_eq!(t["utc"], "2025-12-06T05:46:40Z");
        let e: serde_json::Value = serde_json::from_str(&error_result("a \"b\"")).unwrap();
        assert_eq!(e["error"], "a \"b\"");
    }
}
