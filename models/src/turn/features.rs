//! Whisper-style log-mel features, as Smart Turn v3 was trained on them:
//! transformers' `WhisperFeatureExtractor` (chunk length 8 s) as pipecat's
//! numpy copy computes it (`pipecat/audio/turn/smart_turn/_whisper_features.py`
//! in the same wheel as the model). A test checks this against that file.
//!
//! 8 s of 16 kHz audio → waveform normalized to zero mean and unit variance →
//! centered (reflect-padded) 400-sample periodic-Hann frames every 160
//! samples → power spectrum → 80 Slaney mel filters → log10, floored 8
//! below the maximum, scaled to about [-1, 1]. 800 frames × 80 mels.

use realfft::RealFftPlanner;
use std::sync::{Arc, OnceLock};

/// Samples the model sees: the last 8 s at 16 kHz.
pub const WINDOW_SAMPLES: usize = 8 * 16_000;
/// Mel bands.
pub const N_MELS: usize = 80;
/// Frames in the 8 s window (one per 10 ms).
pub const N_FRAMES: usize = WINDOW_SAMPLES / HOP;

const N_FFT: usize = 400;
const HOP: usize = 160;
const N_BINS: usize = N_FFT / 2 + 1;
const SAMPLE_RATE: f64 = 16_000.0;
const MEL_FLOOR: f64 = 1e-10;
const NORM_EPS: f32 = 1e-7;

/// The last 8 s of `audio`, zero-padded on the left when shorter (the turn
/// ends at the right edge, where the model looks for its end).
pub fn last_window(audio: &[f32]) -> Vec<f32> {
    if audio.len() >= WINDOW_SAMPLES {
        return audio[audio.len() - WINDOW_SAMPLES..].to_vec();
    }
    let mut out = vec![0.0; WINDOW_SAMPLES - audio.len()];
    out.extend_from_slice(audio);
    out
}

/// Log-mel features of exactly [`WINDOW_SAMPLES`] samples (see
/// [`last_window`]), mel-major: `out[mel * N_FRAMES + frame]`, the layout of
/// the model's `[1, 80, 800]` input.
pub fn log_mel(window: &[f32]) -> Vec<f32> {
    debug_assert_eq!(window.len(), WINDOW_SAMPLES);
    let consts = constants();
    // Normalize in f32, as the reference does before promoting to f64.
    let n = window.len() as f32;
    let mean = window.iter().sum::<f32>() / n;
    let var = window.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
    let scale = 1.0 / (var + NORM_EPS).sqrt();
    let x: Vec<f64> = window
        .iter()
        .map(|v| f64::from((v - mean) * scale))
        .collect();

    // Reflect padding by N_FFT / 2 on both sides (numpy's "reflect": the edge
    // sample is not repeated).
    let pad = N_FFT / 2;
    let len = x.len();
    let mut padded = Vec::with_capacity(len + 2 * pad);
    padded.extend((1..=pad).rev().map(|i| x[i]));
    padded.extend_from_slice(&x);
    padded.extend((0..pad).map(|i| x[len - 2 - i]));

    let fft = &consts.fft;
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut power = vec![0.0f64; N_BINS];
    let mut mel = vec![0.0f64; N_MELS * N_FRAMES];
    for frame in 0..N_FRAMES {
        let start = frame * HOP;
        for (i, v) in input.iter_mut().enumerate() {
            *v = padded[start + i] * consts.window[i];
        }
        // The lengths come from the planner: this cannot fail.
        if fft
            .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .is_err()
        {
            continue;
        }
        for (p, c) in power.iter_mut().zip(&spectrum) {
            *p = c.norm_sqr();
        }
        for (m, (first, weights)) in consts.filters.iter().enumerate() {
            let e: f64 = weights
                .iter()
                .zip(&power[*first..])
                .map(|(w, p)| w * p)
                .sum();
            mel[m * N_FRAMES + frame] = e.max(MEL_FLOOR).log10();
        }
    }
    let max = mel.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    mel.iter()
        .map(|v| ((v.max(max - 8.0) + 4.0) / 4.0) as f32)
        .collect()
}

struct Constants {
    window: Vec<f64>,
    /// Per mel band, its first non-zero bin and the weights from there (a
    /// triangle spans a few bins: 80 × 201 multiplications a frame would be
    /// mostly zeros).
    filters: Vec<(usize, Vec<f64>)>,
    fft: Arc<dyn realfft::RealToComplex<f64>>,
}

fn constants() -> &'static Constants {
    static C: OnceLock<Constants> = OnceLock::new();
    C.get_or_init(|| Constants {
        // Periodic Hann (torch.hann_window).
        window: (0..N_FFT)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos())
            .collect(),
        filters: mel_filters()
            .into_iter()
            .map(|w| {
                let first = w.iter().position(|&v| v > 0.0).unwrap_or(0);
                let last = w.iter().rposition(|&v| v > 0.0).unwrap_or(first);
                (first, w[first..=last].to_vec())
            })
            .collect(),
        fft: RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT),
    })
}

fn hz_to_mel(f: f64) -> f64 {
    if f >= 1000.0 {
        15.0 + (f / 1000.0).ln() * (27.0 / 6.4f64.ln())
    } else {
        3.0 * f / 200.0
    }
}

fn mel_to_hz(m: f64) -> f64 {
    if m >= 15.0 {
        1000.0 * ((6.4f64.ln() / 27.0) * (m - 15.0)).exp()
    } else {
        200.0 * m / 3.0
    }
}

/// Slaney-normalized triangular filters from 0 Hz to 8 kHz.
fn mel_filters() -> Vec<Vec<f64>> {
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2.0));
    let points: Vec<f64> = (0..N_MELS + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (N_MELS + 1) as f64))
        .collect();
    let bins: Vec<f64> = (0..N_BINS)
        .map(|i| (SAMPLE_RATE / 2.0).floor() * i as f64 / (N_BINS - 1) as f64)
        .collect();
    (0..N_MELS)
        .map(|m| {
            let (left, center, right) = (points[m], points[m + 1], points[m + 2]);
            let enorm = 2.0 / (right - left);
            bins.iter()
                .map(|&f| {
                    let down = (f - left) / (center - left);
                    let up = (right - f) / (right - center);
                    down.min(up).max(0.0) * enorm
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_audio_is_padded_on_the_left_and_long_audio_keeps_its_end() {
        let w = last_window(&[1.0, 2.0]);
        assert_eq!(w.len(), WINDOW_SAMPLES);
        assert_eq!(&w[WINDOW_SAMPLES - 2..], &[1.0, 2.0]);
        assert!(w[..WINDOW_SAMPLES - 2].iter().all(|&v| v == 0.0));
        let long: Vec<f32> = (0..WINDOW_SAMPLES + 5).map(|i| i as f32).collect();
        assert_eq!(last_window(&long)[0], 5.0);
    }

    #[test]
    fn a_tone_lands_in_its_mel_band_and_values_are_scaled() {
        let tone: Vec<f32> = (0..WINDOW_SAMPLES)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin() * 0.3)
            .collect();
        let f = log_mel(&tone);
        assert_eq!(f.len(), N_MELS * N_FRAMES);
        let band = |m: usize| f[m * N_FRAMES + 400];
        let loudest = (0..N_MELS)
            .max_by(|&a, &b| band(a).total_cmp(&band(b)))
            .unwrap();
        // 1 kHz is mel 15 of 0..45.2 (80 bands): band ≈ 15 / 45.2 * 81 - 1.
        assert!((24..=27).contains(&loudest), "band {loudest}");
        let max = f.iter().copied().fold(f32::MIN, f32::max);
        let min = f.iter().copied().fold(f32::MAX, f32::min);
        assert!(
            (max - min - 2.0).abs() < 1e-4,
            "floored 8 decades below the max: {min}..{max}"
        );
    }
}
