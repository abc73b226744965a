//! Everything one TTS synthesis produced (piper's speech for a test, or the
//! subject of one), with when each chunk arrived.

use arc_actors::audio::AudioFrame;
use arc_actors::engine::{CancellationToken, EngineError, TtsEngine, TtsOutcome};
use arc_actors::pcm16::Pcm16Frame;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The chunks of one synthesis (as f32, what the speech tests feed the
/// recognizers), their arrival times and the result.
pub struct Synthesis {
    pub chunks: Vec<AudioFrame>,
    /// When each chunk arrived, from the start of the call.
    pub arrivals: Vec<Duration>,
    pub took: Duration,
    pub result: Result<TtsOutcome, EngineError>,
}

impl Synthesis {
    /// The speech, all chunks joined.
    pub fn samples(&self) -> Vec<f32> {
        self.chunks.iter().flat_map(|c| c.samples.clone()).collect()
    }

    /// The chunks' sample rate (0 when there were none).
    pub fn sample_rate(&self) -> u32 {
        self.chunks.last().map_or(0, |c| c.sample_rate)
    }
}

/// `text` through `tts`, its chunks taken from a channel of `capacity`.
pub async fn synthesize<T: TtsEngine + ?Sized>(tts: &T, text: &str, capacity: usize) -> Synthesis {
    let (tx, mut rx) = mpsc::channel::<Pcm16Frame>(capacity);
    let start = Instant::now();
    let collect = async {
        let mut chunks = Vec::new();
        let mut arrivals = Vec::new();
        while let Some(c) = rx.recv().await {
            arrivals.push(start.elapsed());
            chunks.push(c.to_frame());
        }
        (chunks, arrivals)
    };
    let (result, (chunks, arrivals)) = tokio::join!(
        async {
            let r = tts.synthesize(text, tx, CancellationToken::new()).await;
            (r, start.elapsed())
        },
        collect
    );
    let (result, took) = result;
    Synthesis {
        chunks,
        arrivals,
        took,
        result,
    }
}
