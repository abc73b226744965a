//! Silences inside the agent's speech are counted, and why: a sentence
//! whose synthesis starts after the one before it has been played leaves
//! the caller in silence mid-reply (`arc_playout_gap_seconds{cause=
//! "synthesis"}`); a reply synthesized ahead of the speaker leaves none.
//! Its own test binary: the counters are the process's.

use arc_actors::playout_gaps::{playout_gaps, GapCause};
use arc_actors::session::SessionConfig;
use arc_testkit::{lines, InProcessNode};
use std::time::Duration;

/// Plays the echo brain's answer to `line` ("You said: <line>. Anything
/// else?") in real time; the synthesis gaps it left.
async fn synthesis_gaps_in_reply_to(
    node: &InProcessNode,
    line: &str,
) -> arc_actors::histogram::HistogramSnapshot {
    let before = playout_gaps().gaps(GapCause::Synthesis);
    let mut cfg = SessionConfig {
        user_id: "user-gaps".into(),
        room_name: "room-gaps".into(),
        ..Default::default()
    };
    cfg.barge_in.paced_playout = true;
    let call = node.scripted(cfg, lines(&[line])).await.unwrap();
    assert_eq!(call.say_all(Duration::from_secs(15)).await, 1);
    call.hang_up().await;
    playout_gaps().gaps(GapCause::Synthesis).since(&before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synthesis_that_falls_behind_the_speaker_is_counted_as_a_gap_and_one_ahead_is_not() {
    let node = InProcessNode::synthetic().await;
    // Three sentences, each synthesized while the one before plays.
    let ahead = synthesis_gaps_in_reply_to(&node, "the weather is fine. tell me more please").await;
    assert_eq!(ahead.count, 0, "{ahead:?}");

    // The second sentence's synthesis starts 1.5 s late; the first
    // ("You said: the weather is fine.", 1.8 s of audio) has up to
    // `tts.max_ahead_ms` (1 s) queued when it begins: ~0.4 s of silence.
    let late =
        synthesis_gaps_in_reply_to(&node, "the weather is fine. tell me more [tts-late] please")
            .await;
    println!("the late synthesis: {late:?}");
    assert_eq!(late.count, 1, "one silence mid-reply: {late:?}");
    assert_eq!(late.count_above(0.3), 1, "of 0.3 s or more: {late:?}");
    assert_eq!(late.count_above(1.0), 0, "not the whole delay: {late:?}");
}
