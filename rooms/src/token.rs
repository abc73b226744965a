//! Agent tokens, minted and verified with LiveKit's own server SDK (`livekit-api`).

use crate::RoomError;
use livekit_api::access_token::{AccessToken, Claims, TokenVerifier, VideoGrants};
use std::time::Duration;

/// What the node needs to speak for itself to a LiveKit server.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `ws://` or `wss://` address of the LiveKit server.
    pub url: String,
    pub api_key: String,
    pub api_secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log line.
        f.debug_struct("Credentials")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .field("api_secret", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    fn check(&self) -> Result<(), RoomError> {
        if self.api_key.is_empty() || self.api_secret.is_empty() {
            return Err(RoomError::Credentials(
                "set livekit.api_key and livekit.api_secret (or LIVEKIT_API_KEY / LIVEKIT_API_SECRET)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Who the agent is in the room.
#[derive(Debug, Clone)]
pub struct AgentIdentity {
    pub identity: String,
    pub name: String,
    /// Lifetime of the token (it only has to last until the join).
    pub ttl: Duration,
}

/// A join token for the agent: room join, publish and subscribe in `room`
/// only, marked as an agent participant (`kind = agent`, the agent grant) so
/// clients and the server treat it as one.
pub fn mint_agent_token(
    creds: &Credentials,
    room: &str,
    agent: &AgentIdentity,
) -> Result<String, RoomError> {
    creds.check()?;
    if room.is_empty() {
        return Err(RoomError::Token("room name is empty".into()));
    }
    if agent.identity.is_empty() {
        return Err(RoomError::Token("agent identity is empty".into()));
    }
    AccessToken::with_api_key(&creds.api_key, &creds.api_secret)
        .with_identity(&agent.identity)
        .with_name(&agent.name)
        .with_kind("agent")
        .with_ttl(agent.ttl)
        .with_grants(VideoGrants {
            room_join: true,
            room: room.to_string(),
            can_publish: Some(true),
            can_subscribe: Some(true),
            can_publish_data: Some(true),
            agent: true,
            ..VideoGrants::default()
        })
        .to_jwt()
        .map_err(|e| RoomError::Token(format!("minting for room {room}: {e}")))
}

/// Checks a token's signature and expiry against our key pair; its claims.
pub fn verify_token(creds: &Credentials, token: &str) -> Result<Claims, RoomError> {
    creds.check()?;
    TokenVerifier::with_api_key(&creds.api_key, &creds.api_secret)
        .verify(token)
        .map_err(|e| RoomError::Token(format!("verification failed: {e}")))
}
