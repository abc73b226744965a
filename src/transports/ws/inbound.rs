//! The microphone side of a socket: text control messages (`start` with the
//! rate, `stop`) and binary PCM16 at that rate, made into 16 kHz, 20 ms
//! frames by the transports' [`MicFramer`] and pushed to the session.

use super::protocol::Refusal;
use super::{MAX_AUDIO_MESSAGE_BYTES, MAX_TEXT_MESSAGE_BYTES};
use crate::transports::adapter::MicFramer;
use arc_actors::audio::AudioFrame;
use arc_actors::session::SessionHandle;
use serde_json::Value;

/// Client microphone rates accepted.
const INPUT_RATES: std::ops::RangeInclusive<u32> = 8_000..=192_000;

/// The microphone side: the rate of the last `start` and the framer.
pub(super) struct Inbound {
    framer: MicFramer,
}

/// What a text message asks for.
pub(super) enum Control {
    Started,
    Stop,
}

impl Inbound {
    pub(super) fn new() -> Self {
        Self {
            framer: MicFramer::new(None),
        }
    }

    /// The microphone rate of the last `start` (0 before one).
    pub(super) fn rate(&self) -> u32 {
        self.framer.rate()
    }

    pub(super) fn text(&mut self, text: &str) -> Result<Control, Refusal> {
        if text.len() > MAX_TEXT_MESSAGE_BYTES {
            return Err(Refusal::new(
                "message_too_large",
                format!(
                    "text message of {} bytes (at most {MAX_TEXT_MESSAGE_BYTES})",
                    text.len()
                ),
            ));
        }
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Refusal::new("invalid_json", format!("not JSON: {e}")))?;
        match v.get("type").and_then(Value::as_str) {
            Some("start") => {
                let rate = v
                    .get("sample_rate")
                    .and_then(Value::as_u64)
                    .and_then(|r| u32::try_from(r).ok())
                    .filter(|r| INPUT_RATES.contains(r))
                    .ok_or_else(|| {
                        Refusal::new(
                            "bad_sample_rate",
                            format!(
                                "start needs an integer sample_rate in {}..={} Hz",
                                INPUT_RATES.start(),
                                INPUT_RATES.end()
                            ),
                        )
                    })?;
                // A new stream: a fresh resampler, no partial frame.
                self.framer.reset();
                self.framer
                    .set_rate(rate)
                    .map_err(|e| Refusal::new("bad_sample_rate", e))?;
                Ok(Control::Started)
            }
            Some("stop") => Ok(Control::Stop),
            Some(other) => Err(Refusal::new(
                "unknown_type",
                format!("unknown message type {other:?} (start, stop)"),
            )),
            None => Err(Refusal::new(
                "unknown_type",
                "a message needs a string \"type\" (start, stop)",
            )),
        }
    }

    /// PCM16 in, 20 ms 16 kHz frames out (pushed to the session).
    pub(super) fn audio(&mut self, bytes: &[u8], session: &SessionHandle) -> Result<(), Refusal> {
        for frame in self.frames(bytes)? {
            session.push_audio(frame);
        }
        Ok(())
    }

    /// The whole 16 kHz frames a binary message completes.
    fn frames(&mut self, bytes: &[u8]) -> Result<Vec<AudioFrame>, Refusal> {
        let rate = self.framer.rate();
        if rate == 0 {
            return Err(Refusal::new(
                "not_started",
                "audio before {\"type\":\"start\",\"sample_rate\":N}",
            ));
        }
        if bytes.len() > MAX_AUDIO_MESSAGE_BYTES {
            return Err(Refusal::new(
                "message_too_large",
                format!(
                    "audio message of {} bytes (at most {MAX_AUDIO_MESSAGE_BYTES})",
                    bytes.len()
                ),
            ));
        }
        if !bytes.len().is_multiple_of(2) {
            return Err(Refusal::new(
                "odd_length",
                format!(
                    "audio message of {} bytes: PCM16 needs an even count",
                    bytes.len()
                ),
            ));
        }
        let samples: Vec<f32> = bytes
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
            .collect();
        self.framer
            .push(rate, &samples)
            .map_err(|e| Refusal::new("resample_failed", e))
    }
}

/// One message from a client, as the socket hands it over.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ClientMessage<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// A client's messages through the parser a socket runs, without a session
/// (what `crate::fuzzing` drives): per message, the 16 kHz frames it made
/// (none for a text message) or the code of its refusal.
pub(crate) fn parse_client_messages(
    msgs: &[ClientMessage<'_>],
) -> Vec<Result<Vec<AudioFrame>, &'static str>> {
    let mut inbound = Inbound::new();
    msgs.iter()
        .map(|m| {
            match *m {
                ClientMessage::Text(t) => inbound.text(t).map(|_| Vec::new()),
                ClientMessage::Binary(b) => inbound.frames(b),
            }
            .map_err(|r| r.code)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_are_checked() {
        let mut i = Inbound::new();
        assert_eq!(i.text("{").err().map(|r| r.code), Some("invalid_json"));
        assert_eq!(
            i.text(r#"{"type":"dance"}"#).err().map(|r| r.code),
            Some("unknown_type")
        );
        assert_eq!(i.text("[1]").err().map(|r| r.code), Some("unknown_type"));
        for bad in [
            r#"{"type":"start"}"#,
            r#"{"type":"start","sample_rate":0}"#,
            r#"{"type":"start","sample_rate":1000000}"#,
            r#"{"type":"start","sample_rate":"48000"}"#,
            r#"{"type":"start","sample_rate":44100.5}"#,
        ] {
            assert_eq!(
                i.text(bad).err().map(|r| r.code),
                Some("bad_sample_rate"),
                "{bad}"
            );
        }
        assert_eq!(i.rate(), 0, "no bad start took");
        assert!(matches!(
            i.text(r#"{"type":"start","sample_rate":48000}"#),
            Ok(Control::Started)
        ));
        assert_eq!(i.rate(), 48_000);
        assert!(matches!(i.text(r#"{"type":"stop"}"#), Ok(Control::Stop)));
        let long = format!(r#"{{"type":"start","pad":"{}"}}"#, "x".repeat(5000));
        assert_eq!(
            i.text(&long).err().map(|r| r.code),
            Some("message_too_large")
        );
    }
}
