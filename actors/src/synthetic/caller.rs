//! The simulated caller: plays a script into a session as a user would
//! (a loud tone for each line, silence between) and listens for the agent's
//! answers. The HTTP scripted-session API and the load generator drive
//! sessions with it; tests drive it with their own recording output.

use crate::audio::{AudioFrame, FRAME_SAMPLES_16K, STT_SAMPLE_RATE};
use crate::pcm16::Pcm16Frame;
use crate::session::{AudioOutput, SessionHandle, SessionNotice};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// What the simulated caller needs to hear of a session: how many agent
/// turns are done, and a wake-up whenever that may have changed.
pub trait CallerEar: Send + Sync {
    /// Agent turns finished so far (answered or interrupted).
    fn turns_done(&self) -> u64;
    /// Resolves at the next notice the session sends.
    fn changed(&self) -> Notified<'_>;
}

/// The output a simulated caller listens on: it counts the agent's finished
/// turns and lets the audio go (nobody plays it).
#[derive(Debug, Default)]
pub struct CallerOutput {
    turns_done: AtomicU64,
    changed: Notify,
}

impl AudioOutput for CallerOutput {
    fn play(&self, _turn: u64, _frame: Pcm16Frame) {}
    fn flush(&self) {}
    fn notice(&self, notice: SessionNotice) {
        if matches!(notice, SessionNotice::AgentTurnDone { .. }) {
            self.turns_done.fetch_add(1, Ordering::Relaxed);
        }
        self.changed.notify_waiters();
    }
}

impl CallerEar for CallerOutput {
    fn turns_done(&self) -> u64 {
        self.turns_done.load(Ordering::Relaxed)
    }
    fn changed(&self) -> Notified<'_> {
        self.changed.notified()
    }
}

/// How long the simulated caller takes to say `line` (ms).
fn speech_ms(line: &str) -> u64 {
    (200 + 40 * line.chars().count() as u64).min(5_000)
}

/// One 20 ms frame of "speech": a loud 200 Hz tone (whole periods in 20 ms,
/// so the frames join seamlessly).
fn speech_frame() -> AudioFrame {
    static FRAME: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    let frame = FRAME.get_or_init(|| {
        (0..FRAME_SAMPLES_16K)
            .map(|i| {
                let t = i as f32 / STT_SAMPLE_RATE as f32;
                0.3 * (2.0 * std::f32::consts::PI * 200.0 * t).sin()
            })
            .collect()
    });
    AudioFrame::new(STT_SAMPLE_RATE, frame.clone())
}

fn silent_frame() -> AudioFrame {
    AudioFrame::new(STT_SAMPLE_RATE, vec![0.0; FRAME_SAMPLES_16K])
}

/// 20 ms frames of "speech" (a loud tone) for roughly the time the line
/// would take to say.
pub fn speech_frames(line: &str) -> Vec<AudioFrame> {
    (0..speech_ms(line) / 20).map(|_| speech_frame()).collect()
}

/// `ms` of 20 ms silent frames.
pub fn silence_frames(ms: u64) -> Vec<AudioFrame> {
    (0..ms.div_ceil(20)).map(|_| silent_frame()).collect()
}

/// How many runs of [`speech_frames`] 16 kHz `audio` holds (runs of loud
/// 20 ms frames): test STT engines hear one word per run.
pub fn tone_bursts(audio: &[f32]) -> usize {
    let mut n = 0;
    let mut was_loud = false;
    for f in audio.chunks(FRAME_SAMPLES_16K) {
        let rms = (f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32).sqrt();
        let loud = rms > 0.02;
        if loud && !was_loud {
            n += 1;
        }
        was_loud = loud;
    }
    n
}

/// Play a script into a session as a user would: say a line, wait for the
/// agent's answer to finish, say the next. Returns how many answers came.
pub async fn run_script<O: CallerEar + ?Sized>(
    session: &SessionHandle,
    output: &O,
    lines: &[String],
    answer_timeout: Duration,
) -> usize {
    run_script_paced(session, output, lines, answer_timeout, false).await
}

/// Like [`run_script`]; with `realtime` the frames are pushed at the pace a
/// microphone makes them (one 20 ms frame every 20 ms), as a live transport does.
pub async fn run_script_paced<O: CallerEar + ?Sized>(
    session: &SessionHandle,
    output: &O,
    lines: &[String],
    answer_timeout: Duration,
    realtime: bool,
) -> usize {
    let mut answered = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for line in lines {
        // Each line starts its own clock: the ticks missed while the agent
        // answered must not come as a burst (that would push the whole line
        // at once, and the turn would end while the last reply still plays).
        tick.reset_immediately();
        let before = output.turns_done();
        // Made one at a time as they are said (a line's frames made up front
        // would be ~100 KB a caller, counted as the node's in a load run).
        let speech = speech_ms(line) / 20;
        for f in (0..5)
            .map(|_| silent_frame())
            .chain((0..speech).map(|_| speech_frame()))
            .chain((0..20).map(|_| silent_frame()))
        {
            if realtime {
                tick.tick().await;
            }
            if !session.push_audio_wait(f).await {
                return answered;
            }
        }
        let deadline = tokio::time::Instant::now() + answer_timeout;
        loop {
            let done = output.turns_done();
            if done > before {
                answered += 1;
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            let changed = output.changed();
            let _ = tokio::time::timeout_at(deadline, changed).await;
        }
    }
    answered
}
