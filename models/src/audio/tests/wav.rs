//! Decoding WAV files: every format against hound's own writer, and hostile input.

use super::*;
use std::io::Cursor;

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
