//! llama.cpp's prebuilt libraries driven in-process through the C API, on the
//! real SmolLM2 model (both fetched by `arc-agent models fetch`): greedy
//! answers, the prompt cache, stop strings and stopping early.

use arc_models::llm::llama_cpp::{Finish, LlamaModel, ModelOptions, Sampling};
use arc_models::manifest;
use std::sync::Arc;

fn model() -> Arc<LlamaModel> {
    let dir = manifest::default_models_dir();
    let gguf = manifest::require(
        &dir,
        "smollm2-135m-instruct",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let lib = manifest::require(&dir, "llama-cpp-linux-x64", "libllama.v0.5.0.so")
        .unwrap_or_else(|e| panic!("{e}"));
    LlamaModel::load(&ModelOptions {
        lib_dir: lib.parent().unwrap().to_path_buf(),
        model: gguf,
        verbose: false,
    })
    .expect("the model loads")
}

fn chat(model: &LlamaModel, question: &str) -> Vec<i32> {
    let prompt = model
        .chat_prompt(&[
            (
                "system".into(),
                "You are a helpful assistant. Answer in English with one short, correct sentence."
                    .into(),
            ),
            ("user".into(), question.into()),
        ])
        .unwrap();
    assert!(prompt.contains("<|im_start|>user"), "ChatML: {prompt}");
    model.tokenize(&prompt).unwrap()
}

fn greedy(max_tokens: usize) -> Sampling {
    Sampling {
        temperature: 0.0,
        max_tokens,
        ..Sampling::default()
    }
}

#[test]
fn a_greedy_answer_is_right_and_the_next_prompt_reuses_the_cache() {
    let model = model();
    let mut slot = model.slot(2048, 2).unwrap();
    let prompt = chat(&model, "What is the capital of France?");
    let mut text = String::new();
    let g = slot
        .generate(&prompt, &greedy(40), |t| {
            text.push_str(t);
            true
        })
        .unwrap();
    assert!(text.contains("Paris"), "{text:?}");
    assert_eq!(g.finish, Finish::Stop, "{text:?}");
    assert_eq!(g.cached_tokens, 0);
    assert!(g.completion_tokens > 0 && g.completion_tokens < 40);

    // The conversation goes on (as a session's next turn does): only the
    // new turn is decoded, the rest comes from the slot's cache.
    let next = model
        .chat_prompt(&[
            (
                "system".into(),
                "You are a helpful assistant. Answer in English with one short, correct sentence."
                    .into(),
            ),
            ("user".into(), "What is the capital of France?".into()),
            ("assistant".into(), text.clone()),
            ("user".into(), "Thank you!".into()),
        ])
        .and_then(|p| model.tokenize(&p))
        .unwrap();
    let mut reply = String::new();
    let g2 = slot
        .generate(&next, &greedy(40), |t| {
            reply.push_str(t);
            true
        })
        .unwrap();
    assert!(
        g2.cached_tokens >= prompt.len(),
        "{g2:?} after a prompt of {}",
        prompt.len()
    );
    assert!(!reply.trim().is_empty());
}

#[test]
fn max_tokens_a_stop_string_and_a_listener_that_leaves_end_generation() {
    let model = model();
    let mut slot = model.slot(1024, 2).unwrap();
    let prompt = chat(&model, "Count from one to twenty in words.");

    let g = slot.generate(&prompt, &greedy(3), |_| true).unwrap();
    assert_eq!((g.finish, g.completion_tokens), (Finish::Length, 3));

    let mut pieces = 0;
    let g = slot
        .generate(&prompt, &greedy(100), |_| {
            pieces += 1;
            pieces < 2
        })
        .unwrap();
    assert_eq!(g.finish, Finish::Cancelled);
    assert_eq!(pieces, 2);

    let mut full = String::new();
    slot.generate(&prompt, &greedy(30), |t| {
        full.push_str(t);
        true
    })
    .unwrap();
    let word = full
        .split_whitespace()
        .nth(2)
        .expect("a few words")
        .to_string();
    let sampling = Sampling {
        stop: vec![word.clone()],
        ..greedy(30)
    };
    let mut cut = String::new();
    let g = slot
        .generate(&prompt, &sampling, |t| {
            cut.push_str(t);
            true
        })
        .unwrap();
    assert_eq!(g.finish, Finish::Stop);
    assert!(
        !cut.contains(&word),
        "{cut:?} holds the stop string {word:?}"
    );
    assert!(full.starts_with(cut.trim_end()), "{cut:?} vs {full:?}");
}

#[test]
fn a_file_that_is_not_a_model_is_refused_with_its_name() {
    let dir = manifest::default_models_dir();
    let lib = manifest::require(&dir, "llama-cpp-linux-x64", "libllama.v0.5.0.so")
        .unwrap_or_else(|e| panic!("{e}"));
    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), b"not a gguf").unwrap();
    let err = LlamaModel::load(&ModelOptions {
        lib_dir: lib.parent().unwrap().to_path_buf(),
        model: junk.path().to_path_buf(),
        verbose: false,
    })
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains(&junk.path().display().to_string()), "{err}");
}

/// What crashed CI once: models loading on several threads while another
/// thread decodes. ggml's backend registry is process-wide; the library is
/// now loaded once and loads are serialized, so every thread answers.
#[test]
fn models_load_on_several_threads_while_another_decodes() {
    let first = model();
    let decoding = std::thread::spawn(move || {
        let mut slot = first.slot(1024, 1).unwrap();
        let prompt = chat(&first, "What is the capital of France?");
        let mut text = String::new();
        for _ in 0..3 {
            text.clear();
            slot.generate(&prompt, &greedy(24), |t| {
                text.push_str(t);
                true
            })
            .unwrap();
        }
        text
    });
    let loaders: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(|| {
                let m = model();
                let mut slot = m.slot(512, 1).unwrap();
                let prompt = chat(&m, "What is the capital of France?");
                let mut text = String::new();
                slot.generate(&prompt, &greedy(24), |t| {
                    text.push_str(t);
                    true
                })
                .unwrap();
                text
            })
        })
        .collect();
    for l in loaders {
        let text = l.join().expect("a loading thread finished");
        assert!(text.contains("Paris"), "{text:?}");
    }
    let text = decoding.join().expect("the decoding thread finished");
    assert!(text.contains("Paris"), "{text:?}");
}

/// The library is process-wide: asking for another copy of it (another
/// folder) is refused with both folders named, not loaded beside the first.
#[test]
fn a_second_library_folder_is_refused_with_both_names() {
    let _loaded = model();
    let other = tempfile::tempdir().unwrap();
    let gguf = manifest::require(
        &manifest::default_models_dir(),
        "smollm2-135m-instruct",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = LlamaModel::load(&ModelOptions {
        lib_dir: other.path().to_path_buf(),
        model: gguf,
        verbose: false,
    })
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains("already loaded from"), "{err}");
    assert!(
        err.contains(&other.path().canonicalize().unwrap().display().to_string()),
        "{err}"
    );
}
