//! The final transcript is decoded speculatively when the user stops
//! speaking: used at the endpoint if no speech came back, cancelled if it did.
//! The STT here counts the tone bursts it is given (one word per burst) and
//! takes a fixed time per final decode, so which audio each decode saw, and
//! whether it was waited for at the endpoint, show in its results.

use arc_actors::engine::{
    CancellationToken, EngineError, Engines, SttEngine, TranscribeKind, Transcript,
};
use arc_actors::events::Event;
use arc_actors::node::{EngineProvider, SessionSpec};
use arc_actors::session::{EndReason, SessionConfig, SessionNotice};
use arc_actors::synthetic::{
    silence_frames, speech_frames, tone_bursts, EchoLlm, EnergyVad, ToneTts,
};
use arc_testkit::InProcessNode;
use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one call to the STT was given and whether it returned a transcript
/// (not when cancelled, or dropped by the caller).
#[derive(Debug, Clone, PartialEq)]
struct Call {
    kind: TranscribeKind,
    audio_ms: u64,
    words: usize,
    done: bool,
}

struct BurstStt {
    final_delay: Duration,
    calls: Mutex<Vec<Call>>,
}

#[async_trait]
impl SttEngine for BurstStt {
    fn model(&self) -> &str {
        "burst-stt"
    }
    async fn transcribe(
        &self,
        audio: Arc<[f32]>,
        kind: TranscribeKind,
        cancel: CancellationToken,
    ) -> Result<Transcript, EngineError> {
        let words = tone_bursts(&audio);
        let index = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(Call {
                kind,
                audio_ms: audio.len() as u64 / 16,
                words,
                done: false,
            });
            calls.len() - 1
        };
        if kind == TranscribeKind::Final {
            tokio::select! {
                _ = cancel.cancelled() => return Err(EngineError::Cancelled),
                _ = tokio::time::sleep(self.final_delay) => {}
            }
        }
        self.calls.lock().unwrap()[index].done = true;
        Ok(Transcript {
            text: vec!["word"; words].join(" "),
            confidence: 1.0,
            last_word_confidence: None,
        })
    }
}

struct Provider(Arc<BurstStt>);

impl EngineProvider for Provider {
    fn engines_for(&self, _spec: &SessionSpec) -> Result<Engines, EngineError> {
        Ok(Engines {
            vad: Arc::new(EnergyVad::default()),
            stt: self.0.clone(),
            llm: Arc::new(EchoLlm::default()),
            tts: Arc::new(ToneTts::default()),
            tools: None,
            turn: None,
        })
    }
}

/// Final decodes take this long; the synthetic VAD ends a turn after 300 ms
/// of silence, so a decode started when the user stopped is done by then.
const FINAL_DELAY: Duration = Duration::from_millis(250);

/// Pushes `parts` (speech ms, silence ms after it) in real time after 100 ms
/// of silence; returns the final transcripts, the turn's conversation record
/// and every STT call.
async fn talk(parts: &[(u64, u64)]) -> (Vec<String>, Vec<Event>, Vec<Call>) {
    let stt = Arc::new(BurstStt {
        final_delay: FINAL_DELAY,
        calls: Mutex::new(Vec::new()),
    });
    let mut node = InProcessNode::builder()
        .provider(Arc::new(Provider(stt.clone())))
        .max_sessions(10)
        .start()
        .await;
    let mut config = SessionConfig {
        user_id: "user-1".into(),
        room_name: "room-1".into(),
        ..Default::default()
    };
    // No previews: every call to the STT is a final decode.
    config.stt.partial_interval_ms = 0;
    let (session, out) = node.recorded_session(config).await.unwrap();
    let mut frames = silence_frames(100);
    for &(speech_ms, silence_ms) in parts {
        // speech_frames makes 200 ms + 40 ms per character.
        let line = "x".repeat(((speech_ms.saturating_sub(200)) / 40) as usize);
        frames.extend(speech_frames(&line));
        frames.extend(silence_frames(silence_ms));
    }
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for f in frames {
        tick.tick().await;
        assert!(session.push_audio_wait(f).await);
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
    let finals = out
        .notices()
        .into_iter()
        .filter_map(|n| match n {
            SessionNotice::FinalTranscript { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    let convs = node
        .drain()
        .into_iter()
        .filter(|e| matches!(&**e, Event::Conversation(_)))
        .map(|e| (*e).clone())
        .collect();
    let calls = stt.calls.lock().unwrap().clone();
    (finals, convs, calls)
}

fn stt_latency(convs: &[Event]) -> (u64, u64, String) {
    assert_eq!(convs.len(), 1, "one turn");
    let Event::Conversation(c) = &convs[0] else {
        unreachable!()
    };
    (
        c.performance.stt_latency_ms,
        c.user_message.audio_duration_ms,
        c.user_message.text.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_final_is_decoded_when_the_user_stops() {
    let (finals, convs, calls) = talk(&[(400, 600)]).await;
    assert_eq!(finals, vec!["word".to_string()]);
    // One decode, started at the pause: the endpoint's 300 ms of silence
    // came after it, and it was not decoded again.
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].done && calls[0].kind == TranscribeKind::Final);
    let (latency, audio_ms, text) = stt_latency(&convs);
    assert_eq!(text, "word");
    assert!(
        calls[0].audio_ms + 250 <= audio_ms,
        "the decode saw {} ms, the turn is {audio_ms} ms",
        calls[0].audio_ms
    );
    // Endpoint → final: the decode (250 ms) was mostly done at the endpoint.
    assert!(
        latency < FINAL_DELAY.as_millis() as u64 - 50,
        "stt latency {latency} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_after_a_pause_discards_the_speculative_final() {
    // A 120 ms pause (the endpoint needs 300 ms), then more speech.
    let (finals, convs, calls) = talk(&[(400, 120), (400, 600)]).await;
    assert_eq!(finals, vec!["word word".to_string()], "{calls:?}");
    let (latency, _, text) = stt_latency(&convs);
    assert_eq!(text, "word word");
    assert_eq!(calls.len(), 2, "{calls:?}");
    // The decode of the first pause saw one burst and was dropped when
    // speech came back; the one of the second pause is the final.
    assert_eq!((calls[0].words, calls[0].done), (1, false), "{calls:?}");
    assert_eq!((calls[1].words, calls[1].done), (2, true), "{calls:?}");
    assert!(
        latency < FINAL_DELAY.as_millis() as u64 - 50,
        "stt latency {latency} ms"
    );
}
