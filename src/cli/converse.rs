//! `arc-agent converse --in question.wav --out answer.wav`: one conversation
//! with the real local models, through the same node and supervised session
//! tree as the server, with a file standing in for the room.
//!
//! `--text "question"` instead of `--in`: the question is spoken first, by
//! ARC's own piper voice (or `--voice`: another piper voice of the manifest,
//! or espeak-ng's own voice, in process) into `<out stem>.question.wav`,
//! which is then the input. What was heard and each reply sentence are
//! printed as they come; the full report and where the answer is follow.
//!
//! The file user speaks like a person on a call: it plays one utterance (and
//! the silence after it that ends the turn), then waits for the agent to
//! finish answering before it plays the next. Utterances are found with the
//! node's own VAD, so `--in` may hold several turns separated by silence. The
//! agent's audio is collected and written as one WAV; the transcript, replies
//! and per-stage timings come from the turn's conversation-v1 events.

use crate::app::{App, AppError};
use crate::config::Config;
use crate::engines::{load_piper_voice, LocalEngines, NodeEngines};
use crate::transports::adapter::open_session;
use crate::transports::file::FileOutput;
use arc_actors::audio::{AudioFrame, FRAME_SAMPLES_16K, STT_SAMPLE_RATE};
use arc_actors::engine::{CancellationToken, TtsEngine, VadEvent};
use arc_actors::events::Event;
use arc_actors::node::NodeError;
use arc_actors::session::{EndReason, SessionNotice};
use arc_actors::sink::{MirrorFilter, MirrorInput};
use arc_models::audio::{self, AudioError};
use arc_models::manifest::Manifest;
use arc_models::piper::EspeakVoice;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a conversation from a file could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ConverseError {
    #[error("cannot read --in {}: {source}", path.display())]
    Input { path: PathBuf, source: AudioError },
    #[error("--in {}: no speech found in {duration_ms} ms of audio", path.display())]
    NoSpeech { path: PathBuf, duration_ms: u64 },
    #[error("cannot write --out {}: {source}", path.display())]
    Output { path: PathBuf, source: AudioError },
    #[error("cannot write --out {}: {reason}", path.display())]
    OutputPath { path: PathBuf, reason: String },
    #[error("VAD failed on the input: {0}")]
    Vad(String),
    #[error(transparent)]
    App(#[from] AppError),
    #[error("the session did not start: {0}")]
    Session(#[from] NodeError),
    #[error("--text is empty: give the question to speak, e.g. --text \"What time is it?\"")]
    EmptyText,
    #[error("unknown --voice {name:?}; the voices are: {}", available.join(", "))]
    UnknownVoice {
        name: String,
        available: Vec<String>,
    },
    #[error("--voice {voice}: {message}")]
    Voice { voice: String, message: String },
    #[error("cannot write the spoken question to {}: {source}", path.display())]
    QuestionOutput { path: PathBuf, source: AudioError },
}

/// One user turn and the agent's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TurnReport {
    pub turn: u64,
    /// Where the utterance is in the input file.
    pub start_ms: u64,
    pub end_ms: u64,
    pub user_text: String,
    pub stt_confidence: f64,
    pub reply_text: String,
    pub stt_ms: u64,
    pub llm_ms: u64,
    pub tts_ms: u64,
    /// End of user speech to the first agent audio (the SLA measure).
    pub voice_to_voice_ms: u64,
    pub reply_audio_ms: u64,
    pub stt_model: String,
    pub llm_model: String,
    pub tts_model: String,
    /// The agent finished answering this turn.
    pub answered: bool,
}

/// What `converse` did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConverseReport {
    pub input: PathBuf,
    pub output: PathBuf,
    pub input_ms: u64,
    pub turns: Vec<TurnReport>,
    pub answer_ms: u64,
    pub load_ms: u64,
    pub wall_ms: u64,
}

impl ConverseReport {
    /// Every reply, joined: what the answer WAV says.
    pub fn reply_text(&self) -> String {
        self.turns
            .iter()
            .map(|t| t.reply_text.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for ConverseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "input   {} ({:.1} s, {} turn(s)); models loaded in {} ms",
            self.input.display(),
            self.input_ms as f64 / 1000.0,
            self.turns.len(),
            self.load_ms
        )?;
        for t in &self.turns {
            writeln!(
                f,
                "\nturn {} [{:.2}–{:.2} s]",
                t.turn,
                t.start_ms as f64 / 1000.0,
                t.end_ms as f64 / 1000.0
            )?;
            writeln!(
                f,
                "  user:  {} (confidence {:.2})",
                t.user_text, t.stt_confidence
            )?;
            writeln!(f, "  agent: {}", t.reply_text)?;
            if !t.answered {
                writeln!(f, "  (no answer came within the turn timeout)")?;
            }
            writeln!(
                f,
                "  timings: stt {} ms ({}), llm {} ms ({}), tts first audio {} ms ({}), voice-to-voice {} ms, reply audio {:.1} s",
                t.stt_ms,
                t.stt_model,
                t.llm_ms,
                t.llm_model,
                t.tts_ms,
                t.tts_model,
                t.voice_to_voice_ms,
                t.reply_audio_ms as f64 / 1000.0
            )?;
        }
        write!(
            f,
            "\noutput  {} ({:.1} s of agent speech); wall time {:.1} s",
            self.output.display(),
            self.answer_ms as f64 / 1000.0,
            self.wall_ms as f64 / 1000.0
        )
    }
}

/// Utterances of `frames` as the VAD finds them: (first frame, end frame).
async fn utterances(
    engines: &LocalEngines,
    frames: &[AudioFrame],
) -> Result<Vec<(usize, usize)>, ConverseError> {
    use arc_actors::engine::VadEngine;
    let mut stream = engines.vad.stream();
    let frame_ms = (FRAME_SAMPLES_16K as u64 * 1000) / STT_SAMPLE_RATE as u64;
    let mut segments = Vec::new();
    let mut start = None;
    for f in frames {
        match stream
            .push(f)
            .await
            .map_err(|e| ConverseError::Vad(e.to_string()))?
        {
            Some(VadEvent::SpeechStart { at_ms }) => start = Some((at_ms / frame_ms) as usize),
            Some(VadEvent::SpeechEnd { at_ms }) => {
                if let Some(s) = start.take() {
                    segments.push((s, ((at_ms / frame_ms) as usize).min(frames.len())));
                }
            }
            None => {}
        }
    }
    if let Some(s) = start {
        segments.push((s, frames.len()));
    }
    Ok(segments)
}

/// Options of one `converse` run.
#[derive(Debug, Clone)]
pub struct ConverseOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    /// Longest wait for the agent to answer one turn.
    pub turn_timeout: Duration,
    /// Print what was heard and each reply sentence on stdout as they come.
    pub echo: bool,
}

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
    let (tx, mut rx) = tokio::sync::mpsc::channel::<AudioFrame>(64);
    let collect = async {
        let mut samples = Vec::new();
        while let Some(frame) = rx.recv().await {
            samples.extend_from_slice(&frame.samples);
        }
        samples
    };
    let (result, samples) =
        tokio::join!(tts.synthesize(text, tx, CancellationToken::new()), collect);
    result.map_err(|e| e.to_string())?;
    Ok(samples)
}

/// What `converse` prints while the conversation runs: what was heard, then
/// the reply on one line, sentence by sentence as the brain makes them.
#[derive(Debug, Default)]
pub struct LiveEcho {
    replying: bool,
}

impl LiveEcho {
    /// The text to print for `notice`, if any.
    pub fn text(&mut self, notice: &SessionNotice) -> Option<String> {
        match notice {
            SessionNotice::FinalTranscript { text, .. } => {
                let end = self.finish().unwrap_or_default();
                Some(format!("{end}heard: {text}\n"))
            }
            SessionNotice::AgentSentence { text, .. } => {
                let text = text.trim();
                if text.is_empty() {
                    return None;
                }
                let start = if self.replying { " " } else { "reply: " };
                self.replying = true;
                Some(format!("{start}{text}"))
            }
            SessionNotice::AgentTurnDone { interrupted, .. } => {
                let end = self.finish()?;
                Some(if *interrupted {
                    format!(" (interrupted){end}")
                } else {
                    end
                })
            }
            _ => None,
        }
    }

    /// Ends a reply line left open (no answer came in time).
    pub fn finish(&mut self) -> Option<String> {
        std::mem::take(&mut self.replying).then(|| "\n".to_string())
    }
}

fn print_now(text: &str) {
    let mut out = std::io::stdout().lock();
    // stdout closed (a pipe read by `head`): the conversation goes on.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// A path as a shell word: quoted when it holds anything but plain characters.
fn shell_word(path: &Path) -> String {
    let s = path.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A `file://` URL of `path` (made absolute), percent-encoded.
fn file_url(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut url = String::from("file://");
    for b in absolute.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// Where the answer is and how to play it.
pub fn play_hint(output: &Path) -> String {
    let word = shell_word(output);
    format!(
        "the answer is in {}; play it with one of\n  aplay {word}\n  ffplay -autoexit -nodisp {word}\n  \
         or open {} in a browser",
        output.display(),
        file_url(output)
    )
}

/// The user's side of the conversation, decoded and framed.
#[derive(Debug, Clone)]
pub struct UserAudio {
    pub decoded: audio::DecodedAudio,
    /// 20 ms frames at 16 kHz mono.
    pub frames: Vec<AudioFrame>,
}

/// Reads `--in` (before any model is loaded, so bad input fails at once).
pub fn read_input(path: &Path) -> Result<UserAudio, ConverseError> {
    let err = |source| ConverseError::Input {
        path: path.to_path_buf(),
        source,
    };
    let decoded = audio::read_wav(path).map_err(err)?;
    let frames = audio::to_stt_frames(&decoded).map_err(err)?;
    Ok(UserAudio { decoded, frames })
}

/// Runs one conversation from `input` and writes the agent's speech to `output`.
pub async fn run(
    mut cfg: Config,
    engines: LocalEngines,
    load_ms: u64,
    input: UserAudio,
    opts: &ConverseOptions,
) -> Result<ConverseReport, ConverseError> {
    let started = Instant::now();
    let UserAudio { decoded, frames } = input;
    let segments = utterances(&engines, &frames).await?;
    if segments.is_empty() {
        return Err(ConverseError::NoSpeech {
            path: opts.input.clone(),
            duration_ms: decoded.duration_ms,
        });
    }

    // A private HTTP port: converse must not collide with a running node.
    cfg.http.listen = "127.0.0.1:0".into();
    let silence_ms = cfg.engines.vad.silence_ms;
    let (tap, mut events) = MirrorInput::new("converse", MirrorFilter::All, 1 << 16);
    let pool = engines.pool.clone();
    let engines = NodeEngines::new(Arc::new(engines)).with_inference(pool);
    let app = App::start_with_engines(cfg, vec![tap], engines).await?;
    let output = Arc::new(FileOutput::default());
    let mut config = app.ctx.cfg.session_config();
    config.user_id = "converse-user".into();
    // A file is written, not played: no real-time playout.
    config.barge_in.paced_playout = false;
    config.room_name = opts
        .input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let session = match open_session(&app.ctx, output.clone(), config).await {
        Ok(s) => s,
        Err(e) => {
            app.shutdown("converse: session refused").await;
            return Err(e.into());
        }
    };

    let is_done = |n: &SessionNotice| matches!(n, SessionNotice::AgentTurnDone { .. });
    let mut echo = LiveEcho::default();
    let mut shown = 0usize;
    let mut show = |n: &SessionNotice| {
        if let Some(text) = echo.text(n).filter(|_| opts.echo) {
            print_now(&text);
        }
    };
    let mut pushed = 0usize;
    let mut turns = Vec::new();
    let mut answer = Vec::new();
    let mut answer_rate = app.ctx.cfg.session.tts.sample_rate;
    for (i, (start, end)) in segments.iter().copied().enumerate() {
        let before = output.count(is_done);
        // The user's audio up to the end of this utterance, then the silence
        // that ends the turn (from the file, or added when the file ends).
        let gap_end = segments
            .get(i + 1)
            .map(|(next, _)| *next)
            .unwrap_or(frames.len());
        let until = (end + (silence_ms as usize / 20) + 15).min(gap_end);
        let mut alive = true;
        for f in frames[pushed..until.max(pushed)].iter().cloned() {
            alive &= session.push_audio_wait(f).await;
        }
        pushed = until.max(pushed);
        if i + 1 == segments.len() {
            for f in arc_actors::synthetic::silence_frames(silence_ms + 300) {
                alive &= session.push_audio_wait(f).await;
            }
        }
        let answered = alive
            && output
                .wait_count(before, opts.turn_timeout, is_done, &mut shown, &mut show)
                .await;
        let (audio, rate) = output.take_audio();
        if rate > 0 {
            answer_rate = rate;
        }
        if !answer.is_empty() && !audio.is_empty() {
            answer.extend(std::iter::repeat_n(0.0, answer_rate as usize * 3 / 10));
        }
        answer.extend_from_slice(&audio);
        turns.push(TurnReport {
            turn: i as u64 + 1,
            start_ms: start as u64 * 20,
            end_ms: end as u64 * 20,
            answered,
            reply_audio_ms: audio.len() as u64 * 1000 / u64::from(answer_rate.max(1)),
            ..TurnReport::default()
        });
        if !alive {
            break;
        }
    }
    session.end(EndReason::UserLeft);
    let _ = tokio::time::timeout(Duration::from_secs(10), session.wait()).await;
    app.shutdown("converse finished").await;
    output.each_since(&mut shown, &mut show);
    if let Some(end) = echo.finish().filter(|_| opts.echo) {
        print_now(&end);
    }

    // Fill the turns from their conversation-v1 events.
    let mut by_turn = BTreeMap::new();
    while let Ok(ev) = events.try_recv() {
        if let Event::Conversation(c) = &*ev {
            by_turn.insert(c.conversation.turn_index, c.clone());
        }
    }
    for (report, c) in turns.iter_mut().zip(by_turn.values()) {
        report.user_text = c.user_message.text.clone();
        report.stt_confidence = c.user_message.stt_confidence;
        report.reply_text = c.agent_response.text.clone();
        report.stt_ms = c.performance.stt_latency_ms;
        report.llm_ms = c.performance.llm_latency_ms;
        report.tts_ms = c.performance.tts_latency_ms;
        report.voice_to_voice_ms = c.performance.total_latency_ms;
        report.stt_model = c.user_message.stt_model.clone();
        report.llm_model = c.agent_response.llm_model.clone();
        report.tts_model = c.agent_response.tts_model.clone();
    }

    write_answer(&opts.output, &answer, answer_rate)?;
    Ok(ConverseReport {
        input: opts.input.clone(),
        output: opts.output.clone(),
        input_ms: decoded.duration_ms,
        answer_ms: answer.len() as u64 * 1000 / u64::from(answer_rate.max(1)),
        turns,
        load_ms,
        wall_ms: started.elapsed().as_millis() as u64 + load_ms,
    })
}

fn write_answer(path: &Path, samples: &[f32], rate: u32) -> Result<(), ConverseError> {
    audio::write_wav(path, samples, rate).map_err(|source| ConverseError::Output {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::load_with(None, Vec::<(String, String)>::new()).expect("the embedded default loads")
    }

    #[test]
    fn the_spoken_question_goes_beside_the_answer() {
        let cases = [
            ("answer.wav", "answer.question.wav"),
            ("out/a.wav", "out/a.question.wav"),
            ("/tmp/x/my answer.WAV", "/tmp/x/my answer.question.wav"),
            ("noext", "noext.question.wav"),
        ];
        for (out, want) in cases {
            assert_eq!(question_path(Path::new(out)), PathBuf::from(want), "{out}");
        }
    }

    #[test]
    fn text_questions_are_checked_before_any_model_is_loaded() {
        let cfg = cfg();
        let out = Path::new("answer.wav");
        let q = text_question(&cfg, "  What time is it? ", None, out).unwrap();
        assert_eq!(q.text, "What time is it?");
        assert_eq!(q.path, PathBuf::from("answer.question.wav"));
        // Default: the configured TTS voice, a piper voice of the manifest.
        assert!(
            matches!(&q.speaker, QuestionSpeaker::Piper(v) if *v == cfg.engines.tts.voice),
            "{:?}",
            q.speaker
        );
        let named = text_question(&cfg, "Hi", Some("piper-en_US-joe-medium"), out).unwrap();
        assert_eq!(named.speaker.name(), "piper-en_US-joe-medium");

        assert!(matches!(
            text_question(&cfg, " \n ", None, out),
            Err(ConverseError::EmptyText)
        ));
        let err = text_question(&cfg, "Hi", Some("nobody"), out).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("\"nobody\"")
                && msg.contains("piper-en_US-joe-medium")
                && msg.contains("espeak"),
            "{msg}"
        );
        // A non-tts model of the manifest is no voice.
        assert!(matches!(
            text_question(&cfg, "Hi", Some("silero-vad"), out),
            Err(ConverseError::UnknownVoice { .. })
        ));
    }

    #[test]
    fn espeak_voices_are_named_and_checked() {
        let cfg = cfg();
        let out = Path::new("answer.wav");
        let q = text_question(&cfg, "Hi", Some("espeak"), out).unwrap();
        assert!(matches!(&q.speaker, QuestionSpeaker::Espeak(v) if v.name() == "en-us"));
        assert_eq!(q.speaker.name(), "espeak");
        let gb = text_question(&cfg, "Hi", Some("espeak:en-gb"), out).unwrap();
        assert_eq!(gb.speaker.name(), "espeak:en-gb");
        let err = text_question(&cfg, "Hi", Some("espeak:zz-nope"), out).unwrap_err();
        assert!(err.to_string().contains("zz-nope"), "{err}");
        // `espeak:` with no voice is not a voice.
        assert!(matches!(
            text_question(&cfg, "Hi", Some("espeak:"), out),
            Err(ConverseError::UnknownVoice { .. })
        ));
    }

    #[test]
    fn the_live_echo_prints_what_was_heard_then_the_reply_on_one_line() {
        let mut echo = LiveEcho::default();
        let mut out = String::new();
        let notices = [
            SessionNotice::SpeechStarted,
            SessionNotice::PartialTranscript {
                turn: 1,
                text: "hello".into(),
            },
            SessionNotice::FinalTranscript {
                turn: 1,
                text: "Hello there.".into(),
            },
            SessionNotice::AgentSentence {
                turn: 1,
                text: "Hi!".into(),
            },
            SessionNotice::AgentSentence {
                turn: 1,
                text: " How can I help? ".into(),
            },
            SessionNotice::AgentTurnDone {
                turn: 1,
                interrupted: false,
            },
            SessionNotice::FinalTranscript {
                turn: 2,
                text: "Tell me a joke.".into(),
            },
            SessionNotice::AgentSentence {
                turn: 2,
                text: "Why did".into(),
            },
            SessionNotice::AgentTurnDone {
                turn: 2,
                interrupted: true,
            },
            // A turn with no reply prints nothing more.
            SessionNotice::AgentTurnDone {
                turn: 3,
                interrupted: false,
            },
        ];
        for n in &notices {
            out.extend(echo.text(n));
        }
        assert_eq!(
            out,
            "heard: Hello there.\nreply: Hi! How can I help?\n\
             heard: Tell me a joke.\nreply: Why did (interrupted)\n"
        );
        assert_eq!(echo.finish(), None);
        // A reply cut short by the end of the run is ended.
        echo.text(&SessionNotice::AgentSentence {
            turn: 4,
            text: "Well".into(),
        });
        assert_eq!(echo.finish().as_deref(), Some("\n"));
        // The echo never starts a line the report's parsers read.
        assert!(out
            .lines()
            .all(|l| !l.starts_with("user: ") && !l.starts_with("agent: ")));
    }

    #[test]
    fn the_play_hint_names_the_file_and_quotes_it_for_the_shell() {
        let hint = play_hint(Path::new("answer.wav"));
        assert!(hint.contains("aplay answer.wav"), "{hint}");
        assert!(
            hint.contains("ffplay -autoexit -nodisp answer.wav"),
            "{hint}"
        );
        assert!(hint.contains("file:///"), "{hint}");
        let odd = play_hint(Path::new("/tmp/it's my answer.wav"));
        assert!(
            odd.contains(r#"aplay '/tmp/it'\''s my answer.wav'"#),
            "{odd}"
        );
        assert!(
            odd.contains("file:///tmp/it%27s%20my%20answer.wav"),
            "{odd}"
        );
    }

    #[test]
    fn out_must_be_a_file_in_a_folder_that_exists() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_output(&dir.path().join("a.wav")).is_ok());
        assert!(check_output(Path::new("answer.wav")).is_ok());
        let err = check_output(&dir.path().join("nope/a.wav")).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        let err = check_output(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is a folder"), "{err}");
    }
}
