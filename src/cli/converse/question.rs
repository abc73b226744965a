//! `--text` and `--voice`: a question spoken by ARC's own TTS (or espeak-ng's
//! voice, in process) into a WAV that is then the input; checked before any
//! model loads.

use super::ConverseError;
use crate::config::Config;
use crate::engines::{load_piper_voice, LocalEngines};
use arc_actors::engine::{CancellationToken, TtsEngine};
use arc_actors::pcm16::{to_f32, Pcm16Frame};
use arc_models::audio;
use arc_models::manifest::Manifest;
use arc_models::piper::EspeakVoice;
use std::fmt;
use std::path::{Path, PathBuf};

/// What `--voice` may name besides the manifest's piper voices: espeak-ng's
/// own voice (`espeak`, or `espeak:<espeak-ng voice>`).
pub const ESPEAK_VOICE: &str = "espeak";
/// The espeak-ng voice plain `espeak` means.
const ESPEAK_DEFAULT: &str = "en-us";

/// Who speaks a `--text` question.
#[derive(Debug, Clone)]
pub enum QuestionSpeaker {
    /// A piper voice of the models manifest (its name).
    Piper(String),
    /// espeak-ng's own voice, in process.
    Espeak(EspeakVoice),
}

impl QuestionSpeaker {
    /// The name `--voice` takes for this speaker.
    pub fn name(&self) -> String {
        match self {
            Self::Piper(name) => name.clone(),
            Self::Espeak(v) if v.name() == ESPEAK_DEFAULT => ESPEAK_VOICE.to_string(),
            Self::Espeak(v) => format!("{ESPEAK_VOICE}:{}", v.name()),
        }
    }
}

/// A `--text` question, checked before any model is loaded.
#[derive(Debug, Clone)]
pub struct TextQuestion {
    pub text: String,
    pub speaker: QuestionSpeaker,
    /// Where its WAV is written (then read as the input).
    pub path: PathBuf,
}

/// A `--text` question once spoken.
#[derive(Debug, Clone, PartialEq)]
pub struct SpokenQuestion {
    pub text: String,
    pub voice: String,
    pub path: PathBuf,
    pub duration_ms: u64,
}

impl fmt::Display for SpokenQuestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "question {:?} spoken by {} into {} ({:.1} s)",
            self.text,
            self.voice,
            self.path.display(),
            self.duration_ms as f64 / 1000.0
        )
    }
}

/// Checks, before any model is loaded, that `--out` names a file in a
/// folder that exists (the answer is written only at the end).
pub fn check_output(path: &Path) -> Result<(), ConverseError> {
    let bad = |reason: String| ConverseError::OutputPath {
        path: path.to_path_buf(),
        reason,
    };
    if path.is_dir() || path.file_name().is_none() {
        return Err(bad("it is a folder; give a WAV file name".into()));
    }
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(bad(format!(
            "the folder {} does not exist",
            folder.display()
        )));
    }
    Ok(())
}

/// Where the spoken `--text` question goes: beside the answer, named after
/// it (`answer.wav` → `answer.question.wav`).
pub fn question_path(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "answer".into());
    output.with_file_name(format!("{stem}.question.wav"))
}

/// The voices `--voice` takes: the manifest's piper voices, then espeak.
pub fn available_voices(manifest: &Manifest) -> Vec<String> {
    manifest
        .models
        .iter()
        .filter(|m| m.kind == "tts")
        .map(|m| m.name.clone())
        .chain([
            ESPEAK_VOICE.to_string(),
            format!("{ESPEAK_VOICE}:<espeak-ng voice, e.g. en-gb>"),
        ])
        .collect()
}

/// Checks a `--text` question and its `--voice` (default: the configured
/// TTS voice), before any model is loaded. espeak-ng's voice is set up here.
pub fn text_question(
    cfg: &Config,
    text: &str,
    voice: Option<&str>,
    output: &Path,
) -> Result<TextQuestion, ConverseError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ConverseError::EmptyText);
    }
    let manifest = Manifest::embedded().map_err(|e| ConverseError::Voice {
        voice: voice.unwrap_or(&cfg.engines.tts.voice).to_string(),
        message: format!("models manifest: {e}"),
    })?;
    let name = voice.map(str::trim).unwrap_or(&cfg.engines.tts.voice);
    let espeak = match name.split_once(':') {
        Some((ESPEAK_VOICE, v)) if !v.trim().is_empty() => Some(v.trim()),
        _ if name == ESPEAK_VOICE => Some(ESPEAK_DEFAULT),
        _ => None,
    };
    let speaker = if let Some(espeak) = espeak {
        let dir = &cfg.engines.tts.espeak_data_dir;
        let dir = (!dir.as_os_str().is_empty()).then_some(dir.as_path());
        QuestionSpeaker::Espeak(EspeakVoice::load(espeak, dir).map_err(|e| {
            ConverseError::Voice {
                voice: name.to_string(),
                message: e.to_string(),
            }
        })?)
    } else if manifest
        .models
        .iter()
        .any(|m| m.kind == "tts" && m.name == name)
    {
        QuestionSpeaker::Piper(name.to_string())
    } else {
        return Err(ConverseError::UnknownVoice {
            name: name.to_string(),
            available: available_voices(&manifest),
        });
    };
    Ok(TextQuestion {
        text: text.to_string(),
        speaker,
        path: question_path(output),
    })
}

/// Silence before the spoken question, as a caller would leave.
const QUESTION_LEAD_MS: u64 = 300;

/// Speaks `question` and writes its WAV: the configured piper voice is the
/// node's own (already loaded); another piper voice is loaded for it.
pub async fn speak_question(
    cfg: &Config,
    engines: &LocalEngines,
    question: &TextQuestion,
) -> Result<SpokenQuestion, ConverseError> {
    let voice = question.speaker.name();
    let failed = |message: String| ConverseError::Voice {
        voice: voice.clone(),
        message,
    };
    let (speech, rate) = match &question.speaker {
        QuestionSpeaker::Piper(name) => {
            let other;
            let tts = if *name == cfg.engines.tts.voice {
                engines.tts.as_ref()
            } else {
                other = load_piper_voice(cfg, name, engines.pool.clone())
                    .map_err(|e| failed(e.to_string()))?;
                &other
            };
            (
                piper_speech(tts, &question.text).await.map_err(failed)?,
                tts.sample_rate(),
            )
        }
        QuestionSpeaker::Espeak(espeak) => {
            let espeak = espeak.clone();
            let text = question.text.clone();
            let spoken = tokio::task::spawn_blocking(move || espeak.speak(&text))
                .await
                .map_err(|e| failed(e.to_string()))?
                .map_err(|e| failed(e.to_string()))?;
            (spoken.samples, spoken.sample_rate)
        }
    };
    if speech.is_empty() {
        return Err(failed(format!(
            "no speech came out for {:?}",
            question.text
        )));
    }
    let mut samples = vec![0.0; (u64::from(rate) * QUESTION_LEAD_MS / 1000) as usize];
    samples.extend_from_slice(&speech);
    audio::write_wav(&question.path, &samples, rate).map_err(|source| {
        ConverseError::QuestionOutput {
            path: question.path.clone(),
            source,
        }
    })?;
    Ok(SpokenQuestion {
        text: question.text.clone(),
        voice,
        path: question.path.clone(),
        duration_ms: samples.len() as u64 * 1000 / u64::from(rate.max(1)),
    })
}

/// `text` through a piper voice, all its chunks joined.
async fn piper_speech(tts: &dyn TtsEngine, text: &str) -> Result<Vec<f32>, String> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Pcm16Frame>(64);
    let collect = async {
        let mut samples = Vec::new();
        while let Some(frame) = rx.recv().await {
            samples.extend(frame.samples().iter().map(|&s| to_f32(s)));
        }
        samples
    };
    let (result, samples) =
        tokio::join!(tts.synthesize(text, tx, CancellationToken::new()), collect);
    result.map_err(|e| e.to_string())?;
    Ok(samples)
}
