//! The queue from the session to the socket writer: unbounded as a channel,
//! bounded by what it holds (agent audio up to [`MAX_QUEUED_AUDIO_MS`], text
//! messages up to [`CONTROL_QUEUE`]); a full queue drops the new message and
//! never blocks the session's actors.

use super::MAX_QUEUED_AUDIO_MS;
use arc_actors::pcm16::Pcm16Frame;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Control messages waiting for the socket before new ones are dropped.
const CONTROL_QUEUE: usize = 1024;

/// What goes to the socket.
pub(super) enum Outgoing {
    Text(String),
    /// Agent audio of flush generation `epoch`.
    Audio {
        epoch: u64,
        rate: u32,
        pcm: Vec<u8>,
        samples: usize,
    },
    Close {
        code: u16,
        reason: String,
    },
    Ping,
}

/// The writer's queue; clones share it.
#[derive(Clone)]
pub(super) struct Outbox {
    tx: mpsc::UnboundedSender<Outgoing>,
    /// Agent audio samples queued (the writer subtracts what it takes).
    pub(super) samples: Arc<AtomicUsize>,
    /// Text messages queued (the writer subtracts what it takes).
    pub(super) texts: Arc<AtomicUsize>,
}

impl Outbox {
    pub(super) fn new() -> (Self, mpsc::UnboundedReceiver<Outgoing>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let q = Self {
            tx,
            samples: Arc::new(AtomicUsize::new(0)),
            texts: Arc::new(AtomicUsize::new(0)),
        };
        (q, rx)
    }

    /// False when the queue is full (or the writer gone): the text is dropped.
    pub(super) fn text(&self, text: String) -> bool {
        if self.texts.fetch_add(1, Ordering::Relaxed) >= CONTROL_QUEUE {
            self.texts.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        let ok = self.tx.send(Outgoing::Text(text)).is_ok();
        if !ok {
            self.texts.fetch_sub(1, Ordering::Relaxed);
        }
        ok
    }

    /// False when more than [`MAX_QUEUED_AUDIO_MS`] waits (or the writer is gone).
    pub(super) fn audio(&self, epoch: u64, frame: &Pcm16Frame) -> bool {
        let limit = (MAX_QUEUED_AUDIO_MS * u64::from(frame.sample_rate()) / 1000) as usize;
        let n = frame.samples().len();
        if self.samples.fetch_add(n, Ordering::Relaxed) + n > limit {
            self.samples.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        let ok = self
            .tx
            .send(Outgoing::Audio {
                epoch,
                rate: frame.sample_rate(),
                pcm: frame.to_le_bytes(),
                samples: n,
            })
            .is_ok();
        if !ok {
            self.samples.fetch_sub(n, Ordering::Relaxed);
        }
        ok
    }

    /// Always queued: the writer sends it and stops.
    pub(super) fn close(&self, code: u16, reason: String) {
        let _ = self.tx.send(Outgoing::Close { code, reason });
    }
}

#[cfg(test)]
mod tests {
    use arc_actors::audio::AudioFrame;
    use arc_actors::pcm16::Pcm16Frame;

    /// What the browser gets of the engines' f32: clamped, NaN silent.
    #[test]
    fn pcm16_round_trips_and_clamps() {
        let f = AudioFrame::new(16_000, vec![0.0, 1.0, -1.0, 2.0, f32::NAN, 0.5]);
        let b = Pcm16Frame::from_f32(&f).to_le_bytes();
        let v: Vec<i16> = b
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(v, vec![0, 32767, -32767, 32767, 0, 16384]);
    }
}
