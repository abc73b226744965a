//! Loading, overriding and validating the whole configuration.

use super::*;

fn env(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn default_loads_with_seed_values() {
    let c = Config::load_with(None, env(&[])).unwrap();
    assert_eq!(c.session.brain.max_tokens, 150);
    assert_eq!(c.session.brain.timeout_ms, 2000);
    assert_eq!(c.pulsar.partitions.conversation, 16);
    assert_eq!(c.heartbeat.interval_ms, 30_000);
}

#[test]
fn env_overrides_are_typed() {
    let c = Config::load_with(
        None,
        env(&[
            ("ARC__NATS__URL", "nats://10.0.0.1:4222"),
            ("ARC__SESSION__BRAIN__TEMPERATURE", "0.2"),
            ("ARC__PULSAR__ENABLED", "false"),
            ("OTHER", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(c.nats.url, "nats://10.0.0.1:4222");
    assert_eq!(c.session.brain.temperature, 0.2);
    assert!(!c.pulsar.enabled);
}

#[test]
fn livekit_env_vars_follow_livekit_conventions() {
    let c = Config::load_with(
        None,
        env(&[
            ("LIVEKIT_URL", "wss://lk.example.com"),
            ("LIVEKIT_API_KEY", "APIkey"),
            ("LIVEKIT_API_SECRET", "s3cret"),
            ("ARC__LIVEKIT__URL", "ws://127.0.0.1:7880"),
        ]),
    )
    .unwrap();
    assert_eq!(c.livekit.url, "ws://127.0.0.1:7880", "ARC__ wins");
    assert_eq!(c.livekit.api_key, "APIkey");
    assert!(c.livekit.has_credentials());
    assert!(!format!("{c:?}").contains("s3cret"), "secret never printed");
    // Half a key pair is not refused here (the secret may come from
    // LIVEKIT_API_SECRET at use); webhooks need both and say so.
    let half = Config::load_with(None, env(&[("LIVEKIT_API_KEY", "only-key")])).unwrap();
    assert!(!half.livekit.has_credentials());
    let e = Config::load_with(None, env(&[("LIVEKIT_URL", "lk.example.com")])).unwrap_err();
    assert!(e.to_string().contains("livekit.url"), "{e}");
}

#[test]
fn database_urls_follow_the_ecosystem_and_never_print_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("arc.toml");
    std::fs::write(
        &file,
        "[consumers]\npostgres_url = \"postgres://file@db/arc\"\nredis_url = \"redis://file:6379\"\n",
    )
    .unwrap();
    let c = Config::load_with(
        Some(&file),
        env(&[
            (
                "DATABASE_URL",
                "postgres://arc:hunter2@pg.internal:5432/arc",
            ),
            ("REDIS_URL", "redis://cache:6379/2"),
        ]),
    )
    .unwrap();
    assert_eq!(
        c.consumers.postgres_url, "postgres://arc:hunter2@pg.internal:5432/arc",
        "DATABASE_URL wins over the file"
    );
    assert_eq!(c.consumers.redis_url, "redis://cache:6379/2");
    let printed = format!("{c:?}");
    assert!(!printed.contains("hunter2"), "password never printed");
    assert!(
        printed.contains("\"postgres://pg.internal:5432/arc\""),
        "{printed}"
    );
    let c = Config::load_with(
        Some(&file),
        env(&[
            ("DATABASE_URL", "postgres://a@b/c"),
            ("ARC__CONSUMERS__POSTGRES_URL", "postgres://arc@wins/arc"),
        ]),
    )
    .unwrap();
    assert_eq!(
        c.consumers.postgres_url, "postgres://arc@wins/arc",
        "ARC__ wins"
    );
    let e = Config::load_with(None, env(&[("DATABASE_URL", "mysql://x:pw@y/z")])).unwrap_err();
    assert!(e.to_string().contains("consumers.postgres_url"), "{e}");
    assert!(!e.to_string().contains("pw@"), "{e}");
}

#[test]
fn bad_values_name_the_key() {
    let e =
        Config::load_with(None, env(&[("ARC__SESSION__BRAIN__TIMEOUT_MS", "soon")])).unwrap_err();
    assert!(e.to_string().contains("session.brain.timeout_ms"), "{e}");
    let e = Config::load_with(None, env(&[("ARC__SESSION__BRAIN__TEMPERATURE", "7")])).unwrap_err();
    assert!(e.to_string().contains("session.brain.temperature"), "{e}");
    let e = Config::load_with(
        None,
        env(&[("ARC__SESSION__BRAIN__SUMMARY_MAX_TOKENS", "5")]),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("session.brain.summary_max_tokens"),
        "{e}"
    );
    let e =
        Config::load_with(None, env(&[("ARC__SESSION__BRAIN__SUMMARIZE", "maybe")])).unwrap_err();
    assert!(e.to_string().contains("session.brain.summarize"), "{e}");
    let e = Config::load_with(None, env(&[("ARC__SESSION__TTS__MAX_AHEAD_MS", "50")])).unwrap_err();
    assert!(
        e.to_string().contains("session.tts.max_ahead_ms") && e.to_string().contains("200"),
        "{e}"
    );
    for bad in ["50", "1001"] {
        let e =
            Config::load_with(None, env(&[("ARC__SESSION__TTS__MIN_AHEAD_MS", bad)])).unwrap_err();
        assert!(
            e.to_string().contains("session.tts.min_ahead_ms") && e.to_string().contains(bad),
            "{e}"
        );
    }
    let e = Config::load_with(None, env(&[("ARC__NATS__NOPE", "1")])).unwrap_err();
    assert!(
        e.to_string().contains("nats.nope") && e.to_string().contains("unknown"),
        "{e}"
    );
    let e = Config::load_with(None, env(&[("ARC__HTTP__LISTEN", "localhost")])).unwrap_err();
    assert!(e.to_string().contains("http.listen"), "{e}");
}

#[test]
fn file_overrides_and_rejects_unknown_or_mistyped_keys() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(
        &p,
        "[nats]\nenabled = false\n[session.brain]\ntemperature = 1\n",
    )
    .unwrap();
    let c = Config::load_with(Some(&p), env(&[])).unwrap();
    assert!(!c.nats.enabled);
    assert_eq!(c.session.brain.temperature, 1.0);
    std::fs::write(&p, "[nats]\nurl = 5\n").unwrap();
    let e = Config::load_with(Some(&p), env(&[])).unwrap_err();
    assert!(
        e.to_string().contains("nats.url") && e.to_string().contains("expected string"),
        "{e}"
    );
    std::fs::write(&p, "[natz]\nurl = \"x\"\n").unwrap();
    assert!(Config::load_with(Some(&p), env(&[]))
        .unwrap_err()
        .to_string()
        .contains("natz"));
    std::fs::write(&p, "[nats\n").unwrap();
    assert!(matches!(
        Config::load_with(Some(&p), env(&[])),
        Err(ConfigError::Syntax { .. })
    ));
    let e = Config::load_with(Some(&dir.path().join("missing.toml")), env(&[])).unwrap_err();
    assert!(e.to_string().contains("missing.toml"), "{e}");
}

#[test]
fn declared_tools_are_checked_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.toml");
    let tool = |extra: &str| {
        format!(
            "[session.brain]\nbuiltin_tools = [\"current_time\"]\n[[session.brain.tools]]\nname = \"weather\"\ndescription = \"d\"\nurl = \"http://h/w\"\nparameters = {{ type = \"object\" }}\n{extra}"
        )
    };
    std::fs::write(&p, tool("method = \"GET\"\n")).unwrap();
    let c = Config::load_with(Some(&p), env(&[])).unwrap();
    assert_eq!(c.session.brain.tools[0].timeout_ms, 2000);
    assert_eq!(c.session_config().brain.builtin_tools, ["current_time"]);
    assert!(c.http_tools().is_some());
    for (extra, key) in [
        ("method = \"FETCH\"\n", "session.brain.tools[0].method"),
        ("kind = \"grpc\"\n", "session.brain.tools[0].kind"),
        ("timeout_ms = 0\n", "session.brain.tools[0].timeout_ms"),
        ("timeout_ms = 60000\n", "session.brain.tools[0].timeout_ms"),
    ] {
        std::fs::write(&p, tool(extra)).unwrap();
        let e = Config::load_with(Some(&p), env(&[])).unwrap_err();
        assert!(e.to_string().contains(key), "{extra}: {e}");
    }
    for (bad, key) in [
        ("url = \"http://h/w\"", "url = \"ftp://h\""),
        (
            "parameters = { type = \"object\" }",
            "parameters = '{not json'",
        ),
        (
            "parameters = { type = \"object\" }",
            "parameters = { type = \"string\" }",
        ),
        ("name = \"weather\"", "name = \"current_time\""),
        ("name = \"weather\"", "name = \"the weather\""),
    ] {
        std::fs::write(&p, tool("").replace(bad, key)).unwrap();
        let e = Config::load_with(Some(&p), env(&[])).unwrap_err();
        let field = key.split(' ').next().unwrap();
        assert!(
            e.to_string()
                .contains(&format!("session.brain.tools[0].{field}")),
            "{key}: {e}"
        );
    }
    std::fs::write(
        &p,
        "[session.brain]\nbuiltin_tools = [\"launch_rockets\"]\n",
    )
    .unwrap();
    let e = Config::load_with(Some(&p), env(&[])).unwrap_err();
    assert!(e.to_string().contains("session.brain.builtin_tools"), "{e}");
    let e = Config::load_with(
        None,
        env(&[("ARC__SESSION__BARGE_IN__FALSE_INTERRUPTION_MS", "99999")]),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("session.barge_in.false_interruption_ms"),
        "{e}"
    );
}

#[test]
fn fixed_choices_name_the_key_and_the_word() {
    for (var, word, key) in [
        ("ARC__ENGINES__PROFILE", "cloud", "engines.profile"),
        ("ARC__ENGINES__LLM__BRAIN", "oracle", "engines.llm.brain"),
        (
            "ARC__ENGINES__LLM__WORKER_BRAIN",
            "nats",
            "engines.llm.worker_brain",
        ),
        ("ARC__PULSAR__COMPRESSION", "gzip", "pulsar.compression"),
        ("ARC__SESSION__TTS__FORMAT", "mp3", "session.tts.format"),
        (
            "ARC__TELEMETRY__OTLP_PROTOCOL",
            "grpc",
            "telemetry.otlp_protocol",
        ),
        ("ARC__LOG__FORMAT", "yaml", "log.format"),
    ] {
        let e = Config::load_with(None, env(&[(var, word)])).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(&format!("`{key}`")) && text.contains(&format!("{word:?} is not")),
            "{var}: {text}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.toml");
    std::fs::write(&p, "[privacy]\nfields = [\"user_text\", \"notes\"]\n").unwrap();
    let e = Config::load_with(Some(&p), env(&[])).unwrap_err();
    assert!(
        e.to_string().contains("privacy.fields[1]") && e.to_string().contains("\"notes\""),
        "{e}"
    );
    let c = Config::load_with(None, env(&[("ARC__ENGINES__LLM__BRAIN", "openai")])).unwrap();
    assert_eq!(c.engines.llm.brain, Brain::OpenAi);
    // `arc-agent config` prints the words of the file.
    assert!(format!("{c:?}").contains("profile: \"synthetic\""), "{c:?}");
}

#[test]
fn turn_settings_are_checked_and_named() {
    let cfg = Config::load_with(None, env(&[])).unwrap();
    assert!(
        cfg.engines.turn.enabled,
        "on by default for the local engines"
    );
    assert_eq!(cfg.session_config().stt.turn.max_silence_ms, 1500);
    assert_eq!(cfg.session_config().stt.turn.uncertain_silence_ms, 1000);
    assert_eq!(cfg.session_config().stt.turn.min_word_confidence, 0.6);
    assert_eq!(cfg.session_config().stt.turn.near_threshold, 0.4);
    for (var, value, key) in [
        (
            "ARC__ENGINES__TURN__MIN_WORD_CONFIDENCE",
            "1.2",
            "engines.turn.min_word_confidence",
        ),
        (
            "ARC__ENGINES__TURN__UNCERTAIN_SILENCE_MS",
            "2000",
            "engines.turn.uncertain_silence_ms",
        ),
        (
            "ARC__ENGINES__TURN__UNCERTAIN_SILENCE_MS",
            "100",
            "engines.turn.uncertain_silence_ms",
        ),
        (
            "ARC__ENGINES__TURN__THRESHOLD",
            "1.5",
            "engines.turn.threshold",
        ),
        (
            "ARC__ENGINES__TURN__NEAR_THRESHOLD",
            "-0.1",
            "engines.turn.near_threshold",
        ),
        ("ARC__ENGINES__TURN__PAUSE_MS", "0", "engines.turn.pause_ms"),
        (
            "ARC__ENGINES__TURN__MAX_SILENCE_MS",
            "150",
            "engines.turn.max_silence_ms",
        ),
    ] {
        let e = Config::load_with(None, env(&[(var, value)])).unwrap_err();
        assert!(e.to_string().contains(key), "{var}={value}: {e}");
    }
    let off = Config::load_with(None, env(&[("ARC__ENGINES__TURN__ENABLED", "false")])).unwrap();
    assert!(!off.engines.turn.enabled);
}
