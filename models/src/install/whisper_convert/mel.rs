//! The log-mel filter bank whisper.cpp reads from the model file.

fn hz_to_mel(hz: f64) -> f64 {
    // Slaney's scale: linear below 1 kHz, logarithmic above (librosa htk=False).
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = (6.4f64).ln() / 27.0;
    if hz >= MIN_LOG_HZ {
        min_log_mel + (hz / MIN_LOG_HZ).ln() / logstep
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = (6.4f64).ln() / 27.0;
    if mel >= min_log_mel {
        MIN_LOG_HZ * (logstep * (mel - min_log_mel)).exp()
    } else {
        mel * F_SP
    }
}

/// Slaney-normalised triangular mel filters, row-major `[n_mels][n_fft/2 + 1]`,
/// as `librosa.filters.mel(sr, n_fft, n_mels)` computes them (the matrix
/// OpenAI ships in `mel_filters.npz` and whisper.cpp reads from the model file).
pub(super) fn mel_filters(n_mels: usize, n_fft: usize, sample_rate: f64) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..bins)
        .map(|k| k as f64 * sample_rate / n_fft as f64)
        .collect();
    let max_mel = hz_to_mel(sample_rate / 2.0);
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(max_mel * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut out = vec![0f32; n_mels * bins];
    for m in 0..n_mels {
        let (lo, center, hi) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - lo) / (center - lo);
            let upper = (hi - f) / (hi - center);
            let w = lower.min(upper).max(0.0);
            out[m * bins + k] = (w * enorm) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_filters_match_librosa() {
        let f = mel_filters(80, 400, 16_000.0);
        assert_eq!(f.len(), 80 * 201);
        // librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)[0, 1]
        assert!((f[1] - 0.024_862_59).abs() < 1e-6, "{}", f[1]);
        assert_eq!(f[0], 0.0);
        assert!(f.iter().all(|w| w.is_finite() && *w >= 0.0));
        // Every filter is non-empty and their peaks climb with frequency.
        let mut last_peak = 0;
        for m in 0..80 {
            let row = &f[m * 201..(m + 1) * 201];
            let peak = (0..201)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0);
            assert!(row[peak] > 0.0, "filter {m} is empty");
            assert!(
                peak >= last_peak,
                "filter {m} peaks below filter {}",
                m.saturating_sub(1)
            );
            last_peak = peak;
        }
        // Slaney norm: each wide triangle's area in Hz is about 1.
        let bin_hz = 40.0;
        let row = &f[60 * 201..61 * 201];
        let area: f32 = row.iter().sum::<f32>() * bin_hz;
        assert!((area - 1.0).abs() < 0.05, "area {area}");
    }

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 40.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }
}
