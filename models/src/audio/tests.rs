//! Tests of the audio folder as a whole: decoding against hound's own writer,
//! hostile input, resampling quality, framing and levels.

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

#[test]
fn round_trip_encode_decode() {
    let src = sine(440.0, 16_000, 16_000, 0.8);
    let bytes = encode_wav_pcm16(&src, 16_000);
    assert_eq!(bytes.len(), 44 + 2 * src.len());
    let d = decode_wav(&bytes).unwrap();
    assert_eq!((d.sample_rate, d.channels), (16_000, 1));
    assert_eq!(d.samples.len(), src.len());
    assert_eq!(d.duration_ms, 1000);
    let max_err = src
        .iter()
        .zip(&d.samples)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_err < 1.5 / 32768.0, "max error {max_err}");
    assert_eq!((d.non_finite_replaced, d.clamped), (0, 0));
}

#[test]
fn encoded_wav_is_readable_by_hound_and_clamped() {
    let bytes = encode_wav_pcm16(&[2.0, -2.0, f32::NAN, 0.5, f32::INFINITY], 8_000);
    let mut r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
    assert_eq!(r.spec(), spec(1, 8_000, 16, false));
    let s: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    assert_eq!(s, vec![32767, -32767, 0, 16384, 32767]);
}

#[test]
fn write_and_read_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tone.wav");
    let src = sine(1000.0, 24_000, 2_400, 0.5);
    write_wav(&path, &src, 24_000).unwrap();
    let d = read_wav(&path).unwrap();
    assert_eq!(d.sample_rate, 24_000);
    assert_eq!(d.duration_ms, 100);
    assert!((peak(&d.samples) - 0.5).abs() < 1e-3);

    let missing = dir.path().join("missing.wav");
    let e = read_wav(&missing).unwrap_err();
    assert!(matches!(e, AudioError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("missing.wav"), "{e}");
}

#[test]
fn stereo_48k_mixes_down_by_averaging() {
    // Left is a tone, right is silence: the mix is half the tone.
    let tone = sine(1000.0, 48_000, 48_000, 0.8);
    let bytes = hound_wav(
        spec(2, 48_000, 16, false),
        tone.iter().map(|s| vec![(s * 32767.0) as i16, 0]),
    );
    let d = decode_wav(&bytes).unwrap();
    assert_eq!((d.sample_rate, d.channels), (48_000, 2));
    assert_eq!(d.samples.len(), 48_000);
    assert_eq!(d.duration_ms, 1000);
    assert!(
        (peak(&d.samples) - 0.4).abs() < 1e-3,
        "{}",
        peak(&d.samples)
    );

    // Opposite channels cancel.
    let bytes = hound_wav(
        spec(2, 48_000, 16, false),
        (0..480).map(|_| vec![8192i16, -8192]),
    );
    let d = decode_wav(&bytes).unwrap();
    assert_eq!(d.samples.len(), 480);
    assert_eq!(peak(&d.samples), 0.0);
}

#[test]
fn mono_22050_keeps_length_and_amplitude() {
    let n = 22_050 / 2; // 500 ms
    let bytes = hound_wav(spec(1, 22_050, 16, false), (0..n).map(|_| vec![16384i16]));
    let d = decode_wav(&bytes).unwrap();
    assert_eq!(d.sample_rate, 22_050);
    assert_eq!(d.samples.len(), n);
    assert_eq!(d.duration_ms, 500);
    assert!(d.samples.iter().all(|s| (*s - 0.5).abs() < 1e-6));
}

#[test]
fn eight_bit_unsigned_decodes_centred() {
    // hound stores i8 as unsigned offset-128 bytes, as 8-bit WAV requires.
    let bytes = hound_wav(
        spec(1, 8_000, 8, false),
        [64i8, -64, 0, 127, -128].into_iter().map(|s| vec![s]),
    );
    let d = decode_wav(&bytes).unwrap();
    assert_eq!(d.samples, vec![0.5, -0.5, 0.0, 127.0 / 128.0, -1.0]);
}

#[test]
fn twenty_four_bit_and_three_channels_extensible() {
    // Three channels or more than 16 bits make hound write WAVE_FORMAT_EXTENSIBLE.
    let half = 1 << 22; // 0.5 at 24 bits
    let bytes = hound_wav(
        spec(3, 44_100, 24, false),
        (0..4410).map(|_| vec![half, half, -half]),
    );
    let d = decode_wav(&bytes).unwrap();
    assert_eq!((d.sample_rate, d.channels), (44_100, 3));
    assert_eq!(d.samples.len(), 4410);
    assert_eq!(d.duration_ms, 100);
    let want = 0.5 / 3.0;
    assert!(d
        .samples
        .iter()
        .all(|s| (f64::from(*s) - want).abs() < 1e-6));
}

#[test]
fn thirty_two_bit_int() {
    let bytes = hound_wav(
        spec(1, 16_000, 32, false),
        [i32::MIN, 0, 1 << 30].into_iter().map(|s| vec![s]),
    );
    let d = decode_wav(&bytes).unwrap();
    assert_eq!(d.samples, vec![-1.0, 0.0, 0.5]);
}

#[test]
fn float_samples_are_clamped_and_non_finite_replaced() {
    let vals = [
        0.25f32,
        -0.75,
        1.5,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -3.0,
    ];
    let bytes = hound_wav(spec(1, 16_000, 32, true), vals.iter().map(|s| vec![*s]));
    let d = decode_wav(&bytes).unwrap();
    assert_eq!(d.samples, vec![0.25, -0.75, 1.0, 0.0, 0.0, 0.0, -1.0]);
    assert_eq!(d.non_finite_replaced, 3);
    assert_eq!(d.clamped, 2);

    // Stereo float at 48 kHz: a NaN in one channel counts once and mixes as 0.
    let bytes = hound_wav(
        spec(2, 48_000, 32, true),
        (0..960).map(|i| vec![if i == 10 { f32::NAN } else { 0.5 }, 0.5]),
    );
    let d = decode_wav(&bytes).unwrap();
    assert_eq!(d.samples.len(), 960);
    assert_eq!(d.duration_ms, 20);
    assert_eq!(d.non_finite_replaced, 1);
    assert_eq!(d.samples[10], 0.25);
    assert_eq!(d.samples[11], 0.5);
}

#[test]
fn truncated_file_reports_expected_and_present_frames() {
    let bytes = encode_wav_pcm16(&sine(300.0, 16_000, 1000, 0.5), 16_000);
    let half = &bytes[..bytes.len() / 2];
    let e = decode_wav(half).unwrap_err();
    match &e {
        AudioError::Truncated {
            expected_frames,
            got_frames,
        } => {
            assert_eq!(*expected_frames, 1000);
            assert_eq!(*got_frames, ((bytes.len() / 2 - 44) / 2) as u64);
        }
        other => panic!("wanted Truncated, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("truncated") && msg.contains("1000"), "{msg}");

    // Cut mid-sample (odd length): still a truncation, not a format error.
    let e = decode_wav(&bytes[..101]).unwrap_err();
    assert!(
        matches!(e, AudioError::Truncated { got_frames: 28, .. }),
        "{e:?}"
    );
}

#[test]
fn header_only_file_is_truncated_with_zero_frames() {
    let bytes = encode_wav_pcm16(&[0.1; 500], 16_000);
    let e = decode_wav(&bytes[..44]).unwrap_err();
    assert!(
        matches!(
            e,
            AudioError::Truncated {
                expected_frames: 500,
                got_frames: 0
            }
        ),
        "{e:?}"
    );
    // Header cut before the data chunk: no audio at all.
    let e = decode_wav(&bytes[..36]).unwrap_err();
    assert!(
        matches!(e, AudioError::MissingChunk { chunk: "data", .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("no audio"), "{e}");
    // Cut inside the fmt chunk.
    let e = decode_wav(&bytes[..30]).unwrap_err();
    assert!(matches!(e, AudioError::TruncatedHeader { .. }), "{e:?}");
    // Cut inside the RIFF header itself.
    let e = decode_wav(&bytes[..10]).unwrap_err();
    assert!(matches!(e, AudioError::TruncatedHeader { .. }), "{e:?}");
    assert!(e.to_string().contains("10 bytes"), "{e}");
}

#[test]
fn zero_length_data_chunk_is_empty() {
    let e = decode_wav(&raw_header(1, 1, 16_000, 16, 0)).unwrap_err();
    assert!(matches!(e, AudioError::Empty), "{e:?}");
    assert!(e.to_string().contains("zero samples"), "{e}");
    // Same with a chunk after the empty data chunk.
    let mut b = raw_header(1, 1, 16_000, 16, 0);
    b.extend_from_slice(b"LIST\x04\x00\x00\x00INFO");
    assert!(matches!(decode_wav(&b), Err(AudioError::Empty)));
    // encode_wav_pcm16 of nothing makes such a file.
    assert!(matches!(
        decode_wav(&encode_wav_pcm16(&[], 16_000)),
        Err(AudioError::Empty)
    ));
}

#[test]
fn garbage_is_not_a_wav() {
    let e = decode_wav(b"hello, this is certainly not audio").unwrap_err();
    assert!(matches!(e, AudioError::NotWav { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("RIFF") && msg.contains("hell"), "{msg}");

    let e = decode_wav(&[]).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    let e = decode_wav(b"ID3\x04\x00\x00\x00\x00\x00\x00").unwrap_err();
    assert!(e.to_string().contains("MP3"), "{e}");
    let e = decode_wav(&[0x00, 0x9F, 0xFF, 0x01, 0x02]).unwrap_err();
    assert!(e.to_string().contains("00 9F FF 01"), "{e}");
    let e = decode_wav(b"RIFF\x04\x00\x00\x00AVI LIST").unwrap_err();
    assert!(matches!(e, AudioError::NotWav { .. }), "{e:?}");
    assert!(e.to_string().contains("AVI"), "{e}");
}

#[test]
fn zero_channels_and_zero_rate_are_named() {
    let mut b = raw_header(1, 0, 16_000, 16, 4);
    b.extend_from_slice(&[0; 4]);
    assert!(matches!(decode_wav(&b), Err(AudioError::ZeroChannels)));
    let mut b = raw_header(1, 1, 0, 16, 4);
    b.extend_from_slice(&[0; 4]);
    let e = decode_wav(&b).unwrap_err();
    assert!(matches!(e, AudioError::ZeroSampleRate), "{e:?}");
    assert!(e.to_string().contains("0 Hz"));
}

#[test]
fn unsupported_formats_say_which() {
    let mut alaw = raw_header(6, 1, 8_000, 8, 4);
    alaw.extend_from_slice(&[0xD5; 4]);
    let e = decode_wav(&alaw).unwrap_err();
    assert!(matches!(e, AudioError::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains("A-law"), "{e}");

    let mut f64wav = raw_header(3, 1, 8_000, 64, 8);
    f64wav.extend_from_slice(&[0; 8]);
    let e = decode_wav(&f64wav).unwrap_err();
    assert!(e.to_string().contains("64-bit float"), "{e}");

    let mut rifx = encode_wav_pcm16(&[0.0; 4], 8_000);
    rifx[3] = b'X';
    let e = decode_wav(&rifx).unwrap_err();
    assert!(matches!(e, AudioError::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains("big-endian"), "{e}");
}

#[test]
fn tolerates_streaming_lengths_junk_chunks_and_bad_byte_rate() {
    let src = [0.5f32; 100];
    // Streaming writers leave 0xFFFFFFFF as the data length.
    let mut b = encode_wav_pcm16(&src, 16_000);
    b[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    b.push(0x7F); // half a sample at the end is ignored
    let d = decode_wav(&b).unwrap();
    assert_eq!(d.samples.len(), 100);

    // An odd-sized LIST chunk (with its pad byte) between fmt and data,
    // and a wrong byte-rate field.
    let good = encode_wav_pcm16(&src, 16_000);
    let mut b = good[..36].to_vec();
    b[28..32].copy_from_slice(&1234u32.to_le_bytes());
    b.extend_from_slice(b"LIST\x05\x00\x00\x00abcde\x00");
    b.extend_from_slice(&good[36..]);
    let d = decode_wav(&b).unwrap();
    assert_eq!(d.samples.len(), 100);
    assert!((d.samples[0] - 0.5).abs() < 1e-4);

    // The same chunk without its pad byte (a common writer bug).
    let mut b = good[..36].to_vec();
    b.extend_from_slice(b"LIST\x05\x00\x00\x00abcde");
    b.extend_from_slice(&good[36..]);
    assert_eq!(decode_wav(&b).unwrap().samples.len(), 100);
}

/// Tiny deterministic PRNG (xorshift) so the no-panic checks need no crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn never_panics_on_hostile_input() {
    let valid = [
        encode_wav_pcm16(&sine(500.0, 8_000, 40, 0.9), 8_000),
        hound_wav(spec(3, 44_100, 24, false), (0..10).map(|i| vec![i, -i, 0])),
        hound_wav(
            spec(2, 48_000, 32, true),
            (0..10).map(|_| vec![0.1f32, f32::NAN]),
        ),
    ];
    for v in &valid {
        // Every prefix.
        for cut in 0..v.len() {
            let _ = decode_wav(&v[..cut]);
        }
        // Byte flips and extreme values in the header.
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let mut m = v.clone();
            for _ in 0..(1 + rng.next() % 4) {
                let at = (rng.next() % 72) as usize % m.len();
                m[at] = match rng.next() % 3 {
                    0 => 0x00,
                    1 => 0xFF,
                    _ => rng.next() as u8,
                };
            }
            if let Ok(d) = decode_wav(&m) {
                assert!(d.samples.iter().all(|s| (-1.0..=1.0).contains(s)));
                assert!(d.sample_rate > 0 && d.channels > 0 && !d.samples.is_empty());
            }
        }
    }
    // Pure noise behind a RIFF/WAVE magic.
    let mut rng = Rng(42);
    for len in 0..400 {
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if len >= 12 {
            b[..4].copy_from_slice(b"RIFF");
            b[8..12].copy_from_slice(b"WAVE");
        }
        let _ = decode_wav(&b);
    }
}

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
