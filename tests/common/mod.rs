//! Test helpers: real brokers started per test (pulsar-lite, nats-server), the
//! Python Pulsar reader, the node binary, and a config for all of them.
#![allow(dead_code)]

use arc_agent::config::Config;
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn wait_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn pulsar_lite_binary() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import pulsar_lite,os;print(os.path.join(os.path.dirname(pulsar_lite.__file__),'bin','pulsar-lite'))"])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "pulsar-lite is not installed: run scripts/setup.sh"
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A pulsar-lite broker (Pulsar wire protocol) on its own port and data dir.
pub struct PulsarLite {
    child: Option<Child>,
    pub port: u16,
    pub db: PathBuf,
    config: PathBuf,
}

impl PulsarLite {
    /// Start on `port` with `db`; `default_partitions` for topics it auto-creates.
    pub fn start_raw(db: &Path, port: u16, default_partitions: u32, extra: &str) -> PulsarLite {
        std::fs::create_dir_all(db).expect("db dir");
        let config = db.with_extension("toml");
        std::fs::write(
            &config,
            format!(
                "default_partitions = {default_partitions}\n{extra}\n[metrics]\nenabled = false\n"
            ),
        )
        .expect("config");
        let log = std::fs::File::create(db.with_extension("log")).expect("log file");
        let child = Command::new(pulsar_lite_binary())
            .arg("--config")
            .arg(&config)
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .arg("--db-path")
            .arg(db)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("pulsar-lite starts");
        assert!(
            wait_port(port, Duration::from_secs(20)),
            "pulsar-lite did not listen on {port}"
        );
        PulsarLite {
            child: Some(child),
            port,
            db: db.to_path_buf(),
            config,
        }
    }

    /// Start with the seed's partitioned topics already created (16/4/8/32).
    /// pulsar-lite has no admin API; it keeps partitioned-topic metadata in
    /// `<db>.metadata.json`, which is what `pulsar-admin topics
    /// create-partitioned-topic` would have produced.
    pub fn start_provisioned(dir: &Path, port: u16) -> PulsarLite {
        let db = dir.join("pulsar-db");
        let mut topics = serde_json::Map::new();
        for t in arc_actors::events::PulsarTopic::ALL {
            if t.seed_partitions() > 0 {
                topics.insert(
                    t.name().to_string(),
                    serde_json::json!({ "partitions": t.seed_partitions() }),
                );
            }
        }
        let meta = serde_json::json!({ "version": 2, "partitioned_topics": topics });
        std::fs::write(db.with_extension("metadata.json"), meta.to_string()).expect("metadata");
        Self::start_raw(&db, port, 0, "")
    }

    pub fn url(&self) -> String {
        format!("pulsar://127.0.0.1:{}", self.port)
    }

    /// Stop gracefully (pulsar-lite keeps its partition metadata only on a clean stop).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Start again on the same port and data (after `stop`).
    pub fn restart(&mut self) {
        let child = Command::new(pulsar_lite_binary())
            .arg("--config")
            .arg(&self.config)
            .args(["--addr", &format!("127.0.0.1:{}", self.port)])
            .arg("--db-path")
            .arg(&self.db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pulsar-lite restarts");
        assert!(wait_port(self.port, Duration::from_secs(20)));
        self.child = Some(child);
    }
}

impl Drop for PulsarLite {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How many partitions the broker reports for each topic.
pub fn partitions(url: &str, topics: &[&str]) -> Vec<usize> {
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/pulsar_partitions.py"
        ))
        .arg(url)
        .args(topics)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json");
            let p = v["partitions"].as_array().expect("array").len();
            if p == 1
                && !v["partitions"][0]
                    .as_str()
                    .unwrap_or("")
                    .contains("-partition-")
            {
                0
            } else {
                p
            }
        })
        .collect()
}

/// One message as the Python reader saw it.
#[derive(Debug, Clone)]
pub struct ReadMessage {
    pub topic: String,
    pub key: String,
    pub properties: Value,
    pub payload: Value,
}

/// Read `topics` with the Python client until `expect` messages containing
/// `matching` arrived (then a little longer, to catch duplicates) or `timeout`.
pub fn read_pulsar(
    url: &str,
    topics: &[&str],
    matching: &str,
    expect: usize,
    timeout: Duration,
) -> Vec<ReadMessage> {
    let mut cmd = Command::new("python3");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/pulsar_read.py"
    ))
    .args(["--url", url])
    .args(["--expect", &expect.to_string()])
    .args(["--timeout", &timeout.as_secs_f64().to_string()])
    .args(["--match", matching]);
    for t in topics {
        cmd.args(["--topic", t]);
    }
    let out = cmd.output().expect("python3 runs");
    assert!(
        out.status.success(),
        "reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("reader json");
            ReadMessage {
                topic: v["topic"].as_str().unwrap_or_default().to_string(),
                key: v["key"].as_str().unwrap_or_default().to_string(),
                properties: v["properties"].clone(),
                payload: v["payload"].clone(),
            }
        })
        .collect()
}

/// A nats-server of the test's own (for tests that stop it).
pub struct NatsServer {
    child: Child,
    pub port: u16,
}

impl NatsServer {
    pub fn start() -> NatsServer {
        let port = free_port();
        let child = Command::new("/usr/sbin/nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        assert!(wait_port(port, Duration::from_secs(10)));
        NatsServer { child, port }
    }
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shared NATS of the machine (a JetStream server runs at 127.0.0.1:4222).
pub const SHARED_NATS: &str = "nats://127.0.0.1:4222";

/// Environment for a node under test.
pub fn node_env(
    pulsar_url: &str,
    nats_url: &str,
    data_dir: &Path,
    http_port: u16,
) -> Vec<(String, String)> {
    [
        ("ARC__PULSAR__URL", pulsar_url.to_string()),
        ("ARC__NATS__URL", nats_url.to_string()),
        ("ARC__NODE__DATA_DIR", data_dir.display().to_string()),
        ("ARC__HTTP__LISTEN", format!("127.0.0.1:{http_port}")),
        ("ARC__HTTP__FAULT_INJECTION", "true".to_string()),
        ("ARC__PULSAR__RECONNECT_MAX_MS", "500".to_string()),
        ("ARC__PULSAR__SEND_TIMEOUT_MS", "3000".to_string()),
        ("ARC__HEARTBEAT__INTERVAL_MS", "1000".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub fn config(env: Vec<(String, String)>) -> Config {
    Config::load_with(None, env).expect("test config")
}

/// The node binary as a child process.
pub struct NodeProcess {
    pub child: Child,
    pub http_port: u16,
}

impl NodeProcess {
    pub fn spawn(env: &[(String, String)], http_port: u16, log: &Path) -> NodeProcess {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_arc-agent"))
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("arc-agent starts");
        assert!(
            wait_port(http_port, Duration::from_secs(30)),
            "node did not listen"
        );
        NodeProcess { child, http_port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Minimal HTTP/1.1 client over a TcpStream (keeps the test deps small).
pub fn http(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    http_with(
        method,
        url,
        &[("Content-Type", "application/json")],
        body.unwrap_or(""),
    )
}

/// [`http`] with headers of the caller's; (0, "") when nothing listens.
pub fn http_with(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let _ = write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// LiveKit webhooks for `specs`, made by LiveKit's own Python packages
/// (tests/support/livekit_sign.py): (body, Authorization) pairs.
pub fn livekit_signed(specs: &Value) -> Vec<(String, Option<String>)> {
    use std::io::Write;
    let mut child = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/livekit_sign.py"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(specs.to_string().as_bytes())
        .expect("specs written");
    let out = child.wait_with_output().expect("livekit_sign.py ran");
    assert!(
        out.status.success(),
        "livekit_sign.py failed (run scripts/setup.sh for livekit-api): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).expect("signed webhooks");
    v.into_iter()
        .map(|w| {
            (
                w["body"].as_str().unwrap_or_default().to_string(),
                w["authorization"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// POST a webhook the way LiveKit does (`Authorization: <jwt>`, JSON body).
pub fn post_webhook(port: u16, body: &str, auth: Option<&str>) -> (u16, String) {
    let mut headers = vec![("Content-Type", "application/webhook+json")];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    http_with(
        "POST",
        &format!("http://127.0.0.1:{port}/livekit/webhook"),
        &headers,
        body,
    )
}

/// The value of a metric line (first sample whose name and labels start with `prefix`).
pub fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Poll `f` until it returns Some or `timeout` passes.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every key path of `example` (the seed's JSON) that `actual` lacks.
pub fn missing_paths(example: &Value, actual: &Value, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let (Value::Object(e), Value::Object(a)) = (example, actual) {
        for (k, v) in e {
            let path = format!("{prefix}{k}");
            match a.get(k) {
                None => out.push(path),
                Some(av) => out.extend(missing_paths(v, av, &format!("{path}."))),
            }
        }
    }
    out
}

/// The seed's JSON example following the heading that names `name`.
pub fn seed_example(file: &str, name: &str) -> Value {
    let path = format!("{}/../shared/seeds/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("seed file");
    let at = text.find(&format!("`{name}`")).expect("heading");
    let start = text[at..].find("```json").expect("json block") + at + 7;
    let end = text[start..].find("```").expect("end") + start;
    serde_json::from_str(&text[start..end]).expect("seed json")
}

/// Logs of the in-process node to the test output (RUST_LOG to tune).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    "info,pulsar::connection=off,pulsar::connection_manager=off",
                )
            }),
        )
        .with_test_writer()
        .try_init();
}

/// Synthetic ears and voice (energy VAD, scripted STT, tone TTS) around a
/// real brain: for tests of the brain in a whole session.
pub struct WithLlm(pub std::sync::Arc<dyn arc_actors::engine::LlmEngine>);

impl arc_actors::node::EngineProvider for WithLlm {
    fn engines_for(
        &self,
        spec: &arc_actors::node::SessionSpec,
    ) -> Result<arc_actors::engine::Engines, arc_actors::engine::EngineError> {
        let mut e = arc_actors::synthetic::SyntheticProvider::default().engines_for(spec)?;
        e.llm = self.0.clone();
        Ok(e)
    }
}

/// A WAV of espeak-ng saying `text`, with `lead_s` seconds of silence before
/// and `trail_s` after (sox pads it), e.g. for a browser's fake microphone.
pub fn espeak_wav(text: &str, out: &Path, lead_s: f32, trail_s: f32) {
    let raw = out.with_extension("raw.wav");
    let status = Command::new("espeak-ng")
        .args(["-s", "150", "-w"])
        .arg(&raw)
        .arg(text)
        .status()
        .expect("espeak-ng must be installed (scripts/setup.sh installs it)");
    assert!(status.success(), "espeak-ng failed");
    let status = Command::new("sox")
        .arg(&raw)
        .arg(out)
        .args(["pad", &lead_s.to_string(), &trail_s.to_string()])
        .status()
        .expect("sox must be installed (scripts/setup.sh installs it)");
    assert!(status.success(), "sox failed");
    let _ = std::fs::remove_file(raw);
}
