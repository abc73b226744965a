//! A GGUF model loaded once, and decoding slots over it.
//!
//! One [`LlamaModel`] holds the weights (shared, read-only); each [`Slot`] is
//! a llama.cpp context with its own KV cache, used by one request at a time.
//! A slot remembers the tokens its cache holds, so the next request that
//! starts with the same tokens (the system prompt, the conversation so far)
//! decodes only what is new: the prompt cache that keeps a session's turns
//! fast.

use super::error::LlamaError;
use super::ffi::{self, Api};
use super::library::{library, path_cstring, LIBRARY};
use super::text_out::{Push, TextOut};
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How to load the model.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// The folder with libllama, libggml and the CPU backends.
    pub lib_dir: PathBuf,
    pub model: PathBuf,
    /// Show llama.cpp's own log lines (on stderr).
    pub verbose: bool,
}

/// The weights and vocabulary, shared by every slot.
pub struct LlamaModel {
    api: &'static Api,
    model: *mut ffi::llama_model,
    vocab: *const ffi::llama_vocab,
    template: Option<CString>,
    path: PathBuf,
}

// SAFETY: llama.cpp's model is immutable after loading and documented as
// shareable between contexts on different threads; contexts are not shared.
unsafe impl Send for LlamaModel {}
unsafe impl Sync for LlamaModel {}

unsafe extern "C" fn quiet_log(
    _level: i32,
    _text: *const std::ffi::c_char,
    _ud: *mut std::ffi::c_void,
) {
}

impl LlamaModel {
    /// Loads the model (and, the first time in the process, the libraries).
    pub fn load(opts: &ModelOptions) -> Result<Arc<Self>, LlamaError> {
        let path = path_cstring(&opts.model)?;
        // One load at a time: llama.cpp's loader and its log callback are
        // process-wide.
        let mut loaded = LIBRARY.lock().unwrap_or_else(|p| p.into_inner());
        let api = library(&mut loaded, &opts.lib_dir)?;
        // SAFETY: calls into the pinned C API with valid, NUL-terminated strings.
        let model = unsafe {
            if !opts.verbose {
                (api.llama_log_set)(Some(quiet_log), std::ptr::null_mut());
            }
            let params = (api.llama_model_default_params)();
            (api.llama_model_load_from_file)(path.as_ptr(), params)
        };
        drop(loaded);
        if model.is_null() {
            return Err(LlamaError::Model {
                path: opts.model.clone(),
            });
        }
        // SAFETY: `model` is a live model; the template string is copied.
        let (vocab, template) = unsafe {
            let vocab = (api.llama_model_get_vocab)(model);
            let t = (api.llama_model_chat_template)(model, std::ptr::null());
            let template = (!t.is_null()).then(|| CStr::from_ptr(t).to_owned());
            (vocab, template)
        };
        Ok(Arc::new(Self {
            api,
            model,
            vocab,
            template,
            path: opts.model.clone(),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Parameters in the model.
    pub fn n_params(&self) -> u64 {
        // SAFETY: live model.
        unsafe { (self.api.llama_model_n_params)(self.model) }
    }

    /// Formats a conversation with the model's own chat template (ChatML for
    /// SmolLM2), ending with the assistant's turn opened.
    pub fn chat_prompt(&self, messages: &[(String, String)]) -> Result<String, LlamaError> {
        let owned: Vec<(CString, CString)> = messages
            .iter()
            .map(|(r, c)| Ok((cstring(r)?, cstring(c)?)))
            .collect::<Result<_, LlamaError>>()?;
        let chat: Vec<ffi::llama_chat_message> = owned
            .iter()
            .map(|(r, c)| ffi::llama_chat_message {
                role: r.as_ptr(),
                content: c.as_ptr(),
            })
            .collect();
        let chatml = c"chatml";
        let tmpl = self.template.as_deref().unwrap_or(chatml);
        let mut buf = vec![
            0u8;
            2 * messages
                .iter()
                .map(|(r, c)| r.len() + c.len())
                .sum::<usize>()
                + 256
        ];
        for _ in 0..2 {
            // SAFETY: `chat` points into `owned`, alive here; buf is writable.
            let n = unsafe {
                (self.api.llama_chat_apply_template)(
                    tmpl.as_ptr(),
                    chat.as_ptr(),
                    chat.len(),
                    true,
                    buf.as_mut_ptr().cast(),
                    buf.len() as i32,
                )
            };
            if n < 0 {
                return Err(LlamaError::Template);
            }
            let n = n as usize;
            if n <= buf.len() {
                buf.truncate(n);
                return String::from_utf8(buf).map_err(|_| LlamaError::Template);
            }
            buf.resize(n, 0);
        }
        Err(LlamaError::Template)
    }

    /// Text → tokens (special tokens such as `<|im_start|>` parsed).
    pub fn tokenize(&self, text: &str) -> Result<Vec<ffi::llama_token>, LlamaError> {
        let mut out = vec![0i32; text.len() + 8];
        for _ in 0..2 {
            // SAFETY: text and out are valid for the lengths given.
            let n = unsafe {
                (self.api.llama_tokenize)(
                    self.vocab,
                    text.as_ptr().cast(),
                    text.len() as i32,
                    out.as_mut_ptr(),
                    out.len() as i32,
                    true,
                    true,
                )
            };
            if n >= 0 {
                out.truncate(n as usize);
                return Ok(out);
            }
            out.resize((-n) as usize, 0);
        }
        Err(LlamaError::Template)
    }

    fn piece(&self, token: ffi::llama_token, out: &mut Vec<u8>) {
        let mut buf = [0u8; 64];
        // SAFETY: buf is writable for its length.
        let n = unsafe {
            (self.api.llama_token_to_piece)(
                self.vocab,
                token,
                buf.as_mut_ptr().cast(),
                buf.len() as i32,
                0,
                false,
            )
        };
        if n > 0 {
            out.extend_from_slice(&buf[..n as usize]);
        }
    }

    fn is_eog(&self, token: ffi::llama_token) -> bool {
        // SAFETY: live vocab.
        unsafe { (self.api.llama_vocab_is_eog)(self.vocab, token) }
    }

    /// A decoding slot with its own KV cache of `n_ctx` tokens.
    pub fn slot(self: &Arc<Self>, n_ctx: u32, threads: i32) -> Result<Slot, LlamaError> {
        // SAFETY: default params from the library, then plain fields set.
        let ctx = unsafe {
            let mut p = (self.api.llama_context_default_params)();
            p.n_ctx = n_ctx;
            p.n_batch = n_ctx.min(512);
            p.n_ubatch = p.n_batch;
            p.n_seq_max = 1;
            if threads > 0 {
                p.n_threads = threads;
                p.n_threads_batch = threads;
            }
            p.no_perf = true;
            (self.api.llama_init_from_model)(self.model, p)
        };
        if ctx.is_null() {
            return Err(LlamaError::Context { n_ctx });
        }
        // SAFETY: live context.
        let (n_ctx, n_batch) =
            unsafe { ((self.api.llama_n_ctx)(ctx), (self.api.llama_n_batch)(ctx)) };
        Ok(Slot {
            model: self.clone(),
            ctx,
            cached: Vec::new(),
            n_ctx,
            n_batch: n_batch.max(1) as usize,
        })
    }
}

impl Drop for LlamaModel {
    fn drop(&mut self) {
        // SAFETY: every slot holds an Arc to the model, so none is alive.
        unsafe { (self.api.llama_model_free)(self.model) }
    }
}

/// How to pick tokens (llama-server's defaults where the request is silent).
#[derive(Debug, Clone)]
pub struct Sampling {
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub min_p: f32,
    pub max_tokens: usize,
    /// Generation ends before any of these strings (not included).
    pub stop: Vec<String>,
    pub seed: u32,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            max_tokens: 256,
            stop: Vec::new(),
            seed: 0xFFFF_FFFF,
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model ended its turn, or a stop string came.
    Stop,
    /// `max_tokens` (or the context) ran out.
    Length,
    /// The caller stopped listening.
    Cancelled,
}

/// What one generation did.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub prompt_tokens: usize,
    /// Prompt tokens found in the slot's cache (not decoded again).
    pub cached_tokens: usize,
    pub completion_tokens: usize,
    pub finish: Finish,
}

/// One context: used by one request at a time.
pub struct Slot {
    model: Arc<LlamaModel>,
    ctx: *mut ffi::llama_context,
    /// The tokens the KV cache holds, in order.
    cached: Vec<ffi::llama_token>,
    n_ctx: u32,
    n_batch: usize,
}

// SAFETY: a slot is used by one thread at a time (`&mut self`).
unsafe impl Send for Slot {}

impl Slot {
    /// Tokens the cache holds (for picking the slot with the longest match).
    pub fn cached(&self) -> &[ffi::llama_token] {
        &self.cached
    }

    /// Decodes `prompt` (reusing the cached prefix) and samples up to
    /// `sampling.max_tokens` tokens, handing each complete piece of UTF-8 text
    /// to `on_text`; `on_text` returning false stops at once.
    pub fn generate(
        &mut self,
        prompt: &[ffi::llama_token],
        sampling: &Sampling,
        mut on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generation, LlamaError> {
        let model = self.model.clone();
        let api = model.api;
        if prompt.len() + 1 >= self.n_ctx as usize {
            return Err(LlamaError::PromptTooLong {
                tokens: prompt.len(),
                n_ctx: self.n_ctx,
            });
        }
        let mut keep = common_prefix(&self.cached, prompt);
        if keep == prompt.len() {
            keep -= 1; // the last prompt token must be decoded for its logits
        }
        // SAFETY: live context; removing positions >= keep of sequence 0.
        unsafe {
            let mem = (api.llama_get_memory)(self.ctx);
            if !(api.llama_memory_seq_rm)(mem, 0, keep as i32, -1) {
                (api.llama_memory_clear)(mem, true);
                keep = 0;
            }
        }
        self.cached.truncate(keep);
        let cached_tokens = keep;
        let mut todo: Vec<ffi::llama_token> = prompt[keep..].to_vec();
        for chunk in todo.chunks_mut(self.n_batch) {
            self.decode(chunk)?;
            self.cached.extend_from_slice(chunk);
        }
        todo.clear();

        let sampler = Sampler::new(api, sampling);
        let mut text = TextOut::new(&sampling.stop);
        let mut completion = 0usize;
        let finish = loop {
            if completion >= sampling.max_tokens || self.cached.len() + 1 >= self.n_ctx as usize {
                break Finish::Length;
            }
            // SAFETY: live sampler and context, logits of the last token.
            let mut token = unsafe { (api.llama_sampler_sample)(sampler.0, self.ctx, -1) };
            if model.is_eog(token) {
                break Finish::Stop;
            }
            completion += 1;
            let mut bytes = Vec::new();
            model.piece(token, &mut bytes);
            match text.push(&bytes) {
                Push::More(ready) => {
                    if !ready.is_empty() && !on_text(&ready) {
                        break Finish::Cancelled;
                    }
                }
                Push::Stop(ready) => {
                    if !ready.is_empty() {
                        on_text(&ready);
                    }
                    break Finish::Stop;
                }
            }
            self.decode(std::slice::from_mut(&mut token))?;
            self.cached.push(token);
        };
        if finish != Finish::Cancelled {
            // A held-back tail that never became a stop string (after a stop
            // string itself, nothing is pending).
            let rest = text.flush();
            if !rest.is_empty() {
                on_text(&rest);
            }
        }
        Ok(Generation {
            prompt_tokens: prompt.len(),
            cached_tokens,
            completion_tokens: completion,
            finish,
        })
    }

    fn decode(&mut self, tokens: &mut [ffi::llama_token]) -> Result<(), LlamaError> {
        let api = self.model.api;
        // SAFETY: `tokens` outlives the call; the batch only borrows it.
        let rc = unsafe {
            let batch = (api.llama_batch_get_one)(tokens.as_mut_ptr(), tokens.len() as i32);
            (api.llama_decode)(self.ctx, batch)
        };
        if rc != 0 {
            // The cache no longer matches `cached`: start clean next time.
            // SAFETY: live context.
            unsafe { (api.llama_memory_clear)((api.llama_get_memory)(self.ctx), true) };
            self.cached.clear();
            return Err(LlamaError::Decode(rc));
        }
        Ok(())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // SAFETY: the context is ours; the model outlives it (Arc).
        unsafe { (self.model.api.llama_free)(self.ctx) }
    }
}

struct Sampler<'a>(*mut ffi::llama_sampler, &'a Api);

impl<'a> Sampler<'a> {
    fn new(api: &'a Api, s: &Sampling) -> Self {
        // SAFETY: the chain takes ownership of each sampler added to it.
        unsafe {
            let chain = (api.llama_sampler_chain_init)((api.llama_sampler_chain_default_params)());
            if s.temperature <= 0.0 {
                (api.llama_sampler_chain_add)(chain, (api.llama_sampler_init_greedy)());
            } else {
                (api.llama_sampler_chain_add)(chain, (api.llama_sampler_init_top_k)(s.top_k));
                (api.llama_sampler_chain_add)(chain, (api.llama_sampler_init_top_p)(s.top_p, 1));
                (api.llama_sampler_chain_add)(chain, (api.llama_sampler_init_min_p)(s.min_p, 1));
                (api.llama_sampler_chain_add)(chain, (api.llama_sampler_init_temp)(s.temperature));
                (api.llama_sampler_chain_add)(chain, (api.llama_sampler_init_dist)(s.seed));
            }
            Self(chain, api)
        }
    }
}

impl Drop for Sampler<'_> {
    fn drop(&mut self) {
        // SAFETY: we own the chain.
        unsafe { (self.1.llama_sampler_free)(self.0) }
    }
}

fn common_prefix(a: &[ffi::llama_token], b: &[ffi::llama_token]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn cstring(s: &str) -> Result<CString, LlamaError> {
    CString::new(s).map_err(|_| LlamaError::Nul)
}

#[cfg(test)]
mod tests {
    use super::common_prefix;

    #[test]
    fn common_prefix_counts_equal_leading_tokens() {
        assert_eq!(common_prefix(&[1, 2, 3], &[1, 2, 4]), 2);
        assert_eq!(common_prefix(&[], &[1]), 0);
    }
}
