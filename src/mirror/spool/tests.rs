//! The spool's tests: queue order, restarts, rolling and reclaiming, recovery
//! from torn tails and corruption, limits, and a kill -9 of a writing process.

use super::cursor::CURSOR_FILE;
use super::frame::{body_len, encode_frame};
use super::*;
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn rec(i: u64) -> SpoolRecord {
    SpoolRecord {
        topic: format!("persistent://arc/events/t{}", i % 3),
        key: i.is_multiple_of(2).then(|| format!("call-{}", i % 7)),
        subject: i
            .is_multiple_of(3)
            .then(|| "agent.brain.response".to_string()),
        message_id: format!("msg-{i:08}"),
        event_time_ms: 1_700_000_000_000 + i,
        payload: (0..(i % 50) as u8).map(|b| b ^ i as u8).collect(),
    }
}

/// All records have the same encoded size, to compute file offsets.
fn fixed_rec(i: u64) -> SpoolRecord {
    SpoolRecord {
        topic: "t".to_string(),
        key: None,
        subject: None,
        message_id: format!("m{i:06}"),
        event_time_ms: i,
        payload: vec![i as u8; 40],
    }
}

fn opts(segment_bytes: u64, max_bytes: u64) -> SpoolOptions {
    SpoolOptions {
        segment_bytes,
        max_bytes,
    }
}

fn seg_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

fn disk_bytes(dir: &Path) -> u64 {
    seg_files(dir)
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum()
}

fn peek_all(s: &mut Spool) -> Vec<(u64, SpoolRecord)> {
    s.peek(usize::MAX).unwrap()
}

#[test]
fn append_peek_commit_order() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
    assert_eq!(s.depth(), 0);
    assert!(s.peek(10).unwrap().is_empty());
    for i in 1..=10 {
        assert_eq!(s.append(&rec(i)).unwrap(), i);
    }
    assert_eq!(s.depth(), 10);
    // Unflushed appends are visible.
    let p = s.peek(4).unwrap();
    assert_eq!(p.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(p[0].1, rec(1));
    assert_eq!(s.peek(4).unwrap(), p, "peek without commit repeats");
    assert_eq!(s.peek(2).unwrap(), p[..2]);
    s.commit(2).unwrap();
    assert_eq!(s.depth(), 8);
    let p = s.peek(4).unwrap();
    assert_eq!(p.iter().map(|r| r.0).collect::<Vec<_>>(), [3, 4, 5, 6]);
    // Commit past what was peeked.
    s.commit(8).unwrap();
    assert_eq!(s.depth(), 2);
    assert_eq!(
        peek_all(&mut s).iter().map(|r| r.0).collect::<Vec<_>>(),
        [9, 10]
    );
    s.commit(3).unwrap(); // older: no-op
    assert_eq!(s.depth(), 2);
    assert!(matches!(
        s.commit(11),
        Err(SpoolError::CommitBeyondEnd { seq: 11, last: 10 })
    ));
    s.commit(10).unwrap();
    assert_eq!(s.depth(), 0);
    assert!(s.peek(5).unwrap().is_empty());
    assert_eq!(s.append(&rec(11)).unwrap(), 11);
    assert_eq!(s.peek(5).unwrap(), vec![(11, rec(11))]);
    s.sync().unwrap();
    assert_eq!(s.bytes(), disk_bytes(tmp.path()));
}

#[test]
fn reopen_continues_sequences_and_replays_uncommitted() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
        for i in 1..=10 {
            s.append(&rec(i)).unwrap();
        }
        s.peek(3).unwrap();
        s.commit(4).unwrap();
        // Dropped without flush: drop flushes.
    }
    let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
    assert_eq!(s.depth(), 6);
    assert_eq!(s.committed(), 4);
    assert_eq!(s.last_seq(), 10);
    let all = peek_all(&mut s);
    assert_eq!(
        all,
        (5..=10).map(|i| (i, rec(i))).collect::<Vec<_>>(),
        "only uncommitted records are replayed"
    );
    assert_eq!(s.append(&rec(11)).unwrap(), 11);
    s.commit(11).unwrap();
    drop(s);

    // Everything committed, segment files gone: continue after cursor.
    for p in seg_files(tmp.path()) {
        fs::remove_file(p).unwrap();
    }
    let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
    assert_eq!(s.depth(), 0);
    assert_eq!(s.append(&rec(12)).unwrap(), 12);
    assert_eq!(peek_all(&mut s), vec![(12, rec(12))]);
}

#[test]
fn second_open_is_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
    assert!(matches!(
        Spool::open(tmp.path(), SpoolOptions::default()),
        Err(SpoolError::Locked { .. })
    ));
    drop(s);
    Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
}

#[test]
fn segments_roll_and_committed_segments_are_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), opts(1024, 1 << 30)).unwrap();
    for i in 1..=100 {
        s.append(&fixed_rec(i)).unwrap();
    }
    s.flush().unwrap();
    let files = seg_files(tmp.path());
    assert!(files.len() >= 5, "{} segments", files.len());
    assert_eq!(
        files[0].file_name().unwrap().to_str().unwrap(),
        "00000000000000000001.seg"
    );
    for f in &files {
        assert!(fs::metadata(f).unwrap().len() <= 1024);
    }
    let full = s.bytes();
    assert_eq!(full, disk_bytes(tmp.path()));

    s.commit(50).unwrap();
    let after = s.bytes();
    assert!(after < full, "{after} < {full}");
    assert_eq!(after, disk_bytes(tmp.path()));
    assert!(seg_files(tmp.path()).len() < files.len());
    assert_eq!(s.peek(1).unwrap()[0].0, 51);
    assert_eq!(s.depth(), 50);

    s.commit(100).unwrap();
    assert_eq!(
        seg_files(tmp.path()).len(),
        1,
        "only the active segment stays"
    );
    assert!(s.bytes() <= 1024);
    assert_eq!(s.bytes(), disk_bytes(tmp.path()));
    drop(s);

    let mut s = Spool::open(tmp.path(), opts(1024, 1 << 30)).unwrap();
    assert_eq!(s.depth(), 0);
    assert_eq!(s.append(&fixed_rec(101)).unwrap(), 101);
}

#[test]
fn torn_tail_is_truncated_and_earlier_records_survive() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut s = Spool::open(tmp.path(), opts(2048, 1 << 30)).unwrap();
        for i in 1..=60 {
            s.append(&fixed_rec(i)).unwrap();
        }
        s.flush().unwrap();
    }
    let last = seg_files(tmp.path()).pop().unwrap();
    let len = fs::metadata(&last).unwrap().len();
    let f = OpenOptions::new().write(true).open(&last).unwrap();
    f.set_len(len - 3).unwrap();
    drop(f);

    let mut s = Spool::open(tmp.path(), opts(2048, 1 << 30)).unwrap();
    assert_eq!(s.depth(), 59);
    let all = peek_all(&mut s);
    assert_eq!(all, (1..=59).map(|i| (i, fixed_rec(i))).collect::<Vec<_>>());
    assert_eq!(s.bytes(), disk_bytes(tmp.path()));
    // The lost record's sequence is the next one (it never reached disk).
    assert_eq!(s.append(&fixed_rec(60)).unwrap(), 60);
    drop(s);

    // Garbage after valid records (e.g. a half-written header).
    let mut f = OpenOptions::new().append(true).open(&last).unwrap();
    f.write_all(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7])
        .unwrap();
    drop(f);
    let mut s = Spool::open(tmp.path(), opts(2048, 1 << 30)).unwrap();
    assert_eq!(s.depth(), 60);
    assert_eq!(
        peek_all(&mut s),
        (1..=60).map(|i| (i, fixed_rec(i))).collect::<Vec<_>>()
    );
    assert_eq!(s.append(&fixed_rec(61)).unwrap(), 61);
    assert_eq!(s.peek(100).unwrap().last().unwrap().0, 61);

    // Zero-filled tail (what a power loss can leave).
    drop(s);
    let mut f = OpenOptions::new().append(true).open(&last).unwrap();
    f.write_all(&[0u8; 100]).unwrap();
    drop(f);
    let s = Spool::open(tmp.path(), opts(2048, 1 << 30)).unwrap();
    assert_eq!(s.depth(), 61);
    assert_eq!(s.bytes(), disk_bytes(tmp.path()));
}

#[test]
fn corrupt_middle_of_older_segment_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let per_frame;
    {
        let mut s = Spool::open(tmp.path(), opts(1024, 1 << 30)).unwrap();
        for i in 1..=100 {
            s.append(&fixed_rec(i)).unwrap();
        }
        s.flush().unwrap();
        per_frame = s.bytes() / 100;
    }
    let files = seg_files(tmp.path());
    assert!(files.len() >= 4);
    let per_seg = fs::metadata(&files[0]).unwrap().len() / per_frame;
    // Flip a payload byte of the 4th record in the second segment.
    let victim = &files[1];
    let mut data = fs::read(victim).unwrap();
    let at = (3 * per_frame + per_frame - 5) as usize;
    data[at] ^= 0xff;
    fs::write(victim, &data).unwrap();

    let mut s = Spool::open(tmp.path(), opts(1024, 1 << 30)).unwrap();
    let lost: Vec<u64> = (per_seg + 4..=2 * per_seg).collect();
    let expected: Vec<u64> = (1..=100).filter(|i| !lost.contains(i)).collect();
    assert_eq!(s.depth(), expected.len() as u64);
    let all = peek_all(&mut s);
    assert_eq!(all.iter().map(|r| r.0).collect::<Vec<_>>(), expected);
    for (seq, r) in &all {
        assert_eq!(*r, fixed_rec(*seq));
    }
    // New appends continue after the highest sequence.
    assert_eq!(s.append(&fixed_rec(101)).unwrap(), 101);
    // Committing past the damaged segment deletes it.
    s.commit(2 * per_seg + 1).unwrap();
    assert!(!victim.exists());
    s.flush().unwrap();
    assert_eq!(s.bytes(), disk_bytes(tmp.path()));
    assert_eq!(s.depth(), 101 - (2 * per_seg + 1));
}

#[test]
fn corruption_found_while_reading_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), opts(1024, 1 << 30)).unwrap();
    for i in 1..=60 {
        s.append(&fixed_rec(i)).unwrap();
    }
    s.flush().unwrap();
    let per_frame = s.bytes() / 60;
    let files = seg_files(tmp.path());
    let per_seg = fs::metadata(&files[0]).unwrap().len() / per_frame;
    // Damage an older segment and the active one behind the spool's back.
    for (victim, rec_idx) in [(&files[1], 2), (files.last().unwrap(), 0)] {
        let mut data = fs::read(victim).unwrap();
        data[(rec_idx * per_frame + 20) as usize] ^= 0x55;
        fs::write(victim, &data).unwrap();
    }
    let all = peek_all(&mut s);
    let seqs: Vec<u64> = all.iter().map(|r| r.0).collect();
    let active_first = (files.len() as u64 - 1) * per_seg + 1;
    let expected: Vec<u64> = (1..=60)
        .filter(|i| !(per_seg + 3..=2 * per_seg).contains(i) && *i < active_first)
        .collect();
    assert_eq!(seqs, expected);
    assert_eq!(s.depth(), expected.len() as u64);
    // Appends after corruption in the active segment go to a fresh one.
    assert_eq!(s.append(&fixed_rec(61)).unwrap(), 61);
    assert_eq!(s.peek(1000).unwrap().last().unwrap(), &(61, fixed_rec(61)));
    drop(s);
    let mut s = Spool::open(tmp.path(), opts(1024, 1 << 30)).unwrap();
    let again: Vec<u64> = peek_all(&mut s).iter().map(|r| r.0).collect();
    let mut exp = expected.clone();
    exp.push(61);
    assert_eq!(again, exp);
}

#[test]
fn max_bytes_gives_full() {
    let tmp = tempfile::tempdir().unwrap();
    let frame = {
        let mut v = Vec::new();
        encode_frame(1, &fixed_rec(1), body_len(&fixed_rec(1)).unwrap(), &mut v);
        v.len() as u64
    };
    let mut s = Spool::open(tmp.path(), opts(4 * frame, 10 * frame)).unwrap();
    for i in 1..=10 {
        s.append(&fixed_rec(i)).unwrap();
    }
    assert!(matches!(
        s.append(&fixed_rec(11)),
        Err(SpoolError::Full { max_bytes }) if max_bytes == 10 * frame
    ));
    assert_eq!(s.depth(), 10);
    assert_eq!(s.bytes(), 10 * frame);
    // Delivering frees whole segments; 9 and 10 share the active
    // segment with 11 and 12, so they keep occupying space.
    s.commit(10).unwrap();
    assert_eq!(s.bytes(), 2 * frame);
    for i in 11..=18 {
        assert_eq!(s.append(&fixed_rec(i)).unwrap(), i);
    }
    assert!(matches!(
        s.append(&fixed_rec(19)),
        Err(SpoolError::Full { .. })
    ));
    assert_eq!(
        peek_all(&mut s).iter().map(|r| r.0).collect::<Vec<_>>(),
        (11..=18).collect::<Vec<_>>()
    );
    s.flush().unwrap();
    assert_eq!(s.bytes(), disk_bytes(tmp.path()));
}

#[test]
fn full_spool_reclaims_committed_active_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let frame = {
        let mut v = Vec::new();
        encode_frame(1, &fixed_rec(1), body_len(&fixed_rec(1)).unwrap(), &mut v);
        v.len() as u64
    };
    // Segments larger than max_bytes: everything is in the active one.
    let mut s = Spool::open(tmp.path(), opts(100 * frame, 10 * frame)).unwrap();
    for i in 1..=10 {
        s.append(&fixed_rec(i)).unwrap();
    }
    assert!(matches!(
        s.append(&fixed_rec(11)),
        Err(SpoolError::Full { .. })
    ));
    s.commit(10).unwrap();
    assert_eq!(s.append(&fixed_rec(11)).unwrap(), 11);
    assert_eq!(s.bytes(), frame);
    assert_eq!(seg_files(tmp.path()).len(), 1);
    assert_eq!(peek_all(&mut s), vec![(11, fixed_rec(11))]);
}

#[test]
fn oversized_field_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
    let mut r = rec(1);
    r.topic = "x".repeat(70_000);
    assert!(matches!(
        s.append(&r),
        Err(SpoolError::RecordTooLarge { field: "topic", .. })
    ));
    assert_eq!(s.append(&rec(1)).unwrap(), 1);
}

#[test]
fn corrupt_cursor_replays_everything() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
        for i in 1..=5 {
            s.append(&rec(i)).unwrap();
        }
        s.commit(3).unwrap();
    }
    fs::write(tmp.path().join(CURSOR_FILE), "3 00000000\n").unwrap();
    let mut s = Spool::open(tmp.path(), SpoolOptions::default()).unwrap();
    assert_eq!(s.depth(), 5);
    assert_eq!(peek_all(&mut s).len(), 5);
    assert_eq!(s.append(&rec(6)).unwrap(), 6);
}

#[test]
fn multi_thousand_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let o = || opts(64 * 1024, 1 << 30);
    let n = 5000u64;
    let mut s = Spool::open(tmp.path(), o()).unwrap();
    for i in 1..=n {
        assert_eq!(s.append(&rec(i)).unwrap(), i);
        if i.is_multiple_of(333) {
            s.flush().unwrap();
        }
        if i.is_multiple_of(1000) {
            s.sync().unwrap();
        }
    }
    assert!(seg_files(tmp.path()).len() > 2);
    let mut expect = 1u64;
    while expect <= n {
        let batch = s.peek(128).unwrap();
        assert!(!batch.is_empty());
        for (seq, r) in &batch {
            assert_eq!(*seq, expect);
            assert_eq!(*r, rec(expect));
            expect += 1;
        }
        s.commit(batch.last().unwrap().0).unwrap();
        if expect == 2561 {
            // Restart in the middle.
            drop(s);
            s = Spool::open(tmp.path(), o()).unwrap();
            assert_eq!(s.depth(), n - 2560);
        }
    }
    assert_eq!(s.depth(), 0);
    assert_eq!(seg_files(tmp.path()).len(), 1);
    assert_eq!(s.bytes(), disk_bytes(tmp.path()));
}

const CHILD_ENV: &str = "SPOOL_CHILD_DIR";
const CHILD_FLUSHED: u64 = 2000;

fn child_opts() -> SpoolOptions {
    opts(16 * 1024, 4 * 1024 * 1024)
}

/// Child side of the kill test: write, flush, report, keep writing until
/// killed.
fn run_child_writer(dir: &Path) -> ! {
    let mut s = Spool::open(dir, child_opts()).unwrap();
    for i in 1..=CHILD_FLUSHED {
        assert_eq!(s.append(&rec(i)).unwrap(), i);
        if i.is_multiple_of(97) {
            s.flush().unwrap();
        }
    }
    s.flush().unwrap();
    {
        let mut out = io::stdout().lock();
        writeln!(out, "SPOOL_CHILD_FLUSHED {CHILD_FLUSHED}").unwrap();
        out.flush().unwrap();
    }
    // Keep buffered, unflushed data around when the kill lands.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = CHILD_FLUSHED + 1;
    while Instant::now() < deadline {
        match s.append(&rec(i)) {
            Ok(_) => i += 1,
            Err(SpoolError::Full { .. }) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("child append failed: {e}"),
        }
        if i.is_multiple_of(50) {
            s.flush().unwrap();
        }
    }
    std::process::exit(3);
}

#[test]
fn kill9_after_flush_loses_nothing() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        run_child_writer(Path::new(&dir));
    }
    let tmp = tempfile::tempdir().unwrap();
    let full = concat!(module_path!(), "::kill9_after_flush_loses_nothing");
    let name = full.split_once("::").map(|(_, rest)| rest).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut flushed = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        // libtest may print "test <name> ... " on the same line.
        if let Some((_, n)) = line.split_once("SPOOL_CHILD_FLUSHED ") {
            flushed = Some(n.trim().parse::<u64>().unwrap());
            break;
        }
    }
    let Some(flushed) = flushed else {
        let _ = child.kill();
        panic!("child exited without reporting: {:?}", child.wait());
    };
    std::thread::sleep(Duration::from_millis(50));
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    drop(lines);
    assert!(!status.success());
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9));
    }

    let mut s = Spool::open(tmp.path(), child_opts()).unwrap();
    let depth = s.depth();
    println!("child flushed {flushed} records, {depth} recovered after SIGKILL");
    assert!(depth >= flushed, "depth {depth} < flushed {flushed}");
    let all = peek_all(&mut s);
    assert_eq!(all.len() as u64, depth);
    for (k, (seq, r)) in all.iter().enumerate() {
        assert_eq!(*seq, k as u64 + 1);
        assert_eq!(*r, rec(*seq));
    }
    let next = s.append(&rec(depth + 1)).unwrap();
    assert_eq!(next, depth + 1);
}

/// A frame of the format before `subject` (flags 0 or 1 only) still reads.
#[test]
fn a_frame_written_before_subject_existed_still_reads() {
    let old = SpoolRecord {
        subject: None,
        ..rec(2)
    };
    let mut bytes = Vec::new();
    encode_frame(1, &old, body_len(&old).unwrap(), &mut bytes);
    // The byte after the topic is the old key flag: 1 (a key follows).
    let flag_at = 8 + 8 + 8 + 2 + old.topic.len();
    assert_eq!(bytes[flag_at], 1);
    let mut buf = Vec::new();
    match super::frame::read_frame(&mut &bytes[..], bytes.len() as u64, &mut buf).unwrap() {
        super::frame::Frame::Record { rec, .. } => assert_eq!(rec, old),
        _ => panic!("not read"),
    }
    // And one with a subject round-trips.
    let new = rec(3);
    assert!(new.subject.is_some());
    let mut bytes = Vec::new();
    encode_frame(2, &new, body_len(&new).unwrap(), &mut bytes);
    match super::frame::read_frame(&mut &bytes[..], bytes.len() as u64, &mut buf).unwrap() {
        super::frame::Frame::Record { rec, .. } => assert_eq!(rec, new),
        _ => panic!("not read"),
    }
}
