//! Cheap level measures: [`rms`] (loudness) and [`peak`] (clipping).

/// Root mean square (0 for no samples): a cheap loudness measure for levels
/// and silence checks. Accumulates in f64 so long clips stay accurate.
pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|s| f64::from(*s) * f64::from(*s)).sum();
    (sum / samples.len() as f64).sqrt() as f32
}

/// Largest absolute sample (0 for no samples; NaN ignored): detects clipping.
pub fn peak(samples: &[f32]) -> f32 {
    samples
        .iter()
        .filter(|s| !s.is_nan())
        .fold(0.0f32, |m, s| m.max(s.abs()))
}
