//! The utterance a session holds while the user talks, as 16-bit PCM: half
//! the memory of the frames' f32 (see [`crate::pcm16`]). The Stt keeps the
//! utterance so far and the pre-roll before speech in a [`Pcm16`]. A node
//! holds one for every user talking at once, so it is part of what a
//! session's memory peaks on. It grows by a quarter of what it holds, at
//! least a quarter second (not by doubling, nor a second at a time: a 2.1 s
//! utterance holds 2.3 s, not 4 or 3), and the engines get an f32 copy made
//! once per decode, straight into the `Arc` they share.

use crate::audio::STT_SAMPLE_RATE;
use crate::pcm16::to_f32;
pub(crate) use crate::pcm16::to_i16;
use std::collections::VecDeque;
use std::sync::Arc;

/// The least room added when the buffer is full: a quarter second. More
/// is added as the utterance grows (a quarter of it), so a long one is not
/// copied every 250 ms.
const GROW_MIN_SAMPLES: usize = STT_SAMPLE_RATE as usize / 4;

/// 16 kHz mono 16-bit samples.
#[derive(Debug, Default)]
pub(crate) struct Pcm16 {
    samples: Vec<i16>,
}

impl Pcm16 {
    pub(crate) fn len(&self) -> usize {
        self.samples.len()
    }

    pub(crate) fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / STT_SAMPLE_RATE as u64
    }

    fn reserve(&mut self, more: usize) {
        if self.samples.capacity() - self.samples.len() < more {
            let step = (self.samples.len() / 4).max(GROW_MIN_SAMPLES);
            self.samples.reserve_exact(more.max(step));
        }
    }

    pub(crate) fn push_f32(&mut self, samples: &[f32]) {
        self.reserve(samples.len());
        self.samples.extend(samples.iter().map(|&s| to_i16(s)));
    }

    /// Takes the pre-roll (kept as a ring of 16-bit samples) into the buffer.
    /// An empty buffer takes the ring's own allocation (turned in place, not
    /// copied), so a talking user's session does not hold an empty ring of
    /// `stt.preroll_ms` beside the utterance; the ring is made again when
    /// the user is quiet.
    pub(crate) fn take_preroll(&mut self, preroll: &mut VecDeque<i16>) {
        if self.samples.capacity() == 0 {
            self.samples = Vec::from(std::mem::take(preroll));
            return;
        }
        self.reserve(preroll.len());
        self.samples.extend(preroll.drain(..));
    }

    /// The samples from `from` on, as the f32 the engines take (one copy).
    pub(crate) fn to_f32_from(&self, from: usize) -> Arc<[f32]> {
        let from = from.min(self.samples.len());
        self.samples[from..].iter().map(|&s| to_f32(s)).collect()
    }

    pub(crate) fn to_f32(&self) -> Arc<[f32]> {
        self.to_f32_from(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_the_signal_within_16_bit_precision() {
        let input: Vec<f32> = (0..320).map(|i| ((i as f32) * 0.05).sin() * 0.8).collect();
        let mut p = Pcm16::default();
        p.push_f32(&input);
        let back = p.to_f32();
        assert_eq!(back.len(), input.len());
        for (a, b) in input.iter().zip(back.iter()) {
            assert!((a - b).abs() <= 1.0 / 32767.0, "{a} vs {b}");
        }
    }

    #[test]
    fn out_of_range_and_non_finite_samples_are_clamped() {
        let mut p = Pcm16::default();
        p.push_f32(&[2.0, -3.0, f32::NAN, f32::INFINITY]);
        assert_eq!(&*p.to_f32(), &[1.0, -1.0, 0.0, 1.0]);
    }

    #[test]
    fn grows_by_a_quarter_not_by_doubling() {
        let mut p = Pcm16::default();
        let frame = [0.1f32; 320];
        // 200 ms: the first quarter second.
        for _ in 0..10 {
            p.push_f32(&frame);
        }
        assert_eq!(p.samples.capacity(), GROW_MIN_SAMPLES);
        // 2.1 s of frames: 4,000 samples more at a time up to 19,360, then
        // a quarter more each time (24,000, 30,000, 37,200).
        for _ in 10..105 {
            p.push_f32(&frame);
            let (len, cap) = (p.len(), p.samples.capacity());
            assert!(
                cap - len <= (len / 4).max(GROW_MIN_SAMPLES),
                "{len} in {cap}"
            );
        }
        assert_eq!(p.len(), 33_600);
        assert_eq!(p.samples.capacity(), 37_200);
        assert_eq!(p.duration_ms(), 2_100);
    }

    #[test]
    fn preroll_and_from() {
        let mut preroll: VecDeque<i16> = [0.5f32, 0.75].iter().map(|&s| to_i16(s)).collect();
        let mut p = Pcm16::default();
        p.push_f32(&[0.0, 0.25]);
        p.take_preroll(&mut preroll);
        assert!(preroll.is_empty());
        assert_eq!(p.len(), 4);
        let tail = p.to_f32_from(3);
        assert_eq!(tail.len(), 1);
        assert!((tail[0] - 0.75).abs() < 1e-4);
        assert_eq!(p.to_f32_from(9).len(), 0);
    }

    #[test]
    fn an_empty_buffer_takes_the_preroll_ring_itself() {
        // A full ring that has wrapped: its newest sample at the start of
        // its allocation, its oldest further on.
        let mut preroll: VecDeque<i16> = VecDeque::with_capacity(4);
        let cap = preroll.capacity();
        preroll.extend(1..=cap as i16);
        preroll.pop_front();
        preroll.push_back(cap as i16 + 1);
        let ring = preroll.as_slices().1.as_ptr();
        let mut p = Pcm16::default();
        p.take_preroll(&mut preroll);
        assert_eq!(p.samples, (2..=cap as i16 + 1).collect::<Vec<_>>());
        assert_eq!(p.samples.as_ptr(), ring, "the ring's own allocation");
        assert_eq!(p.samples.capacity(), cap);
        assert_eq!(
            preroll.capacity(),
            0,
            "the ring holds nothing while the user talks"
        );
        // Speech after it grows the buffer as usual.
        p.push_f32(&[0.0; 320]);
        assert_eq!(p.len(), cap + 320);
    }
}
