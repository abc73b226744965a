//! The `spool_segment` target: damaged segments through the spool.

use super::{scratch, Input};
use crate::mirror::spool::{Spool, SpoolError, SpoolOptions, SpoolRecord};
use std::path::{Path, PathBuf};

/// A spool's segment file name.
fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.seg")
}

/// A spool record from the input.
fn spool_record(input: &mut Input<'_>) -> SpoolRecord {
    let flags = input.byte();
    SpoolRecord {
        topic: input.text(),
        key: (flags & 1 != 0).then(|| input.text()),
        subject: (flags & 2 != 0).then(|| input.text()),
        message_id: input.text(),
        event_time_ms: u64::from(input.u16()),
        payload: input.piece().to_vec(),
    }
}

/// The spool's recovery and reads over damaged segments. First byte even:
/// the rest is a segment file's bytes (first sequence 1, no cursor). Odd: a
/// spool is written (segment size, up to 15 records and a commit from the
/// input), then its segment files are damaged by the rest: per step a byte
/// (even: flip, odd: truncate), the file, a u16 offset and (flip) the XOR mask.
///
/// Promises: damage never stops the spool from opening or reading; every
/// record read back is the one written under its sequence, in order; the
/// damaged spool still takes a record and delivers it after a restart.
pub fn spool_segment(data: &[u8]) {
    let mut input = Input(data);
    let mode = input.byte();
    let dir = scratch("spool");
    let opts = SpoolOptions {
        segment_bytes: 64 + u64::from(input.byte()) * 8,
        max_bytes: 1 << 20,
    };
    let mut written = Vec::new();
    if mode.is_multiple_of(2) {
        std::fs::write(dir.join(segment_name(1)), input.rest()).expect("a segment file writes");
    } else {
        let mut spool = Spool::open(&dir, opts.clone()).expect("a new spool opens");
        for _ in 0..input.byte() % 16 {
            let rec = spool_record(&mut input);
            spool.append(&rec).expect("a small record is taken");
            written.push(rec);
        }
        let commit = u64::from(input.byte()) % (written.len() as u64 + 1);
        if commit > 0 {
            spool.commit(commit).expect("a written sequence commits");
        }
        spool.flush().expect("the spool flushes");
        drop(spool);
        damage_segments(&dir, &mut input);
    }
    let mut spool = reopen(&dir, &opts)
        .unwrap_or_else(|e| panic!("damaged segments stopped the spool from opening: {e}"));
    let mut last = spool.committed();
    loop {
        let batch = spool.peek(8).expect("reading skips damage");
        let Some((newest, _)) = batch.last() else {
            break;
        };
        for (seq, rec) in &batch {
            assert!(*seq > last, "sequence {seq} read after {last}");
            last = *seq;
            if let Some(original) = usize::try_from(*seq - 1).ok().and_then(|i| written.get(i)) {
                assert_eq!(rec, original, "record {seq} read back differs");
            }
        }
        let newest = *newest;
        spool.commit(newest).expect("a read sequence commits");
    }
    let fresh = SpoolRecord {
        topic: "persistent://arc/events/conversation".into(),
        key: Some("user".into()),
        subject: None,
        message_id: "msg-after-damage".into(),
        event_time_ms: 1,
        payload: b"{}".to_vec(),
    };
    let seq = spool
        .append(&fresh)
        .expect("a damaged spool still takes records");
    assert!(
        seq > last,
        "sequence {seq} handed out after {last} was read"
    );
    spool.flush().expect("the spool flushes");
    drop(spool);
    let mut spool = reopen(&dir, &opts).expect("the spool reopens");
    let back = spool.peek(8).expect("the spool reads");
    assert_eq!(back, vec![(seq, fresh)], "after a restart");
}

/// Opens the spool this entry closed a moment ago. The directory's lock is
/// an advisory lock on an open file, which a child process started in that
/// moment by another test of this process holds too until it runs its
/// program (`cargo test` runs the spool's kill -9 test beside this one): a
/// lock still held is waited for, briefly.
fn reopen(dir: &Path, opts: &SpoolOptions) -> Result<Spool, SpoolError> {
    let mut tries = 0;
    loop {
        match Spool::open(dir, opts.clone()) {
            Err(SpoolError::Locked { .. }) if tries < 200 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// Flips bits in and truncates the segment files of `dir`, as the input says.
fn damage_segments(dir: &Path, input: &mut Input<'_>) {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the spool folder lists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segments.sort();
    if segments.is_empty() {
        return;
    }
    while !input.is_empty() {
        let step = input.byte();
        let path = &segments[usize::from(input.byte()) % segments.len()];
        let mut bytes = std::fs::read(path).expect("a segment reads");
        let at = usize::from(input.u16());
        if step.is_multiple_of(2) {
            let mask = input.byte();
            let at = at % bytes.len().max(1);
            if let Some(b) = bytes.get_mut(at) {
                *b ^= mask;
            }
        } else {
            bytes.truncate(at % (bytes.len() + 1));
        }
        std::fs::write(path, bytes).expect("a segment writes");
    }
}
