//! Tests of the audio folder as a whole: decoding against hound's own writer
//! and hostile input ([`wav`]), resampling quality, framing and levels
//! ([`resample`]). The signal helpers they share are here.

mod resample;
mod wav;

use super::*;
use arc_actors::audio::{FRAME_SAMPLES_16K, STT_SAMPLE_RATE};
use std::f64::consts::PI;
use std::io::Cursor;

fn sine(freq: f64, rate: u32, n: usize, amp: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (amp * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

/// A WAV written by hound itself, so the decoder is checked against an
/// independent writer. `frames` holds one Vec per frame (one value per channel).
fn hound_wav<S: hound::Sample + Copy>(
    spec: hound::WavSpec,
    frames: impl IntoIterator<Item = Vec<S>>,
) -> Vec<u8> {
    let mut cur = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cur, spec).unwrap();
        for frame in frames {
            for s in frame {
                w.write_sample(s).unwrap();
            }
        }
        w.finalize().unwrap();
    }
    cur.into_inner()
}

fn spec(channels: u16, rate: u32, bits: u16, float: bool) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    }
}

/// A canonical 44-byte header with arbitrary fields, for malformed inputs.
fn raw_header(tag: u16, channels: u16, rate: u32, bits: u16, data_len: u32) -> Vec<u8> {
    let block = channels.wrapping_mul(bits / 8);
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36u32.wrapping_add(data_len)).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&tag.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate.wrapping_mul(u32::from(block))).to_le_bytes());
    h.extend_from_slice(&block.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

/// Normalised correlation of `a` and `b`, skipping `edge` samples at both ends.
fn correlation(a: &[f32], b: &[f32], edge: usize) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[edge..n - edge], &b[edge..n - edge]);
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn zero_crossings(s: &[f32]) -> usize {
    s.windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count()
}
