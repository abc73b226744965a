//! The audio side of one decode: samples sanitised, audio over 30 s cut into
//! windows at quiet points, each window's encoder size and token limit, and
//! its voiced time.

use std::ops::Range;

pub(super) const SAMPLE_RATE: usize = 16_000;
/// Whisper's longest input: one 30 s window.
pub(super) const WINDOW_SAMPLES: usize = 30 * SAMPLE_RATE;
/// How far back from a window's 30 s end to look for a quiet cut.
pub(super) const CUT_SEARCH_SAMPLES: usize = 3 * SAMPLE_RATE;
/// Shorter than any word; whisper.cpp refuses input under 100 ms anyway.
pub(super) const MIN_SAMPLES: usize = SAMPLE_RATE / 10;
/// Whisper is trained on windows with some context; pad tiny inputs to 1 s.
pub(super) const MIN_DECODE_SAMPLES: usize = SAMPLE_RATE;
/// Audio samples per encoder position (whisper's encoder runs at 50 Hz).
const SAMPLES_PER_AUDIO_CTX: usize = SAMPLE_RATE / 50;

/// Encoder positions for `n_samples` of audio plus a margin, at least `min`,
/// within the model's window.
pub(super) fn audio_ctx_for(
    n_samples: usize,
    margin: usize,
    min: usize,
    n_audio_ctx: usize,
) -> usize {
    (n_samples.div_ceil(SAMPLES_PER_AUDIO_CTX) + margin)
        .max(min)
        .min(n_audio_ctx)
}

/// Most text tokens a window of `n_samples` may produce (6 per second, plus
/// room for punctuation on very short clips).
pub(super) fn max_tokens_for(n_samples: usize) -> usize {
    n_samples.div_ceil(SAMPLE_RATE) * 6 + 12
}

/// Seconds of `pcm` (20 ms frames) louder than 2 % of its loudest frame
/// (-34 dB, so quiet consonants count) and than the silence level.
pub(super) fn voiced_seconds(pcm: &[f32], silence_peak: f32) -> f64 {
    const FRAME: usize = SAMPLE_RATE / 50;
    let rms: Vec<f32> = pcm
        .chunks(FRAME)
        .map(|f| (f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32).sqrt())
        .collect();
    let loudest = rms.iter().copied().fold(0.0f32, f32::max);
    let floor = (loudest * 0.02).max(silence_peak / 4.0);
    rms.iter().filter(|&&r| r > floor).count() as f64 / 50.0
}

/// NaN and infinities become silence, the rest is clamped to [-1, 1].
pub(super) fn sanitize(audio: &[f32]) -> Vec<f32> {
    audio
        .iter()
        .map(|&s| {
            if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        })
        .collect()
}

pub(super) fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |m, s| m.max(s.abs()))
}

/// Cuts audio into windows of at most `max` samples (whisper's 30 s), each
/// as full as possible (whisper transcribes best with the most context) and cut
/// at the quietest 20 ms within the last `search` samples, so words are rarely
/// split.
pub(super) fn split_windows(samples: &[f32], max: usize, search: usize) -> Vec<Range<usize>> {
    const FRAME: usize = 320;
    let mut out = Vec::new();
    let mut start = 0;
    while samples.len() - start > max {
        let hi = start + max;
        let lo = hi.saturating_sub(search).max(start + 1);
        let mut best = (f32::INFINITY, hi);
        let mut pos = lo;
        while pos + FRAME <= hi {
            let energy: f32 = samples[pos..pos + FRAME].iter().map(|s| s * s).sum();
            if energy < best.0 {
                best = (energy, pos + FRAME / 2);
            }
            pos += FRAME / 2;
        }
        out.push(start..best.1);
        start = best.1;
    }
    if start < samples.len() {
        out.push(start..samples.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voiced_time_ignores_silence() {
        let mut pcm = vec![0.0f32; 3 * 16_000];
        for (i, s) in pcm[16_000..32_000].iter_mut().enumerate() {
            *s = (i as f32 * 0.05).sin() * 0.3;
        }
        let v = voiced_seconds(&pcm, 1e-3);
        assert!((v - 1.0).abs() < 0.05, "{v}");
        assert_eq!(voiced_seconds(&[], 1e-3), 0.0);
    }

    #[test]
    fn audio_ctx_follows_the_utterance() {
        // 4 s: 200 positions plus the margin
        assert_eq!(audio_ctx_for(4 * 16_000, 64, 0, 1500), 264);
        assert_eq!(audio_ctx_for(1, 64, 0, 1500), 65);
        assert_eq!(audio_ctx_for(1, 64, 300, 1500), 300);
        assert_eq!(audio_ctx_for(30 * 16_000, 64, 0, 1500), 1500);
    }

    #[test]
    fn nan_and_out_of_range_samples_are_sanitised() {
        let s = sanitize(&[f32::NAN, f32::INFINITY, 2.0, -3.0, 0.5]);
        assert_eq!(s, vec![0.0, 0.0, 1.0, -1.0, 0.5]);
    }

    #[test]
    fn long_audio_is_cut_at_a_quiet_point() {
        let rate = 16_000;
        let mut samples = vec![0.5f32; 70 * rate];
        // a quiet gap at 28.5 s
        samples[28 * rate + rate / 2..29 * rate].fill(0.0);
        let windows = split_windows(&samples, 30 * rate, 3 * rate);
        assert_eq!(windows.len(), 3);
        let cut = windows[0].end;
        assert!(
            cut > 28 * rate + rate / 2 && cut < 29 * rate,
            "cut at {cut}"
        );
        assert_eq!(windows[1].start, cut);
        assert_eq!(windows[2].end, samples.len());
        assert!(windows.iter().all(|w| w.len() <= 30 * rate));
        // 30 s or less is one window; nothing is no window.
        assert_eq!(
            split_windows(&samples[..30 * rate], 30 * rate, 3 * rate),
            vec![0..30 * rate]
        );
        assert!(split_windows(&[], 30 * rate, 3 * rate).is_empty());
    }
}
