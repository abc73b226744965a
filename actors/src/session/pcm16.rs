//! The utterance a session holds while the user talks, as 16-bit PCM: half
//! the memory of the frames' f32 (see [`crate::pcm16`]). The Stt keeps the
//! utterance so far in a [`Pcm16`]. A node holds one for every user talking
//! at once, so it is part of what a session's memory peaks on. It is kept
//! in blocks of 2 KiB, a size the allocator serves exactly, filled one after
//! the other: nothing held beyond the samples but the unfilled part of the
//! last block (a buffer grown by a quarter held ~14 % more than the audio,
//! and the allocator rounded each size up again), and nothing copied as the
//! user goes on talking. The engines get an f32 copy made once per decode,
//! straight into the `Arc` they share.

use crate::audio::STT_SAMPLE_RATE;
use crate::pcm16::to_f32;
pub(crate) use crate::pcm16::to_i16;
use std::collections::VecDeque;
use std::sync::Arc;

/// Samples a block holds: 2 KiB, 64 ms at 16 kHz.
const BLOCK: usize = 1024;

/// 16 kHz mono 16-bit samples.
#[derive(Debug, Default)]
pub(crate) struct Pcm16 {
    /// Full blocks, then the one being filled (its tail past `len` unused).
    /// Each block boxed on purpose: the list grows by pointers, and the audio
    /// is never moved (a `Vec<[i16; BLOCK]>` would copy it all as it grows).
    #[allow(clippy::vec_box)]
    blocks: Vec<Box<[i16; BLOCK]>>,
    len: usize,
}

impl Pcm16 {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn duration_ms(&self) -> u64 {
        self.len as u64 * 1000 / STT_SAMPLE_RATE as u64
    }

    fn push_with<T: Copy>(&mut self, mut rest: &[T], convert: impl Fn(T) -> i16) {
        while !rest.is_empty() {
            let at = self.len % BLOCK;
            if at == 0 {
                self.blocks.push(Box::new([0; BLOCK]));
            }
            let Some(block) = self.blocks.last_mut() else {
                return;
            };
            let n = (BLOCK - at).min(rest.len());
            for (d, &s) in block[at..at + n].iter_mut().zip(&rest[..n]) {
                *d = convert(s);
            }
            self.len += n;
            rest = &rest[n..];
        }
    }

    pub(crate) fn push_f32(&mut self, samples: &[f32]) {
        self.push_with(samples, to_i16);
    }

    /// Takes the pre-roll (kept as a ring of 16-bit samples while the user
    /// is quiet) in after what the buffer holds, and frees the ring: a
    /// talking user's session holds no ring of `stt.preroll_ms` beside the
    /// utterance; it is made again when the user is quiet.
    pub(crate) fn take_preroll(&mut self, preroll: &mut VecDeque<i16>) {
        let ring = std::mem::take(preroll);
        let (a, b) = ring.as_slices();
        self.push_with(a, |s| s);
        self.push_with(b, |s| s);
    }

    /// The samples from `from` on, as the f32 the engines take: one copy,
    /// straight into the `Arc` (the Stt makes one for every partial and
    /// every final, on the voice loop's thread).
    pub(crate) fn to_f32_from(&self, from: usize) -> Arc<[f32]> {
        let from = from.min(self.len);
        let n = self.len - from;
        let mut out = Arc::<[f32]>::new_uninit_slice(n);
        let mut written = 0;
        if let Some(dst) = Arc::get_mut(&mut out) {
            for part in self.slices_from(from) {
                // A block's samples a slice at a time (not one by one through
                // a flattened iterator): the conversion runs vectorized.
                for (d, &s) in dst[written..written + part.len()].iter_mut().zip(part) {
                    d.write(to_f32(s));
                }
                written += part.len();
            }
        }
        if written != n {
            // Not reached: a new `Arc` is unique and the slices hold `n`.
            return self
                .slices_from(from)
                .flatten()
                .map(|&s| to_f32(s))
                .collect();
        }
        // SAFETY: each of the `n` elements was written above (`written == n`).
        unsafe { out.assume_init() }
    }

    /// The samples from `from` on, a block's part at a time.
    fn slices_from(&self, from: usize) -> impl Iterator<Item = &[i16]> {
        let len = self.len;
        self.blocks
            .iter()
            .enumerate()
            .skip(from / BLOCK)
            .map(move |(i, block)| {
                let start = if i == from / BLOCK { from % BLOCK } else { 0 };
                let end = (len - i * BLOCK).min(BLOCK);
                &block[start..end]
            })
    }

    pub(crate) fn to_f32(&self) -> Arc<[f32]> {
        self.to_f32_from(0)
    }

    /// Bytes allocated for the samples (the blocks; not the list of them).
    #[cfg(test)]
    fn held_bytes(&self) -> usize {
        self.blocks.len() * BLOCK * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_the_signal_within_16_bit_precision() {
        let input: Vec<f32> = (0..3000).map(|i| ((i as f32) * 0.05).sin() * 0.8).collect();
        let mut p = Pcm16::default();
        // Frames that do not line up with the blocks.
        for chunk in input.chunks(333) {
            p.push_f32(chunk);
        }
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
    fn holds_no_more_than_the_samples_and_one_block_being_filled() {
        let mut p = Pcm16::default();
        assert_eq!(p.held_bytes(), 0);
        let frame = [0.1f32; 320];
        for n in 1..=105 {
            p.push_f32(&frame);
            let bytes = p.len() * 2;
            assert!(
                p.held_bytes() >= bytes && p.held_bytes() - bytes < BLOCK * 2,
                "{} samples in {} bytes",
                p.len(),
                p.held_bytes()
            );
            assert_eq!(p.len(), n * 320);
        }
        // 2.1 s: 33,600 samples in 33 blocks (33,792), not 37,200 as a
        // buffer grown by a quarter would hold.
        assert_eq!(p.held_bytes(), 33 * BLOCK * 2);
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
    fn from_reads_across_blocks() {
        let input: Vec<f32> = (0..2500).map(|i| (i % 1000) as f32 / 1000.0).collect();
        let mut p = Pcm16::default();
        p.push_f32(&input);
        for from in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 2499, 2500] {
            let tail = p.to_f32_from(from);
            assert_eq!(tail.len(), 2500 - from, "from {from}");
            for (a, b) in input[from..].iter().zip(tail.iter()) {
                assert!((a - b).abs() <= 1.0 / 32767.0, "from {from}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn the_preroll_ring_is_freed_while_the_user_talks() {
        // A full ring that has wrapped: its oldest sample at the end of its
        // allocation, its newest further back.
        let mut preroll: VecDeque<i16> = VecDeque::with_capacity(4);
        let cap = preroll.capacity();
        preroll.extend(1..=cap as i16);
        preroll.pop_front();
        preroll.push_back(cap as i16 + 1);
        let mut p = Pcm16::default();
        p.take_preroll(&mut preroll);
        let want: Vec<f32> = (2..=cap as i16 + 1).map(to_f32).collect();
        assert_eq!(&*p.to_f32(), &want[..], "oldest first");
        assert_eq!(
            preroll.capacity(),
            0,
            "the ring holds nothing while the user talks"
        );
        // Speech after it goes on in the same block.
        p.push_f32(&[0.0; 320]);
        assert_eq!(p.len(), cap + 320);
        assert_eq!(p.held_bytes(), BLOCK * 2);
    }
}
