//! `events_json`: see `arc_agent::fuzzing::events_json` for the input's layout and what
//! is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arc_agent::fuzzing::events_json(data));
