//! Smart Turn v3.2 against the real model from `arc-agent models fetch`:
//! our features against pipecat's reference code (from the same wheel as
//! the model), and the model's judgement on piper's speech, whole and cut.

use arc_models::pool::InferencePool;
use arc_models::turn::features::{last_window, log_mel, N_FRAMES, N_MELS, WINDOW_SAMPLES};
use arc_models::turn::{SmartTurn, TurnLoadError};
use arc_testkit::speech;
use arc_testkit::turn_taking::{room, speak, Voice};
use std::sync::Arc;

fn pool() -> Arc<InferencePool> {
    InferencePool::new(2)
}

/// `text` spoken by piper at 16 kHz (trimmed to its voiced part).
async fn piper_16k(text: &str) -> Vec<f32> {
    speak(&speech::piper(pool()), Voice::Piper, text).await
}

#[tokio::test]
async fn features_match_pipecats_reference_on_speech() {
    let mut seed = 7;
    let mut audio = piper_16k("I would like to book a table for two people.").await;
    audio.extend(room(200, &mut seed));
    let window = last_window(&audio);
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("in.f32"), dir.path().join("out.f32"));
    let bytes: Vec<u8> = window.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&src, bytes).unwrap();
    let cache = arc_models::manifest::default_models_dir().join(".test-wheels");
    let out = arc_testkit::python::run_ok(
        "smart_turn_features.py",
        &[
            src.to_str().unwrap(),
            dst.to_str().unwrap(),
            cache.to_str().unwrap(),
        ],
        None,
        "the reference features failed: ",
    );
    assert_eq!(out.trim(), format!("{N_MELS} {N_FRAMES}"));
    let reference: Vec<f32> = std::fs::read(&dst)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let ours = log_mel(&window);
    assert_eq!(ours.len(), reference.len());
    let worst = ours
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "largest difference {worst}");
    assert_eq!(window.len(), WINDOW_SAMPLES);
}

/// The model's verdict on `text` spoken by piper, after 200 ms of pause (when
/// the node asks). Piper speaks with random variation (its noise scales), so
/// one rendition is one sample of the voice: the median of five, and all five.
async fn verdict(model: &SmartTurn, text: &str, seed: &mut u64) -> (f32, Vec<f32>) {
    let mut p = Vec::new();
    for _ in 0..5 {
        let mut audio = piper_16k(text).await;
        audio.extend(room(200, seed));
        p.push(model.predict_blocking(&audio).unwrap());
    }
    p.sort_by(f32::total_cmp);
    (p[2], p)
}

/// `engines.turn.near_threshold` (config/default.toml): from here up to the
/// threshold (0.5) a finished sentence still ends the turn early.
const NEAR_THRESHOLD: f32 = 0.4;

/// A finished question against the same voice cut after "and". Piper's
/// renditions of the question score anywhere from 0.22 to 0.68 (CI runs saw
/// medians of 0.29 and 0.49 under the 0.5 threshold, others above it), so no
/// fixed bar on the question holds for this voice: a rendition under the
/// threshold is a turn that ends at the silence limit, later but not cut
/// short. What is checked is what holds on every run seen, and what a
/// broken model or broken features would not give: the model ranks the
/// finished question above the cut sentence (in at least 23 of the 25
/// pairings of their renditions; all 25 on every run seen), and the cut
/// sentence stays below the near-miss band (0.04–0.13 seen), where a
/// finished-looking text would end the turn early and cut the user off.
#[tokio::test]
async fn a_finished_question_is_complete_and_a_sentence_cut_after_and_is_not() {
    let model = speech::smart_turn(pool());
    let mut seed = 11;
    let (_, all_whole) = verdict(&model, "How many days are in a week?", &mut seed).await;
    let (p_cut, all_cut) = verdict(&model, "I want a large pizza and", &mut seed).await;
    println!("complete question: {all_whole:.3?}; cut after \"and\": {all_cut:.3?}");
    let ranked = all_whole
        .iter()
        .map(|w| all_cut.iter().filter(|c| w > c).count())
        .sum::<usize>();
    assert!(
        ranked >= 23,
        "the model ranks the finished question above the cut sentence in only {ranked} of 25 pairings: {all_whole:?} against {all_cut:?}"
    );
    assert!(p_cut < NEAR_THRESHOLD, "cut after \"and\": {all_cut:?}");
}

#[test]
fn a_missing_or_wrong_file_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.onnx");
    let err = SmartTurn::load(&missing, "t", pool()).unwrap_err();
    assert!(matches!(err, TurnLoadError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("models fetch"), "{err}");
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"not a model").unwrap();
    let err = SmartTurn::load(&junk, "t", pool()).unwrap_err().to_string();
    assert!(err.contains("junk.onnx"), "{err}");
    // Silero is a real ONNX model, but not this one.
    let silero = speech::model_file(speech::SILERO_FILE);
    let err = SmartTurn::load(&silero, "t", pool()).unwrap_err();
    assert!(matches!(err, TurnLoadError::WrongModel { .. }), "{err}");
}
