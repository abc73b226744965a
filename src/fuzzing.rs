//! The entry points of the cargo-fuzz targets in `fuzz/` (`scripts/fuzz.sh`
//! runs them). Each takes the fuzzer's bytes, feeds them to the code the node
//! runs on input from outside, and panics when a promise of that code is
//! broken (a panic inside it is a finding too). They live here, not in
//! `fuzz/`, so the parsers stay private and the main build's clippy and tests
//! keep them compiling. Not an API.
//!
//! | entry | what it drives |
//! |---|---|
//! | [`webhook`] | a LiveKit webhook (`Authorization`, body) through the webhook receiver |
//! | [`access_token`] | `/v1` bearer tokens, the metrics token and `/ws` tokens through the access checks |
//! | [`config`] | a TOML file and `ARC__*` / ecosystem variables through [`Config::load_with`] |
//! | [`wav`] | WAV bytes through [`decode_wav`] (converse, the file transport) |
//! | [`ws_messages`] | `/ws` control messages and binary PCM16 through the socket's parser |
//! | [`spool_segment`] | made-up, torn and bit-flipped segments through the spool's recovery and reads |
//! | [`events_json`] | every event type's JSON through [`Event::from_nats`] and [`Event::from_pulsar`] |
//!
//! The first byte of an input usually picks a mode (see each function); the
//! seeds of `fuzz/seeds/` start with it.

use crate::cluster::webhook::WebhookReceiver;
use crate::config::Config;
use crate::mirror::spool::{Spool, SpoolOptions, SpoolRecord};
use crate::node::{Access, Need};
use crate::transports::ws::{parse_client_messages, ClientMessage};
use arc_actors::events::pulsar::LivekitWebhook;
use arc_actors::events::{Event, PulsarTopic};
use arc_models::audio::{decode_wav, encode_wav_pcm16};
use axum::http::Method;
use livekit_api::access_token::{AccessToken, VideoGrants};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The LiveKit key pair of the node the targets run against.
const LK_KEY: &str = "fuzz-key";
const LK_SECRET: &str = "a-long-enough-secret-for-the-fuzz-targets";
const ADMIN_TOKEN: &str = "fuzz-admin-token";
const METRICS_TOKEN: &str = "fuzz-metrics-token";

/// The fuzzer's bytes, taken from the front; past the end every read is empty.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    /// A piece prefixed by its length (one byte).
    fn piece(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte());
        self.bytes(n)
    }

    fn text(&mut self) -> String {
        String::from_utf8_lossy(self.piece()).into_owned()
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

/// The default config with a LiveKit key pair and `http.auth = "required"`.
fn node_config() -> &'static Config {
    static CFG: OnceLock<Config> = OnceLock::new();
    CFG.get_or_init(|| {
        let env = [
            ("LIVEKIT_API_KEY", LK_KEY),
            ("LIVEKIT_API_SECRET", LK_SECRET),
            ("ARC__HTTP__AUTH", "required"),
        ];
        Config::load_with(None, env.map(|(k, v)| (k.to_string(), v.to_string())))
            .expect("the default config with a LiveKit key pair loads")
    })
}

/// A folder of this process for files a target writes, emptied each call.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("arc-fuzz-{}", std::process::id()))
        .join(name);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            panic!("cannot empty {}: {e}", dir.display())
        }
        _ => {}
    }
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

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
fn base64(bytes: &[u8], url: bool) -> String {
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
fn jwt(claims: &[u8], secret: &str) -> String {
    let signed = format!(
        "{}.{}",
        base64(br#"{"alg":"HS256","typ":"JWT"}"#, true),
        base64(claims, true)
    );
    let signature = hmac_sha256(secret.as_bytes(), signed.as_bytes());
    format!("{signed}.{}", base64(&signature, true))
}

/// The `Authorization` token LiveKit sends with `body`.
fn sign_webhook(body: &[u8]) -> String {
    AccessToken::with_api_key(LK_KEY, LK_SECRET)
        .with_sha256(&base64(&Sha256::digest(body), false))
        .to_jwt()
        .expect("a webhook token signs")
}

/// A LiveKit webhook. First byte % 4: 0 the rest is the body, signed as
/// LiveKit signs it (bare token), 1 the same with `Bearer `, 2 a piece that
/// is the `Authorization` header then the body, 3 the body without a header.
///
/// Promises: a signed body is accepted or refused as malformed (400), never
/// as unsigned; what is accepted serializes and reads back, and the same
/// webhook again is a duplicate.
pub fn webhook(data: &[u8]) {
    let mut input = Input(data);
    let mode = input.byte() % 4;
    let cfg = node_config();
    let receiver = WebhookReceiver::new(&cfg.livekit, &cfg.webhook);
    let (authorization, body) = match mode {
        0 | 1 => {
            let body = input.rest();
            let token = sign_webhook(body);
            let header = if mode == 1 {
                format!("Bearer {token}")
            } else {
                token
            };
            (Some(header), body)
        }
        2 => (Some(input.text()), input.rest()),
        _ => (None, input.rest()),
    };
    let now = || (chrono::Utc::now(), Instant::now());
    let accepted = match receiver.receive(authorization.as_deref(), body, now()) {
        Ok(a) => a,
        Err(e) => {
            assert!(matches!(e.status(), 400 | 401 | 503), "status of {e}");
            assert!(
                mode > 1 || e.status() == 400,
                "a signed webhook refused: {e}"
            );
            return;
        }
    };
    assert!(!accepted.duplicate, "the first delivery is no duplicate");
    let json = serde_json::to_vec(&accepted.event).expect("an accepted webhook serializes");
    let back: LivekitWebhook = serde_json::from_slice(&json).unwrap_or_else(|e| {
        panic!(
            "an accepted webhook does not read back: {e}\n{}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(back.webhook_payload, accepted.event.webhook_payload);
    assert_eq!(back.metadata.webhook_id, accepted.event.metadata.webhook_id);
    let again = receiver
        .receive(authorization.as_deref(), body, now())
        .expect("an accepted webhook is accepted again");
    assert!(again.duplicate, "a redelivery is a duplicate");
}

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

/// The config loader: the input up to its first zero byte is the file; after
/// it, `NAME=value` lines are the environment.
///
/// Promises: a refusal is an error, never a panic; loading the same layers
/// again gives the same config.
pub fn config(data: &[u8]) {
    let (file, env) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let path = scratch("config").join("config.toml");
    std::fs::write(&path, file).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    let env: Vec<(String, String)> = String::from_utf8_lossy(env)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .take(16)
        .collect();
    let Ok(cfg) = Config::load_with(Some(&path), env.clone()).map_err(|e| e.to_string()) else {
        return;
    };
    let again = Config::load_with(Some(&path), env).expect("a config that loaded loads again");
    // Debug, not ==: a NaN setting is not equal to itself.
    assert_eq!(format!("{cfg:?}"), format!("{again:?}"));
}

/// A WAV file through the reader `converse` and the file transport use.
///
/// Promises: a refusal is an error; what is read is mono samples in [-1, 1]
/// at a non-zero rate, and writing them as 16-bit PCM reads back the same
/// within 16-bit quantization.
pub fn wav(data: &[u8]) {
    let Ok(audio) = decode_wav(data) else {
        return;
    };
    assert!(audio.sample_rate > 0 && audio.channels > 0 && !audio.samples.is_empty());
    assert!(
        audio.samples.iter().all(|s| (-1.0..=1.0).contains(s)),
        "a sample outside [-1, 1]"
    );
    assert_eq!(
        audio.duration_ms,
        audio.samples.len() as u64 * 1000 / u64::from(audio.sample_rate)
    );
    let written = encode_wav_pcm16(&audio.samples, audio.sample_rate);
    let back = decode_wav(&written).expect("a WAV we wrote reads back");
    assert_eq!(
        (back.sample_rate, back.channels, back.samples.len()),
        (audio.sample_rate, 1, audio.samples.len())
    );
    for (a, b) in audio.samples.iter().zip(&back.samples) {
        assert!((a - b).abs() <= 2.0 / 32768.0, "{a} written, {b} read");
    }
}

/// `/ws` client messages: each is a byte (even: text, odd: binary), a
/// little-endian u16 length, then that many bytes (text read as UTF-8, lossily).
///
/// Promises: a bad message is refused with a code, never a panic; audio
/// comes out as whole 20 ms frames of finite 16 kHz samples.
pub fn ws_messages(data: &[u8]) {
    let mut input = Input(data);
    let mut texts = Vec::new();
    let mut parts = Vec::new();
    while !input.is_empty() && parts.len() < 64 {
        let kind = input.byte();
        let len = usize::from(input.u16());
        let bytes = input.bytes(len);
        if kind.is_multiple_of(2) {
            texts.push(String::from_utf8_lossy(bytes).into_owned());
            parts.push(None);
        } else {
            parts.push(Some(bytes));
        }
    }
    let mut texts = texts.iter();
    let msgs: Vec<ClientMessage<'_>> = parts
        .into_iter()
        .map(|p| match p {
            Some(bytes) => ClientMessage::Binary(bytes),
            None => ClientMessage::Text(texts.next().map_or("", String::as_str)),
        })
        .collect();
    for result in parse_client_messages(&msgs) {
        let Ok(frames) = result else { continue };
        for f in frames {
            assert_eq!((f.sample_rate, f.samples.len()), (16_000, 320));
            assert!(
                f.samples.iter().all(|s| s.is_finite()),
                "a sample not finite"
            );
        }
    }
}

/// A spool's segment file name.
fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.seg")
}

/// A spool record from the input.
fn spool_record(input: &mut Input<'_>) -> SpoolRecord {
    let flags = input.byte();
    SpoolRecord {
        topic: input.text(),
        key: (flags & 1 != 0).then(|| input.text()),
        subject: (flags & 2 != 0).then(|| input.text()),
        message_id: input.text(),
        event_time_ms: u64::from(input.u16()),
        payload: input.piece().to_vec(),
    }
}

/// The spool's recovery and reads over damaged segments. First byte even:
/// the rest is a segment file's bytes (first sequence 1, no cursor). Odd: a
/// spool is written (segment size, up to 15 records and a commit from the
/// input), then its segment files are damaged by the rest: per step a byte
/// (even: flip, odd: truncate), the file, a u16 offset and (flip) the XOR mask.
///
/// Promises: damage never stops the spool from opening or reading; every
/// record read back is the one written under its sequence, in order; the
/// damaged spool still takes a record and delivers it after a restart.
pub fn spool_segment(data: &[u8]) {
    let mut input = Input(data);
    let mode = input.byte();
    let dir = scratch("spool");
    let opts = SpoolOptions {
        segment_bytes: 64 + u64::from(input.byte()) * 8,
        max_bytes: 1 << 20,
    };
    let mut written = Vec::new();
    if mode.is_multiple_of(2) {
        std::fs::write(dir.join(segment_name(1)), input.rest()).expect("a segment file writes");
    } else {
        let mut spool = Spool::open(&dir, opts.clone()).expect("a new spool opens");
        for _ in 0..input.byte() % 16 {
            let rec = spool_record(&mut input);
            spool.append(&rec).expect("a small record is taken");
            written.push(rec);
        }
        let commit = u64::from(input.byte()) % (written.len() as u64 + 1);
        if commit > 0 {
            spool.commit(commit).expect("a written sequence commits");
        }
        spool.flush().expect("the spool flushes");
        drop(spool);
        damage_segments(&dir, &mut input);
    }
    let mut spool = Spool::open(&dir, opts.clone())
        .unwrap_or_else(|e| panic!("damaged segments stopped the spool from opening: {e}"));
    let mut last = spool.committed();
    loop {
        let batch = spool.peek(8).expect("reading skips damage");
        let Some((newest, _)) = batch.last() else {
            break;
        };
        for (seq, rec) in &batch {
            assert!(*seq > last, "sequence {seq} read after {last}");
            last = *seq;
            if let Some(original) = usize::try_from(*seq - 1).ok().and_then(|i| written.get(i)) {
                assert_eq!(rec, original, "record {seq} read back differs");
            }
        }
        let newest = *newest;
        spool.commit(newest).expect("a read sequence commits");
    }
    let fresh = SpoolRecord {
        topic: "persistent://arc/events/conversation".into(),
        key: Some("user".into()),
        subject: None,
        message_id: "msg-after-damage".into(),
        event_time_ms: 1,
        payload: b"{}".to_vec(),
    };
    let seq = spool
        .append(&fresh)
        .expect("a damaged spool still takes records");
    assert!(
        seq > last,
        "sequence {seq} handed out after {last} was read"
    );
    spool.flush().expect("the spool flushes");
    drop(spool);
    let mut spool = Spool::open(&dir, opts).expect("the spool reopens");
    let back = spool.peek(8).expect("the spool reads");
    assert_eq!(back, vec![(seq, fresh)], "after a restart");
}

/// Flips bits in and truncates the segment files of `dir`, as the input says.
fn damage_segments(dir: &Path, input: &mut Input<'_>) {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the spool folder lists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segments.sort();
    if segments.is_empty() {
        return;
    }
    while !input.is_empty() {
        let step = input.byte();
        let path = &segments[usize::from(input.byte()) % segments.len()];
        let mut bytes = std::fs::read(path).expect("a segment reads");
        let at = usize::from(input.u16());
        if step.is_multiple_of(2) {
            let mask = input.byte();
            let at = at % bytes.len().max(1);
            if let Some(b) = bytes.get_mut(at) {
                *b ^= mask;
            }
        } else {
            bytes.truncate(at % (bytes.len() + 1));
        }
        std::fs::write(path, bytes).expect("a segment writes");
    }
}

/// An event's JSON. First byte: which decoder (the NATS subjects, then the
/// Pulsar topics, then the envelope's own tagged form), modulo their count;
/// the rest is the JSON.
///
/// Promises: a bad payload is an error; what is read has every accessor
/// answer, and writes JSON that reads back and writes the same again.
pub fn events_json(data: &[u8]) {
    let mut input = Input(data);
    let which = usize::from(input.byte());
    let subjects: Vec<&str> = Event::NATS_SUBJECTS
        .iter()
        .chain(&Event::NATS_EXTENSION_SUBJECTS)
        .copied()
        .collect();
    let decoders = subjects.len() + PulsarTopic::ALL.len() + 1;
    let which = which % decoders;
    let decode = |bytes: &[u8]| -> Result<Event, String> {
        if let Some(subject) = subjects.get(which) {
            Event::from_nats(subject, bytes).map_err(|e| e.to_string())
        } else if let Some(topic) = PulsarTopic::ALL.get(which - subjects.len()) {
            Event::from_pulsar(*topic, bytes).map_err(|e| e.to_string())
        } else {
            serde_json::from_slice::<Event>(bytes).map_err(|e| e.to_string())
        }
    };
    let encode = |e: &Event| {
        if which < decoders - 1 {
            e.to_json()
        } else {
            serde_json::to_vec(e)
        }
        .expect("an event serializes")
    };
    let Ok(event) = decode(input.rest()) else {
        return;
    };
    let _ = (
        event.kind(),
        event.nats_subject(),
        event.pulsar_topic(),
        event.partition_key(),
        event.message_id(),
        event.trace_id(),
        event.timestamp(),
        event.session_id(),
    );
    let json = encode(&event);
    let again = decode(&json).unwrap_or_else(|e| {
        panic!(
            "our own JSON of a {} does not read back: {e}\n{}",
            event.kind(),
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(
        String::from_utf8_lossy(&encode(&again)),
        String::from_utf8_lossy(&json),
        "written again differently"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use livekit_api::access_token::TokenVerifier;

    #[test]
    fn base64_and_hmac_make_tokens_livekit_verifies() {
        for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", &[0xfb, 0xff, 0xfe]] {
            let std = base64::engine::general_purpose::STANDARD.encode(bytes);
            let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            assert_eq!((base64(bytes, false), base64(bytes, true)), (std, url));
        }
        let exp = chrono::Utc::now().timestamp() + 600;
        let claims =
            format!(r#"{{"iss":"{LK_KEY}","sub":"u","exp":{exp},"video":{{"roomList":true}}}}"#);
        let claims = TokenVerifier::with_api_key(LK_KEY, LK_SECRET)
            .verify(&jwt(claims.as_bytes(), LK_SECRET))
            .expect("verifies");
        assert!(claims.video.room_list);
    }

    /// Every entry over its seeds and the findings kept beside them
    /// (`fuzz/seeds/<target>/`), as `scripts/fuzz.sh` starts the fuzzer.
    #[test]
    fn the_entries_take_their_seeds_and_past_findings() {
        type Entry = fn(&[u8]);
        let entries: [(&str, Entry); 7] = [
            ("webhook", webhook),
            ("access_token", access_token),
            ("config", config),
            ("wav", wav),
            ("ws_messages", ws_messages),
            ("spool_segment", spool_segment),
            ("events_json", events_json),
        ];
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
        for (target, entry) in entries {
            let dir = seeds.join(target);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            assert!(!files.is_empty(), "no seeds in {}", dir.display());
            for file in files {
                eprintln!("{}", file.display());
                entry(&std::fs::read(&file).unwrap());
            }
        }
    }
}
