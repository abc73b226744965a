//! The LiveKit room transport in the node: audio conversion between the room
//! (48 kHz) and the session (16 kHz in, 24 kHz out), the end reasons, the
//! config, and a join to an unreachable server that fails clearly, after the
//! configured attempts, while another session on the same node keeps
//! talking. Real FFI library and real node; no LiveKit server can run here.

use arc_actors::audio::{AudioFrame, FRAME_SAMPLES_16K, STT_SAMPLE_RATE};
use arc_actors::session::EndReason;
use arc_agent::config::{Config, LIVEKIT_DEFAULT_URL};
use arc_agent::room::{
    end_reason_for_disconnect, join_room, JoinError, JoinRequest, RoomAudioIn, RoomAudioOut,
    ROOM_SAMPLE_RATE,
};
use arc_agent::App;
use arc_rooms::proto::DisconnectReason;
use arc_rooms::{PcmFrame, RoomError};
use arc_testkit::{free_port, init_logs, lines, metric, vars, ScriptedCall};
use std::time::{Duration, Instant};

fn tone(rate: u32, hz: f32, secs: f32, amp: f32) -> Vec<f32> {
    (0..(rate as f32 * secs) as usize)
        .map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin() * amp)
        .collect()
}

/// Frequency of a pure tone from its zero crossings (edges skipped).
fn frequency(samples: &[f32], rate: u32) -> f32 {
    let skip = samples.len() / 10;
    let mid = &samples[skip..samples.len() - skip];
    let crossings = mid
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    crossings as f32 / 2.0 / (mid.len() as f32 / rate as f32)
}

fn peak(samples: &[f32]) -> f32 {
    let skip = samples.len() / 10;
    samples[skip..samples.len() - skip]
        .iter()
        .fold(0.0f32, |m, s| m.max(s.abs()))
}

fn pcm(samples: &[f32], channels: usize) -> PcmFrame {
    PcmFrame {
        sample_rate: ROOM_SAMPLE_RATE,
        num_channels: channels as u32,
        samples: samples
            .iter()
            .flat_map(|s| std::iter::repeat_n((s * 32767.0) as i16, channels))
            .collect(),
    }
}

#[test]
fn room_audio_becomes_stt_frames_and_agent_audio_becomes_room_frames() {
    // 48 kHz room audio (stereo, 10 ms frames) → 16 kHz 20 ms frames.
    let room = tone(ROOM_SAMPLE_RATE, 440.0, 2.0, 0.3);
    let mut input = RoomAudioIn::new(ROOM_SAMPLE_RATE);
    let mut stt: Vec<AudioFrame> = Vec::new();
    let mut first_after_ms = None;
    for (i, chunk) in room.chunks(480).enumerate() {
        stt.extend(input.push(&pcm(chunk, 2)).expect("room audio converts"));
        if first_after_ms.is_none() && !stt.is_empty() {
            first_after_ms = Some((i + 1) * 10);
        }
    }
    // The resampler works in blocks: the first STT frame needs a little room audio.
    let first_after_ms = first_after_ms.expect("frames came");
    eprintln!("first 16 kHz frame after {first_after_ms} ms of room audio");
    assert!(first_after_ms <= 30, "{first_after_ms} ms");
    assert!(stt
        .iter()
        .all(|f| f.sample_rate == STT_SAMPLE_RATE && f.samples.len() == FRAME_SAMPLES_16K));
    let heard: Vec<f32> = stt.iter().flat_map(|f| f.samples.clone()).collect();
    // All of it but what is still inside the resampler (under one block).
    let expected = room.len() / 3;
    assert!(
        heard.len() <= expected && heard.len() + 1024 >= expected,
        "{} of {expected} samples",
        heard.len()
    );
    let f = frequency(&heard, STT_SAMPLE_RATE);
    assert!((f - 440.0).abs() < 3.0, "440 Hz heard as {f} Hz");
    let p = peak(&heard);
    assert!((p - 0.3).abs() < 0.02, "level {p}");

    // 24 kHz TTS chunks → 48 kHz, 10 ms frames of 16-bit PCM.
    let tts = tone(24_000, 1000.0, 1.5, 0.5);
    let mut output = RoomAudioOut::new(ROOM_SAMPLE_RATE);
    let mut sent: Vec<i16> = Vec::new();
    for chunk in tts.chunks(2400) {
        output
            .push(&AudioFrame::new(24_000, chunk.to_vec()))
            .expect("agent audio converts");
        while let Some(frame) = output.next_frame() {
            assert_eq!(frame.len(), 480);
            sent.extend(frame);
        }
    }
    output.finish().expect("end of reply");
    while let Some(frame) = output.next_frame() {
        sent.extend(frame);
    }
    // The whole reply went out: its length, rounded up to whole 10 ms frames.
    assert_eq!(sent.len(), (tts.len() * 2).div_ceil(480) * 480);
    let sent_f: Vec<f32> = sent[..tts.len() * 2]
        .iter()
        .map(|s| *s as f32 / 32768.0)
        .collect();
    let f = frequency(&sent_f, ROOM_SAMPLE_RATE);
    assert!((f - 1000.0).abs() < 3.0, "1000 Hz sent as {f} Hz");
    assert!((peak(&sent_f) - 0.5).abs() < 0.02);

    // Round trip: what the STT got, sent back to the room at 48 kHz.
    let mut back = RoomAudioOut::new(ROOM_SAMPLE_RATE);
    back.push(&AudioFrame::new(STT_SAMPLE_RATE, heard.clone()))
        .expect("converts");
    back.finish().expect("finish");
    let mut round: Vec<f32> = Vec::new();
    while let Some(frame) = back.next_frame() {
        round.extend(frame.iter().map(|s| *s as f32 / 32768.0));
    }
    let f = frequency(&round[..heard.len() * 3], ROOM_SAMPLE_RATE);
    assert!((f - 440.0).abs() < 3.0, "round trip gives {f} Hz");

    // Barge-in forgets what was not sent.
    back.push(&AudioFrame::new(24_000, tts.clone()))
        .expect("push");
    back.reset();
    assert!(back.next_frame().is_none());
    // A zero rate is refused, not divided by.
    assert!(RoomAudioIn::new(ROOM_SAMPLE_RATE)
        .push(&PcmFrame {
            sample_rate: 0,
            num_channels: 1,
            samples: vec![0; 480]
        })
        .is_err());
}

#[test]
fn room_events_end_the_session_with_the_seed_reasons() {
    let r = |d: DisconnectReason| end_reason_for_disconnect(d as i32);
    assert_eq!(r(DisconnectReason::RoomDeleted), EndReason::RoomEnded);
    assert_eq!(r(DisconnectReason::RoomClosed).as_str(), "room_ended");
    assert_eq!(r(DisconnectReason::ClientInitiated).as_str(), "agent_left");
    let removed = r(DisconnectReason::ParticipantRemoved);
    assert_eq!(removed.final_status(), "failed");
    assert!(matches!(&removed, EndReason::Error(m) if m.contains("PARTICIPANT_REMOVED")));
}

#[test]
fn livekit_settings_come_from_the_config_or_livekits_own_variables() {
    let cfg = Config::load_with(None, Vec::<(String, String)>::new()).expect("default");
    let none = cfg.livekit_credentials_from(|_| None);
    assert_eq!(none.url, LIVEKIT_DEFAULT_URL);
    assert!(none.api_key.is_empty() && none.api_secret.is_empty());
    let env = |k: &str| {
        Some(
            match k {
                "LIVEKIT_URL" => "wss://lk.example.com",
                "LIVEKIT_API_KEY" => "APIenv",
                "LIVEKIT_API_SECRET" => "env-secret",
                _ => return None,
            }
            .to_string(),
        )
    };
    let from_env = cfg.livekit_credentials_from(env);
    assert_eq!(from_env.url, "wss://lk.example.com");
    assert_eq!(from_env.api_key, "APIenv");
    assert_eq!(from_env.api_secret, "env-secret");
    assert!(
        !format!("{from_env:?}").contains("env-secret"),
        "secret in Debug"
    );
    // The config, when set, wins over the environment.
    let cfg = Config::load_with(
        None,
        vec![
            (
                "ARC__LIVEKIT__URL".to_string(),
                "ws://10.0.0.5:7880".to_string(),
            ),
            ("ARC__LIVEKIT__API_KEY".to_string(), "APIcfg".to_string()),
        ],
    )
    .expect("config");
    let both = cfg.livekit_credentials_from(env);
    assert_eq!(both.url, "ws://10.0.0.5:7880");
    assert_eq!(both.api_key, "APIcfg");
    assert_eq!(both.api_secret, "env-secret");
    // Bad values are refused with their key.
    for (key, value) in [
        ("ARC__LIVEKIT__URL", "10.0.0.5:7880"),
        ("ARC__LIVEKIT__MAX_CONNECT_ATTEMPTS", "0"),
        ("ARC__LIVEKIT__RETRY_BACKOFF_MS", "99999"),
    ] {
        let e = Config::load_with(None, vec![(key.to_string(), value.to_string())]).unwrap_err();
        let want = key
            .trim_start_matches("ARC__")
            .replace("__", ".")
            .to_lowercase();
        assert!(e.to_string().contains(&want), "{key}={value}: {e}");
    }
}

fn node_config(extra: &[(&str, String)]) -> Config {
    let dir = std::env::temp_dir().join(format!("arc-livekit-{}", std::process::id()));
    let mut env = vars([
        ("ARC__NATS__ENABLED", "false".to_string()),
        ("ARC__PULSAR__ENABLED", "false".to_string()),
        ("ARC__HTTP__LISTEN", "127.0.0.1:0".to_string()),
        ("ARC__NODE__DATA_DIR", dir.display().to_string()),
        ("ARC__LIVEKIT__CONNECT_TIMEOUT_MS", "2000".to_string()),
        ("ARC__LIVEKIT__MAX_CONNECT_ATTEMPTS", "3".to_string()),
        ("ARC__LIVEKIT__RETRY_BACKOFF_MS", "300".to_string()),
        ("ARC__LIVEKIT__MAX_RETRY_BACKOFF_MS", "600".to_string()),
    ]);
    env.extend(vars(extra.iter().cloned()));
    Config::load_with(None, env).expect("test config")
}

#[tokio::test]
async fn an_unreachable_room_fails_clearly_and_other_sessions_keep_talking() {
    init_logs();
    let cfg = node_config(&[
        ("ARC__LIVEKIT__API_KEY", "APIarcTest".to_string()),
        (
            "ARC__LIVEKIT__API_SECRET",
            "a-test-secret-that-is-long-enough-for-hs256".to_string(),
        ),
    ]);
    let app = App::start(cfg).await.expect("node starts");

    // A conversation already going on this node (scripted user, synthetic engines).
    let lines = lines(&["Hello there", "What is the weather like", "Thanks, bye"]);
    let call = ScriptedCall::start(
        &app.ctx.node,
        &app.ctx.scripts,
        app.ctx.cfg.session_config(),
        lines.clone(),
    )
    .await
    .expect("session starts");
    let session = &call.session;

    // Meanwhile a room on a server that is not there.
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}");
    let started = Instant::now();
    let (answered, joined) = tokio::join!(
        call.say_paced(&lines, Duration::from_secs(20), true),
        async {
            let r = join_room(
                &app.ctx,
                JoinRequest {
                    room_name: "room-user-123-session-456".into(),
                    user_identity: Some("user-123".into()),
                    url: Some(url.clone()),
                    session_id: None,
                    token: None,
                },
            )
            .await;
            (r, started.elapsed())
        }
    );
    let (result, join_took) = joined;
    let Err(JoinError::Room(e)) = result else {
        panic!("join to a closed port did not fail as a room error");
    };
    let RoomError::Connect {
        url: failed,
        attempts,
        ..
    } = &e
    else {
        panic!("not a connect error: {e:?}");
    };
    assert_eq!(failed, &url);
    assert_eq!(*attempts, 3, "livekit.max_connect_attempts");
    assert!(e.to_string().contains(&url), "{e}");
    // Back-offs of 300 and 600 ms were waited; refused connects are quick.
    assert!(join_took >= Duration::from_millis(900), "{join_took:?}");
    assert!(join_took < Duration::from_secs(6), "{join_took:?}");
    eprintln!("join failed after {join_took:?}: {e}");

    // The other conversation answered every turn, and the failed join left
    // no session behind.
    assert_eq!(
        answered,
        lines.len(),
        "turns answered while the join retried"
    );
    assert_eq!(app.ctx.node.active_sessions(), 1);
    session.end(EndReason::UserLeft);
    assert!(session.wait().await.is_some());
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.ctx.node.active_sessions() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.ctx.node.active_sessions(), 0);
    let scrape = app.ctx.metrics.render_for_test();
    assert_eq!(
        metric(&scrape, "arc_livekit_joins_total{outcome=\"failed\"}"),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(
        metric(&scrape, "arc_livekit_connect_attempts_total"),
        Some(3.0)
    );

    // Without a key pair no token is minted and nothing is dialled.
    app.shutdown("test done").await;
    let app = App::start(node_config(&[])).await.expect("node starts");
    let t = Instant::now();
    let e = join_room(
        &app.ctx,
        JoinRequest {
            room_name: "r".into(),
            ..JoinRequest::default()
        },
    )
    .await;
    assert!(
        matches!(e, Err(JoinError::Room(RoomError::Credentials(_)))),
        "{:?}",
        e.err()
    );
    assert!(t.elapsed() < Duration::from_millis(500));
    app.shutdown("test done").await;
}
