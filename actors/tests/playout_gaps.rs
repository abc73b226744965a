//! Silences inside the agent's speech are counted, and why: a sentence
//! whose synthesis starts after the one before it has been played leaves
//! the caller in silence mid-reply (`arc_playout_gap_seconds{cause=
//! "synthesis"}`); a reply synthesized ahead of the speaker leaves none.
//! Its own test binary: the counters are the process's.

use arc_actors::playout_gaps::{playout_gaps, GapCause};
use arc_actors::session::SessionConfig;
use arc_actors::synthetic::{SyntheticProvider, ToneTts};
use arc_testkit::{lines, InProcessNode};
use std::time::Duration;

/// The tests read the process's counters: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Plays the echo brain's answer to `line` ("You said: <line>. Anything
/// else?") in real time, with `cfg`'s lead; the synthesis gaps it left.
async fn synthesis_gaps_in_reply_to(
    node: &InProcessNode,
    line: &str,
    lead: impl FnOnce(&mut SessionConfig),
) -> arc_actors::histogram::HistogramSnapshot {
    let before = playout_gaps().gaps(GapCause::Synthesis);
    let mut cfg = SessionConfig {
        user_id: "user-gaps".into(),
        room_name: "room-gaps".into(),
        ..Default::default()
    };
    cfg.barge_in.paced_playout = true;
    lead(&mut cfg);
    let call = node.scripted(cfg, lines(&[line])).await.unwrap();
    assert_eq!(call.say_all(Duration::from_secs(15)).await, 1);
    call.hang_up().await;
    playout_gaps().gaps(GapCause::Synthesis).since(&before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synthesis_that_falls_behind_the_speaker_is_counted_as_a_gap_and_one_ahead_is_not() {
    let _serial = SERIAL.lock().await;
    let node = InProcessNode::synthetic().await;
    // Three sentences, each synthesized while the one before plays.
    let ahead =
        synthesis_gaps_in_reply_to(&node, "the weather is fine. tell me more please", |_| {}).await;
    assert_eq!(ahead.count, 0, "{ahead:?}");

    // The second sentence's synthesis starts 1.5 s late; the first
    // ("You said: the weather is fine.", 1.8 s of audio) has 1 s queued
    // when it begins (the lead pinned there): ~0.4 s of silence.
    let late = synthesis_gaps_in_reply_to(
        &node,
        "the weather is fine. tell me more [tts-late] please",
        |cfg| cfg.tts.min_ahead_ms = cfg.tts.max_ahead_ms,
    )
    .await;
    println!("the late synthesis: {late:?}");
    assert_eq!(late.count, 1, "one silence mid-reply: {late:?}");
    assert_eq!(late.count_above(0.3), 1, "of 0.3 s or more: {late:?}");
    assert_eq!(late.count_above(1.0), 0, "not the whole delay: {late:?}");
}

/// An engine that makes each sentence whole before its first chunk (piper
/// does, 600 ms here): the lead follows its pace (`tts_lead.rs`), so the
/// next sentence is ready before the one playing ends; a lead held at
/// `tts.min_ahead_ms` (300) leaves a silence between sentences.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lead_follows_an_engine_slow_to_start_each_sentence() {
    let _serial = SERIAL.lock().await;
    let node = InProcessNode::builder()
        .synthetic(SyntheticProvider {
            tts: ToneTts {
                first_chunk_after: Duration::from_millis(600),
                ..ToneTts::default()
            },
            ..SyntheticProvider::default()
        })
        .start()
        .await;
    let line = "the weather is fine. tell me more please";
    let followed = synthesis_gaps_in_reply_to(&node, line, |_| {}).await;
    assert_eq!(followed.count, 0, "{followed:?}");

    let held = synthesis_gaps_in_reply_to(&node, line, |cfg| {
        cfg.tts.max_ahead_ms = cfg.tts.min_ahead_ms;
    })
    .await;
    println!("the lead held at the least: {held:?}");
    assert!(held.count >= 1, "a silence between sentences: {held:?}");
}
