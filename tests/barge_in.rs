//! Barge-in with real audio: the real Silero VAD, whisper and piper, user
//! speech made by espeak-ng and pushed at microphone pace, the agent's audio
//! played out at real time (`session.barge_in.paced_playout`). The brain is
//! the placeholder (it repeats the question, so a long question gives a long,
//! deterministic reply: this test is about the audio, tests/brain.rs covers
//! the model).
//!
//! - noise over the agent: 300 ms of white noise is not speech to Silero (it
//!   does not fire on it, so the agent does not even pause); a hum ("hmm",
//!   espeak-ng) is: the agent's audio pauses, whisper hears no words (a
//!   filler) and the reply resumes where it paused. All of it is played, the
//!   turn is neither interrupted nor counted;
//! - the user speaking over the agent pauses it at once, the words confirm
//!   the interruption: no frame of that reply is played after the flush, the
//!   turn ends interrupted, the history (the next prompt's previous turns)
//!   and the conversation record hold only the words that were heard, and
//!   session-metrics counts one interruption.

use arc_actors::audio::AudioFrame;
use arc_actors::events::Event;
use arc_actors::pcm16::Pcm16Frame;
use arc_actors::session::{AudioOutput, EndReason, SessionHandle, SessionNotice};
use arc_actors::synthetic::silence_frames;
use arc_agent::config::Config;
use arc_agent::LocalEngines;
use arc_testkit::utterance::espeak;
use arc_testkit::{find_event, speech_env, InProcessNode};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
enum Rec {
    Play { turn: u64, ms: u64 },
    Flush,
    Notice(SessionNotice),
}

/// The transport's output: everything it got, in order, with the time.
#[derive(Default)]
struct Output {
    log: Mutex<Vec<(Instant, Rec)>>,
}

impl Output {
    fn push(&self, r: Rec) {
        self.log.lock().unwrap().push((Instant::now(), r));
    }
    fn log(&self) -> Vec<(Instant, Rec)> {
        self.log.lock().unwrap().clone()
    }
    fn played_ms(&self, turn: u64) -> u64 {
        self.log()
            .iter()
            .map(|(_, r)| match r {
                Rec::Play { turn: t, ms } if *t == turn => *ms,
                _ => 0,
            })
            .sum()
    }
    fn sentences(&self, turn: u64) -> Vec<String> {
        self.log()
            .into_iter()
            .filter_map(|(_, r)| match r {
                Rec::Notice(SessionNotice::AgentSentence { turn: t, text }) if t == turn => {
                    Some(text)
                }
                _ => None,
            })
            .collect()
    }
    fn find(&self, pred: impl Fn(&Rec) -> bool) -> Option<usize> {
        self.log().iter().position(|(_, r)| pred(r))
    }
}

impl AudioOutput for Output {
    fn play(&self, turn: u64, frame: Pcm16Frame) {
        self.push(Rec::Play {
            turn,
            ms: frame.duration_ms(),
        });
    }
    fn flush(&self) {
        self.push(Rec::Flush);
    }
    fn notice(&self, notice: SessionNotice) {
        self.push(Rec::Notice(notice));
    }
}

/// What the user says (espeak-ng at 160 words a minute).
fn user(text: &str) -> Vec<AudioFrame> {
    espeak(text).speed(160).frames()
}

/// White noise, no words (a deterministic generator: the same burst every run).
fn noise(ms: u64) -> Vec<AudioFrame> {
    let mut x: u32 = 0x2545_f491;
    (0..ms / 20)
        .map(|_| {
            let samples = (0..320)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x as f32 / u32::MAX as f32 - 0.5) * 0.6
                })
                .collect();
            AudioFrame::new(16_000, samples)
        })
        .collect()
}

/// The user's microphone: one 20 ms frame every 20 ms (none lost when a
/// loaded machine makes the session fall behind: the test is about what the
/// session does with the sound, not about dropped frames).
async fn say(h: &SessionHandle, frames: Vec<AudioFrame>) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for f in frames {
        tick.tick().await;
        h.push_audio_wait(f).await;
    }
}

/// Silence at microphone pace until `pred` holds (or `timeout`).
async fn listen_until(
    h: &SessionHandle,
    out: &Output,
    timeout: Duration,
    pred: impl Fn(&Output) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if pred(out) {
            return true;
        }
        say(h, silence_frames(100)).await;
    }
    pred(out)
}

fn turn_done(turn: u64) -> impl Fn(&Rec) -> bool {
    move |r| matches!(r, Rec::Notice(SessionNotice::AgentTurnDone { turn: t, .. }) if *t == turn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_resumes_the_reply_and_speech_interrupts_it_leaving_only_what_was_heard() {
    let cfg = Config::load_with(None, std::env::vars().chain(speech_env())).unwrap();
    let engines = LocalEngines::load(&cfg)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut node = InProcessNode::builder()
        .provider(Arc::new(engines))
        .max_sessions(10)
        .sink_capacity(100_000)
        .start()
        .await;
    let out = Arc::new(Output::default());
    let sc = cfg.session_config();
    assert!(sc.barge_in.paced_playout && sc.barge_in.false_interruption_ms > 0);
    let h = node.start_session(sc.clone(), out.clone()).await.unwrap();
    let mut events = Vec::new();

    // 1. A long question; a noise burst while the agent answers.
    say(&h, silence_frames(300)).await;
    say(
        &h,
        user(
            "Please tell me about the quick brown fox that jumps over the lazy dog near the river.",
        ),
    )
    .await;
    assert!(
        listen_until(&h, &out, Duration::from_secs(30), |o| o.played_ms(1)
            >= 1500)
        .await,
        "the agent did not start speaking: {:?}",
        out.log()
    );
    let noise_at = out.log().len();
    say(&h, noise(300)).await;
    say(&h, silence_frames(600)).await;
    assert!(
        !out.log()[noise_at..]
            .iter()
            .any(|(_, r)| matches!(r, Rec::Flush)),
        "white noise paused the agent"
    );
    let noise_at = out.log().len();
    say(&h, user("hmm")).await;
    assert!(
        listen_until(&h, &out, Duration::from_secs(60), |o| o
            .find(turn_done(1))
            .is_some())
        .await,
        "turn 1 did not end: {:?}",
        out.log()
    );
    let log = out.log();
    let after_noise = &log[noise_at..];
    let paused = after_noise
        .iter()
        .position(|(_, r)| matches!(r, Rec::Flush))
        .expect("the hum paused the agent's audio (a flush)");
    assert!(
        after_noise[paused..]
            .iter()
            .any(|(_, r)| matches!(r, Rec::Play { turn: 1, .. })),
        "the reply did not resume after the pause: {:?}",
        after_noise
            .iter()
            .filter(|(_, r)| !matches!(r, Rec::Play { .. }))
            .collect::<Vec<_>>()
    );
    assert!(
        !log.iter()
            .any(|(_, r)| matches!(r, Rec::Notice(SessionNotice::BargeIn { .. }))),
        "noise counted as a barge-in"
    );
    assert!(log.iter().any(|(_, r)| matches!(
        r,
        Rec::Notice(SessionNotice::AgentTurnDone {
            turn: 1,
            interrupted: false
        })
    )));
    // All of the reply was played: every millisecond piper made for it.
    events.extend(node.drain());
    let synthesized: u64 = events
        .iter()
        .filter_map(|e| match &**e {
            Event::TtsCompleted(c) => Some(c.duration_ms),
            _ => None,
        })
        .sum();
    let full_reply = out.sentences(1).join(" ");
    println!(
        "turn 1: {full_reply:?}, {synthesized} ms synthesized, {} ms played",
        out.played_ms(1)
    );
    assert!(synthesized > 3000, "the reply is long");
    assert_eq!(out.played_ms(1), synthesized, "the whole reply was played");

    // 2. Another long question; the user talks over the answer.
    say(
        &h,
        user("Now tell me a story about a little red boat sailing across the wide blue sea."),
    )
    .await;
    let turn2 = loop {
        // The user's turns are numbered by utterance (the noise took one).
        let t = out.log().iter().find_map(|(_, r)| match r {
            Rec::Play { turn, .. } if *turn > 1 => Some(*turn),
            _ => None,
        });
        if let Some(t) = t {
            break t;
        }
        say(&h, silence_frames(100)).await;
    };
    assert!(
        listen_until(&h, &out, Duration::from_secs(30), |o| o.played_ms(turn2)
            >= 1500)
        .await,
        "the agent did not speak"
    );
    let speech_at = out.log().len();
    say(&h, user("Stop. Wait a moment please.")).await;
    assert!(
        listen_until(&h, &out, Duration::from_secs(30), |o| o
            .find(|r| matches!(r, Rec::Notice(SessionNotice::BargeIn { turn }) if *turn == turn2))
            .is_some())
        .await,
        "the speech did not interrupt: {:?}",
        &out.log()[speech_at..]
    );
    assert!(
        listen_until(&h, &out, Duration::from_secs(30), |o| o
            .find(turn_done(turn2 + 1))
            .is_some())
        .await,
        "the interrupting question was not answered"
    );
    let log = out.log();
    let flush = log[speech_at..]
        .iter()
        .position(|(_, r)| matches!(r, Rec::Flush))
        .map(|i| i + speech_at)
        .expect("a flush when the user spoke");
    // The flush (the pause) follows the user's speech start at once, with no
    // frame between, and no frame of the interrupted reply is played after it.
    let started = log[speech_at..flush]
        .iter()
        .rposition(|(_, r)| matches!(r, Rec::Notice(SessionNotice::SpeechStarted)))
        .map(|i| i + speech_at)
        .expect("speech started before the flush");
    assert!(
        !log[started..flush]
            .iter()
            .any(|(_, r)| matches!(r, Rec::Play { .. })),
        "frames were played between the VAD firing and the flush"
    );
    let late: Vec<_> = log[flush..]
        .iter()
        .filter(|(_, r)| matches!(r, Rec::Play { turn, .. } if *turn == turn2))
        .collect();
    assert!(
        late.is_empty(),
        "{} frames of the cancelled turn played after the flush",
        late.len()
    );
    assert!(log.iter().any(|(_, r)| matches!(
        r,
        Rec::Notice(SessionNotice::AgentTurnDone { turn, interrupted: true }) if *turn == turn2
    )));
    println!(
        "turn {turn2}: flush {:.1} ms after the speech start notice",
        (log[flush].0 - log[started].0).as_secs_f64() * 1000.0
    );

    h.end(EndReason::UserLeft);
    h.wait().await;
    events.extend(node.drain());
    let full: Vec<String> = out.sentences(turn2);
    let full = full.join(" ");
    // The history: the prompt of the interrupting question holds turn 2's reply
    // as far as it was heard.
    let prompt = find_event(&events, |e| match e {
        Event::BrainRequest(r) if r.turn_index == turn2 + 1 => Some(r.clone()),
        _ => None,
    })
    .expect("the interrupting question's brain request");
    let heard = prompt
        .context
        .previous_turns
        .last()
        .map(|t| t.agent.clone())
        .unwrap_or_default();
    println!("turn {turn2}: full reply {full:?}, heard {heard:?}");
    assert!(!heard.is_empty(), "1.5 s of the reply were played");
    assert!(
        heard.len() < full.len(),
        "the history holds the whole reply"
    );
    assert!(
        full.starts_with(&heard),
        "{heard:?} is not what was said first"
    );
    // Turn 1 (resumed) is in the history whole.
    assert_eq!(prompt.context.previous_turns[0].agent, full_reply);
    // The conversation record says the same, and marks the interruption.
    let conv = find_event(&events, |e| match e {
        Event::Conversation(c) if c.conversation.turn_index == turn2 => Some(c.clone()),
        _ => None,
    })
    .expect("conversation-v1 of the interrupted turn");
    assert_eq!(conv.agent_response.text, heard);
    assert!(conv.metadata.interrupted);
    let metrics = find_event(&events, |e| match e {
        Event::SessionMetrics(m) => Some(m.clone()),
        _ => None,
    })
    .expect("session-metrics");
    // Interruptions: the barge-ins (the noise was none). "Stop." may end a
    // turn of its own whose answer starts before "Wait a moment" cuts it:
    // that is a second one.
    let barge_ins = out
        .log()
        .iter()
        .filter(|(_, r)| matches!(r, Rec::Notice(SessionNotice::BargeIn { .. })))
        .count() as u64;
    assert!(barge_ins >= 1);
    assert_eq!(
        metrics.user_experience.interruptions, barge_ins,
        "the noise is not an interruption"
    );
}
