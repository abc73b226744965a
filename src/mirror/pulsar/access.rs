//! How the node and its readers reach Pulsar: the `[pulsar]` URL,
//! authentication and TLS in one place (the mirror's producers, `arc-agent
//! consume`, `replay`).
//!
//! Authentication (seed 002), one kind at most:
//! - a JWT (Pulsar's `token` method) from `$token_env`, or from
//!   `token_file`, read again at every connection so a token that a sidecar
//!   renews is followed;
//! - OAuth2 client credentials (`oauth2.rs`: the issuer's discovery
//!   document, a key file holding `client_id` and `client_secret`, an
//!   audience and a scope), the token renewed before it expires.
//!
//! TLS: a `pulsar+ssl://` URL; `tls_ca_file` is the CA that signed the
//! broker's certificate (empty: the crate's built-in web roots), and the
//! broker's name is checked unless `tls_hostname_verification` is off.
//! Nothing secret is logged or printed.

use super::oauth2::ClientCredentials;
use crate::config::{secret_from_env, PulsarSection};
use pulsar::error::AuthenticationError;
use pulsar::{PulsarBuilder, TokioExecutor};
use std::path::{Path, PathBuf};

/// Why the `[pulsar]` access settings cannot be used (named by their key).
#[derive(Debug, thiserror::Error)]
pub enum PulsarAccessError {
    #[error("pulsar.{key}: {problem}")]
    Invalid { key: &'static str, problem: String },
    #[error("pulsar.{key} {}: {source}", path.display())]
    Read {
        key: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why a client could not be made: its settings, or the broker.
#[derive(Debug, thiserror::Error)]
pub enum PulsarConnectError {
    #[error(transparent)]
    Access(#[from] PulsarAccessError),
    #[error(transparent)]
    Broker(#[from] pulsar::Error),
}

/// The token in `$env`, without the line end a file or a shell may add.
fn secret(env: &str) -> Option<String> {
    secret_from_env(env).map(|v| v.trim().to_string())
}

fn readable(key: &'static str, path: &str) -> Result<Option<PathBuf>, PulsarAccessError> {
    if path.is_empty() {
        return Ok(None);
    }
    let p = PathBuf::from(path);
    match std::fs::metadata(&p) {
        Ok(m) if m.is_file() => Ok(Some(p)),
        Ok(_) => Err(PulsarAccessError::Invalid {
            key,
            problem: format!("{path} is not a file"),
        }),
        Err(source) => Err(PulsarAccessError::Read {
            key,
            path: p,
            source,
        }),
    }
}

/// A token read from its file at every (re)connection.
struct TokenFile {
    path: PathBuf,
}

fn read_token(path: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("pulsar.token_file {}: {e}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("pulsar.token_file {} is empty", path.display()));
    }
    Ok(token.as_bytes().to_vec())
}

#[async_trait::async_trait]
impl pulsar::authentication::Authentication for TokenFile {
    fn auth_method_name(&self) -> String {
        "token".into()
    }

    async fn initialize(&mut self) -> Result<(), AuthenticationError> {
        read_token(&self.path)
            .map(|_| ())
            .map_err(AuthenticationError::Custom)
    }

    async fn auth_data(&mut self) -> Result<Vec<u8>, AuthenticationError> {
        read_token(&self.path).map_err(AuthenticationError::Custom)
    }
}

/// What kind of credential the settings give (for logs: never the secret).
pub(crate) fn auth_kind(cfg: &PulsarSection) -> &'static str {
    if secret(&cfg.token_env).is_some() || !cfg.token_file.is_empty() {
        "token"
    } else if !cfg.oauth2_issuer_url.is_empty() {
        "oauth2"
    } else {
        "none"
    }
}

/// A client builder for `[pulsar]`, with its credentials and TLS applied
/// (the caller adds its retry policy and builds).
pub(crate) fn builder(
    cfg: &PulsarSection,
) -> Result<PulsarBuilder<TokioExecutor>, PulsarAccessError> {
    let mut b = pulsar::Pulsar::builder(cfg.url.clone(), TokioExecutor);
    let token = secret(&cfg.token_env);
    let token_file = readable("token_file", &cfg.token_file)?;
    let oauth2 = !cfg.oauth2_issuer_url.is_empty();
    if [token.is_some(), token_file.is_some(), oauth2]
        .iter()
        .filter(|k| **k)
        .count()
        > 1
    {
        return Err(PulsarAccessError::Invalid {
            key: "token_env",
            problem: format!(
                "set one kind of credential: the token in ${}, token_file, or oauth2_issuer_url",
                cfg.token_env
            ),
        });
    }
    if let Some(t) = token {
        b = b.with_auth(pulsar::Authentication {
            name: "token".into(),
            data: t.into_bytes(),
        });
    } else if let Some(path) = token_file {
        read_token(&path).map_err(|problem| PulsarAccessError::Invalid {
            key: "token_file",
            problem,
        })?;
        b = b.with_auth_provider(Box::new(TokenFile { path }));
    } else if oauth2 {
        let Some(key_file) = readable("oauth2_credentials_file", &cfg.oauth2_credentials_file)?
        else {
            return Err(PulsarAccessError::Invalid {
                key: "oauth2_credentials_file",
                problem: "oauth2_issuer_url is set: the key file with client_id and client_secret is needed too".into(),
            });
        };
        b = b.with_auth_provider(Box::new(ClientCredentials::new(
            &cfg.oauth2_issuer_url,
            key_file,
            &cfg.oauth2_audience,
            &cfg.oauth2_scope,
        )));
    }
    if let Some(ca) = readable("tls_ca_file", &cfg.tls_ca_file)? {
        b = b
            .with_certificate_chain_file(&ca)
            .map_err(|source| PulsarAccessError::Read {
                key: "tls_ca_file",
                path: ca,
                source,
            })?;
    }
    if !cfg.tls_hostname_verification {
        b = b.with_tls_hostname_verification_enabled(false);
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> PulsarSection {
        crate::config::Config::load_with(None, Vec::new())
            .expect("the default config loads")
            .pulsar
    }

    #[test]
    fn two_kinds_of_credential_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "abc\n").unwrap();
        let mut cfg = section();
        cfg.token_file = file.display().to_string();
        cfg.oauth2_issuer_url = "https://auth.example".into();
        let e = builder(&cfg).err().expect("refused").to_string();
        assert!(e.contains("one kind of credential"), "{e}");
    }

    #[test]
    fn a_missing_or_empty_token_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = section();
        cfg.token_file = dir.path().join("nope").display().to_string();
        let e = builder(&cfg).err().expect("refused").to_string();
        assert!(e.contains("pulsar.token_file") && e.contains("nope"), "{e}");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        cfg.token_file = empty.display().to_string();
        let e = builder(&cfg).err().expect("refused").to_string();
        assert!(e.contains("is empty"), "{e}");
    }

    #[test]
    fn oauth2_needs_its_key_file() {
        let mut cfg = section();
        cfg.oauth2_issuer_url = "https://auth.example".into();
        let e = builder(&cfg).err().expect("refused").to_string();
        assert!(e.contains("pulsar.oauth2_credentials_file"), "{e}");
        assert_eq!(auth_kind(&cfg), "oauth2");
    }
}
