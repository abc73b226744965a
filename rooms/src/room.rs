//! A LiveKit room through the FFI library: connect (bounded retries with
//! back-off), the agent's published audio track, remote audio streams, and the
//! room's events as [`RoomSignal`]s.

use crate::ffi::{LiveKitFfi, OwnedHandle, StreamEvent};
use crate::proto::{self, ffi_event, ffi_request, ffi_response};
use crate::RoomError;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Extra time given to the library past its own connect timeout before we
/// stop waiting for its answer.
const CONNECT_SLACK: Duration = Duration::from_secs(2);
/// Longest wait for a publish / disconnect answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How to join and how hard to try.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// One attempt's limit (LiveKit's own `connect_timeout_ms`).
    pub connect_timeout: Duration,
    /// Attempts in all (at least 1); LiveKit's internal join retries are off,
    /// so this is the exact count.
    pub max_attempts: u32,
    /// Wait after the first failed attempt; doubled each time up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Subscribe to every published track (the agent listens to the user).
    pub auto_subscribe: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(4),
            auto_subscribe: true,
        }
    }
}

impl ConnectOptions {
    /// The wait after failed attempt `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Why a participant or the room went away, by LiveKit's `DisconnectReason` name.
pub fn disconnect_reason_name(reason: i32) -> &'static str {
    proto::DisconnectReason::try_from(reason)
        .map(|r| r.as_str_name())
        .unwrap_or("UNKNOWN_REASON")
}

/// A remote participant's audio track we are subscribed to.
#[derive(Debug)]
pub struct RemoteAudioTrack {
    pub participant_identity: String,
    pub sid: String,
    pub name: String,
    handle: OwnedHandle,
}

/// What happens in the room, reduced to what a voice agent acts on.
#[derive(Debug)]
pub enum RoomSignal {
    ParticipantJoined {
        identity: String,
        is_agent: bool,
    },
    ParticipantLeft {
        identity: String,
        reason: i32,
    },
    AudioTrackSubscribed(RemoteAudioTrack),
    TrackUnsubscribed {
        identity: String,
        sid: String,
    },
    /// The SDK lost the server and is reconnecting by itself.
    Reconnecting,
    Reconnected,
    /// We are out of the room (`reason` as LiveKit's `DisconnectReason`).
    Disconnected {
        reason: i32,
    },
    /// The room's event stream is over.
    Closed,
}

/// A joined room. Dropping it leaves the room (the library closes the room
/// when its handle goes).
pub struct Room {
    ffi: Arc<LiveKitFfi>,
    handle: OwnedHandle,
    local: OwnedHandle,
    pub name: String,
    pub sid: String,
    pub url: String,
    /// Attempts it took to join.
    pub attempts: u32,
    events: mpsc::UnboundedReceiver<proto::RoomEvent>,
    pending: VecDeque<RoomSignal>,
    closed: bool,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("name", &self.name)
            .field("sid", &self.sid)
            .field("url", &self.url)
            .finish()
    }
}

impl Room {
    /// Joins `url` with `token`: up to `opts.max_attempts` attempts with
    /// back-off between them; the error names the URL, the attempts and the
    /// last cause.
    pub async fn connect(
        ffi: &Arc<LiveKitFfi>,
        url: &str,
        token: &str,
        opts: &ConnectOptions,
    ) -> Result<Room, RoomError> {
        let started = Instant::now();
        let attempts = opts.max_attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            match Self::connect_once(ffi, url, token, opts).await {
                Ok(mut room) => {
                    room.attempts = attempt;
                    tracing::info!(url, room = %room.name, sid = %room.sid, attempt, "joined LiveKit room");
                    return Ok(room);
                }
                Err(reason) => {
                    tracing::warn!(url, attempt, of = attempts, %reason, "LiveKit connect failed");
                    last = reason;
                    if attempt < attempts {
                        tokio::time::sleep(opts.backoff(attempt)).await;
                    }
                }
            }
        }
        Err(RoomError::Connect {
            url: url.to_string(),
            attempts,
            elapsed_ms: started.elapsed().as_millis() as u64,
            reason: last,
        })
    }

    async fn connect_once(
        ffi: &Arc<LiveKitFfi>,
        url: &str,
        token: &str,
        opts: &ConnectOptions,
    ) -> Result<Room, String> {
        let options = proto::RoomOptions {
            auto_subscribe: Some(opts.auto_subscribe),
            adaptive_stream: Some(false),
            dynacast: Some(false),
            join_retries: Some(0),
            connect_timeout_ms: Some(opts.connect_timeout.as_millis() as u64),
            ..Default::default()
        };
        let ev = ffi
            .call("connect", opts.connect_timeout + CONNECT_SLACK, |id| {
                ffi_request::Message::Connect(proto::ConnectRequest {
                    url: url.to_string(),
                    token: token.to_string(),
                    options,
                    request_async_id: Some(id),
                })
            })
            .await
            .map_err(|e| e.to_string())?;
        let ffi_event::Message::Connect(cb) = ev else {
            return Err("unexpected answer to connect".into());
        };
        use proto::connect_callback::Message as C;
        let result = match cb.message {
            Some(C::Result(r)) => r,
            Some(C::Error(e)) => return Err(e),
            None => return Err("connect answered with neither room nor error".into()),
        };
        let room_id = result.room.handle.id;
        let handle = OwnedHandle::new(ffi, room_id);
        let local = OwnedHandle::new(ffi, result.local_participant.handle.id);
        let info = result.room.info;
        // Subscribe before the library releases the room's events.
        let events = ffi.subscribe_room(room_id);
        let mut pending = VecDeque::new();
        for p in result.participants {
            ffi.drop_handle(p.participant.handle.id);
            let info = p.participant.info;
            pending.push_back(RoomSignal::ParticipantJoined {
                is_agent: info.kind == proto::ParticipantKind::Agent as i32,
                identity: info.identity,
            });
            for publication in p.publications {
                ffi.drop_handle(publication.handle.id);
            }
        }
        let room = Room {
            ffi: ffi.clone(),
            handle,
            local,
            name: info.name,
            sid: info.sid.unwrap_or_default(),
            url: url.to_string(),
            attempts: 1,
            events,
            pending,
            closed: false,
        };
        ffi.request(
            "ready_for_room_event",
            ffi_request::Message::ReadyForRoomEvent(proto::ReadyForRoomEventRequest {
                room_handle: room_id,
            }),
        )
        .map_err(|e| e.to_string())?;
        Ok(room)
    }

    /// Publishes `track` as the agent's microphone.
    pub async fn publish_audio(&self, track: &LocalAudioTrack) -> Result<String, RoomError> {
        let ev = self
            .ffi
            .call("publish_track", CALL_TIMEOUT, |id| {
                ffi_request::Message::PublishTrack(proto::PublishTrackRequest {
                    local_participant_handle: self.local.id(),
                    track_handle: track.handle.id(),
                    options: proto::TrackPublishOptions {
                        source: Some(proto::TrackSource::SourceMicrophone as i32),
                        dtx: Some(false),
                        red: Some(true),
                        ..Default::default()
                    },
                    request_async_id: Some(id),
                })
            })
            .await?;
        let ffi_event::Message::PublishTrack(cb) = ev else {
            return Err(self.err("unexpected answer to publish_track"));
        };
        use proto::publish_track_callback::Message as P;
        match cb.message {
            Some(P::Publication(p)) => {
                self.ffi.drop_handle(p.handle.id);
                Ok(p.info.sid)
            }
            Some(P::Error(e)) => Err(self.err(&format!("publishing {}: {e}", track.name))),
            None => Err(self.err("publish_track answered with nothing")),
        }
    }

    /// The frames of a subscribed remote track, as 16-bit PCM at
    /// `sample_rate` with `num_channels` (LiveKit converts), `capacity`
    /// frames deep.
    pub fn audio_stream(
        &self,
        track: &RemoteAudioTrack,
        sample_rate: u32,
        num_channels: u32,
        capacity: usize,
    ) -> Result<AudioStream, RoomError> {
        new_audio_stream(&self.ffi, track, sample_rate, num_channels, capacity)
    }

    /// The next thing that happened in the room (None once it is over).
    pub async fn next_signal(&mut self) -> Option<RoomSignal> {
        loop {
            if let Some(s) = self.pending.pop_front() {
                return Some(s);
            }
            if self.closed {
                return None;
            }
            let Some(ev) = self.events.recv().await else {
                self.closed = true;
                return Some(RoomSignal::Closed);
            };
            if let Some(s) = self.signal_of(ev) {
                return Some(s);
            }
        }
    }

    fn signal_of(&mut self, ev: proto::RoomEvent) -> Option<RoomSignal> {
        use proto::room_event::Message as E;
        let ffi = &self.ffi;
        Some(match ev.message? {
            E::ParticipantConnected(p) => {
                ffi.drop_handle(p.info.handle.id);
                let info = p.info.info;
                RoomSignal::ParticipantJoined {
                    is_agent: info.kind == proto::ParticipantKind::Agent as i32,
                    identity: info.identity,
                }
            }
            E::ParticipantDisconnected(p) => RoomSignal::ParticipantLeft {
                identity: p.participant_identity,
                reason: p.disconnect_reason,
            },
            E::TrackPublished(t) => {
                ffi.drop_handle(t.publication.handle.id);
                return None;
            }
            E::TrackSubscribed(t) => {
                let handle = OwnedHandle::new(ffi, t.track.handle.id);
                let info = t.track.info;
                if info.kind != proto::TrackKind::KindAudio as i32 {
                    return None; // the handle drops here
                }
                RoomSignal::AudioTrackSubscribed(RemoteAudioTrack {
                    participant_identity: t.participant_identity,
                    sid: info.sid,
                    name: info.name,
                    handle,
                })
            }
            E::TrackUnsubscribed(t) => RoomSignal::TrackUnsubscribed {
                identity: t.participant_identity,
                sid: t.track_sid,
            },
            E::Reconnecting(_) => RoomSignal::Reconnecting,
            E::Reconnected(_) => RoomSignal::Reconnected,
            E::Disconnected(d) => RoomSignal::Disconnected { reason: d.reason },
            E::Eos(_) => {
                self.closed = true;
                RoomSignal::Closed
            }
            _ => return None,
        })
    }

    /// Leaves the room (waits for the library to confirm, bounded).
    pub async fn disconnect(self) -> Result<(), RoomError> {
        let room_handle = self.handle.id();
        let r = self
            .ffi
            .call("disconnect", CALL_TIMEOUT, |id| {
                ffi_request::Message::Disconnect(proto::DisconnectRequest {
                    room_handle,
                    request_async_id: Some(id),
                    reason: Some(proto::DisconnectReason::ClientInitiated as i32),
                })
            })
            .await;
        r.map(|_| ())
    }

    fn err(&self, reason: &str) -> RoomError {
        RoomError::Room {
            room: self.name.clone(),
            reason: reason.to_string(),
        }
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        self.ffi.unsubscribe_room(self.handle.id());
    }
}

/// Where the agent's voice goes in: a native LiveKit audio source.
#[derive(Debug)]
pub struct AudioSource {
    ffi: Arc<LiveKitFfi>,
    handle: OwnedHandle,
    pub sample_rate: u32,
    pub num_channels: u32,
    queue: Duration,
}

impl AudioSource {
    /// A source of `sample_rate` Hz, `num_channels`, buffering up to `queue`
    /// inside the library (a capture waits while that buffer is full, which
    /// paces the producer at real time).
    pub fn new(
        ffi: &Arc<LiveKitFfi>,
        sample_rate: u32,
        num_channels: u32,
        queue: Duration,
    ) -> Result<Self, RoomError> {
        let resp = ffi.request(
            "new_audio_source",
            ffi_request::Message::NewAudioSource(proto::NewAudioSourceRequest {
                r#type: proto::AudioSourceType::AudioSourceNative as i32,
                options: Some(proto::AudioSourceOptions {
                    echo_cancellation: false,
                    noise_suppression: false,
                    auto_gain_control: false,
                    prefer_hardware: None,
                }),
                sample_rate: Some(sample_rate),
                num_channels: Some(num_channels),
                queue_size_ms: Some(queue.as_millis() as u32),
                platform_audio_handle: None,
            }),
        )?;
        let ffi_response::Message::NewAudioSource(r) = resp else {
            return Err(RoomError::Ffi {
                request: "new_audio_source",
                reason: "unexpected response".into(),
            });
        };
        let id = r.source.handle.id;
        Ok(Self {
            ffi: ffi.clone(),
            handle: OwnedHandle::new(ffi, id),
            sample_rate,
            num_channels,
            queue,
        })
    }

    /// Hands interleaved 16-bit samples to the source; returns once the
    /// library has taken them (it waits while its buffer is full).
    pub async fn capture(&self, samples: &[i16]) -> Result<(), RoomError> {
        let channels = self.num_channels.max(1) as usize;
        if samples.is_empty() || !samples.len().is_multiple_of(channels) {
            return Err(RoomError::Ffi {
                request: "capture_audio_frame",
                reason: format!(
                    "{} samples do not make whole frames of {channels} channel(s)",
                    samples.len()
                ),
            });
        }
        let ev = self
            .ffi
            .call("capture_audio_frame", self.queue + CALL_TIMEOUT, |id| {
                ffi_request::Message::CaptureAudioFrame(proto::CaptureAudioFrameRequest {
                    source_handle: self.handle.id(),
                    buffer: proto::AudioFrameBufferInfo {
                        // The samples stay borrowed until the answer below.
                        data_ptr: samples.as_ptr() as u64,
                        num_channels: self.num_channels,
                        sample_rate: self.sample_rate,
                        samples_per_channel: (samples.len() / channels) as u32,
                    },
                    request_async_id: Some(id),
                })
            })
            .await?;
        match ev {
            ffi_event::Message::CaptureAudioFrame(cb) => match cb.error {
                Some(e) if !e.is_empty() => Err(RoomError::Ffi {
                    request: "capture_audio_frame",
                    reason: e,
                }),
                _ => Ok(()),
            },
            _ => Err(RoomError::Ffi {
                request: "capture_audio_frame",
                reason: "unexpected answer".into(),
            }),
        }
    }

    /// Drops audio queued in the library, not yet sent (barge-in).
    pub fn clear(&self) -> Result<(), RoomError> {
        self.ffi
            .request(
                "clear_audio_buffer",
                ffi_request::Message::ClearAudioBuffer(proto::ClearAudioBufferRequest {
                    source_handle: self.handle.id(),
                }),
            )
            .map(|_| ())
    }

    /// A local audio track fed by this source, to publish.
    pub fn create_track(&self, name: &str) -> Result<LocalAudioTrack, RoomError> {
        let resp = self.ffi.request(
            "create_audio_track",
            ffi_request::Message::CreateAudioTrack(proto::CreateAudioTrackRequest {
                name: name.to_string(),
                source_handle: self.handle.id(),
            }),
        )?;
        let ffi_response::Message::CreateAudioTrack(r) = resp else {
            return Err(RoomError::Ffi {
                request: "create_audio_track",
                reason: "unexpected response".into(),
            });
        };
        Ok(LocalAudioTrack {
            handle: OwnedHandle::new(&self.ffi, r.track.handle.id),
            sid: r.track.info.sid,
            name: name.to_string(),
        })
    }
}

/// The agent's track, made from an [`AudioSource`].
#[derive(Debug)]
pub struct LocalAudioTrack {
    handle: OwnedHandle,
    pub sid: String,
    pub name: String,
}

/// Remote audio, frame by frame.
pub struct AudioStream {
    ffi: Arc<LiveKitFfi>,
    handle: OwnedHandle,
    rx: mpsc::Receiver<StreamEvent>,
}

impl AudioStream {
    pub async fn recv(&mut self) -> Option<StreamEvent> {
        self.rx.recv().await
    }
}

impl Drop for AudioStream {
    fn drop(&mut self) {
        self.ffi.unsubscribe_stream(self.handle.id());
    }
}

fn new_audio_stream(
    ffi: &Arc<LiveKitFfi>,
    track: &RemoteAudioTrack,
    sample_rate: u32,
    num_channels: u32,
    capacity: usize,
) -> Result<AudioStream, RoomError> {
    let resp = ffi.request(
        "new_audio_stream",
        ffi_request::Message::NewAudioStream(proto::NewAudioStreamRequest {
            track_handle: track.handle.id(),
            r#type: proto::AudioStreamType::AudioStreamNative as i32,
            sample_rate: Some(sample_rate),
            num_channels: Some(num_channels),
            ..Default::default()
        }),
    )?;
    let ffi_response::Message::NewAudioStream(r) = resp else {
        return Err(RoomError::Ffi {
            request: "new_audio_stream",
            reason: "unexpected response".into(),
        });
    };
    let id = r.stream.handle.id;
    let rx = ffi.subscribe_stream(id, capacity);
    Ok(AudioStream {
        ffi: ffi.clone(),
        handle: OwnedHandle::new(ffi, id),
        rx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_its_cap() {
        let o = ConnectOptions {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_millis(1800),
            ..ConnectOptions::default()
        };
        let waits: Vec<u64> = (1..=5).map(|a| o.backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, [500, 1000, 1800, 1800, 1800]);
        assert_eq!(o.backoff(200), Duration::from_millis(1800));
    }

    #[test]
    fn disconnect_reasons_have_livekits_names() {
        assert_eq!(
            disconnect_reason_name(proto::DisconnectReason::RoomDeleted as i32),
            "ROOM_DELETED"
        );
        assert_eq!(disconnect_reason_name(9999), "UNKNOWN_REASON");
    }
}
