//! Sample-rate conversion with rubato's synchronous FFT resampler:
//! [`resample`] for one whole clip, [`StreamResampler`] for a stream fed piece
//! by piece.

use super::error::AudioError;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler, WindowFunction};

/// Highest sample rate [`resample`] accepts. Bounds the FFT sizes (and so the
/// memory) a pair of odd rates can ask for; real audio tops out at 384 kHz.
pub const MAX_RESAMPLE_RATE: u32 = 768_000;

/// Most samples [`resample`] will produce in one call (about 6 hours at
/// 48 kHz), so a wild rate ratio fails cleanly instead of exhausting memory.
pub const MAX_RESAMPLE_OUTPUT: usize = 1 << 30;

/// Frames per chunk for the FFT resampler. With one FFT per chunk this gives
/// blocks of roughly 1k samples: a sharp anti-aliasing filter at small cost.
const RESAMPLE_CHUNK: usize = 1024;

/// Converts `samples` from `from_hz` to `to_hz` with rubato's synchronous FFT
/// resampler (band-limited, BlackmanHarris2 anti-aliasing window).
///
/// The output has `round(len * to_hz / from_hz)` samples and is aligned with
/// the input (the resampler's delay is trimmed); the last partial chunk is
/// zero-padded internally. Equal rates return a copy. NaN/inf become 0 first,
/// since one of them would otherwise smear across a whole FFT block.
///
/// One call converts one whole clip; a live stream cut into pieces needs a
/// stateful resampler instead, or each piece gets its own edge effects.
pub fn resample(samples: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, AudioError> {
    let err = |reason: String| AudioError::Resample {
        from_hz,
        to_hz,
        reason,
    };
    if from_hz == 0 || to_hz == 0 {
        return Err(err("sample rates must be above 0 Hz".into()));
    }
    if from_hz > MAX_RESAMPLE_RATE || to_hz > MAX_RESAMPLE_RATE {
        return Err(err(format!(
            "sample rates above {MAX_RESAMPLE_RATE} Hz are not supported"
        )));
    }
    let clean: Vec<f32> = samples
        .iter()
        .map(|s| if s.is_finite() { *s } else { 0.0 })
        .collect();
    if from_hz == to_hz || clean.is_empty() {
        return Ok(clean);
    }
    let len = clean.len();
    let out_len = resampled_len(len, from_hz, to_hz);
    if out_len > MAX_RESAMPLE_OUTPUT {
        return Err(err(format!(
            "{len} samples would become {out_len}, over the limit of {MAX_RESAMPLE_OUTPUT}"
        )));
    }

    let mut resampler = Fft::<f32>::new_custom(
        from_hz as usize,
        to_hz as usize,
        RESAMPLE_CHUNK,
        1,
        1,
        WindowFunction::BlackmanHarris2,
        FixedSync::Both,
    )
    .map_err(|e| err(e.to_string()))?;
    let input = InterleavedSlice::new(&clean[..], 1, len).map_err(|e| err(e.to_string()))?;
    let output = resampler
        .process_all(&input, len, None)
        .map_err(|e| err(e.to_string()))?;
    let mut out = output.take_data();
    // rubato returns ceil(len * ratio); the contract here is round().
    out.resize(out_len, 0.0);
    Ok(out)
}

/// A resampler fed piece by piece that behaves like one pass over the whole
/// stream: its delay is trimmed from the start, and `finish` flushes the tail
/// so the output has `round(input * to / from)` samples. For streams cut into
/// pieces (TTS sentences, a browser's microphone packets, 48 kHz LiveKit room
/// audio), where [`resample`] per piece would add edge effects at every join.
pub struct StreamResampler {
    fft: Option<Fft<f32>>,
    from: u32,
    to: u32,
    input: Vec<f32>,
    /// Output samples still to drop (the resampler's delay).
    skip: usize,
    fed: u64,
    pub(crate) produced: u64,
    block: Vec<f32>,
}

impl StreamResampler {
    pub fn new(from: u32, to: u32) -> Result<Self, String> {
        Self::with_chunk(from, to, RESAMPLE_CHUNK)
    }

    /// Like [`StreamResampler::new`] with `chunk` input frames per block:
    /// smaller blocks give output sooner (live audio), larger ones a sharper filter.
    pub fn with_chunk(from: u32, to: u32, chunk: usize) -> Result<Self, String> {
        let fft = if from == to {
            None
        } else {
            Some(
                Fft::<f32>::new_custom(
                    from as usize,
                    to as usize,
                    chunk.max(1),
                    1,
                    1,
                    WindowFunction::BlackmanHarris2,
                    FixedSync::Both,
                )
                .map_err(|e| format!("resampler {from} Hz -> {to} Hz: {e}"))?,
            )
        };
        let skip = fft.as_ref().map_or(0, |f| f.output_delay());
        Ok(Self {
            fft,
            from,
            to,
            input: Vec::new(),
            skip,
            fed: 0,
            produced: 0,
            block: Vec::new(),
        })
    }

    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<(), String> {
        self.fed += samples.len() as u64;
        let Some(fft) = self.fft.as_mut() else {
            out.extend_from_slice(samples);
            self.produced += samples.len() as u64;
            return Ok(());
        };
        self.input.extend_from_slice(samples);
        let need = fft.input_frames_next();
        let mut used = 0;
        while self.input.len() - used >= need {
            let block = &self.input[used..used + need];
            Self::process(fft, block, None, &mut self.block)?;
            used += need;
            Self::emit(&self.block, &mut self.skip, &mut self.produced, None, out);
        }
        self.input.drain(..used);
        Ok(())
    }

    /// Flushes what the resampler still holds; the stream is over after this.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), String> {
        let target = self.target_len();
        let Some(fft) = self.fft.as_mut() else {
            return Ok(());
        };
        let need = fft.input_frames_next();
        // The delay plus one partial block is flushed after a bounded number of blocks.
        let max_blocks = fft.output_delay() / fft.output_frames_next().max(1) + 3;
        for _ in 0..max_blocks {
            if self.produced >= target {
                break;
            }
            let partial = self.input.len().min(need);
            let mut block = std::mem::take(&mut self.input);
            block.resize(need, 0.0);
            let indexing = Indexing {
                partial_len: Some(partial),
                ..Indexing::default()
            };
            Self::process(fft, &block, Some(&indexing), &mut self.block)?;
            Self::emit(
                &self.block,
                &mut self.skip,
                &mut self.produced,
                Some(target),
                out,
            );
        }
        Ok(())
    }

    /// Output still owed by [`StreamResampler::finish`] (the delay and the last block).
    pub fn has_tail(&self) -> bool {
        self.produced < self.target_len()
    }

    pub(crate) fn target_len(&self) -> u64 {
        let num = u128::from(self.fed) * u128::from(self.to);
        let from = u128::from(self.from);
        u64::try_from((2 * num + from) / (2 * from)).unwrap_or(u64::MAX)
    }

    fn process(
        fft: &mut Fft<f32>,
        block: &[f32],
        indexing: Option<&Indexing>,
        out: &mut Vec<f32>,
    ) -> Result<(), String> {
        let n_out = fft.output_frames_next();
        out.clear();
        out.resize(n_out, 0.0);
        let input = InterleavedSlice::new(block, 1, block.len()).map_err(|e| e.to_string())?;
        let mut output =
            InterleavedSlice::new_mut(&mut out[..], 1, n_out).map_err(|e| e.to_string())?;
        let (_, written) = fft
            .process_into_buffer(&input, &mut output, indexing)
            .map_err(|e| e.to_string())?;
        out.truncate(written);
        Ok(())
    }

    fn emit(
        block: &[f32],
        skip: &mut usize,
        produced: &mut u64,
        limit: Option<u64>,
        out: &mut Vec<f32>,
    ) {
        let dropped = (*skip).min(block.len());
        *skip -= dropped;
        let mut rest = &block[dropped..];
        if let Some(limit) = limit {
            let room = usize::try_from(limit.saturating_sub(*produced)).unwrap_or(usize::MAX);
            rest = &rest[..rest.len().min(room)];
        }
        out.extend(rest.iter().map(|s| s.clamp(-1.0, 1.0)));
        *produced += rest.len() as u64;
    }
}

/// `round(len * to / from)` without overflow.
fn resampled_len(len: usize, from_hz: u32, to_hz: u32) -> usize {
    let num = len as u128 * u128::from(to_hz);
    let from = u128::from(from_hz);
    let n = (2 * num + from) / (2 * from);
    usize::try_from(n).unwrap_or(usize::MAX)
}
