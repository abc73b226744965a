//! Unit tests of `converse`: the question path, the checks made before any
//! model loads, what is printed live.

use super::*;

fn cfg() -> Config {
    Config::load_with(None, Vec::<(String, String)>::new()).expect("the embedded default loads")
}

#[test]
fn the_spoken_question_goes_beside_the_answer() {
    let cases = [
        ("answer.wav", "answer.question.wav"),
        ("out/a.wav", "out/a.question.wav"),
        ("/tmp/x/my answer.WAV", "/tmp/x/my answer.question.wav"),
        ("noext", "noext.question.wav"),
    ];
    for (out, want) in cases {
        assert_eq!(question_path(Path::new(out)), PathBuf::from(want), "{out}");
    }
}

#[test]
fn text_questions_are_checked_before_any_model_is_loaded() {
    let cfg = cfg();
    let out = Path::new("answer.wav");
    let q = text_question(&cfg, "  What time is it? ", None, out).unwrap();
    assert_eq!(q.text, "What time is it?");
    assert_eq!(q.path, PathBuf::from("answer.question.wav"));
    // Default: the configured TTS voice, a piper voice of the manifest.
    assert!(
        matches!(&q.speaker, QuestionSpeaker::Piper(v) if *v == cfg.engines.tts.voice),
        "{:?}",
        q.speaker
    );
    let named = text_question(&cfg, "Hi", Some("piper-en_US-joe-medium"), out).unwrap();
    assert_eq!(named.speaker.name(), "piper-en_US-joe-medium");

    assert!(matches!(
        text_question(&cfg, " \n ", None, out),
        Err(ConverseError::EmptyText)
    ));
    let err = text_question(&cfg, "Hi", Some("nobody"), out).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("\"nobody\"")
            && msg.contains("piper-en_US-joe-medium")
            && msg.contains("espeak"),
        "{msg}"
    );
    // A non-tts model of the manifest is no voice.
    assert!(matches!(
        text_question(&cfg, "Hi", Some("silero-vad"), out),
        Err(ConverseError::UnknownVoice { .. })
    ));
}

#[test]
fn espeak_voices_are_named_and_checked() {
    let cfg = cfg();
    let out = Path::new("answer.wav");
    let q = text_question(&cfg, "Hi", Some("espeak"), out).unwrap();
    assert!(matches!(&q.speaker, QuestionSpeaker::Espeak(v) if v.name() == "en-us"));
    assert_eq!(q.speaker.name(), "espeak");
    let gb = text_question(&cfg, "Hi", Some("espeak:en-gb"), out).unwrap();
    assert_eq!(gb.speaker.name(), "espeak:en-gb");
    let err = text_question(&cfg, "Hi", Some("espeak:zz-nope"), out).unwrap_err();
    assert!(err.to_string().contains("zz-nope"), "{err}");
    // `espeak:` with no voice is not a voice.
    assert!(matches!(
        text_question(&cfg, "Hi", Some("espeak:"), out),
        Err(ConverseError::UnknownVoice { .. })
    ));
}

#[test]
fn the_live_echo_prints_what_was_heard_then_the_reply_on_one_line() {
    let mut echo = LiveEcho::default();
    let mut out = String::new();
    let notices = [
        SessionNotice::SpeechStarted,
        SessionNotice::PartialTranscript {
            turn: 1,
            text: "hello".into(),
        },
        SessionNotice::FinalTranscript {
            turn: 1,
            text: "Hello there.".into(),
        },
        SessionNotice::AgentSentence {
            turn: 1,
            text: "Hi!".into(),
        },
        SessionNotice::AgentSentence {
            turn: 1,
            text: " How can I help? ".into(),
        },
        SessionNotice::AgentTurnDone {
            turn: 1,
            interrupted: false,
        },
        SessionNotice::FinalTranscript {
            turn: 2,
            text: "Tell me a joke.".into(),
        },
        SessionNotice::AgentSentence {
            turn: 2,
            text: "Why did".into(),
        },
        SessionNotice::AgentTurnDone {
            turn: 2,
            interrupted: true,
        },
        // A turn with no reply prints nothing more.
        SessionNotice::AgentTurnDone {
            turn: 3,
            interrupted: false,
        },
    ];
    for n in &notices {
        out.extend(echo.text(n));
    }
    assert_eq!(
        out,
        "heard: Hello there.\nreply: Hi! How can I help?\n\
         heard: Tell me a joke.\nreply: Why did (interrupted)\n"
    );
    assert_eq!(echo.finish(), None);
    // A reply cut short by the end of the run is ended.
    echo.text(&SessionNotice::AgentSentence {
        turn: 4,
        text: "Well".into(),
    });
    assert_eq!(echo.finish().as_deref(), Some("\n"));
    // The echo never starts a line the report's parsers read.
    assert!(out
        .lines()
        .all(|l| !l.starts_with("user: ") && !l.starts_with("agent: ")));
}

#[test]
fn the_play_hint_names_the_file_and_quotes_it_for_the_shell() {
    let hint = play_hint(Path::new("answer.wav"));
    assert!(hint.contains("aplay answer.wav"), "{hint}");
    assert!(
        hint.contains("ffplay -autoexit -nodisp answer.wav"),
        "{hint}"
    );
    assert!(hint.contains("file:///"), "{hint}");
    let odd = play_hint(Path::new("/tmp/it's my answer.wav"));
    assert!(
        odd.contains(r#"aplay '/tmp/it'\''s my answer.wav'"#),
        "{odd}"
    );
    assert!(
        odd.contains("file:///tmp/it%27s%20my%20answer.wav"),
        "{odd}"
    );
}

#[test]
fn out_must_be_a_file_in_a_folder_that_exists() {
    let dir = tempfile::tempdir().unwrap();
    assert!(check_output(&dir.path().join("a.wav")).is_ok());
    assert!(check_output(Path::new("answer.wav")).is_ok());
    let err = check_output(&dir.path().join("nope/a.wav")).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    let err = check_output(dir.path()).unwrap_err();
    assert!(err.to_string().contains("is a folder"), "{err}");
}
