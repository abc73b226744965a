//! `access_token`: see `arc_agent::fuzzing::access_token` for the input's layout and what
//! is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arc_agent::fuzzing::access_token(data));
