//! The `ws_messages` target: `/ws` messages and frames through the socket's parser.

use super::Input;
use crate::transports::ws::{parse_client_messages, ClientMessage};

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
