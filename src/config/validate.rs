//! Range and format checks serde cannot express, one method per group of
//! sections, each refusal naming the key and the reason. The fixed choices
//! are enums (`super::choices`): serde refuses a wrong word before this runs.

use super::choices::Brain;
use super::error::{invalid, ConfigError};
use super::Config;

type Checked = Result<(), ConfigError>;

fn positive(key: &str, v: u64) -> Checked {
    if v == 0 {
        Err(invalid(key, "must be greater than 0"))
    } else {
        Ok(())
    }
}

/// `url` starts with one of `schemes`.
fn has_scheme(url: &str, schemes: &[&str]) -> bool {
    schemes.iter().any(|p| url.starts_with(p))
}

impl Config {
    /// Range and format checks serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_node()?;
        self.check_brokers()?;
        self.check_cluster()?;
        self.check_engines()?;
        self.check_privacy()?;
        self.check_brain()?;
        self.check_models()?;
        self.check_session()?;
        self.check_tools()?;
        self.check_telemetry()?;
        self.check_livekit()?;
        self.check_consumers()
    }

    /// `[consumers]`.
    fn check_consumers(&self) -> Checked {
        let c = &self.consumers;
        if !has_scheme(&c.postgres_url, &["postgres://", "postgresql://"]) {
            return Err(invalid(
                "consumers.postgres_url",
                format!(
                    "{:?} is not a postgres:// URL (or set DATABASE_URL)",
                    super::redacted_url(&c.postgres_url)
                ),
            ));
        }
        if !has_scheme(&c.redis_url, &["redis://", "rediss://", "unix://"]) {
            return Err(invalid(
                "consumers.redis_url",
                format!(
                    "{:?} is not a redis:// URL (or set REDIS_URL)",
                    super::redacted_url(&c.redis_url)
                ),
            ));
        }
        arc_actors::ids::check_identifier("consumers.subscription_prefix", &c.subscription_prefix)
            .map_err(|e| invalid("consumers.subscription_prefix", e.to_string()))?;
        positive("consumers.batch_size", c.batch_size as u64)?;
        positive("consumers.archive_batch_size", c.archive_batch_size as u64)?;
        positive("consumers.archive_flush_ms", c.archive_flush_ms)?;
        positive("consumers.batch_timeout_ms", c.batch_timeout_ms)?;
        positive("consumers.retry_backoff_ms", c.retry_backoff_ms)?;
        positive("consumers.max_attempts", c.max_attempts as u64)?;
        positive("consumers.redis_ttl_s", c.redis_ttl_s)?;
        c.metrics_listen
            .parse::<std::net::SocketAddr>()
            .map_err(|e| {
                invalid(
                    "consumers.metrics_listen",
                    format!("{:?} is not host:port ({e})", c.metrics_listen),
                )
            })?;
        Ok(())
    }

    /// `[node]`, `[http]`, `[events]`.
    fn check_node(&self) -> Checked {
        if self.node.service_name.trim().is_empty() {
            return Err(invalid("node.service_name", "must not be empty"));
        }
        positive("node.max_sessions", self.node.max_sessions as u64)?;
        self.http
            .listen
            .parse::<std::net::SocketAddr>()
            .map_err(|e| {
                invalid(
                    "http.listen",
                    format!("{:?} is not host:port ({e})", self.http.listen),
                )
            })?;
        positive("http.ws_idle_timeout_ms", self.http.ws_idle_timeout_ms)?;
        positive("events.sink_capacity", self.events.sink_capacity as u64)?;
        positive("events.nats_queue", self.events.nats_queue as u64)?;
        positive("events.pulsar_queue", self.events.pulsar_queue as u64)
    }

    /// `[nats]`, `[pulsar]`.
    fn check_brokers(&self) -> Checked {
        if !has_scheme(&self.nats.url, &["nats://", "tls://"]) {
            return Err(invalid(
                "nats.url",
                format!("{:?} must start with nats:// or tls://", self.nats.url),
            ));
        }
        let p = &self.pulsar;
        if !has_scheme(&p.url, &["pulsar://", "pulsar+ssl://"]) {
            return Err(invalid(
                "pulsar.url",
                format!("{:?} must start with pulsar:// or pulsar+ssl://", p.url),
            ));
        }
        positive("pulsar.max_attempts", p.max_attempts as u64)?;
        positive("pulsar.send_timeout_ms", p.send_timeout_ms)?;
        positive("pulsar.send_window", p.send_window as u64)?;
        if p.reconnect_min_ms == 0 || p.reconnect_min_ms > p.reconnect_max_ms {
            return Err(invalid(
                "pulsar.reconnect_min_ms",
                "must be > 0 and <= pulsar.reconnect_max_ms",
            ));
        }
        if p.spool_segment_bytes < 4096 || p.spool_segment_bytes > p.spool_max_bytes {
            return Err(invalid(
                "pulsar.spool_segment_bytes",
                "must be at least 4096 and at most pulsar.spool_max_bytes",
            ));
        }
        positive("pulsar.spool_sync_interval_ms", p.spool_sync_interval_ms)?;
        for topic in arc_actors::events::PulsarTopic::ALL {
            if p.partitions.of(topic) > 1024 {
                return Err(invalid(
                    &format!("pulsar.partitions.{}", topic.config_key()),
                    "must be at most 1024",
                ));
            }
        }
        if p.partitions.realtime > 1024 {
            return Err(invalid(
                "pulsar.partitions.realtime",
                "must be at most 1024",
            ));
        }
        if !p.realtime_topic.is_empty()
            && (!has_scheme(&p.realtime_topic, &["persistent://", "non-persistent://"])
                || arc_actors::events::PulsarTopic::from_name(&p.realtime_topic).is_some())
        {
            return Err(invalid(
                "pulsar.realtime_topic",
                format!(
                    "{:?} must be empty or a persistent:// (or non-persistent://) topic other than the seed's",
                    p.realtime_topic
                ),
            ));
        }
        Ok(())
    }

    /// `[heartbeat]`, `[analytics]`, the LiveKit URL, `[webhook]`, `[dispatch]`.
    fn check_cluster(&self) -> Checked {
        positive("heartbeat.interval_ms", self.heartbeat.interval_ms)?;
        positive(
            "analytics.sample_interval_ms",
            self.analytics.sample_interval_ms,
        )?;
        if !self.livekit.url.is_empty()
            && !has_scheme(
                &self.livekit.url,
                &["ws://", "wss://", "http://", "https://"],
            )
        {
            return Err(invalid(
                "livekit.url",
                format!(
                    "{:?} must start with ws://, wss://, http:// or https://",
                    self.livekit.url
                ),
            ));
        }
        positive("webhook.dedup_capacity", self.webhook.dedup_capacity as u64)?;
        positive("webhook.max_body_bytes", self.webhook.max_body_bytes as u64)?;
        let d = &self.dispatch;
        if d.load_subject.trim().is_empty() || d.load_subject.contains(['*', '>', ' ']) {
            return Err(invalid(
                "dispatch.load_subject",
                "must be a plain NATS subject (no wildcards, no spaces)",
            ));
        }
        if d.queue_group.trim().is_empty() {
            return Err(invalid("dispatch.queue_group", "must not be empty"));
        }
        positive("dispatch.offer_timeout_ms", d.offer_timeout_ms)?;
        positive("dispatch.max_offers", u64::from(d.max_offers))
    }

    /// `[engines]`, `[engines.vad]`, `[engines.turn]`.
    fn check_engines(&self) -> Checked {
        if self.engines.inference_threads > 256 {
            return Err(invalid("engines.inference_threads", "must be at most 256"));
        }
        let vad = &self.engines.vad;
        if !(vad.threshold > 0.0 && vad.threshold < 1.0) {
            return Err(invalid(
                "engines.vad.threshold",
                format!("{} is outside 0.0..1.0 (exclusive)", vad.threshold),
            ));
        }
        positive("engines.vad.silence_ms", vad.silence_ms)?;
        positive("engines.vad.min_speech_ms", vad.min_speech_ms)?;
        let turn = &self.engines.turn;
        if !(turn.threshold > 0.0 && turn.threshold < 1.0) {
            return Err(invalid(
                "engines.turn.threshold",
                format!("{} is outside 0.0..1.0 (exclusive)", turn.threshold),
            ));
        }
        positive("engines.turn.pause_ms", turn.pause_ms)?;
        if turn.max_silence_ms <= turn.pause_ms {
            return Err(invalid(
                "engines.turn.max_silence_ms",
                format!(
                    "{} ms must be longer than engines.turn.pause_ms ({} ms): the model is asked at the pause, the limit comes after",
                    turn.max_silence_ms, turn.pause_ms
                ),
            ));
        }
        if !(0.0..=1.0).contains(&turn.near_threshold) {
            return Err(invalid(
                "engines.turn.near_threshold",
                format!(
                    "{} is outside 0.0..=1.0 (at or above engines.turn.threshold: off)",
                    turn.near_threshold
                ),
            ));
        }
        if !(0.0..=1.0).contains(&turn.min_word_confidence) {
            return Err(invalid(
                "engines.turn.min_word_confidence",
                format!("{} is outside 0.0..=1.0", turn.min_word_confidence),
            ));
        }
        if !(turn.pause_ms..=turn.max_silence_ms).contains(&turn.uncertain_silence_ms) {
            return Err(invalid(
                "engines.turn.uncertain_silence_ms",
                format!(
                    "{} ms must lie between engines.turn.pause_ms ({} ms) and engines.turn.max_silence_ms ({} ms)",
                    turn.uncertain_silence_ms, turn.pause_ms, turn.max_silence_ms
                ),
            ));
        }
        Ok(())
    }

    /// `[privacy]` (the PII kinds are arc-actors' list).
    fn check_privacy(&self) -> Checked {
        for k in &self.privacy.kinds {
            if arc_actors::redact::PiiKind::parse(k).is_none() {
                return Err(invalid(
                    "privacy.kinds",
                    format!("{k:?} is not a PII kind (email, card, ssn, phone)"),
                ));
            }
        }
        Ok(())
    }

    /// `[engines.llm]`.
    fn check_brain(&self) -> Checked {
        let llm = &self.engines.llm;
        if llm.brain == Brain::OpenAi && !has_scheme(&llm.base_url, &["http://", "https://"]) {
            return Err(invalid(
                "engines.llm.base_url",
                format!("{:?} is not an http(s) URL", llm.base_url),
            ));
        }
        if llm.brain == Brain::Nats && !self.nats.enabled {
            return Err(invalid(
                "engines.llm.brain",
                "\"nats\" needs NATS (nats.enabled = true)",
            ));
        }
        if llm.nats_subject.is_empty() || llm.nats_queue.is_empty() {
            return Err(invalid(
                "engines.llm.nats_subject",
                "the subject and engines.llm.nats_queue must not be empty",
            ));
        }
        if llm.ctx_size < 256 {
            return Err(invalid("engines.llm.ctx_size", "must be at least 256"));
        }
        positive("engines.llm.parallel", u64::from(llm.parallel))?;
        if !(0.0..=1.0).contains(&llm.min_p) {
            return Err(invalid(
                "engines.llm.min_p",
                format!("{} is outside 0.0..=1.0", llm.min_p),
            ));
        }
        positive("engines.llm.startup_timeout_ms", llm.startup_timeout_ms)
    }

    /// Every model named is in models/manifest.toml, of the right kind.
    fn check_models(&self) -> Checked {
        let manifest = arc_models::manifest::Manifest::embedded()
            .map_err(|e| invalid("engines", e.to_string()))?;
        let e = &self.engines;
        for (key, name, kind) in [
            ("engines.vad.model", &e.vad.model, "vad"),
            ("engines.stt.model", &e.stt.model, "stt"),
            ("engines.tts.voice", &e.tts.voice, "tts"),
            ("engines.llm.model", &e.llm.model, "llm"),
            ("engines.llm.runtime", &e.llm.runtime, "runtime"),
        ] {
            match manifest.model(name) {
                Ok(m) if m.kind == kind => {}
                _ => {
                    let known: Vec<&str> = manifest
                        .models
                        .iter()
                        .filter(|m| m.kind == kind)
                        .map(|m| m.name.as_str())
                        .collect();
                    return Err(invalid(
                        key,
                        format!(
                            "{name:?} is not a {kind} model of models/manifest.toml (known: {})",
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// `[session]` and its sub-sections, but the tools.
    fn check_session(&self) -> Checked {
        let s = &self.session;
        positive("session.target_latency_ms", s.target_latency_ms)?;
        positive("session.audio_queue_frames", s.audio_queue_frames as u64)?;
        positive("session.frame_credits", s.frame_credits as u64)?;
        positive("session.restart_window_ms", s.restart_window_ms)?;
        positive("session.stt.max_utterance_ms", s.stt.max_utterance_ms)?;
        if s.brain.max_tokens == 0 || s.brain.max_tokens > 4096 {
            return Err(invalid(
                "session.brain.max_tokens",
                "must be between 1 and 4096",
            ));
        }
        if s.brain.max_sentences > 50 {
            return Err(invalid(
                "session.brain.max_sentences",
                format!("{} is more than 50 (0 = no limit)", s.brain.max_sentences),
            ));
        }
        if s.brain.stop.len() > 4 || s.brain.stop.iter().any(String::is_empty) {
            return Err(invalid(
                "session.brain.stop",
                "at most 4 strings, none empty (OpenAI's limit)",
            ));
        }
        if let Some(i) = s
            .brain
            .examples
            .iter()
            .position(|(q, a)| q.trim().is_empty() || a.trim().is_empty())
        {
            return Err(invalid(
                "session.brain.examples",
                format!("example {i} has an empty question or answer"),
            ));
        }
        if !(0.0..=2.0).contains(&s.brain.temperature) {
            return Err(invalid(
                "session.brain.temperature",
                format!("{} is outside 0.0..=2.0", s.brain.temperature),
            ));
        }
        positive("session.brain.timeout_ms", s.brain.timeout_ms)?;
        if s.brain.fallback_text.trim().is_empty() {
            return Err(invalid("session.brain.fallback_text", "must not be empty"));
        }
        positive(
            "session.brain.context_token_budget",
            s.brain.context_token_budget as u64,
        )?;
        positive("session.brain.turn_timeout_ms", s.brain.turn_timeout_ms)?;
        positive("session.tts.stall_timeout_ms", s.tts.stall_timeout_ms)?;
        if s.tts.max_ahead_ms < 200 {
            return Err(invalid(
                "session.tts.max_ahead_ms",
                format!(
                    "{} is too little to cover one synthesis: at least 200",
                    s.tts.max_ahead_ms
                ),
            ));
        }
        if !(100..=s.tts.max_ahead_ms).contains(&s.tts.min_ahead_ms) {
            return Err(invalid(
                "session.tts.min_ahead_ms",
                format!(
                    "{} is outside 100..=session.tts.max_ahead_ms ({}): under 100 ms a busy node's late wake-up is a silence",
                    s.tts.min_ahead_ms, s.tts.max_ahead_ms
                ),
            ));
        }
        if !(16..=1024).contains(&s.brain.summary_max_tokens) {
            return Err(invalid(
                "session.brain.summary_max_tokens",
                format!("{} is outside 16..=1024", s.brain.summary_max_tokens),
            ));
        }
        if s.barge_in.false_interruption_ms > 10_000 {
            return Err(invalid(
                "session.barge_in.false_interruption_ms",
                "must be at most 10000 (0 = no resume)",
            ));
        }
        if s.brain.max_tool_rounds > 16 {
            return Err(invalid(
                "session.brain.max_tool_rounds",
                "must be between 0 and 16",
            ));
        }
        for b in &s.brain.builtin_tools {
            if !arc_actors::tools::BUILTINS.contains(&b.as_str()) {
                return Err(invalid(
                    "session.brain.builtin_tools",
                    format!(
                        "{b:?} is not a built-in tool ({})",
                        arc_actors::tools::BUILTINS.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `[[session.brain.tools]]` (their kind and method are enums), then the
    /// TTS rate.
    fn check_tools(&self) -> Checked {
        let s = &self.session;
        let mut names: Vec<&str> = s.brain.builtin_tools.iter().map(String::as_str).collect();
        for (i, t) in s.brain.tools.iter().enumerate() {
            let key = |field: &str| format!("session.brain.tools[{i}].{field}");
            let valid_name = !t.name.is_empty()
                && t.name.len() <= 64
                && t.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid_name {
                return Err(invalid(
                    &key("name"),
                    format!("{:?} must be 1-64 of a-z, A-Z, 0-9, _ or -", t.name),
                ));
            }
            if names.contains(&t.name.as_str()) {
                return Err(invalid(
                    &key("name"),
                    format!("{:?} is declared twice", t.name),
                ));
            }
            names.push(&t.name);
            if !has_scheme(&t.url, &["http://", "https://"])
                || t.url.split("://").nth(1).is_none_or(|h| h.is_empty())
            {
                return Err(invalid(
                    &key("url"),
                    format!("{:?} must be an http:// or https:// URL", t.url),
                ));
            }
            t.schema().map_err(|r| invalid(&key("parameters"), r))?;
            if t.timeout_ms == 0 || t.timeout_ms > s.brain.turn_timeout_ms {
                return Err(invalid(
                    &key("timeout_ms"),
                    format!(
                        "{} must be between 1 and session.brain.turn_timeout_ms ({})",
                        t.timeout_ms, s.brain.turn_timeout_ms
                    ),
                ));
            }
        }
        if ![8000, 12000, 16000, 22050, 24000, 48000].contains(&s.tts.sample_rate) {
            return Err(invalid(
                "session.tts.sample_rate",
                format!("{} is not a supported rate", s.tts.sample_rate),
            ));
        }
        Ok(())
    }

    /// `[telemetry]` (the protocol and `log.format` are enums).
    fn check_telemetry(&self) -> Checked {
        let ep = self.telemetry.otlp_endpoint.trim();
        if !ep.is_empty() && !has_scheme(ep, &["http://", "https://"]) {
            return Err(invalid(
                "telemetry.otlp_endpoint",
                format!("{ep:?} must be an http:// or https:// URL (or empty)"),
            ));
        }
        Ok(())
    }

    /// `[livekit]`.
    fn check_livekit(&self) -> Checked {
        let lk = &self.livekit;
        let url = lk.url.trim();
        if !url.is_empty() && !has_scheme(url, &["ws://", "wss://", "http://", "https://"]) {
            return Err(invalid(
                "livekit.url",
                format!("{url:?} must start with ws://, wss://, http:// or https:// (or be empty)"),
            ));
        }
        if lk.agent_identity.trim().is_empty() {
            return Err(invalid("livekit.agent_identity", "must not be empty"));
        }
        for (key, v) in [
            ("livekit.token_ttl_s", lk.token_ttl_s),
            ("livekit.connect_timeout_ms", lk.connect_timeout_ms),
            ("livekit.user_join_timeout_ms", lk.user_join_timeout_ms),
        ] {
            positive(key, v)?;
        }
        if !(1..=100).contains(&lk.max_connect_attempts) {
            return Err(invalid(
                "livekit.max_connect_attempts",
                format!("{} is outside 1..=100", lk.max_connect_attempts),
            ));
        }
        if lk.retry_backoff_ms > lk.max_retry_backoff_ms {
            return Err(invalid(
                "livekit.retry_backoff_ms",
                format!(
                    "{} is above livekit.max_retry_backoff_ms ({})",
                    lk.retry_backoff_ms, lk.max_retry_backoff_ms
                ),
            ));
        }
        if !(10..=10_000).contains(&lk.output_queue_ms) {
            return Err(invalid(
                "livekit.output_queue_ms",
                format!("{} is outside 10..=10000", lk.output_queue_ms),
            ));
        }
        Ok(())
    }
}
