//! `arc-agent converse` end to end with the real local models: a question
//! spoken by espeak-ng goes in, the answer WAV comes out, and whisper (run
//! here, apart from the node) hears in it what the command printed as the
//! reply. Bad input gives a clear error naming the file.
//!
//! Needs the models (`arc-agent models fetch`, run by scripts/setup.sh) and
//! espeak-ng; a missing one fails the test with the command that fixes it.

use arc_models::audio::read_wav;
use arc_models::pool::InferencePool;
use arc_models::wer::word_error_rate;
use arc_testkit::speech::{transcribe_wav, whisper};
use arc_testkit::utterance::espeak;
use std::path::Path;
use std::process::{Command, Output};

/// Each run loads the models and a model server: one at a time on 2 cores.
static SERIAL: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// `converse` with no brokers (this test is about speech, not mirroring).
fn converse(input: &Path, output: &Path, data: &Path) -> Output {
    let _serial = SERIAL.lock();
    Command::new(env!("CARGO_BIN_EXE_arc-agent"))
        .args(["converse", "--in"])
        .arg(input)
        .arg("--out")
        .arg(output)
        .env("ARC__NATS__ENABLED", "false")
        .env("ARC__PULSAR__ENABLED", "false")
        .env("ARC__NODE__DATA_DIR", data)
        .env("RUST_LOG", "warn")
        // Greedy decoding: the same reply every run, so the test checks the
        // speech path, not the luck of a sampled reply (numbers, names).
        .env("ARC__SESSION__BRAIN__TEMPERATURE", "0")
        .output()
        .expect("arc-agent runs")
}

fn replies(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("agent: "))
        .map(|s| s.trim().to_string())
        .collect()
}

fn users(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("user: "))
        .map(|s| s.rsplit_once(" (confidence").map_or(s, |(t, _)| t))
        .map(|s| s.trim().to_string())
        .collect()
}

/// What whisper (loaded here, apart from the node) hears in `wav`.
async fn transcribe(wav: &Path) -> String {
    transcribe_wav(&whisper(InferencePool::new(2)), wav).await
}

#[tokio::test]
async fn a_spoken_question_gets_a_spoken_answer_that_says_the_printed_reply() {
    let dir = tempfile::tempdir().unwrap();
    let question = dir.path().join("question.wav");
    let answer = dir.path().join("answer.wav");
    espeak("Please tell me something interesting about the moon.").wav(&question);

    let out = converse(&question, &answer, &dir.path().join("data"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "converse failed:\n{stdout}\n{stderr}");
    println!("{stdout}");

    let heard = users(&stdout);
    assert_eq!(heard.len(), 1, "one turn expected: {stdout}");
    let q_wer = word_error_rate(
        "please tell me something interesting about the moon",
        &heard[0],
    );
    assert!(
        q_wer <= 0.25,
        "question heard as {:?} (WER {q_wer:.2})",
        heard[0]
    );
    assert!(stdout.contains("timings: stt"), "{stdout}");

    let reply = replies(&stdout).join(" ");
    assert!(!reply.is_empty(), "no reply printed: {stdout}");
    let spoken = transcribe(&answer).await;
    let wer = word_error_rate(&reply, &spoken);
    println!("printed reply: {reply:?}\nwhisper hears: {spoken:?}\nWER {wer:.2}");
    assert!(
        wer <= 0.25,
        "the answer WAV does not say the reply (WER {wer:.2})"
    );
}

#[tokio::test]
async fn several_turns_separated_by_silence_are_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.wav");
    let b = dir.path().join("b.wav");
    espeak("Good morning.").wav(&a);
    espeak("Please tell me a joke.").wav(&b);
    let a = read_wav(&a).unwrap();
    let b = read_wav(&b).unwrap();
    assert_eq!(a.sample_rate, b.sample_rate);
    let gap = vec![0.0f32; a.sample_rate as usize * 3 / 2];
    let mut both = a.samples.clone();
    both.extend_from_slice(&gap);
    both.extend_from_slice(&b.samples);
    let question = dir.path().join("two.wav");
    arc_models::audio::write_wav(&question, &both, a.sample_rate).unwrap();
    let answer = dir.path().join("answer.wav");

    let out = converse(&question, &answer, &dir.path().join("data"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let heard = users(&stdout);
    assert_eq!(heard.len(), 2, "two turns expected: {stdout}");
    assert!(
        word_error_rate("good morning", &heard[0]) <= 0.5,
        "{heard:?}"
    );
    assert!(
        word_error_rate("please tell me a joke", &heard[1]) <= 0.4,
        "{heard:?}"
    );
    assert_eq!(replies(&stdout).len(), 2);
    assert!(read_wav(&answer).unwrap().duration_ms > 1000);
}

#[test]
fn bad_input_files_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 3] = [
        (
            "corrupt.wav",
            b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk",
            "corrupt.wav",
        ),
        ("empty.wav", b"", "empty.wav"),
        ("text.wav", b"hello, I am not audio at all", "not a WAV"),
    ];
    for (name, bytes, expect) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, bytes).unwrap();
        let out = converse(
            &input,
            &dir.path().join("out.wav"),
            &dir.path().join("data"),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} was accepted");
        assert!(stderr.contains(expect), "{name}: {stderr}");
    }
    // Silence only: a clear "no speech" rather than a hang or an empty answer.
    let silent = dir.path().join("silent.wav");
    arc_models::audio::write_wav(&silent, &vec![0.0; 16_000 * 3], 16_000).unwrap();
    let out = converse(
        &silent,
        &dir.path().join("out.wav"),
        &dir.path().join("data"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no speech found"), "{stderr}");
    let missing = dir.path().join("nope.wav");
    let out = converse(
        &missing,
        &dir.path().join("out.wav"),
        &dir.path().join("data"),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.wav"));
}
