//! LiveKit webhooks as a LiveKit server sends them: made and signed by
//! LiveKit's own Python packages (python/livekit_sign.py), posted like LiveKit.

use crate::http::http_with;
use crate::python;
use serde_json::Value;

/// LiveKit webhooks for `specs` (see livekit_sign.py): (body, Authorization) pairs.
pub fn livekit_signed(specs: &Value) -> Vec<(String, Option<String>)> {
    let out = python::run_ok(
        "livekit_sign.py",
        &[],
        Some(specs.to_string().as_bytes()),
        "livekit_sign.py failed (run scripts/setup-test.sh for livekit-api): ",
    );
    let v: Vec<Value> = serde_json::from_str(&out).expect("signed webhooks");
    v.into_iter()
        .map(|w| {
            (
                w["body"].as_str().unwrap_or_default().to_string(),
                w["authorization"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// LiveKit access tokens for `specs` (see livekit_token.py), minted by
/// LiveKit's own SDK as an operator's backend mints them.
pub fn livekit_tokens(specs: &Value) -> Vec<String> {
    let out = python::run_ok(
        "livekit_token.py",
        &[],
        Some(specs.to_string().as_bytes()),
        "livekit_token.py failed (run scripts/setup-test.sh for livekit-api): ",
    );
    serde_json::from_str(&out).expect("tokens")
}

/// POST a webhook the way LiveKit does (`Authorization: <jwt>`, JSON body).
pub fn post_webhook(port: u16, body: &str, auth: Option<&str>) -> (u16, String) {
    let mut headers = vec![("Content-Type", "application/webhook+json")];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    http_with(
        "POST",
        &format!("http://127.0.0.1:{port}/livekit/webhook"),
        &headers,
        body,
    )
}
