//! NATS for tests: the machine's shared server, or a private `nats-server`
//! that a test may stop, kill and restart.

use crate::process;
use crate::wait::{free_port, listening, wait_port};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The shared NATS of the machine (a JetStream server runs at 127.0.0.1:4222).
pub const SHARED_NATS: &str = "nats://127.0.0.1:4222";

/// Waits until the server has taken every subscription `client` made so far.
///
/// `flush` only writes them to the socket: an event another connection (the
/// node's) publishes right after can still reach the server first and go to
/// nobody (the brokers test missed its `session.started` so, once, on a
/// loaded machine). The server reads a connection's commands in order, so
/// the answer to a request sent after the subscriptions ("no responders",
/// nobody listens on the subject) means it has read them.
pub async fn subscribed(client: &async_nats::Client) {
    use async_nats::RequestErrorKind;
    match client.request("arc.test.subscribed", "".into()).await {
        Ok(_) => {}
        Err(e) if e.kind() == RequestErrorKind::NoResponders => {}
        Err(e) => panic!("the round trip to NATS after subscribing failed: {e}"),
    }
}

/// A nats-server of the test's own on a free port, killed on drop.
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    /// Extra nats-server flags (authentication, TLS), kept for `restart`.
    args: Vec<String>,
}

impl NatsServer {
    pub fn start() -> NatsServer {
        Self::start_with(&[])
    }

    /// A server with extra flags, e.g. `--user u --pass p` or `--tls ...`.
    pub fn start_with(args: &[&str]) -> NatsServer {
        let port = free_port();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        NatsServer {
            child: Some(spawn(port, &args)),
            port,
            args,
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stop it the clean way (SIGTERM), and wait until the port is free.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            process::stop(&mut c, Duration::from_secs(10));
        }
        self.wait_closed();
    }

    /// Kill it (SIGKILL): clients see the connection drop at once.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            process::kill(&mut c);
        }
        self.wait_closed();
    }

    /// Start again on the same port (after `stop` or `kill`).
    pub fn restart(&mut self) {
        if self.child.is_none() {
            self.child = Some(spawn(self.port, &self.args));
        }
    }

    fn wait_closed(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && listening(self.port) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn spawn(port: u16, args: &[String]) -> Child {
    let child = Command::new("/usr/sbin/nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server starts");
    assert!(wait_port(port, Duration::from_secs(10)));
    child
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            process::kill(&mut c);
        }
    }
}
