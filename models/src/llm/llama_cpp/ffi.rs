//! The slice of llama.cpp's C API (`llama.h`) the runtime calls, loaded at run
//! time from the prebuilt shared libraries of npm `@node-llama-cpp/linux-x64`.
//!
//! Why loaded and not linked: the node binary already carries whisper.cpp's
//! own ggml (statically, none of it exported), and a second static ggml would
//! clash at link time. `dlopen` with `RTLD_LOCAL` gives libllama its own
//! libggml without touching whisper's.
//!
//! The structs are passed by value, so their layout must be exactly the one of
//! the pinned build's `llama.h` (llama.cpp v0.5.0, the header in npm
//! `node-llama-cpp` 3.22.1's `llama/gitRelease.bundle`). The sizes and
//! offsets below were printed from that header by a C program (`offsetof`)
//! and are checked by the tests at the bottom; the package's sha256 in the
//! models manifest pins the matching binary.

#![allow(non_camel_case_types)]

use libloading::Library;
use std::ffi::{c_char, c_void};
use std::path::{Path, PathBuf};

pub type llama_token = i32;
pub type llama_pos = i32;
pub type llama_seq_id = i32;

/// Opaque handles.
#[repr(C)]
pub struct llama_model {
    _p: [u8; 0],
}
#[repr(C)]
pub struct llama_context {
    _p: [u8; 0],
}
#[repr(C)]
pub struct llama_vocab {
    _p: [u8; 0],
}
#[repr(C)]
pub struct llama_sampler {
    _p: [u8; 0],
}
#[repr(C)]
pub struct llama_memory_i {
    _p: [u8; 0],
}
pub type llama_memory_t = *mut llama_memory_i;

/// `struct llama_model_params` (80 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct llama_model_params {
    pub devices: *mut c_void,
    pub tensor_buft_overrides: *const c_void,
    pub n_gpu_layers: i32,
    pub split_mode: i32,
    pub load_mode: i32,
    pub lazy_mode: i32,
    pub main_gpu: i32,
    pub tensor_split: *const f32,
    pub progress_callback: *mut c_void,
    pub progress_callback_user_data: *mut c_void,
    pub kv_overrides: *const c_void,
    pub vocab_only: bool,
    pub check_tensors: bool,
    pub use_extra_bufts: bool,
    pub no_host: bool,
    pub no_alloc: bool,
    pub load_mtp: bool,
}

/// `struct llama_context_params` (160 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct llama_context_params {
    pub n_ctx: u32,
    pub n_batch: u32,
    pub n_ubatch: u32,
    pub n_seq_max: u32,
    pub n_rs_seq: u32,
    pub n_outputs_max: u32,
    pub n_outputs_max_per_seq: u32,
    pub n_threads: i32,
    pub n_threads_batch: i32,
    pub ctx_type: i32,
    pub rope_scaling_type: i32,
    pub pooling_type: i32,
    pub attention_type: i32,
    pub flash_attn_type: i32,
    pub rope_freq_base: f32,
    pub rope_freq_scale: f32,
    pub yarn_ext_factor: f32,
    pub yarn_attn_factor: f32,
    pub yarn_beta_fast: f32,
    pub yarn_beta_slow: f32,
    pub yarn_orig_ctx: u32,
    pub defrag_thold: f32,
    pub cb_eval: *mut c_void,
    pub cb_eval_user_data: *mut c_void,
    pub type_k: i32,
    pub type_v: i32,
    pub abort_callback: Option<unsafe extern "C" fn(*mut c_void) -> bool>,
    pub abort_callback_data: *mut c_void,
    pub embeddings: bool,
    pub offload_kqv: bool,
    pub no_perf: bool,
    pub op_offload: bool,
    pub swa_full: bool,
    pub kv_unified: bool,
    pub samplers: *mut c_void,
    pub n_samplers: usize,
    pub ctx_other: *mut llama_context,
}

/// `struct llama_batch` (56 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct llama_batch {
    pub n_tokens: i32,
    pub token: *mut llama_token,
    pub embd: *mut f32,
    pub pos: *mut llama_pos,
    pub n_seq_id: *mut i32,
    pub seq_id: *mut *mut llama_seq_id,
    pub logits: *mut i8,
}

/// `struct llama_sampler_chain_params` (1 byte).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct llama_sampler_chain_params {
    pub no_perf: bool,
}

/// `struct llama_chat_message`.
#[repr(C)]
pub struct llama_chat_message {
    pub role: *const c_char,
    pub content: *const c_char,
}

pub type ggml_log_callback = Option<unsafe extern "C" fn(i32, *const c_char, *mut c_void)>;

/// Why the libraries could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "cannot load {}: {detail} (fetch it: arc-agent models fetch)",
        path.display()
    )]
    Library { path: PathBuf, detail: String },
    #[error("{} has no symbol {symbol}: {detail} (not the pinned llama.cpp build?)", path.display())]
    Symbol {
        path: PathBuf,
        symbol: &'static str,
        detail: String,
    },
}

macro_rules! api {
    ($($name:ident : fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        /// Function pointers into libllama/libggml, valid while `_libs` lives.
        pub struct Api {
            $(pub $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*
            _libs: Vec<Library>,
        }

        impl Api {
            fn resolve(llama: &Library, ggml: &Library, llama_path: &Path, ggml_path: &Path)
                -> Result<ApiFns, LoadError>
            {
                Ok(ApiFns {
                    $($name: {
                        let name = stringify!($name);
                        let (lib, path) = if name.starts_with("ggml_") {
                            (ggml, ggml_path)
                        } else {
                            (llama, llama_path)
                        };
                        // SAFETY: the signature is the one of the pinned llama.h.
                        let sym: libloading::Symbol<unsafe extern "C" fn($($arg),*) $(-> $ret)?> =
                            unsafe { lib.get(concat!(stringify!($name), "\0").as_bytes()) }
                                .map_err(|e| LoadError::Symbol {
                                    path: path.to_path_buf(),
                                    symbol: stringify!($name),
                                    detail: e.to_string(),
                                })?;
                        *sym
                    },)*
                })
            }
        }

        struct ApiFns {
            $($name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*
        }

        impl ApiFns {
            fn with_libs(self, libs: Vec<Library>) -> Api {
                Api { $($name: self.$name,)* _libs: libs }
            }
        }
    };
}

api! {
    ggml_backend_load_all_from_path: fn(*const c_char);
    llama_log_set: fn(ggml_log_callback, *mut c_void);
    llama_backend_init: fn();
    llama_model_default_params: fn() -> llama_model_params;
    llama_context_default_params: fn() -> llama_context_params;
    llama_sampler_chain_default_params: fn() -> llama_sampler_chain_params;
    llama_model_load_from_file: fn(*const c_char, llama_model_params) -> *mut llama_model;
    llama_model_free: fn(*mut llama_model);
    llama_init_from_model: fn(*mut llama_model, llama_context_params) -> *mut llama_context;
    llama_free: fn(*mut llama_context);
    llama_n_ctx: fn(*const llama_context) -> u32;
    llama_n_batch: fn(*const llama_context) -> u32;
    llama_get_memory: fn(*const llama_context) -> llama_memory_t;
    llama_memory_clear: fn(llama_memory_t, bool);
    llama_memory_seq_rm: fn(llama_memory_t, llama_seq_id, llama_pos, llama_pos) -> bool;
    llama_model_get_vocab: fn(*const llama_model) -> *const llama_vocab;
    llama_model_chat_template: fn(*const llama_model, *const c_char) -> *const c_char;
    llama_model_n_params: fn(*const llama_model) -> u64;
    llama_vocab_is_eog: fn(*const llama_vocab, llama_token) -> bool;
    llama_tokenize: fn(*const llama_vocab, *const c_char, i32, *mut llama_token, i32, bool, bool) -> i32;
    llama_token_to_piece: fn(*const llama_vocab, llama_token, *mut c_char, i32, i32, bool) -> i32;
    llama_chat_apply_template: fn(*const c_char, *const llama_chat_message, usize, bool, *mut c_char, i32) -> i32;
    llama_batch_get_one: fn(*mut llama_token, i32) -> llama_batch;
    llama_decode: fn(*mut llama_context, llama_batch) -> i32;
    llama_sampler_chain_init: fn(llama_sampler_chain_params) -> *mut llama_sampler;
    llama_sampler_chain_add: fn(*mut llama_sampler, *mut llama_sampler);
    llama_sampler_init_top_k: fn(i32) -> *mut llama_sampler;
    llama_sampler_init_top_p: fn(f32, usize) -> *mut llama_sampler;
    llama_sampler_init_min_p: fn(f32, usize) -> *mut llama_sampler;
    llama_sampler_init_temp: fn(f32) -> *mut llama_sampler;
    llama_sampler_init_dist: fn(u32) -> *mut llama_sampler;
    llama_sampler_init_greedy: fn() -> *mut llama_sampler;
    llama_sampler_init_penalties: fn(i32, i32, f32, f32, f32) -> *mut llama_sampler;
    llama_vocab_n_tokens: fn(*const llama_vocab) -> i32;
    llama_sampler_sample: fn(*mut llama_sampler, *mut llama_context, i32) -> llama_token;
    llama_sampler_free: fn(*mut llama_sampler);
}

/// The file names inside the package's `bins/linux-x64/`.
pub const LIBLLAMA: &str = "libllama.v0.5.0.so";
pub const LIBGGML: &str = "libggml.v0.5.0.so";

impl Api {
    /// Loads libggml and libllama from `dir` (their `$ORIGIN` runpath finds
    /// libggml-base there), then the best CPU backend ggml has for this CPU
    /// (`libggml-cpu-<arch>.so`, picked by ggml at run time).
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        let open = |name: &str| {
            let path = dir.join(name);
            // SAFETY: loading a shared library runs its initializers; these are
            // llama.cpp's own, pinned by sha256 in the manifest.
            unsafe { Library::new(&path) }
                .map(|lib| (lib, path.clone()))
                .map_err(|e| LoadError::Library {
                    path,
                    detail: e.to_string(),
                })
        };
        let (ggml, ggml_path) = open(LIBGGML)?;
        let (llama, llama_path) = open(LIBLLAMA)?;
        let fns = Api::resolve(&llama, &ggml, &llama_path, &ggml_path)?;
        Ok(fns.with_libs(vec![llama, ggml]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// Printed from the pinned llama.h with `offsetof`/`sizeof` (x86_64).
    #[test]
    fn struct_layouts_match_the_pinned_header() {
        assert_eq!(size_of::<llama_model_params>(), 80);
        assert_eq!(offset_of!(llama_model_params, n_gpu_layers), 16);
        assert_eq!(offset_of!(llama_model_params, main_gpu), 32);
        assert_eq!(offset_of!(llama_model_params, tensor_split), 40);
        assert_eq!(offset_of!(llama_model_params, kv_overrides), 64);
        assert_eq!(offset_of!(llama_model_params, vocab_only), 72);
        assert_eq!(offset_of!(llama_model_params, load_mtp), 77);

        assert_eq!(size_of::<llama_context_params>(), 160);
        assert_eq!(offset_of!(llama_context_params, n_threads), 28);
        assert_eq!(offset_of!(llama_context_params, ctx_type), 36);
        assert_eq!(offset_of!(llama_context_params, rope_freq_base), 56);
        assert_eq!(offset_of!(llama_context_params, cb_eval), 88);
        assert_eq!(offset_of!(llama_context_params, type_k), 104);
        assert_eq!(offset_of!(llama_context_params, abort_callback), 112);
        assert_eq!(offset_of!(llama_context_params, embeddings), 128);
        assert_eq!(offset_of!(llama_context_params, kv_unified), 133);
        assert_eq!(offset_of!(llama_context_params, samplers), 136);
        assert_eq!(offset_of!(llama_context_params, n_samplers), 144);
        assert_eq!(offset_of!(llama_context_params, ctx_other), 152);

        assert_eq!(size_of::<llama_batch>(), 56);
        assert_eq!(size_of::<llama_sampler_chain_params>(), 1);
    }

    #[test]
    fn a_missing_library_names_the_fix() {
        let err = Api::load(Path::new("/nonexistent"))
            .err()
            .map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("models fetch"), "{err}");
    }
}
