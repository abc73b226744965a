//! The turn-taking corpus and its runner, shared by the `turn_taking` bench
//! and the tests: utterances whose speaker pauses inside a sentence ("a
//! table for … two people") or only at its end, spoken by piper or espeak-ng,
//! played in real time to a session with the real engines; what the session
//! made of each (how many turns, when it decided, when it answered).

use crate::in_process::InProcessNode;
use crate::synthesis::synthesize;
use crate::utterance::espeak;
use arc_actors::audio::AudioFrame;
use arc_actors::engine::TtsEngine;
use arc_actors::events::Event;
use arc_actors::session::{EndReason, SessionConfig};
use arc_models::audio::resample;
use std::time::{Duration, Instant};

/// Sentences cut where people pause mid-thought: (before, after).
pub const INSIDE_PAUSES: &[(&str, &str)] = &[
    ("I'd like to book a table for", "two people tonight."),
    ("My phone number is", "five five five, one two three four."),
    ("I want a large pizza and", "a green salad, please."),
    ("Can you send the invoice to", "my office address?"),
    ("I need a flight from Boston to", "Chicago on Friday."),
    ("The order number is", "four seven two nine."),
];

/// Finished questions, no pause inside.
pub const COMPLETE: &[&str] = &[
    "What is the capital of France?",
    "How many days are in a week?",
    "Can you tell me a joke?",
    "What time is it in London?",
    "Please book me a taxi to the airport.",
    "Thanks, that is all I needed.",
];

const RATE: usize = 16_000;
const FRAME: usize = 320;
/// Frames at or above this RMS are speech when finding where speech ends.
const VOICED_RMS: f32 = 0.01;

/// Which synthetic voice spoke an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    Piper,
    Espeak,
}

impl Voice {
    pub fn label(self) -> &'static str {
        match self {
            Voice::Piper => "piper",
            Voice::Espeak => "espeak-ng",
        }
    }
}

/// One utterance of the corpus, at 16 kHz, with faint noise for silence.
#[derive(Debug, Clone)]
pub struct TurnItem {
    pub text: String,
    pub voice: Voice,
    pub samples: Vec<f32>,
    /// Sample where the speaker's last word ends.
    pub speech_end: usize,
    /// The pause inside the sentence (samples), if there is one.
    pub inside_pause: Option<(usize, usize)>,
}

impl TurnItem {
    pub fn pause_ms(&self) -> Option<u64> {
        self.inside_pause
            .map(|(a, b)| ((b - a) * 1000 / RATE) as u64)
    }
}

/// `text` in `voice` at 16 kHz, trimmed to its voiced part.
pub async fn speak<T: TtsEngine + ?Sized>(piper: &T, voice: Voice, text: &str) -> Vec<f32> {
    let samples = match voice {
        Voice::Piper => {
            let s = synthesize(piper, text, 64).await;
            s.result.as_ref().expect("piper speaks");
            resample(&s.samples(), s.sample_rate(), RATE as u32).expect("resampled")
        }
        Voice::Espeak => espeak(text).samples_16k(),
    };
    let voiced =
        |f: &[f32]| (f.iter().map(|x| x * x).sum::<f32>() / f.len() as f32).sqrt() >= VOICED_RMS;
    let frames: Vec<&[f32]> = samples.chunks(FRAME).collect();
    let first = frames.iter().position(|f| voiced(f)).unwrap_or(0);
    let last = frames.iter().rposition(|f| voiced(f)).unwrap_or(0);
    samples[first * FRAME..((last + 1) * FRAME).min(samples.len())].to_vec()
}

/// Deterministic faint noise (about -60 dBFS): a quiet room, not digital zero.
pub fn room(ms: u64, seed: &mut u64) -> Vec<f32> {
    (0..ms as usize * RATE / 1000)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((*seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.002
        })
        .collect()
}

/// Lead-in before the first word, and the room after the last (long enough
/// for the slowest rule to end the turn and the agent to answer).
const LEAD_MS: u64 = 300;
const TAIL_MS: u64 = 3000;

/// `before` + `pause_ms` of room + `after`.
pub async fn inside_pause_item<T: TtsEngine + ?Sized>(
    piper: &T,
    voice: Voice,
    (before, after): (&str, &str),
    pause_ms: u64,
    seed: &mut u64,
) -> TurnItem {
    let mut samples = room(LEAD_MS, seed);
    samples.extend(speak(piper, voice, before).await);
    let pause_start = samples.len();
    samples.extend(room(pause_ms, seed));
    let pause_end = samples.len();
    samples.extend(speak(piper, voice, after).await);
    let speech_end = samples.len();
    samples.extend(room(TAIL_MS, seed));
    TurnItem {
        text: format!("{before} … {after}"),
        voice,
        samples,
        speech_end,
        inside_pause: Some((pause_start, pause_end)),
    }
}

/// A finished sentence and the room after it.
pub async fn complete_item<T: TtsEngine + ?Sized>(
    piper: &T,
    voice: Voice,
    text: &str,
    seed: &mut u64,
) -> TurnItem {
    let mut samples = room(LEAD_MS, seed);
    samples.extend(speak(piper, voice, text).await);
    let speech_end = samples.len();
    samples.extend(room(TAIL_MS, seed));
    TurnItem {
        text: text.to_string(),
        voice,
        samples,
        speech_end,
        inside_pause: None,
    }
}

/// What a session made of one item.
#[derive(Debug, Clone)]
pub struct TurnRun {
    /// Final transcripts, one per user turn.
    pub heard: Vec<String>,
    /// A turn ended inside the sentence's pause (it became two turns).
    pub cut_off: bool,
    /// End of the last word → the turn decision (first turn; none if cut).
    pub decision_ms: Option<u64>,
    /// End of the last word → first agent audio (none if cut, or silent).
    pub first_audio_ms: Option<u64>,
    /// Where the time after the decision went (the turn's record): the
    /// endpoint → its transcript, the brain's first words to speak (what is
    /// left of the endpoint → first audio), their first audio chunk.
    pub stages: Option<Stages>,
}

/// The steps from the turn's end to its first audio, in ms.
#[derive(Debug, Clone, Copy)]
pub struct Stages {
    pub transcript_ms: u64,
    pub brain_ms: u64,
    pub tts_first_chunk_ms: u64,
}

/// Plays `item` in real time (20 ms frames at their pace, as a microphone)
/// to a new session of `node`, and waits for the agent's first answer.
pub async fn run_item(node: &mut InProcessNode, cfg: SessionConfig, item: &TurnItem) -> TurnRun {
    node.drain();
    let (session, out) = node.recorded_session(cfg).await.expect("session");
    let start = tokio::time::Instant::now();
    let mut eos = None;
    for (i, chunk) in item.samples.chunks(FRAME).enumerate() {
        tokio::time::sleep_until(start + Duration::from_millis(20 * i as u64)).await;
        let mut frame = chunk.to_vec();
        frame.resize(FRAME, 0.0);
        session
            .push_audio_wait(AudioFrame::new(RATE as u32, frame))
            .await;
        if eos.is_none() && (i + 1) * FRAME >= item.speech_end {
            eos = Some(Instant::now());
        }
    }
    // The agent is answering by now unless something is slow: a little more.
    let deadline = Instant::now() + Duration::from_secs(5);
    while out.first_played_at().is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = node
        .events_until(Duration::from_secs(15), |e| {
            matches!(e, Event::Conversation(_))
        })
        .await;
    session.end(EndReason::UserLeft);
    let _ = session.wait().await;
    let heard = out.heard();
    let cut_off = item.inside_pause.is_some() && heard.len() > 1;
    let eos = eos.expect("the item has speech");
    let first_audio_ms = out
        .first_played_at()
        .filter(|_| !cut_off)
        .map(|t| t.saturating_duration_since(eos).as_millis() as u64);
    let record = events.iter().find_map(|e| match &**e {
        Event::Conversation(c) if c.agent_response.tts_audio_duration_ms > 0 => {
            Some(c.performance.clone())
        }
        _ => None,
    });
    let total = record.as_ref().map(|p| p.total_latency_ms);
    let stages = record.filter(|_| !cut_off).map(|p| Stages {
        transcript_ms: p.stt_latency_ms,
        brain_ms: p
            .total_latency_ms
            .saturating_sub(p.stt_latency_ms + p.tts_latency_ms),
        tts_first_chunk_ms: p.tts_latency_ms,
    });
    let decision_ms = match (first_audio_ms, total) {
        (Some(first), Some(total)) => Some(first.saturating_sub(total)),
        _ => None,
    };
    TurnRun {
        heard,
        cut_off,
        decision_ms,
        first_audio_ms,
        stages,
    }
}
