//! The settings that take one of a fixed list of words, as enums: serde
//! refuses any other word itself, and the message names the word and the
//! list (`load` adds the key). Each enum reads and prints as the word of
//! config/default.toml (`as_str`, `Display`, and `Debug` for `arc-agent config`).

use serde::{Deserialize, Deserializer};
use std::fmt;

/// One enum per setting: `Variant = "word"`, and what the message says a
/// wrong word is not. `ignore_case` accepts the words in any case.
macro_rules! choice {
    (
        $(#[$doc:meta])*
        $name:ident ($what:literal $(, $ignore_case:ident)?) {
            $($(#[$vdoc:meta])* $variant:ident = $word:literal),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every choice, in the order config/default.toml lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word of the config file.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl std::str::FromStr for $name {
            /// Why the word was refused (the key is added by the caller).
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|c| choice!(@eq $($ignore_case)? c.as_str(), s))
                    .ok_or_else(|| format!("{s:?} is not {}", $what))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let word = String::deserialize(d)?;
                word.parse().map_err(serde::de::Error::custom)
            }
        }
    };
    (@eq ignore_case $a:expr, $b:expr) => { $a.eq_ignore_ascii_case($b) };
    (@eq $a:expr, $b:expr) => { $a == $b };
}

choice! {
    /// `engines.profile`: which engines sessions get.
    EngineProfile("a known engine profile (synthetic, local)") {
        /// Real models on this machine.
        Local = "local",
        /// Zero-cost stand-ins.
        Synthetic = "synthetic",
    }
}

choice! {
    /// `engines.llm.brain`: the brain of `local` sessions and of `converse`.
    Brain("a known brain (local, openai, nats, placeholder)") {
        /// the `arc-agent llm-server` child (llama.cpp), started and supervised by the node.
        Local = "local",
        /// An OpenAI-compatible endpoint.
        OpenAi = "openai",
        /// The external brain tier over NATS.
        Nats = "nats",
        /// Quotes the user back; no model.
        Placeholder = "placeholder",
    }
}

choice! {
    /// `engines.llm.worker_brain`: the brain `arc-agent brain` workers run.
    WorkerBrain("a brain a worker can run (local, openai, placeholder)") {
        Local = "local",
        OpenAi = "openai",
        Placeholder = "placeholder",
    }
}

impl From<WorkerBrain> for Brain {
    fn from(b: WorkerBrain) -> Brain {
        match b {
            WorkerBrain::Local => Brain::Local,
            WorkerBrain::OpenAi => Brain::OpenAi,
            WorkerBrain::Placeholder => Brain::Placeholder,
        }
    }
}

choice! {
    /// `http.auth`: who may use the session API (`/v1/*`).
    HttpAuth("one of auto, required, off") {
        /// A token unless the node listens on loopback only.
        Auto = "auto",
        /// A token always.
        Required = "required",
        /// No token (a warning at start when not on loopback).
        Off = "off",
    }
}

choice! {
    /// `pulsar.compression`.
    Compression("one of lz4, zlib, zstd, snappy, none") {
        Lz4 = "lz4",
        Zlib = "zlib",
        Zstd = "zstd",
        Snappy = "snappy",
        None = "none",
    }
}

choice! {
    /// `privacy.fields`: which texts redaction masks.
    RedactField("a field (user_text, agent_text)") {
        /// What the user said.
        UserText = "user_text",
        /// The agent's replies.
        AgentText = "agent_text",
    }
}

choice! {
    /// `session.brain.tools[].kind` (default `http`).
    #[derive(Default)]
    ToolKind("a tool kind (http)") {
        #[default]
        Http = "http",
    }
}

choice! {
    /// `session.brain.tools[].method`, in any case (default `POST`).
    #[derive(Default)]
    HttpMethod("GET, POST, PUT, PATCH or DELETE", ignore_case) {
        Get = "GET",
        #[default]
        Post = "POST",
        Put = "PUT",
        Patch = "PATCH",
        Delete = "DELETE",
    }
}

choice! {
    /// `session.tts.format`: the wire format named in `agent.tts.*`.
    TtsFormat("one of opus, pcm, wav") {
        Opus = "opus",
        Pcm = "pcm",
        Wav = "wav",
    }
}

choice! {
    /// `telemetry.otlp_protocol`.
    OtlpProtocol("http/protobuf or http/json") {
        HttpProtobuf = "http/protobuf",
        HttpJson = "http/json",
    }
}

choice! {
    /// `log.format`.
    LogFormat("text or json") {
        Text = "text",
        Json = "json",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_refusals_name_the_word() {
        for b in Brain::ALL {
            assert_eq!(b.as_str().parse::<Brain>(), Ok(*b));
            assert_eq!(format!("{b:?}"), format!("{:?}", b.as_str()));
        }
        assert_eq!("get".parse::<HttpMethod>(), Ok(HttpMethod::Get));
        assert_eq!(
            "cloud".parse::<EngineProfile>().unwrap_err(),
            "\"cloud\" is not a known engine profile (synthetic, local)"
        );
        assert!(
            "LOCAL".parse::<Brain>().is_err(),
            "only methods ignore case"
        );
        assert_eq!(Brain::from(WorkerBrain::OpenAi), Brain::OpenAi);
    }
}
