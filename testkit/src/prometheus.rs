//! A real Prometheus server (the Debian `prometheus` binary) for tests, and a
//! plain-TCP client for its HTTP API.

use crate::http::split_response;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Message for a missing Prometheus/promtool binary.
pub const INSTALL_HINT: &str =
    "run scripts/setup-test.sh (it installs the Debian package `prometheus`, which ships promtool)";

/// Path of a binary that the Debian `prometheus` package installs, or a
/// panic that says how to get it.
pub fn binary(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    match found {
        Some(p) => p,
        None => panic!("`{name}` not found on PATH: {INSTALL_HINT}"),
    }
}

/// Percent-encode a query-string value (everything but RFC 3986 unreserved).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET http://127.0.0.1:{port}{path}` as HTTP/1.0, so the server answers with
/// a plain body ended by close (no chunked encoding). Returns (status, body).
pub fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    Ok(split_response(&String::from_utf8_lossy(&raw)))
}

/// A `prometheus` server on its own port and storage, killed on drop.
pub struct PrometheusServer {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl PrometheusServer {
    /// Start with `config_yaml` written to `dir/prometheus.yml`, the TSDB in `dir/data`.
    pub fn start(dir: &Path, port: u16, config_yaml: &str) -> PrometheusServer {
        std::fs::create_dir_all(dir).expect("prometheus dir");
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, config_yaml).expect("prometheus config");
        let log = dir.join("prometheus.log");
        let out = std::fs::File::create(&log).expect("prometheus log");
        let child = Command::new(binary("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("prometheus does not start ({e}): {INSTALL_HINT}"));
        let mut server = PrometheusServer { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = get(port, "/-/ready") {
                break;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "prometheus exited with {status}: {}",
                    std::fs::read_to_string(&server.log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready on {port}: {}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// An API call (`path` starting with `/api/v1/`), parsed.
    pub fn api(&self, path: &str) -> Value {
        let (status, body) = get(self.port, path).expect("prometheus answers");
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path}: HTTP {status}, not JSON ({e}): {body}"))
    }

    /// An instant query at the current time.
    pub fn query(&self, promql: &str) -> Value {
        self.api(&format!("/api/v1/query?query={}", url_encode(promql)))
    }

    /// The result vector of an instant query that must succeed.
    pub fn query_vector(&self, promql: &str) -> Vec<Value> {
        let v = self.query(promql);
        assert_eq!(v["status"], "success", "query {promql}: {v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
