//! Free ports, and waiting: for a port to listen, for a condition to hold.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A port nothing listens on now, never handed out before by this process,
/// and outside the kernel's ephemeral range.
///
/// Why not the OS's pick (`bind` to port 0): that port comes from the
/// ephemeral range, so between this call and the server's own bind it can
/// go to the next `bind(0)` (another test's pulsar-lite, nats-server or
/// node, started at the same moment) or be the source port of any outgoing
/// connection; a check that connects to it can even reach itself (a TCP
/// self-connect). A node that lost its port so would look ready to a test
/// whose requests then went to another server (the suspected cause of a
/// `/ws` handshake reset seen once in CI). Outside the
/// ephemeral range no outgoing connection and no `bind(0)` takes a port,
/// and the counter keeps this process's tests from sharing one.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, high) = outside_ephemeral_range();
    let span = u32::from(high - low);
    // Test processes that run at once start at different places.
    let start = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = low + ((start + n) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 in {low}..{high}");
}

/// The ports [`free_port`] picks from: 10000 up to the start of the
/// kernel's ephemeral range (`ip_local_port_range`; 32768 by default), or
/// above its end where it starts lower.
fn outside_ephemeral_range() -> (u16, u16) {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|p| p.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        });
    match range {
        Some((first, _)) if first >= 12_000 => (10_000, first),
        Some((_, last)) if last <= 63_000 => (last + 1, u16::MAX),
        _ => (10_000, 32_768),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_and_outside_the_ephemeral_range() {
        let (low, high) = outside_ephemeral_range();
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ports.len(),
            "a port handed out twice: {ports:?}"
        );
        assert!(ports.iter().all(|p| (low..high).contains(p)), "{ports:?}");
        // What the OS would have picked lies in the other range.
        let os_pick = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind");
        assert!(
            !(low..high).contains(&os_pick),
            "{os_pick} in {low}..{high}"
        );
    }
}
