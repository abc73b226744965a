//! The demo page in a real browser: headless Chromium, driven by
//! chromium-driver over the W3C WebDriver protocol, opens the page served by
//! `arc-agent serve` (real models: Silero, whisper, SmolLM2 on the llm-server child,
//! piper), clicks Start, and speaks through a fake microphone that plays a WAV
//! of espeak-ng speech. The page must show what the user said (partials, then
//! the final), the agent's reply, and play the agent's audio; a screenshot
//! is saved to `target/browser-test/demo.png`.
//!
//! Needs `chromium` and `chromium-driver` (Debian packages, installed by
//! scripts/setup-test.sh), espeak-ng and sox, the models and the llama.cpp runtime.

use arc_models::wer::word_error_rate;
use arc_testkit::utterance::espeak;
use arc_testkit::{eventually, free_port, wait_port, TestNode};
use base64::Engine as _;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// What the fake microphone says.
const QUESTION: &str = "Hello there. What is the capital of France?";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Kills the child on drop (the driver).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A minimal W3C WebDriver client: JSON over HTTP/1.1, one request per connection.
struct WebDriver {
    port: u16,
    session: String,
}

fn webdriver_call(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("chromedriver is listening");
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write to chromedriver");
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).expect("status line");
    let mut length = None;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).expect("header");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse::<usize>().ok();
            }
        }
    }
    let mut raw = Vec::new();
    match length {
        Some(n) => {
            raw.resize(n, 0);
            r.read_exact(&mut raw).expect("body");
        }
        None => {
            r.read_to_end(&mut raw).expect("body");
        }
    }
    let v: Value = serde_json::from_slice(&raw)
        .unwrap_or_else(|e| panic!("chromedriver sent no JSON ({e}): {status}"));
    if v["value"]["error"].is_string() {
        panic!("WebDriver {method} {path}: {}", v["value"]);
    }
    v["value"].clone()
}

impl WebDriver {
    fn start(port: u16, args: &[String]) -> WebDriver {
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            }}
        });
        let v = webdriver_call(port, "POST", "/session", Some(&caps));
        let session = v["sessionId"]
            .as_str()
            .expect("a WebDriver session id")
            .to_string();
        WebDriver { port, session }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        webdriver_call(self.port, method, &path, body.as_ref())
    }

    fn navigate(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    fn click(&self, css: &str) {
        let el = self.call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        let id = el["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {el}"))
            .to_string();
        self.call("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    fn script(&self, js: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": js, "args": [] })),
        )
    }

    fn screenshot(&self, out: &Path) {
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64 screenshot"))
            .expect("valid base64");
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::create_dir_all(out.parent().expect("parent")).expect("screenshot dir");
        std::fs::write(out, png).expect("write screenshot");
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = write!(
                s,
                "DELETE {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            s.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let _ = s.read_to_end(&mut Vec::new());
        }
    }
}

fn need(path: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: run scripts/setup-test.sh (it installs chromium and chromium-driver)"
    );
}

/// Where the screenshot goes: `<target>/browser-test/demo.png`.
fn screenshot_path() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("browser-test/demo.png")
}

/// `arc-agent serve` with the real local engines, ready to take sessions.
fn serve(data: &Path, port: u16) -> TestNode {
    TestNode::builder(env!("CARGO_BIN_EXE_arc-agent"))
        .env("ARC__ENGINES__PROFILE", "local")
        .env("ARC__NATS__ENABLED", "false")
        .env("ARC__PULSAR__ENABLED", "false")
        .env("ARC__NODE__DATA_DIR", data.display())
        .env("ARC__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        // Greedy decoding: the same reply every run.
        .env("ARC__SESSION__BRAIN__TEMPERATURE", "0")
        .env("RUST_LOG", "info,ort=warn")
        .http_port(port)
        .log(&data.join("node.log"))
        .ready_on_readyz()
        .timeout(Duration::from_secs(180))
        .spawn()
}

#[test]
fn the_demo_page_hears_the_user_and_plays_the_agent() {
    need(CHROMIUM);
    need(CHROMEDRIVER);
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("question.wav");
    // Silence after the question, so the fake microphone is quiet while the
    // agent answers (no barge-in by the test's own voice).
    espeak(QUESTION).padded_wav(&wav, 1.0, 20.0);

    let port = free_port();
    let t_node = Instant::now();
    let node = serve(dir.path(), port);
    let node_ready_ms = t_node.elapsed().as_millis();

    let driver_port = free_port();
    let _driver = Guard(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    assert!(
        wait_port(driver_port, Duration::from_secs(20)),
        "chromedriver did not listen"
    );
    let profile = dir.path().join("chromium-profile");
    let args: Vec<String> = vec![
        "--headless=new".into(),
        "--no-sandbox".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-gpu".into(),
        "--window-size=900,700".into(),
        format!("--user-data-dir={}", profile.display()),
        "--use-fake-ui-for-media-stream".into(),
        "--use-fake-device-for-media-stream".into(),
        format!("--use-file-for-fake-audio-capture={}%noloop", wav.display()),
        "--autoplay-policy=no-user-gesture-required".into(),
    ];
    let browser = WebDriver::start(driver_port, &args);
    browser.navigate(&format!("http://127.0.0.1:{port}/"));
    let title = browser.script("return document.title;");
    assert_eq!(title, "ARC voice agent");
    browser.click("#start");
    let clicked = Instant::now();

    // Until the agent has answered and its audio has been played out.
    let probe = r##"
        const q = (sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent);
        return { stats: window.arcStats,
                 user: q("#transcript .user:not(.partial) .text"),
                 agent: q("#transcript .agent .text"),
                 text: document.getElementById("transcript").innerText };"##;
    let mut last = Value::Null;
    let mut heard_ms = None;
    let mut first_audio_ms = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        last = browser.script(probe);
        let s = &last["stats"];
        let user = last["user"].to_string().to_lowercase();
        if heard_ms.is_none() && user.contains("capital") {
            heard_ms = Some(clicked.elapsed().as_millis());
        }
        if first_audio_ms.is_none() && s["framesPlayed"].as_u64().unwrap_or(0) > 0 {
            first_audio_ms = Some(clicked.elapsed().as_millis());
        }
        let done = s["turnsDone"].as_u64().unwrap_or(0) >= 1
            && s["framesPlayed"].as_u64() == s["framesReceived"].as_u64()
            && s["framesPlayed"].as_u64().unwrap_or(0) > 0;
        if done || !s["ended"].is_null() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let shot = screenshot_path();
    browser.screenshot(&shot);
    let node_log = node.log_tail(40);
    let s = &last["stats"];
    let heard: Vec<&str> = last["user"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let wer = word_error_rate(QUESTION, &heard.join(" "));
    eprintln!(
        "browser: node ready in {node_ready_ms} ms; user heard {heard_ms:?} ms and first agent audio played {first_audio_ms:?} ms after Start; WER {:.0} %; stats {s}; transcript {:?}; screenshot {}",
        wer * 100.0,
        last["text"],
        shot.display()
    );

    assert_eq!(s["engines"], "local");
    assert!(
        s["ended"].is_null(),
        "the session ended early: {s}\n{node_log}"
    );
    let user = last["user"].to_string().to_lowercase();
    for word in ["capital", "france"] {
        assert!(
            user.contains(word),
            "the page shows the user's words ({word:?} in {user}); stats {s}\n{node_log}"
        );
    }
    assert!(
        s["partials"].as_u64().unwrap_or(0) >= 1,
        "partial transcripts shown while the user spoke: {s}"
    );
    let agent = last["agent"].to_string();
    assert!(agent.len() > 4, "the agent's reply is shown: {agent}");
    assert!(
        s["turnsDone"].as_u64().unwrap_or(0) >= 1,
        "the agent finished its turn: {s}"
    );
    // At least half a second of the agent's voice was played out by WebAudio.
    let played = s["samplesPlayed"].as_u64().unwrap_or(0);
    assert!(played >= 12_000, "agent audio played: {s}");
    assert_eq!(s["framesPlayed"], s["framesReceived"], "{s}");
    assert!(
        s["framesSent"].as_u64().unwrap_or(0) > 100,
        "microphone audio sent: {s}"
    );
    assert!(
        s["errors"].as_array().is_some_and(|e| e.is_empty()),
        "no protocol errors: {s}"
    );

    // Stop: the page says so, the node ends the session as user_left.
    browser.click("#stop");
    let ended = eventually(Duration::from_secs(10), || {
        let e = browser.script("return window.arcStats.ended;");
        e.as_str().map(str::to_string)
    });
    assert_eq!(ended.as_deref(), Some("user_left"));
    let id = s["sessionId"].as_str().unwrap_or("?");
    let gone = eventually(Duration::from_secs(5), || {
        let (_, list) = node.get("/v1/sessions");
        (!list.contains(id)).then_some(())
    });
    assert!(gone.is_some(), "the session {id} is gone from the node");
}
