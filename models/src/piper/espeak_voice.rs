//! [`EspeakVoice`]: espeak-ng's own (formant) voice, synthesized in this
//! process by the same library piper phonemizes with: no `espeak-ng`
//! command needed. A second, clearly different voice beside piper's (a demo
//! question, a test caller).

use super::error::TtsLoadError;
use super::espeak::{init_espeak, synthesize, SynthFailure};
use std::path::Path;

/// Why [`EspeakVoice`] could not speak.
#[derive(Debug, thiserror::Error)]
pub enum EspeakSpeechError {
    #[error(transparent)]
    Load(#[from] TtsLoadError),
    #[error("espeak-ng has no voice {0:?} (`espeak-ng --voices` lists them; e.g. en-us, en-gb)")]
    UnknownVoice(String),
    #[error("espeak-ng could not speak: {0}")]
    Failed(String),
}

/// One espeak-ng voice at one speaking rate.
#[derive(Debug, Clone, PartialEq)]
pub struct EspeakVoice {
    voice: String,
    words_per_minute: u32,
}

/// Speech made by [`EspeakVoice::speak`]: mono samples in -1..1.
#[derive(Debug, Clone, PartialEq)]
pub struct EspeakSpeech {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl EspeakVoice {
    /// espeak-ng's voice `voice` at 150 words a minute, espeak-ng's data
    /// found as piper finds it (`espeak_data_dir`, else
    /// `$PIPER_ESPEAKNG_DATA_DIRECTORY`, else the usual install places).
    pub fn load(voice: &str, espeak_data_dir: Option<&Path>) -> Result<Self, EspeakSpeechError> {
        init_espeak(espeak_data_dir, "en-us").map_err(TtsLoadError::Espeak)?;
        let voice = Self {
            voice: voice.to_string(),
            words_per_minute: 150,
        };
        // An unknown voice fails here, not at the first sentence.
        voice.speak("")?;
        Ok(voice)
    }

    /// The same voice at `wpm` words a minute (espeak-ng takes 80 to 450).
    pub fn words_per_minute(mut self, wpm: u32) -> Self {
        self.words_per_minute = wpm;
        self
    }

    /// The espeak-ng voice name.
    pub fn name(&self) -> &str {
        &self.voice
    }

    /// `text` spoken (blocking: call it off the async runtime for long texts).
    pub fn speak(&self, text: &str) -> Result<EspeakSpeech, EspeakSpeechError> {
        let (samples, sample_rate) =
            synthesize(text, &self.voice, self.words_per_minute).map_err(|e| match e {
                SynthFailure::NoVoice => EspeakSpeechError::UnknownVoice(self.voice.clone()),
                SynthFailure::Failed(m) => EspeakSpeechError::Failed(m),
            })?;
        Ok(EspeakSpeech {
            samples,
            sample_rate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(s: &[f32]) -> f32 {
        (s.iter().map(|x| x * x).sum::<f32>() / s.len().max(1) as f32).sqrt()
    }

    #[test]
    fn espeak_speaks_a_sentence_in_process_and_phonemizing_still_works() {
        let voice = EspeakVoice::load("en-us", None).expect("espeak-ng-data is installed");
        let sentence = "Hello there, how are you? Fine.";
        let before = super::super::espeak::phonemize(sentence, "en-us").unwrap();
        let speech = voice.speak("What is the capital of France?").unwrap();
        assert_eq!(speech.sample_rate, 22_050);
        let secs = speech.samples.len() as f32 / speech.sample_rate as f32;
        assert!((1.0..5.0).contains(&secs), "{secs} s");
        assert!(rms(&speech.samples) > 0.01, "silent");
        assert!(speech.samples.iter().all(|s| (-1.0..=1.0).contains(s)));
        // Slower speech is longer.
        let slow = voice
            .clone()
            .words_per_minute(100)
            .speak("What is the capital of France?");
        assert!(slow.unwrap().samples.len() > speech.samples.len());
        // A language picks a voice too, as with the espeak-ng command.
        let gb = EspeakVoice::load("en-gb", None).unwrap();
        assert!(rms(&gb.speak("Good morning.").unwrap().samples) > 0.01);
        // piper's phonemizer shares the library: it is unharmed.
        let after = super::super::espeak::phonemize(sentence, "en-us").unwrap();
        assert_eq!(before, after);
        assert!(after.concat().starts_with("həlˈoʊ"), "{after:?}");
    }

    #[test]
    fn an_unknown_espeak_voice_is_named() {
        // (Not a name like "no-such-voice": as a language, that is Norwegian.)
        let err = EspeakVoice::load("zz-nope", None).unwrap_err();
        assert!(matches!(err, EspeakSpeechError::UnknownVoice(ref v) if v == "zz-nope"));
        assert!(err.to_string().contains("zz-nope"), "{err}");
    }
}
