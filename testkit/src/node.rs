//! [`TestNode`]: the `arc-agent` binary as a child process (`serve` unless
//! told otherwise), ready when it listens, answers `/readyz` or logs a line;
//! killed on drop, its log printed when the test fails.
//!
//! The binary's path is the caller's (`env!("CARGO_BIN_EXE_arc-agent")`, which
//! only the root crate's tests have): this crate does not depend on arc-agent.

use crate::http::http;
use crate::process;
use crate::wait::{free_port, listening};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Environment variables from pairs (`("ARC__NODE__MAX_SESSIONS", 3)`).
pub fn vars<K: ToString, V: ToString>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Settings for the real speech models (Silero, whisper, piper) with the
/// placeholder brain, which repeats the question: a long question gives a
/// long, deterministic reply (tests of the speech path, not of the model).
pub fn speech_env() -> Vec<(String, String)> {
    vars([
        ("ARC__ENGINES__PROFILE", "local"),
        ("ARC__ENGINES__LLM__BRAIN", "placeholder"),
    ])
}

/// Environment for a node under test: its brokers, data dir and HTTP port,
/// fault injection on, quick broker reconnects, a heartbeat a second.
pub fn node_env(
    pulsar_url: &str,
    nats_url: &str,
    data_dir: &Path,
    http_port: u16,
) -> Vec<(String, String)> {
    vars([
        ("ARC__PULSAR__URL", pulsar_url.to_string()),
        ("ARC__NATS__URL", nats_url.to_string()),
        ("ARC__NODE__DATA_DIR", data_dir.display().to_string()),
        ("ARC__HTTP__LISTEN", format!("127.0.0.1:{http_port}")),
        ("ARC__HTTP__FAULT_INJECTION", "true".to_string()),
        ("ARC__PULSAR__RECONNECT_MAX_MS", "500".to_string()),
        ("ARC__PULSAR__SEND_TIMEOUT_MS", "3000".to_string()),
        ("ARC__HEARTBEAT__INTERVAL_MS", "1000".to_string()),
    ])
}

/// When a started node counts as ready.
enum Ready {
    /// Its HTTP port listens.
    Listening,
    /// `GET /readyz` answers 200.
    Readyz,
    /// Its log holds this text.
    Logged(String),
}

/// How to start a [`TestNode`].
pub struct TestNodeBuilder {
    binary: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    http_port: u16,
    log: PathBuf,
    ready: Ready,
    timeout: Duration,
}

impl TestNodeBuilder {
    /// The command line after the binary (default: `serve`).
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args = args.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Environment variables, added to the test's own.
    pub fn envs<K: ToString, V: ToString>(
        mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env.extend(vars(pairs));
        self
    }

    /// One environment variable.
    pub fn env(self, key: &str, value: impl ToString) -> Self {
        self.envs([(key, value.to_string())])
    }

    /// `serve` as a node under test (see [`node_env`]): these brokers, its
    /// data in `dir/data`, its log `dir/node.log`, a free HTTP port.
    pub fn under_test(self, dir: &Path, pulsar_url: &str, nats_url: &str) -> Self {
        let port = free_port();
        self.envs(node_env(pulsar_url, nats_url, &dir.join("data"), port))
            .http_port(port)
            .log(&dir.join("node.log"))
    }

    /// The HTTP port the node listens on (its `http.listen`, set by the caller).
    pub fn http_port(mut self, port: u16) -> Self {
        self.http_port = port;
        self
    }

    /// Where its stdout and stderr go (appended to).
    pub fn log(mut self, path: &Path) -> Self {
        self.log = path.to_path_buf();
        self
    }

    /// Ready when `GET /readyz` answers 200 (its engines are loaded).
    pub fn ready_on_readyz(mut self) -> Self {
        self.ready = Ready::Readyz;
        self
    }

    /// Ready when its log holds `text` (a node with no HTTP port).
    pub fn ready_on_log(mut self, text: &str) -> Self {
        self.ready = Ready::Logged(text.to_string());
        self
    }

    /// How long it may take to be ready (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Start it and wait until it is ready; a node that exits first or is
    /// not ready in time fails the test with its log.
    pub fn spawn(self) -> TestNode {
        let mut node = self.start();
        node.wait_ready();
        node
    }

    /// Start it (see [`TestNode::wait_ready`]), e.g. to start several at once.
    pub fn start(self) -> TestNode {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("log {}: {e}", self.log.display()));
        let child = Command::new(&self.binary)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", self.binary.display()));
        TestNode {
            child,
            http_port: self.http_port,
            log: self.log,
            ready: self.ready,
            timeout: self.timeout,
        }
    }
}

/// A log file of its own for a node whose test named none.
fn default_log() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "arc-test-node-{}-{}.log",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The node binary as a child process.
pub struct TestNode {
    pub child: Child,
    pub http_port: u16,
    log: PathBuf,
    ready: Ready,
    timeout: Duration,
}

impl TestNode {
    /// How to start `binary` (the caller's `env!("CARGO_BIN_EXE_arc-agent")`):
    /// `serve`, ready when it listens, its log in the temp dir.
    pub fn builder(binary: impl Into<PathBuf>) -> TestNodeBuilder {
        TestNodeBuilder {
            binary: binary.into(),
            args: vec!["serve".into()],
            env: Vec::new(),
            http_port: 0,
            log: default_log(),
            ready: Ready::Listening,
            timeout: Duration::from_secs(30),
        }
    }

    /// `arc-agent serve` with `env`, ready when `http_port` listens, logging to `log`.
    pub fn serve(binary: &str, env: &[(String, String)], http_port: u16, log: &Path) -> TestNode {
        Self::builder(binary)
            .envs(env.iter().cloned())
            .http_port(http_port)
            .log(log)
            .spawn()
    }

    /// Wait until it is ready (as its builder said); a node that exits
    /// first or is not ready in time fails the test with its log.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + self.timeout;
        loop {
            let ready = match &self.ready {
                Ready::Listening => listening(self.http_port),
                Ready::Readyz => listening(self.http_port) && self.get("/readyz").0 == 200,
                Ready::Logged(text) => self.log_text().contains(text.as_str()),
            };
            if ready {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the node exited ({status}) before it was ready:\n{}",
                    self.log_tail(40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "the node was not ready in {:?}:\n{}",
                self.timeout,
                self.log_tail(40)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    /// `GET path`: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http("GET", &self.url(path), None)
    }

    /// `POST path` with a JSON body: (status, body).
    pub fn post(&self, path: &str, body: Option<&str>) -> (u16, String) {
        http("POST", &self.url(path), body)
    }

    /// Everything it logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log_text();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Ask it to stop (SIGTERM).
    pub fn terminate(&self) {
        process::terminate(&self.child);
    }

    /// Wait up to `timeout` for it to exit; its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        process::wait_exit(&mut self.child, timeout)
    }

    /// Kill it (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        process::kill(&mut self.child);
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL; returns its log.
    pub fn stop(mut self, grace: Duration) -> String {
        process::stop(&mut self.child, grace);
        self.log_text()
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        process::kill(&mut self.child);
        if std::thread::panicking() {
            eprintln!(
                "--- last lines of the node's log ({}) ---\n{}",
                self.log.display(),
                self.log_tail(60)
            );
        }
    }
}
