//! Resampling quality, 20 ms framing and levels.

use super::*;

#[test]
fn resample_48k_to_16k_keeps_a_1khz_tone() {
    let src = sine(1000.0, 48_000, 48_000, 0.5);
    let out = resample(&src, 48_000, 16_000).unwrap();
    assert_eq!(out.len(), 16_000);
    let want = sine(1000.0, 16_000, 16_000, 0.5);
    let c = correlation(&out, &want, 200);
    assert!(c > 0.999, "correlation {c}");
    let zc = zero_crossings(&out[200..out.len() - 200]);
    let want_zc = zero_crossings(&want[200..want.len() - 200]);
    assert!(zc.abs_diff(want_zc) <= 2, "{zc} vs {want_zc}");
    assert!((rms(&out[200..15_800]) - 0.5 / 2f32.sqrt()).abs() < 0.01);
}

#[test]
fn resample_16k_to_24k_keeps_a_1khz_tone() {
    let src = sine(1000.0, 16_000, 16_000, 0.5);
    let out = resample(&src, 16_000, 24_000).unwrap();
    assert_eq!(out.len(), 24_000);
    let want = sine(1000.0, 24_000, 24_000, 0.5);
    let c = correlation(&out, &want, 200);
    assert!(c > 0.999, "correlation {c}");
    let zc = zero_crossings(&out[200..out.len() - 200]);
    let want_zc = zero_crossings(&want[200..want.len() - 200]);
    assert!(zc.abs_diff(want_zc) <= 2, "{zc} vs {want_zc}");
}

#[test]
fn downsampling_filters_out_what_would_alias() {
    // 10 kHz cannot exist at 16 kHz (Nyquist 8 kHz); without a filter it
    // would fold back to 6 kHz at full level.
    let src = sine(10_000.0, 48_000, 48_000, 0.5);
    let out = resample(&src, 48_000, 16_000).unwrap();
    let r = rms(&out[200..out.len() - 200]);
    assert!(r < 0.001, "aliased energy rms {r}");
    // 7 kHz is inside the 16 kHz band and must survive.
    let src = sine(7_000.0, 48_000, 48_000, 0.5);
    let out = resample(&src, 48_000, 16_000).unwrap();
    let r = rms(&out[200..out.len() - 200]);
    assert!((r - 0.5 / 2f32.sqrt()).abs() < 0.02, "7 kHz rms {r}");
}

#[test]
fn resample_every_common_pair_both_ways() {
    let rates = [8_000u32, 16_000, 22_050, 24_000, 44_100, 48_000];
    for &from in &rates {
        // An odd length, not a multiple of any chunk size.
        let n = (from as usize / 3) + 7;
        let src = sine(300.0, from, n, 0.6);
        for &to in &rates {
            let out = resample(&src, from, to).unwrap();
            let want_len = ((n as f64) * f64::from(to) / f64::from(from)).round() as usize;
            assert_eq!(out.len(), want_len, "{from} -> {to}");
            let want = sine(300.0, to, out.len(), 0.6);
            let edge = (to / 100) as usize;
            let c = correlation(&out, &want, edge);
            assert!(c > 0.99, "{from} -> {to}: correlation {c}");
        }
    }
}

#[test]
fn resample_edge_cases() {
    let x = [0.1f32, -0.2, f32::NAN, 0.4];
    assert_eq!(
        resample(&x, 16_000, 16_000).unwrap(),
        vec![0.1, -0.2, 0.0, 0.4]
    );
    assert!(resample(&[], 48_000, 16_000).unwrap().is_empty());
    assert_eq!(resample(&[0.3], 48_000, 16_000).unwrap().len(), 0); // round(1/3)
    assert_eq!(resample(&[0.3; 7], 8_000, 44_100).unwrap().len(), 39); // round(38.5875)
    assert_eq!(resample(&[0.3; 2], 48_000, 16_000).unwrap().len(), 1); // round(0.667)
    for (from, to) in [(0, 16_000), (16_000, 0), (16_000, 10_000_000)] {
        let e = resample(&x, from, to).unwrap_err();
        assert!(matches!(e, AudioError::Resample { .. }), "{e:?}");
        assert!(
            e.to_string().contains(&format!("{from} Hz -> {to} Hz")),
            "{e}"
        );
    }
    // Coprime rates still work.
    assert_eq!(resample(&[0.0; 1000], 44_101, 16_000).unwrap().len(), 363);
}

#[test]
fn stt_frames_are_20ms_at_16k() {
    // 1 s of stereo 48 kHz: exactly 50 frames.
    let bytes = hound_wav(
        spec(2, 48_000, 16, false),
        sine(1000.0, 48_000, 48_000, 0.5)
            .iter()
            .map(|s| vec![(s * 32767.0) as i16; 2]),
    );
    let d = decode_wav(&bytes).unwrap();
    let frames = to_stt_frames(&d).unwrap();
    assert_eq!(frames.len(), 50);
    assert!(frames
        .iter()
        .all(|f| f.sample_rate == STT_SAMPLE_RATE && f.samples.len() == FRAME_SAMPLES_16K));
    assert!(frames.iter().all(|f| f.duration_ms() == 20));

    // 1010 ms at 22.05 kHz: ceil(1010 / 20) = 51 frames, the last zero-padded.
    let n = 22_271; // 1010.02 ms
    let d = decode_wav(&hound_wav(
        spec(1, 22_050, 16, false),
        (0..n).map(|_| vec![8192i16]),
    ))
    .unwrap();
    assert_eq!(d.duration_ms, 1010);
    let frames = to_stt_frames(&d).unwrap();
    assert_eq!(frames.len(), (d.duration_ms as usize).div_ceil(20));
    let last = &frames[50].samples;
    assert_eq!(last.len(), 320);
    assert!(last[200..].iter().all(|s| *s == 0.0));
    assert!((last[100] - 0.25).abs() < 0.01, "{}", last[100]);

    // 30 ms at 8 kHz: 2 frames.
    let d = decode_wav(&encode_wav_pcm16(&[0.1; 240], 8_000)).unwrap();
    assert_eq!(to_stt_frames(&d).unwrap().len(), 2);

    let mut empty = d.clone();
    empty.samples.clear();
    assert!(matches!(to_stt_frames(&empty), Err(AudioError::Empty)));
    let mut no_rate = d;
    no_rate.sample_rate = 0;
    assert!(matches!(
        to_stt_frames(&no_rate),
        Err(AudioError::ZeroSampleRate)
    ));
}

#[test]
fn rms_and_peak() {
    assert_eq!(rms(&[]), 0.0);
    assert_eq!(peak(&[]), 0.0);
    assert!((rms(&[0.5, -0.5, 0.5, -0.5]) - 0.5).abs() < 1e-7);
    assert!((rms(&sine(100.0, 8_000, 8_000, 1.0)) - 0.5f32.sqrt()).abs() < 1e-4);
    assert_eq!(peak(&[0.1, -0.9, f32::NAN, 0.3]), 0.9);
}

/// Not a benchmark: a smoke check that converting a minute of audio stays
/// cheap even in a debug build (it prints the time for a human to read).
#[test]
fn resampling_a_minute_is_quick() {
    let src = sine(440.0, 48_000, 48_000 * 60, 0.5);
    let t = std::time::Instant::now();
    let out = resample(&src, 48_000, 16_000).unwrap();
    let took = t.elapsed();
    eprintln!("resampled 60 s 48k -> 16k in {took:?}");
    assert_eq!(out.len(), 16_000 * 60);
    assert!(took.as_secs() < 20, "took {took:?}");
}

#[test]
fn stream_resampler_is_seamless_across_pieces() {
    let from = 22_050;
    let to = 24_000;
    let tone: Vec<f32> = (0..from as usize)
        .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / from as f32).sin() * 0.5)
        .collect();
    let mut r = StreamResampler::new(from, to).unwrap();
    let mut out = Vec::new();
    // Uneven pieces, as sentences come.
    for piece in tone.chunks(3001) {
        r.push(piece, &mut out).unwrap();
    }
    r.finish(&mut out).unwrap();
    // Same as resampling the whole clip in one go: no seams at the pieces.
    let whole = resample(&tone, from, to).unwrap();
    assert_eq!(out.len(), whole.len());
    let worst = out
        .iter()
        .zip(&whole)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst < 1e-4,
        "worst difference from one-pass resampling {worst}"
    );
}
