//! The llama.cpp libraries, loaded once per process and never unloaded.
//!
//! Why once: ggml keeps its backends in a process-wide registry that
//! `ggml_backend_load_all_from_path` extends without a lock. Loading again
//! (a second model, a second test thread) while a slot decodes reallocates
//! that registry under the decoding thread: a segmentation fault, seen in
//! CI with three models loading side by side. Why never unloaded: the
//! registry keeps handles into the CPU backend library.

use super::error::LlamaError;
use super::ffi::Api;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The folder the libraries came from, and their API.
pub(super) static LIBRARY: Mutex<Option<(PathBuf, &'static Api)>> = Mutex::new(None);

/// Returns the process's llama.cpp, loading it from `dir` the first time.
/// The caller holds the `LIBRARY` lock, so loads never overlap.
pub(super) fn library(
    loaded: &mut Option<(PathBuf, &'static Api)>,
    dir: &Path,
) -> Result<&'static Api, LlamaError> {
    // The same folder by another spelling (relative, via a link) is the same
    // library.
    let dir = &std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if let Some((from, api)) = loaded {
        if from == dir {
            return Ok(api);
        }
        return Err(LlamaError::OtherLibrary {
            loaded: from.clone(),
            asked: dir.to_path_buf(),
        });
    }
    let api: &'static Api = Box::leak(Box::new(Api::load(dir)?));
    let cdir = path_cstring(dir)?;
    // SAFETY: the pinned C API, called once per process under the lock, with
    // a valid NUL-terminated path.
    unsafe {
        (api.ggml_backend_load_all_from_path)(cdir.as_ptr());
        (api.llama_backend_init)();
    }
    *loaded = Some((dir.to_path_buf(), api));
    Ok(api)
}

/// A path as the C API takes it.
pub(super) fn path_cstring(p: &Path) -> Result<CString, LlamaError> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).map_err(|_| LlamaError::Nul)
}
