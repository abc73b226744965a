//! What `converse` reports at the end: each turn's transcript, reply and
//! per-stage timings, from the turn's conversation-v1 events.

use std::fmt;
use std::path::PathBuf;

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
