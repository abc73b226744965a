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

mod live;
mod question;
mod report;
#[cfg(test)]
mod tests;

use crate::app::{App, AppError};
use crate::config::Config;
use crate::engines::{LocalEngines, NodeEngines};
use crate::transports::adapter::open_session;
use crate::transports::file::FileOutput;
use arc_actors::audio::{AudioFrame, FRAME_SAMPLES_16K, STT_SAMPLE_RATE};
use arc_actors::engine::VadEvent;
use arc_actors::events::Event;
use arc_actors::node::NodeError;
use arc_actors::session::{EndReason, SessionNotice};
use arc_actors::sink::{MirrorFilter, MirrorInput};
use arc_models::audio::{self, AudioError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use live::print_now;
pub use live::{play_hint, LiveEcho};
pub use question::{
    available_voices, check_output, question_path, speak_question, text_question, QuestionSpeaker,
    SpokenQuestion, TextQuestion, ESPEAK_VOICE,
};
pub use report::{ConverseReport, TurnReport};

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
    // The silence that surely ends a turn: the turn model may end it sooner.
    let silence_ms = cfg.engines.turn_silence_limit_ms();
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
        // that ends the turn (from the file, or added when it has too little).
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
        // Each utterance is one turn: when the file's own silence after it is
        // shorter than the turn surely takes to end (the silence limit behind
        // the turn model, which may end it sooner), silence is added.
        let had_ms = until.saturating_sub(end) as u64 * 20;
        let want_ms = silence_ms + 300;
        if had_ms < want_ms {
            for f in arc_actors::synthetic::silence_frames(want_ms - had_ms) {
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
    // The report is made of the turns' conversation-v1 records, which the
    // Archiver writes once a turn's last part is in: a moment after its audio
    // is out. Hang up once each answered turn is on the record (or after a
    // few seconds), not before.
    let mut by_turn = BTreeMap::new();
    let answered = turns.iter().filter(|t| t.answered).count();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while by_turn.len() < answered {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) => {
                if let Event::Conversation(c) = &*ev {
                    by_turn.insert(c.conversation.turn_index, c.clone());
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    session.end(EndReason::UserLeft);
    let _ = tokio::time::timeout(Duration::from_secs(10), session.wait()).await;
    app.shutdown("converse finished").await;
    output.each_since(&mut shown, &mut show);
    if let Some(end) = echo.finish().filter(|_| opts.echo) {
        print_now(&end);
    }

    // Fill the turns from their conversation-v1 events (any that came late).
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
