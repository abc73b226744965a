//! LiveKit's real FFI library (from the pinned `livekit` wheel, unpacked by
//! scripts/setup.sh): it loads, answers requests, takes audio, and fails a
//! connect to an unreachable server clearly, after exactly the attempts asked.
//! No LiveKit server can run here, so joining a live room is not tested.

use arc_rooms::ffi::{library_path, DEFAULT_LIBRARY};
use arc_rooms::{
    mint_agent_token, verify_token, AgentIdentity, AudioSource, ConnectOptions, Credentials,
    LiveKitFfi, Room, RoomError,
};
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn ffi() -> Arc<LiveKitFfi> {
    LiveKitFfi::load(&library_path("")).expect("liblivekit_ffi.so loads (bash scripts/setup.sh)")
}

fn creds(url: &str) -> Credentials {
    Credentials {
        url: url.into(),
        api_key: "APIarcTestKey".into(),
        api_secret: "a-test-secret-that-is-long-enough-for-hs256".into(),
    }
}

fn agent() -> AgentIdentity {
    AgentIdentity {
        identity: "arc-agent-session-1".into(),
        name: "ARC agent".into(),
        ttl: Duration::from_secs(600),
    }
}

/// A port on 127.0.0.1 nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

#[test]
fn the_library_from_the_wheel_is_the_default() {
    assert!(
        DEFAULT_LIBRARY.ends_with(".cache/livekit/liblivekit_ffi.so"),
        "{DEFAULT_LIBRARY}"
    );
    assert!(Path::new(DEFAULT_LIBRARY).is_file(), "{DEFAULT_LIBRARY}");
    assert_eq!(
        library_path("/x/liblivekit_ffi.so"),
        Path::new("/x/liblivekit_ffi.so")
    );
}

#[test]
fn a_missing_library_is_a_clear_error() {
    let e = LiveKitFfi::load(Path::new("/nonexistent/liblivekit_ffi.so")).unwrap_err();
    assert!(matches!(e, RoomError::Library { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("/nonexistent/liblivekit_ffi.so"), "{msg}");
    assert!(msg.contains("scripts/setup.sh"), "{msg}");
}

#[tokio::test]
async fn the_library_loads_once_and_answers() {
    let a = ffi();
    let b = ffi();
    assert!(Arc::ptr_eq(&a, &b), "one library per process");
    // A second, different library path is refused, not loaded beside it.
    let other = std::env::temp_dir().join("arc-rooms-other-liblivekit_ffi.so");
    std::fs::write(&other, b"not a library").expect("write");
    let e = LiveKitFfi::load(&other).unwrap_err();
    assert!(matches!(e, RoomError::LibraryMismatch { .. }), "{e:?}");
    let _ = std::fs::remove_file(&other);
    // A real request with a real answer: a source and its track.
    let source = AudioSource::new(&a, 48_000, 1, Duration::from_millis(200)).expect("source");
    let track = source.create_track("probe").expect("track");
    assert_eq!(track.name, "probe");
    assert!(
        track.sid.starts_with("TR_"),
        "local track sid {:?}",
        track.sid
    );
}

#[test]
fn an_agent_token_is_minted_and_verified() {
    let c = creds("ws://127.0.0.1:7880");
    let token = mint_agent_token(&c, "room-user-123-session-456", &agent()).expect("mint");
    assert_eq!(token.split('.').count(), 3, "a JWT");
    let claims = verify_token(&c, &token).expect("verify");
    assert_eq!(claims.sub, "arc-agent-session-1");
    assert_eq!(claims.iss, "APIarcTestKey");
    assert_eq!(claims.name, "ARC agent");
    assert_eq!(claims.kind, "agent");
    assert!(claims.video.room_join);
    assert_eq!(claims.video.room, "room-user-123-session-456");
    assert!(claims.video.can_publish());
    assert!(claims.video.can_subscribe());
    assert!(claims.video.agent);
    assert!(!claims.video.room_admin && !claims.video.room_create);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as usize;
    assert!(
        claims.exp > now && claims.exp <= now + 601,
        "exp {}",
        claims.exp
    );

    // Another secret does not verify it; a tampered token does not verify.
    let mut wrong = c.clone();
    wrong.api_secret = "some-other-secret-that-is-long-enough-too".into();
    assert!(matches!(
        verify_token(&wrong, &token),
        Err(RoomError::Token(_))
    ));
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    parts[1].replace_range(0..4, "eyJh");
    parts[1].push('x');
    assert!(verify_token(&c, &parts.join(".")).is_err());
    // No key pair: a clear error, not an unsigned token.
    let mut none = c.clone();
    none.api_key.clear();
    let e = mint_agent_token(&none, "r", &agent()).unwrap_err();
    assert!(e.to_string().contains("LIVEKIT_API_KEY"), "{e}");
    assert!(mint_agent_token(&c, "", &agent()).is_err());
}

/// One second of a 440 Hz tone at 48 kHz, as 100 frames of 10 ms.
fn tone_frames() -> Vec<Vec<i16>> {
    (0..100)
        .map(|f| {
            (0..480)
                .map(|i| {
                    let t = (f * 480 + i) as f32 / 48_000.0;
                    ((2.0 * std::f32::consts::PI * 440.0 * t).sin() * 0.3 * 32767.0) as i16
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn an_audio_source_takes_a_second_of_frames() {
    let ffi = ffi();
    let source = AudioSource::new(&ffi, 48_000, 1, Duration::from_millis(200)).expect("source");
    let _track = source.create_track("agent-voice").expect("track");
    let started = Instant::now();
    let mut answered = 0;
    for frame in tone_frames() {
        source
            .capture(&frame)
            .await
            .expect("capture answered without error");
        answered += 1;
    }
    let took = started.elapsed();
    eprintln!("1 s of 10 ms frames captured in {took:?}");
    assert_eq!(answered, 100, "every capture got its callback");
    // The source plays at real time behind a 200 ms buffer: 1 s of audio
    // cannot be taken much faster than 0.8 s, and must not stall.
    assert!(took >= Duration::from_millis(700), "took only {took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    source.clear().expect("clear");
    // A frame that is not whole (3 samples, 2 channels) is refused here.
    let stereo = AudioSource::new(&ffi, 48_000, 2, Duration::from_millis(100)).expect("stereo");
    assert!(stereo.capture(&[1, 2, 3]).await.is_err());
    assert!(stereo.capture(&[]).await.is_err());
}

#[tokio::test]
async fn connecting_to_an_unreachable_server_fails_clearly_after_bounded_retries() {
    let ffi = ffi();
    let url = format!("ws://127.0.0.1:{}", closed_port());
    let token = mint_agent_token(&creds(&url), "room-a", &agent()).expect("token");
    let opts = ConnectOptions {
        connect_timeout: Duration::from_secs(2),
        max_attempts: 3,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(150),
        auto_subscribe: true,
    };
    let started = Instant::now();
    let e = Room::connect(&ffi, &url, &token, &opts).await.unwrap_err();
    let took = started.elapsed();
    let RoomError::Connect {
        url: failed_url,
        attempts,
        reason,
        ..
    } = &e
    else {
        panic!("not a connect error: {e:?}");
    };
    assert_eq!(failed_url, &url);
    assert_eq!(*attempts, 3);
    let msg = e.to_string();
    eprintln!("{msg} (took {took:?})");
    assert!(msg.contains(&url) && msg.contains("3 attempt"), "{msg}");
    assert!(!reason.is_empty(), "{msg}");
    // Two back-offs (100 + 150 ms) were waited; refused connects are fast.
    assert!(took >= Duration::from_millis(250), "took {took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {msg}");
}

/// A TCP server that counts connections and shuts each at once.
fn counting_server() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            c.fetch_add(1, Ordering::SeqCst);
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (port, count)
}

use std::io::Write;

#[tokio::test]
async fn each_attempt_is_one_try_of_livekit_itself() {
    // LiveKit's own join retries are off: N attempts reach the server N
    // times as often as one attempt does.
    let ffi = ffi();
    let opts = |n| ConnectOptions {
        connect_timeout: Duration::from_secs(2),
        max_attempts: n,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(50),
        auto_subscribe: true,
    };
    let mut per = Vec::new();
    for n in [1u32, 3] {
        let (port, count) = counting_server();
        let url = format!("ws://127.0.0.1:{port}");
        let token = mint_agent_token(&creds(&url), "room-b", &agent()).expect("token");
        let e = Room::connect(&ffi, &url, &token, &opts(n))
            .await
            .unwrap_err();
        assert!(
            matches!(e, RoomError::Connect { attempts, .. } if attempts == n),
            "{e:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        per.push(count.load(Ordering::SeqCst));
    }
    eprintln!("server connections for 1 and 3 attempts: {per:?}");
    assert!(per[0] >= 1, "one attempt reached the server: {per:?}");
    assert_eq!(
        per[1],
        3 * per[0],
        "connections for 1 and 3 attempts: {per:?}"
    );
}
