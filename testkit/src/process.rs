//! Stopping child processes: SIGTERM and a grace period, or SIGKILL.

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Send SIGTERM (a clean stop request).
pub fn terminate(child: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

/// Wait up to `timeout` for the child to exit; its status if it did.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGKILL, and reap it.
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// SIGTERM, up to `grace` to exit, then SIGKILL.
pub fn stop(child: &mut Child, grace: Duration) {
    terminate(child);
    wait_exit(child, grace);
    kill(child);
}
