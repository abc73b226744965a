//! The turn model's "complete" and the transcript's last word: a sure last
//! word ends the turn at the model's pause, an unsure one (a word cut short by
//! the pause, likely misheard: "Boston to …" as "Boston Tooth") only at
//! `uncertain_silence_ms`, so a speaker who goes on inside that time stays in
//! one turn. The turn engine here always says complete; the STT hears one
//! word per tone burst and says how sure it is of the last one.

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

/// Says "complete" to every pause.
struct AlwaysComplete;

#[async_trait]
impl TurnEngine for AlwaysComplete {
    fn name(&self) -> &str {
        "always-complete"
    }
    async fn completion(&self, _audio: Arc<[f32]>) -> Result<f32, EngineError> {
        Ok(0.9)
    }
}

/// One word per tone burst ("flight", "flight Chicago"); how sure it is of
/// the last word: `first_word` for a one-burst utterance, 0.95 after that.
struct WordStt {
    first_word: Option<f64>,
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
            1 => (
                "I need a flight from Boston Tooth.".to_string(),
                self.first_word,
            ),
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

struct Provider(Option<f64>);

impl EngineProvider for Provider {
    fn engines_for(&self, _spec: &SessionSpec) -> Result<Engines, EngineError> {
        Ok(Engines {
            vad: Arc::new(EnergyVad::default()),
            stt: Arc::new(WordStt { first_word: self.0 }),
            llm: Arc::new(EchoLlm::default()),
            tts: Arc::new(ToneTts::default()),
            tools: None,
            turn: Some(Arc::new(AlwaysComplete)),
        })
    }
}

/// What became of speech, a pause of `pause_ms`, and (if `more`) more speech
/// and silence: the final transcripts, and how far into the first pause the
/// first one came (None: not inside it).
async fn talk(first_word: Option<f64>, pause_ms: u64, more: bool) -> (Vec<String>, Option<u64>) {
    let node = InProcessNode::builder()
        .provider(Arc::new(Provider(first_word)))
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
    assert_eq!(
        finals,
        vec!["I need a flight from Boston Tooth.".to_string()]
    );
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
