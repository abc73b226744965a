//! Free ports, and waiting: for a port to listen, for a condition to hold.

use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A port nothing listens on now (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// `scheme://127.0.0.1:<a free port>`: a server nobody runs (a broker that is down).
pub fn nobody_at(scheme: &str) -> String {
    format!("{scheme}://127.0.0.1:{}", free_port())
}

/// Whether something listens on `port` of 127.0.0.1 within `timeout`.
pub fn wait_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if listening(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Whether something listens on `port` of 127.0.0.1 now.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
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
