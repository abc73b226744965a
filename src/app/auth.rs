//! Who may use the session API (`/v1/*`) and `/metrics`.
//!
//! `/v1/*` takes a bearer token of one of two kinds:
//! - a LiveKit access token (JWT, HS256) signed with the node's LiveKit API
//!   key and secret, the tokens operators' backends already mint; its video
//!   grants say what it may do: `roomCreate` starts sessions, `roomList`
//!   lists them, `roomAdmin` does anything (ending sessions, fault injection);
//! - the static admin token of the environment variable `http.admin_token_env`.
//!
//! `http.auth = "auto"` asks for one unless the node listens on loopback only
//! (a developer's machine); "required" always; "off" never (logged as a
//! warning at start). `/healthz` and `/readyz` stay open; `/metrics` asks for
//! the token of `http.metrics_token_env` when that variable is set. Tokens are
//! compared in constant time and never logged.

use crate::config::{Config, HttpAuth};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use livekit_api::access_token::TokenVerifier;
use serde_json::json;
use std::sync::Arc;

/// What a `/v1` request needs its token to allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// `POST /v1/sessions`.
    Create,
    /// `GET /v1/sessions`.
    List,
    /// Everything else (ending a session, fault injection).
    Admin,
}

impl Need {
    fn of(method: &Method, path: &str) -> Self {
        match (method, path.trim_end_matches('/')) {
            (&Method::POST, "/v1/sessions") => Need::Create,
            (&Method::GET, "/v1/sessions") => Need::List,
            _ => Need::Admin,
        }
    }

    fn grant(self) -> &'static str {
        match self {
            Need::Create => "roomCreate",
            Need::List => "roomList",
            Need::Admin => "roomAdmin",
        }
    }
}

/// The node's access rules, built once from the config and the environment.
pub(crate) struct Access {
    required: bool,
    admin_token: Option<String>,
    metrics_token: Option<String>,
    verifier: Option<TokenVerifier>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("required", &self.required)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field("livekit_tokens", &self.verifier.is_some())
            .finish()
    }
}

/// Whether `listen` (host:port) only accepts connections from this machine.
pub(crate) fn is_loopback(listen: &str) -> bool {
    let host = listen
        .rsplit_once(':')
        .map_or(listen, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn env_token(name: &str) -> Option<String> {
    (!name.is_empty())
        .then(|| std::env::var(name).ok())
        .flatten()
        .filter(|t| !t.trim().is_empty())
}

impl Access {
    pub(crate) fn from_config(cfg: &Config) -> Arc<Self> {
        let required = match cfg.http.auth {
            HttpAuth::Auto => !is_loopback(&cfg.http.listen),
            HttpAuth::Required => true,
            HttpAuth::Off => false,
        };
        let access = Self {
            required,
            admin_token: env_token(&cfg.http.admin_token_env),
            metrics_token: env_token(&cfg.http.metrics_token_env),
            verifier: cfg.livekit.has_credentials().then(|| {
                TokenVerifier::with_api_key(&cfg.livekit.api_key, &cfg.livekit.api_secret)
            }),
        };
        if cfg.http.auth == HttpAuth::Off && !is_loopback(&cfg.http.listen) {
            tracing::warn!(listen = %cfg.http.listen, "http.auth = \"off\": anyone who reaches this address can start, list and end sessions");
        }
        if required && access.admin_token.is_none() && access.verifier.is_none() {
            tracing::warn!(listen = %cfg.http.listen, admin_token_env = %cfg.http.admin_token_env, "the session API asks for a token but none can be checked: set the admin token variable or livekit.api_key/api_secret; every /v1 call is refused until then");
        }
        Arc::new(access)
    }

    /// Checks a `/v1` request's `Authorization` header; the refusal says why.
    fn check(&self, authorization: Option<&str>, need: Need) -> Result<(), String> {
        if !self.required {
            return Ok(());
        }
        let token = bearer(authorization).ok_or("a bearer token is required")?;
        if self
            .admin_token
            .as_deref()
            .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()))
        {
            return Ok(());
        }
        let Some(verifier) = &self.verifier else {
            return Err("the token is not the admin token".into());
        };
        let claims = verifier
            .verify(token)
            .map_err(|e| format!("the token is not valid: {e}"))?;
        let v = &claims.video;
        let allowed = v.room_admin
            || match need {
                Need::Create => v.room_create,
                Need::List => v.room_list,
                Need::Admin => false,
            };
        if allowed {
            Ok(())
        } else {
            Err(format!("the token does not grant {}", need.grant()))
        }
    }

    fn check_metrics(&self, authorization: Option<&str>) -> Result<(), String> {
        match &self.metrics_token {
            None => Ok(()),
            Some(t) => bearer(authorization)
                .filter(|b| constant_time_eq(t.as_bytes(), b.as_bytes()))
                .map(|_| ())
                .ok_or_else(|| "the metrics token is required".into()),
        }
    }
}

fn bearer(authorization: Option<&str>) -> Option<&str> {
    authorization
        .map(str::trim)
        .and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Equal bytes, in a time that does not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refuse(why: String) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(json!({ "error": format!("unauthorized: {why}") })),
    )
        .into_response()
}

/// The `/v1` layer: the request goes on only with a token that allows it.
pub(crate) async fn require_v1(
    State(access): State<Arc<Access>>,
    req: Request,
    next: Next,
) -> Response {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let need = Need::of(req.method(), req.uri().path());
    match access.check(auth, need) {
        Ok(()) => next.run(req).await,
        Err(why) => refuse(why),
    }
}

/// The `/metrics` layer: open unless a metrics token is set.
pub(crate) async fn require_metrics(
    State(access): State<Arc<Access>>,
    req: Request,
    next: Next,
) -> Response {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match access.check_metrics(auth) {
        Ok(()) => next.run(req).await,
        Err(why) => refuse(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_api::access_token::{AccessToken, VideoGrants};
    use std::time::Duration;

    const KEY: &str = "devkey";
    const SECRET: &str = "a-long-enough-development-secret";

    fn access(admin: Option<&str>) -> Access {
        Access {
            required: true,
            admin_token: admin.map(str::to_string),
            metrics_token: None,
            verifier: Some(TokenVerifier::with_api_key(KEY, SECRET)),
        }
    }

    fn token(secret: &str, grants: VideoGrants, ttl_s: i64) -> String {
        let mut t = AccessToken::with_api_key(KEY, secret).with_grants(grants);
        if ttl_s >= 0 {
            t = t.with_ttl(Duration::from_secs(ttl_s as u64));
        }
        t.to_jwt().unwrap()
    }

    #[test]
    fn loopback_addresses_are_recognized() {
        for yes in [
            "127.0.0.1:8080",
            "localhost:8080",
            "[::1]:8080",
            "127.0.0.2:1",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "0.0.0.0:8080",
            "10.0.0.5:8080",
            "[::]:8080",
            "example.com:80",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }

    #[test]
    fn grants_decide_what_a_livekit_token_may_do() {
        let a = access(None);
        let create = VideoGrants {
            room_create: true,
            ..Default::default()
        };
        let t = format!("Bearer {}", token(SECRET, create, 600));
        assert_eq!(a.check(Some(&t), Need::Create), Ok(()));
        assert!(a
            .check(Some(&t), Need::List)
            .unwrap_err()
            .contains("roomList"));
        assert!(a
            .check(Some(&t), Need::Admin)
            .unwrap_err()
            .contains("roomAdmin"));
        let admin = VideoGrants {
            room_admin: true,
            ..Default::default()
        };
        let t = format!("Bearer {}", token(SECRET, admin, 600));
        for need in [Need::Create, Need::List, Need::Admin] {
            assert_eq!(a.check(Some(&t), need), Ok(()));
        }
    }

    #[test]
    fn missing_wrong_key_and_tampered_tokens_are_refused() {
        let a = access(Some("s3cret-admin"));
        let admin = VideoGrants {
            room_admin: true,
            ..Default::default()
        };
        assert!(a.check(None, Need::List).is_err());
        assert!(a.check(Some("Basic abc"), Need::List).is_err());
        let wrong = token("another-secret-entirely-different", admin.clone(), 600);
        assert!(a
            .check(Some(&format!("Bearer {wrong}")), Need::List)
            .is_err());
        let good = token(SECRET, admin, 600);
        let mut tampered = good.clone();
        tampered.insert(good.len() / 2, 'x');
        assert!(a
            .check(Some(&format!("Bearer {tampered}")), Need::List)
            .is_err());
        assert_eq!(a.check(Some("Bearer s3cret-admin"), Need::Admin), Ok(()));
        assert!(a.check(Some("Bearer s3cret-admiN"), Need::Admin).is_err());
        assert!(format!("{a:?}").contains("<redacted>") && !format!("{a:?}").contains("s3cret"));
    }

    #[test]
    fn nothing_is_asked_when_not_required() {
        let a = Access {
            required: false,
            admin_token: None,
            metrics_token: None,
            verifier: None,
        };
        assert_eq!(a.check(None, Need::Admin), Ok(()));
        assert_eq!(a.check_metrics(None), Ok(()));
    }
}
