//! `arc-agent converse` end to end with the real local models: a question
//! spoken by espeak-ng goes in, the answer WAV comes out, and whisper (run
//! here, apart from the node) hears in it what the command printed as the
//! reply. Bad input gives a clear error naming the file. A `--text` question
//! is spoken by ARC's own voices (piper, or espeak-ng's in process) into a
//! WAV beside the answer that whisper hears as the question.
//!
//! Needs the models (`arc-agent models fetch`, run by scripts/setup.sh) and
//! espeak-ng; a missing one fails the test with the command that fixes it.

use arc_models::audio::read_wav;
use arc_models::pool::InferencePool;
use arc_models::wer::word_error_rate;
use arc_testkit::speech::{transcribe_wav, whisper};
use arc_testkit::utterance::espeak;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

/// Each run loads the models and a model server, and the checks run whisper
/// in the test's own process: one test at a time on 2 cores, so a `converse`
/// never shares the machine with another test's whisper (once, under that
/// load, a second turn's final transcript came back empty).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `converse` with no brokers (this test is about speech, not mirroring).
fn converse(input: &Path, output: &Path, data: &Path) -> Output {
    converse_with(
        &[
            "--in".as_ref(),
            input.as_ref(),
            "--out".as_ref(),
            output.as_ref(),
        ],
        data,
    )
}

/// `converse ARGS` with no brokers.
fn converse_with(args: &[&OsStr], data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arc-agent"))
        .arg("converse")
        .args(args)
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
    let _serial = SERIAL.lock().await;
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
    let _serial = SERIAL.lock().await;
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
        "{heard:?}\n{stdout}"
    );
    assert_eq!(replies(&stdout).len(), 2);
    assert!(read_wav(&answer).unwrap().duration_ms > 1000);
}

#[test]
fn bad_input_files_are_refused_naming_the_file() {
    let _serial = SERIAL.blocking_lock();
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

/// `converse --text QUESTION [--voice VOICE] --out DIR/answer.wav`: checks
/// that it ran, printed what it heard and the reply before the report, and
/// where the answer is; returns its stdout and what whisper hears in the
/// spoken question.
async fn text_question(question: &str, voice: Option<&str>, key_words: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let answer = dir.path().join("answer.wav");
    let mut args: Vec<&OsStr> = vec!["--text".as_ref(), question.as_ref()];
    if let Some(v) = voice {
        args.extend([OsStr::new("--voice"), OsStr::new(v)]);
    }
    args.extend([OsStr::new("--out"), answer.as_os_str()]);
    let out = converse_with(&args, &dir.path().join("data"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "converse failed:\n{stdout}\n{stderr}");
    println!("{stdout}");

    // The question was kept beside the answer, and the command said where.
    let asked = dir.path().join("answer.question.wav");
    assert!(asked.is_file(), "no {}: {stdout}", asked.display());
    assert!(
        stdout.contains(&format!("into {}", asked.display())),
        "{stdout}"
    );
    if let Some(v) = voice {
        assert!(stdout.contains(&format!("spoken by {v} ")), "{stdout}");
    }
    // whisper, apart from the node, hears the question in it...
    let heard_here = transcribe(&asked).await.to_lowercase();
    for w in key_words {
        assert!(heard_here.contains(w), "{w:?} not in {heard_here:?}");
    }
    // ...and so did the node's.
    let heard = users(&stdout);
    assert_eq!(heard.len(), 1, "one turn expected: {stdout}");
    for w in key_words {
        assert!(
            heard[0].to_lowercase().contains(w),
            "{w:?} not in {heard:?}"
        );
    }

    // What was heard and the reply came before the report; then where the
    // answer is and how to play it.
    let report = stdout.find("\ninput ").expect("the report");
    let live_heard = stdout.find("heard: ").expect("a `heard:` line");
    let live_reply = stdout.find("reply: ").expect("a `reply:` line");
    assert!(live_heard < live_reply && live_reply < report, "{stdout}");
    let reply = replies(&stdout).join(" ");
    assert!(!reply.is_empty(), "no reply: {stdout}");
    assert!(
        stdout.contains(&format!("reply: {reply}")),
        "the live reply is not the reported one: {stdout}"
    );
    assert!(
        stdout.contains(&format!("aplay {}", answer.display())),
        "{stdout}"
    );
    assert!(read_wav(&answer).unwrap().duration_ms > 500);
    stdout
}

#[tokio::test]
async fn a_text_question_is_spoken_by_arc_heard_and_answered() {
    let _serial = SERIAL.lock().await;
    text_question(
        "What is the capital of France?",
        None,
        &["capital", "france"],
    )
    .await;
}

#[tokio::test]
async fn a_text_question_in_espeaks_voice_needs_no_espeak_command() {
    let _serial = SERIAL.lock().await;
    text_question(
        "Please tell me something interesting about the moon.",
        Some("espeak"),
        &["moon"],
    )
    .await;
}

#[test]
fn question_options_that_cannot_work_are_refused_before_any_model_loads() {
    let _serial = SERIAL.blocking_lock();
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.wav");
    arc_models::audio::write_wav(&q, &vec![0.1; 16_000], 16_000).unwrap();
    let out = dir.path().join("a.wav");
    let run = |args: &[&OsStr]| {
        // No models here: a refusal that came after loading would say so.
        let o = Command::new(env!("CARGO_BIN_EXE_arc-agent"))
            .arg("converse")
            .args(args)
            .env("ARC_MODELS_DIR", dir.path().join("no-models"))
            .env("ARC__NATS__ENABLED", "false")
            .env("ARC__PULSAR__ENABLED", "false")
            .env("ARC__NODE__DATA_DIR", dir.path().join("data"))
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!stderr.contains("models fetch"), "{args:?}: {stderr}");
        stderr
    };
    let (text, out_flag) = (OsStr::new("--text"), OsStr::new("--out"));

    let both = run(&["--in".as_ref(), q.as_os_str(), text, "Hi".as_ref()]);
    assert!(
        both.contains("'--in <WAV>' cannot be used with '--text <QUESTION>'"),
        "{both}"
    );
    let neither = run(&[out_flag, out.as_os_str()]);
    assert!(
        neither.contains("--in <WAV>|--text <QUESTION>"),
        "{neither}"
    );

    let unknown = run(&[text, "Hi".as_ref(), "--voice".as_ref(), "nobody".as_ref()]);
    assert!(
        unknown.contains("unknown --voice \"nobody\"")
            && unknown.contains("piper-en_US-joe-medium")
            && unknown.contains("espeak"),
        "{unknown}"
    );
    let espeak = run(&[
        text,
        "Hi".as_ref(),
        "--voice".as_ref(),
        "espeak:zz-nope".as_ref(),
    ]);
    assert!(
        espeak.contains("espeak-ng has no voice \"zz-nope\""),
        "{espeak}"
    );
    let voice_with_wav = run(&[
        "--in".as_ref(),
        q.as_os_str(),
        "--voice".as_ref(),
        "espeak".as_ref(),
    ]);
    assert!(
        voice_with_wav.contains("--voice picks who speaks --text"),
        "{voice_with_wav}"
    );
    let empty = run(&[text, " ".as_ref()]);
    assert!(empty.contains("--text is empty"), "{empty}");
    let no_folder = run(&[
        text,
        "Hi".as_ref(),
        out_flag,
        dir.path().join("nope/a.wav").as_os_str(),
    ]);
    assert!(no_folder.contains("does not exist"), "{no_folder}");
}
