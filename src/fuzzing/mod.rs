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
//! | [`config`] | a TOML file and `ARC__*` / ecosystem variables through `Config::load_with` |
//! | [`wav`] | WAV bytes through `decode_wav` (converse, the file transport) |
//! | [`ws_messages`] | `/ws` control messages and binary PCM16 through the socket's parser |
//! | [`spool_segment`] | made-up, torn and bit-flipped segments through the spool's recovery and reads |
//! | [`events_json`] | every event type's JSON through `Event::from_nats` and `Event::from_pulsar` |
//!
//! The first byte of an input usually picks a mode (see each function); the
//! seeds of `fuzz/seeds/` start with it. One file per target; `signing.rs`
//! signs tokens and webhooks as LiveKit's key pair would.

mod access_token;
mod config;
mod events_json;
mod signing;
mod spool_segment;
mod wav;
mod webhook;
mod ws_messages;

pub use access_token::access_token;
pub use config::config;
pub use events_json::events_json;
pub use spool_segment::spool_segment;
pub use wav::wav;
pub use webhook::webhook;
pub use ws_messages::ws_messages;

use crate::config::Config;
use std::path::PathBuf;
use std::sync::OnceLock;

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

#[cfg(test)]
mod tests {
    use super::signing::{base64, jwt};
    use super::*;
    use base64::Engine;
    use livekit_api::access_token::TokenVerifier;
    use std::path::Path;

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
