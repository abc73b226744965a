//! LiveKit's own webhook JSON (camelCase keys), as carried in
//! `webhook_payload` of the `livekit-webhook-v1` Pulsar payload
//! ([`super::pulsar::LivekitWebhook`]). LiveKit owns this contract: keys we do
//! not model are kept, so re-publishing loses nothing.

use serde::{Deserialize, Serialize};

/// LiveKit's own webhook JSON (camelCase keys). Which of room /
/// participant / track is present depends on the event; keys we do not
/// model (LiveKit sends many more: `id`, `createdAt`, ...) are kept in
/// `extra` so that re-publishing loses nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    #[serde(default)]
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<WebhookRoom>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<WebhookParticipant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<WebhookTrack>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// `webhook_payload.room`. LiveKit omits default-valued fields, so every
/// field defaults to empty and is omitted again when empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookRoom {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Unix seconds as a decimal string (protobuf int64 JSON encoding).
    #[serde(
        rename = "createdAt",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub created_at: String,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// `webhook_payload.participant`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookParticipant {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identity: String,
    /// e.g. `"ACTIVE"`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state: String,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// `webhook_payload.track`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookTrack {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sid: String,
    /// JSON key `type`, e.g. `"AUDIO"`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// e.g. `"MICROPHONE"`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(rename = "mimeType", default, skip_serializing_if = "String::is_empty")]
    pub mime_type: String,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}
