//! Turn-taking: the fixed silence rule against the turn model (Smart Turn
//! v3.2), in one run, on the corpus of `arc_testkit::turn_taking`: sentences
//! with a pause inside (after "for", "and", "my phone number is"; 300, 500,
//! 700 and 900 ms) and finished questions, spoken by piper (and a few by
//! espeak-ng), played in real time to sessions with every real engine
//! (Silero, whisper, the local brain, piper). Items alternate between the two
//! rules, so drift on the machine hits both alike.
//!
//! Reported per rule: false cut-offs (a turn ended inside the sentence),
//! end of speech → turn decision, end of speech → first agent audio.
//!
//! `cargo bench --profile dev --bench turn_taking` (needs `arc-agent models
//! fetch`, run by scripts/setup.sh). ARC_BENCH_PAUSES=500,700 and
//! ARC_BENCH_VOICES=piper narrow the corpus.

use arc_agent::config::{Config, EngineProfile};
use arc_agent::LocalEngines;
use arc_testkit::turn_taking::{
    complete_item, inside_pause_item, run_item, TurnItem, TurnRun, Voice, COMPLETE, INSIDE_PAUSES,
};
use arc_testkit::InProcessNode;
use std::sync::Arc;

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

struct Rule {
    name: String,
    node: InProcessNode,
    cfg: Config,
    runs: Vec<(TurnItem, TurnRun)>,
}

fn pct(v: &mut [u64], p: f64) -> Option<u64> {
    v.sort_unstable();
    (!v.is_empty()).then(|| v[((v.len() - 1) as f64 * p).round() as usize])
}

/// A figure in ms for the tables, "–" when there is none.
fn ms(v: Option<u64>) -> String {
    v.map_or("–".into(), |v| format!("{v} ms"))
}

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        arc_testkit::init_logs();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut cfg = Config::load(None).expect("config");
    cfg.engines.profile = EngineProfile::Local;
    cfg.engines.turn.enabled = true;
    let model = rt
        .block_on(LocalEngines::load(&cfg))
        .expect("models (run: arc-agent models fetch)");
    // The same engines with the fixed rule: no turn model, so sessions end
    // turns after engines.vad.silence_ms of silence.
    let mut fixed = model.clone();
    fixed.turn = None;
    let mut fixed_cfg = cfg.clone();
    fixed_cfg.engines.turn.enabled = false;
    let node = |engines: LocalEngines| {
        rt.block_on(
            InProcessNode::builder()
                .provider(Arc::new(engines))
                .service("arc-bench")
                .sink_capacity(1 << 16)
                .start(),
        )
    };
    let mut rules = vec![
        Rule {
            name: format!("fixed silence {} ms", cfg.engines.vad.silence_ms),
            node: node(fixed),
            cfg: fixed_cfg,
            runs: Vec::new(),
        },
        Rule {
            name: format!(
                "Smart Turn (ask at {} ms, limit {} ms)",
                cfg.engines.turn.pause_ms, cfg.engines.turn.max_silence_ms
            ),
            node: node(model.clone()),
            cfg: cfg.clone(),
            runs: Vec::new(),
        },
    ];

    // The corpus.
    let pauses: Vec<u64> = env_list("ARC_BENCH_PAUSES", "300,500,700,900")
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    let voices = env_list("ARC_BENCH_VOICES", "piper,espeak-ng");
    let mut seed = 20261203u64;
    let mut items = Vec::new();
    rt.block_on(async {
        for voice in [Voice::Piper, Voice::Espeak] {
            if !voices.iter().any(|v| v == voice.label()) {
                continue;
            }
            // espeak-ng: one pause length, fewer questions (its robotic
            // prosody is the harder, less realistic case).
            let (voice_pauses, questions) = match voice {
                Voice::Piper => (pauses.clone(), COMPLETE.len()),
                Voice::Espeak => (vec![600], 3),
            };
            for &pair in INSIDE_PAUSES {
                for &p in &voice_pauses {
                    items.push(inside_pause_item(&*model.tts, voice, pair, p, &mut seed).await);
                }
            }
            for q in COMPLETE.iter().take(questions) {
                items.push(complete_item(&*model.tts, voice, q, &mut seed).await);
            }
        }
    });
    println!(
        "turn_taking: {} items ({} with a pause inside), both rules, in real time",
        items.len(),
        items.iter().filter(|i| i.inside_pause.is_some()).count()
    );

    for (n, item) in items.iter().enumerate() {
        // Alternate which rule goes first.
        let order: Vec<usize> = if n % 2 == 0 { vec![0, 1] } else { vec![1, 0] };
        for r in order {
            let rule = &mut rules[r];
            let run = rt.block_on(run_item(&mut rule.node, rule.cfg.session_config(), item));
            println!(
                "  [{}] {} {:?} pause {:?}: turns {:?} decision {:?} ms first audio {:?} ms",
                rule.name,
                item.voice.label(),
                item.text,
                item.pause_ms(),
                run.heard,
                run.decision_ms,
                run.first_audio_ms
            );
            rule.runs.push((item.clone(), run));
        }
    }

    println!();
    println!("| rule | voice | false cut-offs, pauses ≤ 700 ms | false cut-offs, 900 ms | end of speech → decision, mean / p50 | end of speech → first audio, p50 / p95 | answered |");
    println!("|---|---|---|---|---|---|---|");
    for rule in &rules {
        for voice in [Voice::Piper, Voice::Espeak] {
            let runs: Vec<&(TurnItem, TurnRun)> =
                rule.runs.iter().filter(|(i, _)| i.voice == voice).collect();
            if runs.is_empty() {
                continue;
            }
            let cut = |pred: &dyn Fn(u64) -> bool| {
                let inside: Vec<_> = runs
                    .iter()
                    .filter(|(i, _)| i.pause_ms().is_some_and(pred))
                    .collect();
                let n = inside.len();
                let c = inside.iter().filter(|(_, r)| r.cut_off).count();
                if n == 0 {
                    "–".to_string()
                } else {
                    format!("{c}/{n} ({:.0} %)", 100.0 * c as f64 / n as f64)
                }
            };
            let mut decisions: Vec<u64> = runs.iter().filter_map(|(_, r)| r.decision_ms).collect();
            let mean = if decisions.is_empty() {
                0
            } else {
                decisions.iter().sum::<u64>() / decisions.len() as u64
            };
            let mut first: Vec<u64> = runs.iter().filter_map(|(_, r)| r.first_audio_ms).collect();
            println!(
                "| {} | {} | {} | {} | {} ms / {} | {} / {} | {}/{} |",
                rule.name,
                voice.label(),
                cut(&|p| p <= 700),
                cut(&|p| p > 700),
                mean,
                ms(pct(&mut decisions, 0.5)),
                ms(pct(&mut first, 0.5)),
                ms(pct(&mut first, 0.95)),
                first.len(),
                runs.len()
            );
        }
    }

    // Where the first-audio time goes after the decision, per rule.
    println!();
    println!("| rule | answered turns | end of speech → decision, p50 | endpoint → transcript, p50 | brain to its first words, p50 | TTS first chunk, p50 |");
    println!("|---|---|---|---|---|---|");
    for rule in &rules {
        let runs: Vec<&TurnRun> = rule.runs.iter().map(|(_, r)| r).collect();
        let mut decisions: Vec<u64> = runs.iter().filter_map(|r| r.decision_ms).collect();
        let stages: Vec<_> = runs.iter().filter_map(|r| r.stages).collect();
        let col = |f: &dyn Fn(&arc_testkit::turn_taking::Stages) -> u64| {
            let mut v: Vec<u64> = stages.iter().map(f).collect();
            ms(pct(&mut v, 0.5))
        };
        let (t, b, s) = (
            col(&|s| s.transcript_ms),
            col(&|s| s.brain_ms),
            col(&|s| s.tts_first_chunk_ms),
        );
        println!(
            "| {} | {} | {} | {t} | {b} | {s} |",
            rule.name,
            stages.len(),
            ms(pct(&mut decisions, 0.5)),
        );
    }
}
