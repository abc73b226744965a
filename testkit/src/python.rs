//! The Python helpers of the tests, in `testkit/python/`, and the one way to
//! find and run them. They use the official clients of the systems the node
//! talks to (pulsar-client, LiveKit's livekit-api), as independent witnesses.
//!
//! - `pulsar_read.py`: reads Pulsar topics ([`crate::pulsar_read::read_pulsar`]);
//! - `pulsar_partitions.py`: the partitions of topics ([`crate::pulsar_read::partitions`]);
//! - `livekit_sign.py`: LiveKit webhooks, signed ([`crate::livekit::livekit_signed`]).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The path of the helper `name` (e.g. "pulsar_read.py").
pub fn script(name: &str) -> PathBuf {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/python")).join(name);
    assert!(path.is_file(), "no Python helper {}", path.display());
    path
}

/// [`run`] that must succeed: its stdout; a failure panics with `failure`
/// and what the helper wrote to stderr.
pub fn run_ok(name: &str, args: &[&str], stdin: Option<&[u8]>, failure: &str) -> String {
    let out = run(name, args, stdin);
    assert!(
        out.status.success(),
        "{failure}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `python3 <helper> args…` with `stdin` written to it; its output.
pub fn run(name: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new("python3")
        .arg(script(name))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("input written");
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{name} ran: {e}"))
}
