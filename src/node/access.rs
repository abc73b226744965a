//! Who may use the session API (`/v1/*`), the browser transport (`/ws`) and
//! `/metrics`: the checks; `app::auth` puts them in front of the routes.
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
//!
//! `/ws` (a browser, which must not hold the operator's credentials) takes a
//! short-lived token instead, minted by `POST /v1/tokens` for one user, the
//! way LiveKit's own clients join rooms: a LiveKit-style JWT (signed with the
//! LiveKit secret when the node has one, else with a secret of this process)
//! granting `roomJoin` to the room [`WS_ROOM`]. A token opens at most
//! `http.ws_sessions_per_token` sessions, and one client address at most
//! `http.ws_sessions_per_address` at a time.

use crate::config::{Config, HttpAuth};
use axum::http::Method;
use livekit_api::access_token::{AccessToken, TokenVerifier, VideoGrants};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

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
    pub(crate) fn of(method: &Method, path: &str) -> Self {
        match (method, path.trim_end_matches('/')) {
            (&Method::POST, "/v1/sessions" | "/v1/tokens") => Need::Create,
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

/// The room name `/ws` tokens grant (so a LiveKit room token never opens `/ws`).
pub(crate) const WS_ROOM: &str = "arc-ws";

/// The node's access rules, built once from the config and the environment.
pub(crate) struct Access {
    required: bool,
    admin_token: Option<String>,
    metrics_token: Option<String>,
    verifier: Option<TokenVerifier>,
    /// Key and secret `/ws` tokens are signed with.
    ws_key: String,
    ws_secret: String,
    ws_ttl: Duration,
    per_token: u32,
    per_address: u32,
    /// Sessions opened with each `/ws` token (by its signature), until it expires.
    token_uses: Mutex<HashMap<String, (u32, u64)>>,
    /// `/ws` sessions open per client address.
    open_per_address: Arc<Mutex<HashMap<IpAddr, u32>>>,
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
            .field("ws_secret", &"<redacted>")
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

impl Access {
    pub(crate) fn from_config(cfg: &Config) -> Arc<Self> {
        Self::with_tokens(
            cfg,
            crate::config::secret_from_env(&cfg.http.admin_token_env),
            crate::config::secret_from_env(&cfg.http.metrics_token_env),
        )
    }

    /// [`Access::from_config`] with the admin and metrics tokens given rather
    /// than read from the environment (the fuzz targets set no variables).
    pub(crate) fn with_tokens(
        cfg: &Config,
        admin_token: Option<String>,
        metrics_token: Option<String>,
    ) -> Arc<Self> {
        let required = match cfg.http.auth {
            HttpAuth::Auto => !is_loopback(&cfg.http.listen),
            HttpAuth::Required => true,
            HttpAuth::Off => false,
        };
        let lk = &cfg.livekit;
        let (ws_key, ws_secret) = if lk.has_credentials() {
            (lk.api_key.clone(), lk.api_secret.clone())
        } else {
            // No shared secret: tokens this process mints, valid on this node.
            let secret: String = (0..2)
                .map(|_| uuid::Uuid::new_v4().simple().to_string())
                .collect();
            ("arc-node".to_string(), secret)
        };
        let access = Self {
            required,
            admin_token,
            metrics_token,
            verifier: lk
                .has_credentials()
                .then(|| TokenVerifier::with_api_key(&lk.api_key, &lk.api_secret)),
            ws_key,
            ws_secret,
            ws_ttl: Duration::from_secs(cfg.http.ws_token_ttl_s.max(1)),
            per_token: cfg.http.ws_sessions_per_token.max(1),
            per_address: cfg.http.ws_sessions_per_address.max(1),
            token_uses: Mutex::new(HashMap::new()),
            open_per_address: Arc::new(Mutex::new(HashMap::new())),
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
    pub(crate) fn check(&self, authorization: Option<&str>, need: Need) -> Result<(), String> {
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

    pub(crate) fn check_metrics(&self, authorization: Option<&str>) -> Result<(), String> {
        match &self.metrics_token {
            None => Ok(()),
            Some(t) => bearer(authorization)
                .filter(|b| constant_time_eq(t.as_bytes(), b.as_bytes()))
                .map(|_| ())
                .ok_or_else(|| "the metrics token is required".into()),
        }
    }
}

/// A `/ws` socket let in: who it is, and its place in the per-address count
/// (given back when this is dropped, i.e. when the socket ends).
#[derive(Debug)]
pub(crate) struct WsAdmission {
    /// The user the token was minted for (None: no token was needed).
    pub(crate) user_id: Option<String>,
    addr: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl Drop for WsAdmission {
    fn drop(&mut self) {
        let mut open = self.open.lock();
        if let Some(n) = open.get_mut(&self.addr) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.addr);
            }
        }
    }
}

/// Why a `/ws` socket was not let in: 401 (no or a bad token) or 429 (a limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WsRefusal {
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl Access {
    /// A short-lived `/ws` token for `user_id` (`POST /v1/tokens`), and how
    /// long it lasts.
    pub(crate) fn mint_ws_token(
        &self,
        user_id: &str,
        ttl: Option<Duration>,
    ) -> Result<(String, Duration), String> {
        let ttl = ttl.unwrap_or(self.ws_ttl).min(Duration::from_secs(3600));
        let token = AccessToken::with_api_key(&self.ws_key, &self.ws_secret)
            .with_identity(user_id)
            .with_ttl(ttl)
            .with_grants(VideoGrants {
                room_join: true,
                room: WS_ROOM.into(),
                ..Default::default()
            })
            .to_jwt()
            .map_err(|e| format!("cannot mint a token: {e}"))?;
        Ok((token, ttl))
    }

    /// Lets a `/ws` socket in, or says why not: a valid `/ws` token when the
    /// node asks for tokens (each opens at most `ws_sessions_per_token`
    /// sessions), and at most `ws_sessions_per_address` open sockets per address.
    pub(crate) fn admit_ws(
        &self,
        token: Option<&str>,
        addr: IpAddr,
    ) -> Result<WsAdmission, WsRefusal> {
        let refuse = |status, message: String| Err(WsRefusal { status, message });
        let mut user_id = None;
        let mut used = None;
        if self.required {
            let Some(token) = token.filter(|t| !t.is_empty()) else {
                return refuse(
                    401,
                    "a token is required (?token=..., from POST /v1/tokens)".into(),
                );
            };
            let claims =
                match TokenVerifier::with_api_key(&self.ws_key, &self.ws_secret).verify(token) {
                    Ok(c) => c,
                    Err(e) => return refuse(401, format!("the token is not valid: {e}")),
                };
            if !claims.video.room_join || claims.video.room != WS_ROOM {
                return refuse(401, format!("the token does not grant joining {WS_ROOM}"));
            }
            user_id = Some(claims.sub.clone()).filter(|s| !s.is_empty());
            let signature = token.rsplit('.').next().unwrap_or(token).to_string();
            used = Some((signature, claims.exp as u64));
        }
        let mut open = self.open_per_address.lock();
        let here = open.get(&addr).copied().unwrap_or(0);
        if here >= self.per_address {
            return refuse(
                429,
                format!(
                    "{here} sessions already open from this address (http.ws_sessions_per_address)"
                ),
            );
        }
        if let Some((signature, exp)) = used {
            let mut uses = self.token_uses.lock();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            uses.retain(|_, (_, e)| *e + 60 >= now);
            let entry = uses.entry(signature).or_insert((0, exp));
            if entry.0 >= self.per_token {
                return refuse(
                    429,
                    format!(
                        "this token already opened {} session(s) (http.ws_sessions_per_token)",
                        entry.0
                    ),
                );
            }
            entry.0 += 1;
        }
        *open.entry(addr).or_insert(0) += 1;
        Ok(WsAdmission {
            user_id,
            addr,
            open: self.open_per_address.clone(),
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_api::access_token::{AccessToken, VideoGrants};
    use std::time::Duration;

    const KEY: &str = "devkey";
    const SECRET: &str = "a-long-enough-development-secret";

    fn access_with(required: bool, admin: Option<&str>) -> Access {
        Access {
            required,
            admin_token: admin.map(str::to_string),
            metrics_token: None,
            verifier: Some(TokenVerifier::with_api_key(KEY, SECRET)),
            ws_key: KEY.into(),
            ws_secret: SECRET.into(),
            ws_ttl: Duration::from_secs(300),
            per_token: 1,
            per_address: 2,
            token_uses: Mutex::new(HashMap::new()),
            open_per_address: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn access(admin: Option<&str>) -> Access {
        access_with(true, admin)
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
        let a = access_with(false, None);
        assert_eq!(a.check(None, Need::Admin), Ok(()));
        assert_eq!(a.check_metrics(None), Ok(()));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let first = a.admit_ws(None, ip).unwrap();
        assert_eq!(first.user_id, None);
    }

    #[test]
    fn a_ws_token_opens_its_sessions_and_an_address_its_share() {
        let a = access(None);
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        assert_eq!(a.admit_ws(None, ip).unwrap_err().status, 401);
        let (t1, _) = a.mint_ws_token("alice", None).unwrap();
        let first = a.admit_ws(Some(&t1), ip).unwrap();
        assert_eq!(first.user_id.as_deref(), Some("alice"));
        // One session per token (http.ws_sessions_per_token = 1 here).
        assert_eq!(a.admit_ws(Some(&t1), ip).unwrap_err().status, 429);
        let (t2, _) = a.mint_ws_token("bob", None).unwrap();
        let second = a.admit_ws(Some(&t2), ip).unwrap();
        // Two sockets per address here: a third waits until one ends.
        let (t3, _) = a.mint_ws_token("carol", None).unwrap();
        assert_eq!(a.admit_ws(Some(&t3), ip).unwrap_err().status, 429);
        drop(second);
        assert!(a.admit_ws(Some(&t3), ip).is_ok());
        // A LiveKit room token (not for /ws) and a forged one do not open /ws.
        let room = AccessToken::with_api_key(KEY, SECRET)
            .with_identity("someone")
            .with_grants(VideoGrants {
                room_join: true,
                room: "sales".into(),
                ..Default::default()
            })
            .to_jwt()
            .unwrap();
        assert_eq!(
            a.admit_ws(Some(&room), "10.0.0.8".parse().unwrap())
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(
            a.admit_ws(Some("x.y.z"), "10.0.0.8".parse().unwrap())
                .unwrap_err()
                .status,
            401
        );
        drop(first);
    }
}
