//! Tokens and webhooks signed as LiveKit's key pair would sign them.

use super::{LK_KEY, LK_SECRET};
use livekit_api::access_token::AccessToken;
use sha2::{Digest, Sha256};

/// HMAC-SHA256 (RFC 2104), to sign made-up JWTs as LiveKit's key pair would.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let inner = Sha256::new()
        .chain_update(k.map(|b| b ^ 0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(k.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Base64: the standard alphabet with padding, or (`url`) JWT's unpadded URL one.
pub(super) fn base64(bytes: &[u8], url: bool) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        for i in 0..=chunk.len() {
            let c = ALPHABET[(n >> (18 - 6 * i)) as usize & 63];
            out.push(match (url, c) {
                (true, b'+') => '-',
                (true, b'/') => '_',
                _ => char::from(c),
            });
        }
        if !url {
            out.extend(std::iter::repeat_n('=', 3 - chunk.len()));
        }
    }
    out
}

/// An HS256 JWT of `claims` (any bytes) signed with `secret`.
pub(super) fn jwt(claims: &[u8], secret: &str) -> String {
    let signed = format!(
        "{}.{}",
        base64(br#"{"alg":"HS256","typ":"JWT"}"#, true),
        base64(claims, true)
    );
    let signature = hmac_sha256(secret.as_bytes(), signed.as_bytes());
    format!("{signed}.{}", base64(&signature, true))
}

/// The `Authorization` token LiveKit sends with `body`.
pub(super) fn sign_webhook(body: &[u8]) -> String {
    AccessToken::with_api_key(LK_KEY, LK_SECRET)
        .with_sha256(&base64(&Sha256::digest(body), false))
        .to_jwt()
        .expect("a webhook token signs")
}
