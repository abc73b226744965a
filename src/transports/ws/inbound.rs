//! The microphone side of a socket: text control messages (`start` with the
//! rate, `stop`) and binary PCM16 at that rate, resampled to 16 kHz with a
//! stateful resampler and cut into 20 ms frames pushed to the session.

use super::protocol::Refusal;
use super::{MAX_AUDIO_MESSAGE_BYTES, MAX_TEXT_MESSAGE_BYTES};
use arc_actors::audio::{AudioFrame, FRAME_SAMPLES_16K, STT_SAMPLE_RATE};
use arc_actors::session::SessionHandle;
use arc_models::audio::StreamResampler;
use serde_json::Value;

/// Client microphone rates accepted.
const INPUT_RATES: std::ops::RangeInclusive<u32> = 8_000..=192_000;

/// The microphone side: rate, resampler and the partial 20 ms frame.
pub(super) struct Inbound {
    resampler: Option<StreamResampler>,
    /// The microphone rate of the last `start`.
    pub(super) rate: u32,
    pending: Vec<f32>,
    scratch: Vec<f32>,
}

/// What a text message asks for.
pub(super) enum Control {
    Started,
    Stop,
}

impl Inbound {
    pub(super) fn new() -> Self {
        Self {
            resampler: None,
            rate: 0,
            pending: Vec::with_capacity(FRAME_SAMPLES_16K * 2),
            scratch: Vec::new(),
        }
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
                let resampler = StreamResampler::new(rate, STT_SAMPLE_RATE)
                    .map_err(|e| Refusal::new("bad_sample_rate", e))?;
                self.resampler = Some(resampler);
                self.rate = rate;
                self.pending.clear();
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
        let Some(resampler) = self.resampler.as_mut() else {
            return Err(Refusal::new(
                "not_started",
                "audio before {\"type\":\"start\",\"sample_rate\":N}",
            ));
        };
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
        self.scratch.clear();
        resampler
            .push(&samples, &mut self.scratch)
            .map_err(|e| Refusal::new("resample_failed", e))?;
        self.pending.extend_from_slice(&self.scratch);
        let whole = self.pending.len() / FRAME_SAMPLES_16K * FRAME_SAMPLES_16K;
        for chunk in self.pending[..whole].chunks_exact(FRAME_SAMPLES_16K) {
            session.push_audio(AudioFrame::new(STT_SAMPLE_RATE, chunk.to_vec()));
        }
        self.pending.drain(..whole);
        Ok(())
    }
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
        assert!(i.resampler.is_none());
        assert!(matches!(
            i.text(r#"{"type":"start","sample_rate":48000}"#),
            Ok(Control::Started)
        ));
        assert_eq!(i.rate, 48_000);
        assert!(matches!(i.text(r#"{"type":"stop"}"#), Ok(Control::Stop)));
        let long = format!(r#"{{"type":"start","pad":"{}"}}"#, "x".repeat(5000));
        assert_eq!(
            i.text(&long).err().map(|r| r.code),
            Some("message_too_large")
        );
    }
}
