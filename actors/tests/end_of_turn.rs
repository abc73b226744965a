//! The turn model's "complete" and the transcript's last word: a sure last
//! word ends the turn at the model's pause, an unsure one (a word cut short by
//! the pause, likely misheard: "Boston to …" as "Boston Tooth") only at
//! `uncertain_silence_ms`, so a speaker who goes on inside that time stays in
//! one turn. A near miss (a probability just under the threshold) ends there
//! too when the words are a finished sentence, and waits for the limit when
//! they are not. The turn engine here says one probability to every pause;
//! the STT hears one word per tone burst and says how sure it is of the
//! last one.

use arc_actors::engine::{
    CancellationToken, EngineError, Engines, SttEngine, TranscribeKind, Transcript, TurnEngine,
};
use arc_actors::node::{EngineProvider, SessionSpec};
use arc_actors::session::{EndReason, SessionConfig, SessionNotice};
use arc_actors::synthetic::{
    silence_frames, speech_frames, tone_bursts, EchoLlm, EnergyVad, ToneTts,
};
use arc_testkit::InProcessNode;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// Says the same probability of "complete" to every pause.
struct Says(f32);

#[async_trait]
impl TurnEngine for Says {
    fn name(&self) -> &str {
        "says"
    }
    async fn completion(&self, _audio: Arc<[f32]>) -> Result<f32, EngineError> {
        Ok(self.0)
    }
}

/// What the first tone burst is heard as.
const MISHEARD: &str = "I need a flight from Boston Tooth.";

/// One word per tone burst ("flight", "flight Chicago"); how sure it is of
/// the last word: `first_word` for a one-burst utterance, 0.95 after that.
struct WordStt {
    first_word: Option<f64>,
    first_text: &'static str,
}

#[async_trait]
impl SttEngine for WordStt {
    fn model(&self) -> &str {
        "word-stt"
    }
    async fn transcribe(
        &self,
        audio: Arc<[f32]>,
        _kind: TranscribeKind,
        _cancel: CancellationToken,
    ) -> Result<Transcript, EngineError> {
        let (text, last_word_confidence) = match tone_bursts(&audio) {
            0 => (String::new(), None),
            1 => (self.first_text.to_string(), self.first_word),
            _ => (
                "I need a flight from Boston to Chicago.".to_string(),
                Some(0.95),
            ),
        };
        Ok(Transcript {
            text,
            confidence: 0.9,
            last_word_confidence,
        })
    }
}

struct Provider {
    first_word: Option<f64>,
    first_text: &'static str,
    probability: f32,
}

impl EngineProvider for Provider {
    fn engines_for(&self, _spec: &SessionSpec) -> Result<Engines, EngineError> {
        Ok(Engines {
            vad: Arc::new(EnergyVad::default()),
            stt: Arc::new(WordStt {
                first_word: self.first_word,
                first_text: self.first_text,
            }),
            llm: Arc::new(EchoLlm::default()),
            tts: Arc::new(ToneTts::default()),
            tools: None,
            turn: Some(Arc::new(Says(self.probability))),
        })
    }
}

/// What became of speech, a pause of `pause_ms`, and (if `more`) more speech
/// and silence: the final transcripts, and how far into the first pause the
/// first one came (None: not inside it).
async fn talk(first_word: Option<f64>, pause_ms: u64, more: bool) -> (Vec<String>, Option<u64>) {
    let provider = Provider {
        first_word,
        first_text: MISHEARD,
        probability: 0.9,
    };
    talk_to(provider, pause_ms, more).await
}

async fn talk_to(provider: Provider, pause_ms: u64, more: bool) -> (Vec<String>, Option<u64>) {
    let node = InProcessNode::builder()
        .provider(Arc::new(provider))
        .max_sessions(10)
        .start()
        .await;
    let mut config = SessionConfig {
        user_id: "user-1".into(),
        room_name: "room-1".into(),
        ..Default::default()
    };
    config.stt.partial_interval_ms = 0;
    config.stt.turn.pause_ms = 200;
    config.stt.turn.threshold = 0.5;
    config.stt.turn.near_threshold = 0.4;
    config.stt.turn.min_word_confidence = 0.6;
    config.stt.turn.uncertain_silence_ms = 800;
    config.stt.turn.max_silence_ms = 1500;
    let (session, out) = node.recorded_session(config).await.unwrap();
    let finals = || {
        out.notices()
            .into_iter()
            .filter_map(|n| match n {
                SessionNotice::FinalTranscript { text, .. } => Some(text),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let mut frames: Vec<(bool, _)> = silence_frames(100)
        .into_iter()
        .chain(speech_frames("xxxxx"))
        .map(|f| (false, f))
        .collect();
    frames.extend(silence_frames(pause_ms).into_iter().map(|f| (true, f)));
    if more {
        frames.extend(speech_frames("xxxxx").into_iter().map(|f| (false, f)));
    }
    frames.extend(silence_frames(2000).into_iter().map(|f| (false, f)));
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut paused_ms, mut ended_at) = (0, None);
    for (in_pause, f) in frames {
        tick.tick().await;
        assert!(session.push_audio_wait(f).await);
        if in_pause {
            paused_ms += 20;
            if ended_at.is_none() && !finals().is_empty() {
                ended_at = Some(paused_ms);
            }
        }
    }
    assert!(
        out.wait_for(Duration::from_secs(5), |n| matches!(
            n,
            SessionNotice::AgentTurnDone { .. }
        ))
        .await,
        "the agent answered"
    );
    session.end(EndReason::UserLeft);
    let _ = session.wait().await;
    (finals(), ended_at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sure_last_word_ends_the_turn_at_the_models_pause() {
    let (finals, ended_at) = talk(Some(0.9), 1600, false).await;
    assert_eq!(finals, vec![MISHEARD.to_string()]);
    let at = ended_at.expect("ended inside the pause");
    assert!(at < 600, "ended {at} ms into the pause");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsure_last_word_holds_the_turn_until_the_longer_silence() {
    let (finals, ended_at) = talk(Some(0.3), 1600, false).await;
    assert_eq!(finals.len(), 1, "{finals:?}");
    let at = ended_at.expect("ended inside the pause");
    assert!((800..1500).contains(&at), "ended {at} ms into the pause");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_speaker_who_goes_on_after_an_unsure_word_stays_in_one_turn() {
    let (finals, _) = talk(Some(0.3), 600, true).await;
    assert_eq!(
        finals,
        vec!["I need a flight from Boston to Chicago.".to_string()],
        "one turn with both halves"
    );
    // The same pause with a sure (misheard) last word is cut: the test can fail.
    let (finals, _) = talk(Some(0.9), 600, true).await;
    assert_eq!(finals.len(), 2, "{finals:?}");
}

/// A near miss (0.45 against 0.5, near 0.4) on `text` heard surely, in a
/// 1600 ms pause: how far into it the turn ended (`u64::MAX`: after it).
async fn near_miss(text: &'static str, probability: f32) -> u64 {
    let provider = Provider {
        first_word: Some(0.9),
        first_text: text,
        probability,
    };
    let (finals, ended_at) = talk_to(provider, 1600, false).await;
    assert_eq!(finals, vec![text.to_string()]);
    ended_at.unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_miss_on_a_finished_sentence_ends_at_the_longer_silence() {
    let at = near_miss("I would like to book a table for two people.", 0.45).await;
    assert!((800..1500).contains(&at), "ended {at} ms into the pause");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_miss_on_words_that_go_on_waits_for_the_limit() {
    // A dangling last word, and no end of sentence.
    for text in [
        "I would like to book a table for.",
        "I would like to book a table",
    ] {
        let at = near_miss(text, 0.45).await;
        assert!(at >= 1500, "{text:?}: ended {at} ms into the pause");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_near_threshold_a_finished_sentence_waits_for_the_limit() {
    let at = near_miss("I would like to book a table for two people.", 0.3).await;
    assert!(at >= 1500, "ended {at} ms into the pause");
}
