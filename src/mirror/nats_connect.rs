//! How every NATS client of the node connects (the mirror, the `nats` brain,
//! `arc-agent brain` workers): the `[nats]` credentials and TLS, read once.
//!
//! Credentials come from the environment variables `[nats]` names, never
//! from the file itself: a user and the password in `password_env`, a token
//! (`token_env`), an NKey seed (`nkey_seed_env`), or a `.creds` file (NATS's
//! decentralized JWT auth). TLS: the CA that signed the server's certificate,
//! a client certificate and key for mutual TLS, and `tls_required` to refuse
//! a plain connection (`tls://` URLs ask for TLS too). Nothing secret is
//! logged: URLs are printed without their user info (`config::redacted_url`).

use crate::config::{secret_from_env as secret, NatsSection};
use std::path::PathBuf;

/// Why the NATS settings cannot be used (named by their key).
#[derive(Debug, thiserror::Error)]
pub enum NatsSettingsError {
    #[error("nats.{key}: {problem}")]
    Invalid { key: &'static str, problem: String },
    #[error("nats.creds_file {}: {source}", path.display())]
    Creds {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn existing(key: &'static str, path: &str) -> Result<Option<PathBuf>, NatsSettingsError> {
    if path.is_empty() {
        return Ok(None);
    }
    let p = PathBuf::from(path);
    if p.is_file() {
        Ok(Some(p))
    } else {
        Err(NatsSettingsError::Invalid {
            key,
            problem: format!("{path} is not a readable file"),
        })
    }
}

/// Connect options with `[nats]`'s credentials and TLS applied (the caller
/// adds its name, callbacks and retry policy).
pub(crate) async fn options(
    cfg: &NatsSection,
) -> Result<async_nats::ConnectOptions, NatsSettingsError> {
    let mut opts = async_nats::ConnectOptions::new();
    let password = secret(&cfg.password_env);
    let token = secret(&cfg.token_env);
    let seed = secret(&cfg.nkey_seed_env);
    let kinds = [
        !cfg.user.is_empty(),
        token.is_some(),
        seed.is_some(),
        !cfg.creds_file.is_empty(),
    ];
    if kinds.iter().filter(|k| **k).count() > 1 {
        return Err(NatsSettingsError::Invalid {
            key: "user",
            problem:
                "set one kind of credential: user (+ password), token, NKey seed or creds_file"
                    .into(),
        });
    }
    if !cfg.user.is_empty() {
        let Some(password) = password else {
            return Err(NatsSettingsError::Invalid {
                key: "password_env",
                problem: format!(
                    "nats.user is set but ${} holds no password",
                    cfg.password_env
                ),
            });
        };
        opts = opts.user_and_password(cfg.user.clone(), password);
    } else if let Some(t) = token {
        opts = opts.token(t);
    } else if let Some(seed) = seed {
        opts = opts.nkey(seed);
    } else if let Some(path) = existing("creds_file", &cfg.creds_file)? {
        opts = opts
            .credentials_file(&path)
            .await
            .map_err(|source| NatsSettingsError::Creds { path, source })?;
    }
    if let Some(ca) = existing("tls_ca_file", &cfg.tls_ca_file)? {
        opts = opts.add_root_certificates(ca);
    }
    match (
        existing("tls_cert_file", &cfg.tls_cert_file)?,
        existing("tls_key_file", &cfg.tls_key_file)?,
    ) {
        (Some(cert), Some(key)) => opts = opts.add_client_certificate(cert, key),
        (None, None) => {}
        _ => {
            return Err(NatsSettingsError::Invalid {
                key: "tls_cert_file",
                problem: "a client certificate needs both tls_cert_file and tls_key_file".into(),
            })
        }
    }
    if cfg.tls_required || cfg.url.starts_with("tls://") {
        opts = opts.require_tls(true);
    }
    Ok(opts)
}
