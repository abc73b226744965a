//! Turn-taking on real audio (piper's voice) through sessions with the real
//! engines, played in real time: a sentence with a pause inside is answered
//! once, after its end, with the turn model (Smart Turn) on, and cut in two
//! with it off (so this test can fail); a finished question ends its turn
//! on the model's word, not by the silence limit behind it.

use arc_agent::config::Config;
use arc_agent::LocalEngines;
use arc_testkit::turn_taking::{complete_item, inside_pause_item, run_item, TurnItem, Voice};
use arc_testkit::{speech_env, InProcessNode};
use std::sync::Arc;
use tokio::sync::Mutex;

/// One test at a time: each runs every real engine in real time on a
/// 2-core machine, and the turn counts read below are the process's.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// The real engines with the turn model on; `max_silence_ms`: its limit.
async fn engines(max_silence_ms: u64) -> (Config, LocalEngines) {
    arc_testkit::init_logs();
    let mut cfg = Config::load_with(None, std::env::vars().chain(speech_env())).unwrap();
    cfg.engines.turn.enabled = true;
    cfg.engines.turn.max_silence_ms = max_silence_ms;
    let engines = LocalEngines::load(&cfg)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(engines.turn.is_some(), "the turn model is loaded");
    (cfg, engines)
}

async fn node(engines: LocalEngines) -> InProcessNode {
    InProcessNode::builder()
        .provider(Arc::new(engines))
        .max_sessions(10)
        .start()
        .await
}

/// Nodes with and without the turn model (then the VAD's 500 ms rule).
async fn nodes(max_silence_ms: u64) -> (Config, InProcessNode, InProcessNode) {
    let (cfg, engines) = engines(max_silence_ms).await;
    let mut fixed = engines.clone();
    fixed.turn = None;
    let with_model = node(engines).await;
    let without = node(fixed).await;
    (cfg, with_model, without)
}

/// "I'd like to book a table for … two people tonight.", in piper's voice
/// with a 700 ms pause: the fixed 500 ms rule fires on every such pause
/// (Silero's hysteresis holds speech ~150 ms past the last word, so at 600 ms
/// it sometimes does not; turn_taking bench: 0/12 cut at 500, 12/12 at 700).
async fn booking_with_a_pause(tts: &arc_models::piper::PiperTts) -> TurnItem {
    inside_pause_item(
        tts,
        Voice::Piper,
        ("I'd like to book a table for", "two people tonight."),
        700,
        &mut 1,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_inside_a_sentence_is_waited_out_with_the_turn_model_and_cut_without() {
    let _serial = SERIAL.lock().await;
    let (cfg, mut with_model, mut without) = nodes(1500).await;
    let tts = arc_testkit::speech::piper(arc_models::pool::InferencePool::new(1));
    let item = booking_with_a_pause(&tts).await;

    let run = run_item(&mut with_model, cfg.session_config(), &item).await;
    assert!(!run.cut_off, "model on: {run:?}");
    assert_eq!(run.heard.len(), 1, "one turn: {run:?}");
    let heard = run.heard[0].to_lowercase();
    assert!(
        // Words from both sides of the pause (whisper hears "for … two"
        // as "for two" or "for a few").
        heard.contains("table") && heard.contains("people"),
        "the whole sentence in one turn: {heard:?}"
    );
    assert!(run.first_audio_ms.is_some(), "answered: {run:?}");

    // The fixed 500 ms rule ends the turn inside the 700 ms pause.
    let run = run_item(&mut without, cfg.session_config(), &item).await;
    assert!(run.cut_off, "model off: the fixed rule cuts it: {run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_question_ends_its_turn_on_the_models_word() {
    let _serial = SERIAL.lock().await;
    // A long limit: the test is about the model's decision, which on a
    // loaded 2-core machine (its verdict, then whisper's transcript) can
    // come after the default 1.5 s.
    let (cfg, mut with_model, _) = nodes(2800).await;
    let tts = arc_testkit::speech::piper(arc_models::pool::InferencePool::new(1));
    let mut seed = 2;
    let item = complete_item(
        &tts,
        Voice::Piper,
        "How many days are in a week?",
        &mut seed,
    )
    .await;
    use arc_actors::turn_stats::{turn_stats, TurnCause};
    let count = |cause| turn_stats().decisions(cause).count;
    let (complete, timeout) = (
        count(TurnCause::ModelComplete),
        count(TurnCause::ModelTimeout),
    );
    let run = run_item(&mut with_model, cfg.session_config(), &item).await;
    assert_eq!(run.heard.len(), 1, "{run:?}");
    assert!(run.first_audio_ms.is_some(), "answered: {run:?}");
    assert_eq!(
        count(TurnCause::ModelComplete) - complete,
        1,
        "the turn ended on the model's verdict: {run:?}"
    );
    assert_eq!(
        count(TurnCause::ModelTimeout) - timeout,
        0,
        "not by the silence limit: {run:?}"
    );
}

/// A fixed silence rule that waits out the pause the model waits out: the
/// rule a deployment needs without the model (the 500 ms rule cuts that pause,
/// the test above). A 700 ms pause lasts ~800 ms to the VAD, which hears the
/// next word start late (config/default.toml, `uncertain_silence_ms`).
const PATIENT_SILENCE_MS: u64 = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_question_ends_its_turn_sooner_with_the_model_than_by_a_fixed_rule_as_patient() {
    let _serial = SERIAL.lock().await;
    let (cfg, engines) = engines(1500).await;
    // The fixed rule as patient as the model: the same engines, a VAD whose
    // silence rule is PATIENT_SILENCE_MS.
    let mut patient = engines.clone();
    patient.turn = None;
    patient.vad = Arc::new(
        arc_models::silero::SileroVad::load(
            &arc_testkit::speech::model_file(arc_testkit::speech::SILERO_FILE),
            arc_models::silero::SileroOptions {
                endpointing: arc_actors::endpoint::Endpointing {
                    min_speech_ms: cfg.engines.vad.min_speech_ms,
                    silence_ms: PATIENT_SILENCE_MS,
                },
                threshold: cfg.engines.vad.threshold,
                ..Default::default()
            },
            engines.pool.clone(),
        )
        .unwrap_or_else(|e| panic!("{e}")),
    );
    let mut fixed_node = node(patient).await;
    let mut with_model = node(engines).await;
    let tts = arc_testkit::speech::piper(arc_models::pool::InferencePool::new(1));

    // It is as patient: the 700 ms pause of the first test is waited out.
    let paused = booking_with_a_pause(&tts).await;
    let run = run_item(&mut fixed_node, cfg.session_config(), &paused).await;
    assert!(
        !run.cut_off,
        "the {PATIENT_SILENCE_MS} ms rule holds the pause: {run:?}"
    );

    let mut seed = 3;
    // A question the model judges complete in every piper rendition seen
    // (0.94-0.98), with a last word whisper is sure of: what is compared is
    // the rules' timing, not the model's judgement.
    let item = complete_item(
        &tts,
        Voice::Piper,
        "How many days are in a week?",
        &mut seed,
    )
    .await;
    // Alternating, three each: a disturbance of the machine hits both rules.
    // Compared: the end of the last word -> the turn's end. Against the
    // 500 ms rule (which cuts the pause above) the model's end waits on
    // whisper's speculative final, as long as that rule's silence on a slow
    // machine (a fresh clone's CI run: 589 vs 581 ms; here 483 vs 621):
    // BENCHMARKS.md "Turn-taking" has both rules over a corpus.
    let (mut model, mut fixed) = (Vec::new(), Vec::new());
    let mut first_audio = (Vec::new(), Vec::new());
    for _ in 0..3 {
        for (node, out, audio) in [
            (&mut with_model, &mut model, &mut first_audio.0),
            (&mut fixed_node, &mut fixed, &mut first_audio.1),
        ] {
            let run = run_item(node, cfg.session_config(), &item).await;
            assert_eq!(run.heard.len(), 1, "one turn: {run:?}");
            assert!(run.first_audio_ms.is_some(), "answered: {run:?}");
            out.push(run.decision_ms.unwrap_or(u64::MAX));
            audio.push(run.first_audio_ms.unwrap_or(u64::MAX));
        }
    }
    let median = |v: &mut Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let (m, f) = (median(&mut model), median(&mut fixed));
    let (am, af) = (median(&mut first_audio.0), median(&mut first_audio.1));
    eprintln!(
        "end of speech -> the turn's end: model {model:?} (median {m}), fixed {PATIENT_SILENCE_MS} ms \
         {fixed:?} (median {f}); -> first audio: model {:?} (median {am}), fixed {:?} (median {af})",
        first_audio.0, first_audio.1
    );
    assert!(m < f, "model {model:?} vs fixed rule {fixed:?}");
    assert!(
        am < af,
        "first audio: model {:?} vs fixed rule {:?}",
        first_audio.0,
        first_audio.1
    );
}
