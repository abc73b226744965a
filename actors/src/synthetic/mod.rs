//! Synthetic engines and a simulated caller: the whole session tree runs for
//! real, only the models (and the user) are replaced by cheap, deterministic
//! stand-ins. Used by the load generator (`arc-agent loadgen`), the HTTP
//! scripted-session API (`POST /v1/sessions` with a `script`), orchestration
//! tests and the hop-latency bench; never as the only test of a speech or
//! language feature.
//!
//! - [`EnergyVad`] (vad.rs): an RMS-threshold VAD with the same endpointing
//!   rules a real VAD gets ([`crate::endpoint`]).
//! - [`ScriptedStt`] (stt.rs): "hears" the next line of the session's script.
//! - [`EchoLlm`] (llm.rs): answers by quoting the user; `[stall]`, `[fail]`
//!   and `[slow]` in the input make it hang, fail or crawl, to test timeouts.
//! - [`ToneTts`] (tts.rs): a sine tone whose length follows the text;
//!   `[tts-stall]` makes a synthesis that never returns, `[tts-late]` one
//!   that starts 1.5 s late.
//! - [`SyntheticProvider`] (provider.rs): a set of the above per session; the
//!   STT hears the lines written for that session in its [`ScriptBook`]
//!   (script_book.rs).
//! - The simulated caller (caller.rs): [`run_script`] plays a script into a
//!   session ([`speech_frames`], [`silence_frames`]) and waits for each answer
//!   on a [`CallerEar`], such as [`CallerOutput`].
//!
//! What may call what: provider.rs uses the engines and the book; the engines
//! and the caller use nothing of each other. Outside this folder, only the
//! engine traits, audio frames, the session's output and handle, and
//! [`crate::endpoint`] are used.

mod caller;
mod llm;
mod provider;
mod script_book;
mod stt;
mod tts;
mod vad;

pub use caller::{
    run_script, run_script_paced, silence_frames, speech_frames, tone_bursts, CallerEar,
    CallerOutput,
};
pub use llm::EchoLlm;
pub use provider::SyntheticProvider;
pub use script_book::ScriptBook;
pub use stt::ScriptedStt;
pub use tts::ToneTts;
pub use vad::EnergyVad;
