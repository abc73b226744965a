//! Test speech made by espeak-ng: as a WAV file (padded with silence by sox
//! when asked), as 16 kHz samples, or as the 20 ms frames a session takes.

use crate::wav::{frames_of, load_16k};
use arc_actors::audio::AudioFrame;
use std::path::Path;
use std::process::Command;

/// `text` as espeak-ng says it: 150 words a minute, espeak's default voice,
/// unless told otherwise.
pub fn espeak(text: &str) -> Espeak {
    Espeak {
        text: text.to_string(),
        voice: None,
        speed: 150,
    }
}

/// An utterance to make with espeak-ng (see [`espeak`]).
#[derive(Debug, Clone)]
pub struct Espeak {
    text: String,
    voice: Option<String>,
    speed: u32,
}

impl Espeak {
    /// Words per minute.
    pub fn speed(mut self, wpm: u32) -> Self {
        self.speed = wpm;
        self
    }

    /// An espeak-ng voice (e.g. "en-us").
    pub fn voice(mut self, voice: &str) -> Self {
        self.voice = Some(voice.to_string());
        self
    }

    /// Writes the speech to `path` (espeak's own 22.05 kHz mono WAV).
    pub fn wav(&self, path: &Path) {
        let mut cmd = Command::new("espeak-ng");
        if let Some(v) = &self.voice {
            cmd.args(["-v", v]);
        }
        let status = cmd
            .args(["-s", &self.speed.to_string(), "-w"])
            .arg(path)
            .arg(&self.text)
            .status()
            .expect("espeak-ng must be installed (scripts/setup-test.sh installs it)");
        assert!(status.success(), "espeak-ng failed: {status}");
    }

    /// Writes the speech to `path` with `lead_s` seconds of silence before
    /// and `trail_s` after (sox pads it), e.g. for a browser's fake microphone.
    pub fn padded_wav(&self, path: &Path, lead_s: f32, trail_s: f32) {
        let raw = path.with_extension("raw.wav");
        self.wav(&raw);
        let status = Command::new("sox")
            .arg(&raw)
            .arg(path)
            .args(["pad", &lead_s.to_string(), &trail_s.to_string()])
            .status()
            .expect("sox must be installed (scripts/setup-test.sh installs it)");
        assert!(status.success(), "sox failed");
        let _ = std::fs::remove_file(raw);
    }

    /// The speech at 16 kHz (through the crate's decoder and resampler).
    pub fn samples_16k(&self) -> Vec<f32> {
        let dir = tempfile::tempdir().expect("temp dir");
        let wav = dir.path().join("utterance.wav");
        self.wav(&wav);
        load_16k(&wav)
    }

    /// The speech as the 20 ms, 16 kHz frames a session takes.
    pub fn frames(&self) -> Vec<AudioFrame> {
        let dir = tempfile::tempdir().expect("temp dir");
        let wav = dir.path().join("utterance.wav");
        self.wav(&wav);
        frames_of(&wav)
    }
}
