//! The `access_token` target: `/v1`, `/metrics` and `/ws` tokens through the access checks.

use super::signing::jwt;
use super::{node_config, Input, ADMIN_TOKEN, LK_KEY, LK_SECRET, METRICS_TOKEN};
use crate::node::{Access, Need};
use axum::http::Method;
use livekit_api::access_token::{AccessToken, VideoGrants};
use std::time::Duration;

/// The access checks. First byte: bits 0-1 the check (0 a `/v1` request, 1
/// `/metrics`, 2 a `/ws` socket, 3 a `/ws` token minted here), bits 2-3 the
/// token (0 the rest as text, 1 a LiveKit token with grants from the input,
/// 2 a JWT of made-up claims signed with the node's secret, 3 the same with
/// another secret), bits 4-5 the `Authorization` scheme.
///
/// Promises: nothing but the admin token, or a token signed with the node's
/// secret whose grants allow the request, passes `/v1`; a LiveKit token's
/// grants decide exactly; a minted `/ws` token opens one socket.
pub fn access_token(data: &[u8]) {
    let mut input = Input(data);
    let mode = input.byte();
    let access = Access::with_tokens(
        node_config(),
        Some(ADMIN_TOKEN.into()),
        Some(METRICS_TOKEN.into()),
    );
    let ip = std::net::IpAddr::from([10, 0, 0, input.byte()]);
    if mode & 3 == 3 {
        let user = input.text();
        let ttl = Duration::from_secs(u64::from(input.u16()));
        let Ok((token, _)) = access.mint_ws_token(&user, Some(ttl)) else {
            return;
        };
        let first = access.admit_ws(Some(&token), ip);
        if ttl.as_secs() > 0 && !user.is_empty() {
            let first = first.expect("a minted /ws token opens a socket");
            assert_eq!(first.user_id.as_deref(), Some(user.as_str()));
            let second = access.admit_ws(Some(&token), ip);
            assert_eq!(second.map(|_| ()).map_err(|r| r.status), Err(429));
        }
        return;
    }
    let method = match input.byte() % 3 {
        0 => Method::GET,
        1 => Method::POST,
        _ => Method::DELETE,
    };
    let path = String::from_utf8_lossy(input.piece()).into_owned();
    let need = Need::of(&method, &path);
    // What a LiveKit token's grants allow, when the token says it (kind 1).
    let mut expected = None;
    let token = match (mode >> 2) & 3 {
        0 => String::from_utf8_lossy(input.rest()).into_owned(),
        1 => {
            let grants = input.byte();
            let identity = input.text();
            let ttl = u64::from(input.u16());
            let video = VideoGrants {
                room_create: grants & 1 != 0,
                room_list: grants & 2 != 0,
                room_admin: grants & 4 != 0,
                room_join: grants & 8 != 0,
                room: input.text(),
                ..Default::default()
            };
            let allowed = video.room_admin
                || match need {
                    Need::Create => video.room_create,
                    Need::List => video.room_list,
                    Need::Admin => false,
                };
            let secret = if grants & 16 == 0 {
                LK_SECRET
            } else {
                "another-secret-of-some-length"
            };
            let Ok(token) = AccessToken::with_api_key(LK_KEY, secret)
                .with_identity(&identity)
                .with_ttl(Duration::from_secs(ttl))
                .with_grants(video)
                .to_jwt()
            else {
                return;
            };
            // Expiry has a minute's leeway: only long-lived tokens are sure.
            if ttl > 120 {
                expected = Some(allowed && secret == LK_SECRET);
            }
            token
        }
        kind => {
            let secret = if kind == 2 {
                LK_SECRET
            } else {
                "another-secret-of-some-length"
            };
            jwt(input.rest(), secret)
        }
    };
    let scheme = ["Bearer ", "bearer ", "", "Basic "][usize::from((mode >> 4) & 3)];
    let authorization = format!("{scheme}{token}");
    let bearer = matches!(scheme, "Bearer " | "bearer ");
    match mode & 3 {
        0 => {
            let result = access.check(Some(&authorization), need);
            let admin = bearer && token.trim() == ADMIN_TOKEN;
            if !admin && (mode >> 2) & 3 == 3 {
                assert!(result.is_err(), "a token of another secret passed");
            }
            if let (Some(allowed), true) = (expected, bearer) {
                assert_eq!(result.is_ok(), allowed, "{need:?}: {result:?}");
            }
            if !bearer {
                assert!(result.is_err(), "no bearer token, yet let in");
            }
        }
        1 => {
            let result = access.check_metrics(Some(&authorization));
            let right = bearer && token.trim() == METRICS_TOKEN;
            assert_eq!(result.is_ok(), right, "{result:?}");
        }
        _ => {
            if let Err(refusal) = access.admit_ws(Some(&token), ip) {
                assert!(matches!(refusal.status, 401 | 429), "{refusal:?}");
            }
        }
    }
}
