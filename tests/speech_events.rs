//! The seeds' events carry the real engines' values: a spoken question
//! (espeak-ng) through a session on the real Silero VAD, whisper and piper
//! gives `agent.tts.request` / `agent.tts.completed` with the voice, opus,
//! 24000 Hz and a real synthesis latency, and conversation-v1 with whisper's
//! model name, confidence and latencies. (The brain here is the placeholder:
//! this test is about the speech engines' values, tests/brain.rs covers the
//! model.)

use arc_actors::emit::ServiceIdentity;
use arc_actors::events::Event;
use arc_actors::node::{NodeArgs, NodeHandle, NodeStats, SessionSpec};
use arc_actors::session::{EndReason, SessionNotice};
use arc_actors::sink::EventSink;
use arc_actors::synthetic::RecordingOutput;
use arc_agent::config::Config;
use arc_agent::engines::LocalEngines;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoken_turn_emits_the_real_engines_values() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("q.wav");
    let ok = std::process::Command::new("espeak-ng")
        .args(["-s", "150", "-w"])
        .arg(&wav)
        .arg("What time does the library open tomorrow?")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "espeak-ng is needed (scripts/setup.sh)");
    let audio = arc_models::audio::read_wav(&wav).unwrap();
    let frames = arc_models::audio::to_stt_frames(&audio).unwrap();

    let mut cfg = Config::load(None).unwrap();
    cfg.engines.profile = arc_agent::config::EngineProfile::Local;
    cfg.engines.llm.brain = arc_agent::config::Brain::Placeholder;
    let engines = LocalEngines::load(&cfg)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = engines.pool.clone();
    let (sink, mut stream) = EventSink::new(10_000);
    let (node, _) = NodeHandle::start(NodeArgs {
        identity: ServiceIdentity::local("arc-agent"),
        sink,
        provider: Arc::new(engines),
        max_sessions: 10,
        stats: Arc::new(NodeStats::default()),
    })
    .await
    .unwrap();
    let out = Arc::new(RecordingOutput::default());
    let h = node
        .start_session(SessionSpec {
            config: cfg.session_config(),
            output: out.clone(),
            script: Vec::new(),
        })
        .await
        .unwrap();
    for f in frames {
        assert!(h.push_audio_wait(f).await);
    }
    for _ in 0..50 {
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
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        while let Some(e) = stream.try_recv() {
            events.push(e);
        }
        if events
            .iter()
            .any(|e| matches!(&**e, Event::Conversation(_)))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.end(EndReason::UserLeft);
    h.wait().await;

    let req = events
        .iter()
        .find_map(|e| match &**e {
            Event::TtsRequest(r) => Some(serde_json::to_value(r).unwrap()),
            _ => None,
        })
        .expect("agent.tts.request");
    println!("{req}");
    assert_eq!(req["voice_id"], "en_US-joe-medium");
    assert_eq!(req["constraints"]["format"], "opus");
    assert_eq!(req["constraints"]["sample_rate"], 24000);

    let done = events
        .iter()
        .find_map(|e| match &**e {
            Event::TtsCompleted(c) => Some(serde_json::to_value(c).unwrap()),
            _ => None,
        })
        .expect("agent.tts.completed");
    println!("{done}");
    assert!(done["synthesis_latency_ms"].as_u64().unwrap() > 0, "{done}");

    let conv = events
        .iter()
        .find_map(|e| match &**e {
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
