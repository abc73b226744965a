//! The seeds' events carry the real engines' values: a spoken question
//! (espeak-ng) through a session on the real Silero VAD, whisper and piper
//! gives `agent.tts.request` / `agent.tts.completed` with the voice, opus,
//! 24000 Hz and a real synthesis latency, and conversation-v1 with whisper's
//! model name, confidence and latencies. (The brain here is the placeholder:
//! this test is about the speech engines' values, tests/brain.rs covers the
//! model.)

use arc_actors::events::Event;
use arc_actors::session::{EndReason, SessionNotice};
use arc_agent::config::Config;
use arc_agent::LocalEngines;
use arc_testkit::utterance::espeak;
use arc_testkit::{find_event, speech_env, InProcessNode};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoken_turn_emits_the_real_engines_values() {
    let frames = espeak("What time does the library open tomorrow?").frames();

    let cfg = Config::load_with(None, std::env::vars().chain(speech_env())).unwrap();
    let engines = LocalEngines::load(&cfg)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = engines.pool.clone();
    let mut node = InProcessNode::builder()
        .provider(Arc::new(engines))
        .max_sessions(10)
        .start()
        .await;
    let (h, out) = node.recorded_session(cfg.session_config()).await.unwrap();
    for f in frames {
        assert!(h.push_audio_wait(f).await);
    }
    // Silence past the longest wait for the end of the turn (the turn
    // model's limit).
    for _ in 0..(cfg.engines.turn_silence_limit_ms() / 20 + 25) {
        h.push_audio_wait(arc_actors::audio::AudioFrame::new(16_000, vec![0.0; 320]))
            .await;
    }
    assert!(
        out.wait_for(Duration::from_secs(60), |n| matches!(
            n,
            SessionNotice::AgentTurnDone { .. }
        ))
        .await,
        "no answer: {:?}",
        out.notices()
    );
    let events = node
        .events_until(Duration::from_secs(10), |e| {
            matches!(e, Event::Conversation(_))
        })
        .await;
    h.end(EndReason::UserLeft);
    h.wait().await;

    let req = find_event(&events, |e| match e {
        Event::TtsRequest(r) => Some(serde_json::to_value(r).unwrap()),
        _ => None,
    })
    .expect("agent.tts.request");
    println!("{req}");
    assert_eq!(req["voice_id"], "en_US-joe-medium");
    assert_eq!(req["constraints"]["format"], "opus");
    assert_eq!(req["constraints"]["sample_rate"], 24000);

    let done = find_event(&events, |e| match e {
        Event::TtsCompleted(c) => Some(serde_json::to_value(c).unwrap()),
        _ => None,
    })
    .expect("agent.tts.completed");
    println!("{done}");
    assert!(done["synthesis_latency_ms"].as_u64().unwrap() > 0, "{done}");

    let conv = find_event(&events, |e| match e {
        Event::Conversation(c) => Some(c.clone()),
        _ => None,
    })
    .expect("conversation-v1");
    println!("{}", serde_json::to_string(&conv).unwrap());
    let u = &conv.user_message;
    assert_eq!(u.stt_model, "whisper-tiny.en");
    assert!(
        u.stt_confidence > 0.0 && u.stt_confidence <= 1.0,
        "{}",
        u.stt_confidence
    );
    assert!(u.stt_latency_ms > 0);
    assert!(u.audio_duration_ms > 1000, "{}", u.audio_duration_ms);
    let wer = arc_models::wer::word_error_rate("what time does the library open tomorrow", &u.text);
    assert!(wer <= 0.34, "heard {:?}", u.text);
    let a = &conv.agent_response;
    assert_eq!(a.tts_model, "piper");
    assert!(a.tts_latency_ms > 0 && a.tts_audio_duration_ms > 500);
    assert!(conv.performance.total_latency_ms > 0);
    // Every model ran on the shared pool (what arc_inference_pool_* exports).
    let st = pool.stats();
    assert!(st.completed > 10, "{st:?}");
    assert_eq!((st.queued, st.running), (0, 0), "{st:?}");
}
