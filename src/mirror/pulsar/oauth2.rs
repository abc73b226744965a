//! OAuth2 client credentials for Pulsar, as Pulsar's own clients do it
//! (`AuthenticationOAuth2`): the issuer's discovery document names the token
//! endpoint, the key file holds `client_id` and `client_secret`, and the
//! access token goes to the broker with the `token` method. A token is used
//! until 90 % of its lifetime and fetched again at the next connection after.
//!
//! Why not the `pulsar` crate's `auth-oauth2` feature: it brings openidconnect
//! and oauth2 (about 700 lines of Cargo.lock, a minute of a fresh machine's
//! build) for one discovery GET and one POST, which the node's HTTP client
//! (reqwest, already here for the LLM and the tools) does.

use pulsar::error::AuthenticationError;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Pulsar's JSON key file (more fields may be there; these two are used).
#[derive(Deserialize)]
struct KeyFile {
    client_id: String,
    client_secret: String,
}

#[derive(Deserialize)]
struct Discovery {
    token_endpoint: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

/// The provider handed to the Pulsar client.
pub(super) struct ClientCredentials {
    issuer: String,
    key_file: PathBuf,
    audience: String,
    scope: String,
    http: reqwest::Client,
    /// The token, and when it should be renewed.
    token: Option<(Vec<u8>, Instant)>,
}

impl ClientCredentials {
    pub(super) fn new(issuer: &str, key_file: PathBuf, audience: &str, scope: &str) -> Self {
        ClientCredentials {
            issuer: issuer.trim_end_matches('/').to_string(),
            key_file,
            audience: audience.to_string(),
            scope: scope.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            token: None,
        }
    }

    /// A new token from the issuer. The error names the step and the issuer,
    /// never the secret.
    async fn fetch(&self) -> Result<(Vec<u8>, Instant), String> {
        let text = std::fs::read_to_string(&self.key_file).map_err(|e| {
            format!(
                "pulsar.oauth2_credentials_file {}: {e}",
                self.key_file.display()
            )
        })?;
        let key: KeyFile = serde_json::from_str(&text).map_err(|e| {
            format!(
                "pulsar.oauth2_credentials_file {}: not a key file with client_id and client_secret ({e})",
                self.key_file.display()
            )
        })?;
        let discovery = format!("{}/.well-known/openid-configuration", self.issuer);
        let endpoint = async {
            let r = self.http.get(&discovery).send().await?.error_for_status()?;
            r.json::<Discovery>().await
        }
        .await
        .map_err(|e| format!("OAuth2 discovery at {discovery}: {e}"))?
        .token_endpoint;
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", key.client_id.as_str()),
            ("client_secret", key.client_secret.as_str()),
        ];
        if !self.audience.is_empty() {
            form.push(("audience", self.audience.as_str()));
        }
        if !self.scope.is_empty() {
            form.push(("scope", self.scope.as_str()));
        }
        let asked = Instant::now();
        let token = async {
            let r = self
                .http
                .post(&endpoint)
                .form(&form)
                .send()
                .await?
                .error_for_status()?;
            r.json::<TokenResponse>().await
        }
        .await
        .map_err(|e| {
            format!(
                "OAuth2 token for client {} from {endpoint}: {}",
                key.client_id,
                e.without_url()
            )
        })?;
        if token.access_token.is_empty() {
            return Err(format!("OAuth2 token from {endpoint}: empty access_token"));
        }
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
        Ok((
            token.access_token.into_bytes(),
            asked + lifetime.mul_f32(0.9),
        ))
    }
}

#[async_trait::async_trait]
impl pulsar::authentication::Authentication for ClientCredentials {
    fn auth_method_name(&self) -> String {
        "token".into()
    }

    async fn initialize(&mut self) -> Result<(), AuthenticationError> {
        Ok(())
    }

    async fn auth_data(&mut self) -> Result<Vec<u8>, AuthenticationError> {
        match &self.token {
            Some((t, renew_at)) if Instant::now() < *renew_at => Ok(t.clone()),
            _ => {
                let (t, renew_at) = self.fetch().await.map_err(AuthenticationError::Custom)?;
                self.token = Some((t.clone(), renew_at));
                Ok(t)
            }
        }
    }
}
