//! `wav`: see `arc_agent::fuzzing::wav` for the input's layout and what
//! is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arc_agent::fuzzing::wav(data));
