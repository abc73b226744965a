//! The macro behind the event table (`table.rs`): from one entry per event it
//! generates the [`Event`](super::Event) envelope, the
//! [`PulsarTopic`](super::PulsarTopic) enum, every per-variant method of both,
//! the `SUBJECT` / `TOPIC` constants of the payload types and the `From`
//! conversions. Nothing here names an event: the table does.

/// Counts the token trees it is given (array lengths of the generated lists).
macro_rules! count {
    () => { 0usize };
    ($head:tt $($tail:tt)*) => { 1usize + count!($($tail)*) };
}

/// The type a variant holds: the payload, or the payload boxed.
macro_rules! payload_type {
    ($ty:ty) => { $ty };
    ($ty:ty, boxed) => { Box<$ty> };
}

/// `From` conversions into [`Event`](super::Event) (boxed payloads also from their box).
macro_rules! payload_from {
    ($variant:ident, $ty:ty) => {
        impl From<$ty> for Event {
            fn from(e: $ty) -> Self {
                Event::$variant(e)
            }
        }
    };
    ($variant:ident, $ty:ty, boxed) => {
        impl From<$ty> for Event {
            fn from(e: $ty) -> Self {
                Event::$variant(Box::new(e))
            }
        }
        impl From<Box<$ty>> for Event {
            fn from(e: Box<$ty>) -> Self {
                Event::$variant(e)
            }
        }
    };
}

/// Generates everything per event from the table; see `table.rs` for the
/// grammar of an entry.
macro_rules! event_table {
    (
        nats_seed {
            $( $sv:ident($sty:ty) = $skind:literal, subject $ssubj:literal; )*
        }
        nats_extension {
            $( $xv:ident($xty:ty) = $xkind:literal, subject $xsubj:literal; )*
        }
        pulsar {
            $(
                $pv:ident($pty:ty $(, $pboxed:ident)?) = $pkind:literal,
                topic $topic:ident $tname:literal,
                partitions $parts:literal,
                config $ckey:literal,
                trace($te:ident) $trace:expr,
                key($ke:ident) $key:expr;
            )*
        }
    ) => {
        /// Envelope for every event the node handles, so actors, routers and metrics
        /// can treat NATS and Pulsar payloads uniformly. Large Pulsar payloads are
        /// boxed to keep the enum small.
        ///
        /// Its own serde form is externally tagged (`{"brain_response": {...}}`, tag =
        /// [`Event::kind`]), for local use only; on the wire use [`Event::to_json`],
        /// which writes the bare payload.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub enum Event {
            $( #[serde(rename = $skind)] $sv($sty), )*
            $( #[serde(rename = $xkind)] $xv($xty), )*
            $( #[serde(rename = $pkind)] $pv(payload_type!($pty $(, $pboxed)?)), )*
        }

        $( impl $sty {
            #[doc = concat!("The NATS subject: `", $ssubj, "`.")]
            pub const SUBJECT: &'static str = $ssubj;
        } )*
        $( impl $xty {
            #[doc = concat!("The NATS subject (ARC extension): `", $xsubj, "`.")]
            pub const SUBJECT: &'static str = $xsubj;
        } )*
        $( impl $pty {
            #[doc = concat!("The Pulsar topic: `", $tname, "`.")]
            pub const TOPIC: PulsarTopic = PulsarTopic::$topic;
        } )*

        $( payload_from!($sv, $sty); )*
        $( payload_from!($xv, $xty); )*
        $( payload_from!($pv, $pty $(, $pboxed)?); )*

        impl Event {
            /// Every NATS subject in the seed, in seed order.
            pub const NATS_SUBJECTS: [&'static str; count!($($sv)*)] = [$($ssubj),*];

            /// Subjects ARC adds to the seed's (tool use; the seeds name none).
            pub const NATS_EXTENSION_SUBJECTS: [&'static str; count!($($xv)*)] = [$($xsubj),*];

            /// Short snake_case label, stable, for metrics labels and logs.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Event::$sv(_) => $skind, )*
                    $( Event::$xv(_) => $xkind, )*
                    $( Event::$pv(_) => $pkind, )*
                }
            }

            /// The seed's NATS subject for NATS events; `None` for Pulsar-only events.
            pub fn nats_subject(&self) -> Option<&'static str> {
                match self {
                    $( Event::$sv(_) => Some($ssubj), )*
                    $( Event::$xv(_) => Some($xsubj), )*
                    $( Event::$pv(_) => None, )*
                }
            }

            /// The Pulsar topic for the six Pulsar payloads; `None` for NATS events.
            pub fn pulsar_topic(&self) -> Option<PulsarTopic> {
                match self {
                    $( Event::$sv(_) => None, )*
                    $( Event::$xv(_) => None, )*
                    $( Event::$pv(_) => Some(PulsarTopic::$topic), )*
                }
            }

            /// Pulsar partition key as specified by the seed (keeps per-user /
            /// per-service ordering). `None` for NATS events, and for a webhook
            /// without a room name.
            pub fn partition_key(&self) -> Option<String> {
                match self {
                    $( Event::$sv(_) => None, )*
                    $( Event::$xv(_) => None, )*
                    $( Event::$pv($ke) => $key, )*
                }
            }

            /// The Pulsar payload's `message_id` (used for producer deduplication);
            /// `None` for NATS events.
            pub fn message_id(&self) -> Option<&str> {
                match self {
                    $( Event::$sv(_) => None, )*
                    $( Event::$xv(_) => None, )*
                    $( Event::$pv(e) => Some(&e.message_id), )*
                }
            }

            /// The trace id, wherever the contract puts it (top level,
            /// `metadata.trace_id` for conversations, `context.trace_id` for audit).
            pub fn trace_id(&self) -> &str {
                match self {
                    $( Event::$sv(e) => &e.trace_id, )*
                    $( Event::$xv(e) => &e.trace_id, )*
                    $( Event::$pv($te) => $trace, )*
                }
            }

            /// The payload's `timestamp`.
            pub fn timestamp(&self) -> DateTime<Utc> {
                match self {
                    $( Event::$sv(p) => p.timestamp, )*
                    $( Event::$xv(p) => p.timestamp, )*
                    $( Event::$pv(p) => p.timestamp, )*
                }
            }

            /// The bare payload as JSON bytes (what goes on the wire; no enum tag).
            pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
                match self {
                    $( Event::$sv(p) => serde_json::to_vec(p), )*
                    $( Event::$xv(p) => serde_json::to_vec(p), )*
                    $( Event::$pv(p) => serde_json::to_vec(p), )*
                }
            }

            /// Decodes a NATS message by subject.
            pub fn from_nats(subject: &str, payload: &[u8]) -> Result<Event, DecodeError> {
                use serde_json::from_slice;
                Ok(match subject {
                    $( $ssubj => Event::$sv(from_slice(payload)?), )*
                    $( $xsubj => Event::$xv(from_slice(payload)?), )*
                    other => return Err(DecodeError::UnknownSubject(other.to_owned())),
                })
            }

            /// Decodes a Pulsar message of `topic`.
            pub fn from_pulsar(topic: PulsarTopic, payload: &[u8]) -> Result<Event, serde_json::Error> {
                use serde_json::from_slice;
                Ok(match topic {
                    $( PulsarTopic::$topic => Event::$pv(from_slice(payload)?), )*
                })
            }

            /// Decodes a Pulsar message by full topic name.
            pub fn from_pulsar_name(topic: &str, payload: &[u8]) -> Result<Event, DecodeError> {
                let t = PulsarTopic::from_name(topic)
                    .ok_or_else(|| DecodeError::UnknownTopic(topic.to_owned()))?;
                Ok(Event::from_pulsar(t, payload)?)
            }
        }

        /// The Pulsar topics of seed `000`, one per Pulsar payload.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum PulsarTopic {
            $( $topic, )*
        }

        impl PulsarTopic {
            /// Every topic, in seed order.
            pub const ALL: [PulsarTopic; count!($($topic)*)] = [$(PulsarTopic::$topic),*];

            /// Full topic name, as in the seed.
            pub fn name(self) -> &'static str {
                match self {
                    $( PulsarTopic::$topic => $tname, )*
                }
            }

            /// Inverse of [`PulsarTopic::name`].
            pub fn from_name(name: &str) -> Option<PulsarTopic> {
                PulsarTopic::ALL.into_iter().find(|t| t.name() == name)
            }

            /// Dead-letter topic, following the seed's `<topic>-dlq` convention.
            pub fn dlq_name(self) -> String {
                format!("{}-dlq", self.name())
            }

            /// Partition count from the seed's partitioning table; `0` means the seed
            /// gives none and the topic is non-partitioned.
            pub fn seed_partitions(self) -> u32 {
                match self {
                    $( PulsarTopic::$topic => $parts, )*
                }
            }

            /// Key used for per-topic settings in the node's configuration.
            pub fn config_key(self) -> &'static str {
                match self {
                    $( PulsarTopic::$topic => $ckey, )*
                }
            }
        }
    };
}

pub(super) use {count, event_table, payload_from, payload_type};
