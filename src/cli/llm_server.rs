//! `arc-agent llm-server`: the local brain's model server, an OpenAI-compatible
//! chat endpoint over llama.cpp's prebuilt libraries
//! ([`arc_models::llm::llama_cpp`]).
//!
//! The node runs it as a supervised child on a loopback port (the same
//! supervisor and flags as llama.cpp's own `llama-server`, which it replaces
//! without a 10-minute build), and talks to it with the `openai` engine. A
//! crash in the model kills this process, not the node; the supervisor starts
//! it again.
//!
//! Served: `GET /health`, `GET /v1/models`, `POST /v1/chat/completions`
//! (streamed as server-sent events with a final usage chunk, or whole).
//! Requests wait for a free slot (`--parallel`); each slot keeps its prompt
//! cache, and a request goes to the free slot whose cache shares the longest
//! prefix with its prompt, so a session's next turn decodes only what is new.

use arc_models::llm::llama_cpp::{
    Finish, Generation, LlamaError, LlamaModel, ModelOptions, Sampling, Slot,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Semaphore};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum LlmServerError {
    #[error(transparent)]
    Model(#[from] LlamaError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    #[error("no llama.cpp runtime (--lib-dir): {0}")]
    Runtime(String),
}

/// How to run it: `arc-agent llm-server`'s flags, named as llama.cpp's
/// `llama-server` names them (the supervisor passes the same to either).
#[derive(Debug, Clone, clap::Args)]
pub struct LlmServerOptions {
    /// The GGUF model.
    #[arg(long, short = 'm')]
    pub model: PathBuf,
    /// The folder with libllama and libggml (default: the manifest's
    /// llama.cpp runtime under the models directory).
    #[arg(long)]
    pub lib_dir: Option<PathBuf>,
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Context tokens per slot.
    #[arg(long, short = 'c', default_value_t = 2048)]
    pub ctx_size: u32,
    /// Requests decoded at once (each slot keeps its own prompt cache).
    #[arg(long, default_value_t = 2)]
    pub parallel: u32,
    /// CPU threads per slot (0 = the cores shared out among the slots).
    #[arg(long, short = 't', default_value_t = 0)]
    pub threads: usize,
    /// Sampling where a request does not say: keep the K likeliest tokens.
    #[arg(long, default_value_t = 40)]
    pub top_k: i32,
    /// ... then the likeliest whose probabilities add up to P.
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f32,
    /// ... then drop tokens less likely than MIN_P times the likeliest.
    #[arg(long, default_value_t = 0.05)]
    pub min_p: f32,
    /// Accepted for llama-server compatibility; there is no web UI.
    #[arg(long)]
    pub no_webui: bool,
    /// llama.cpp's own log lines on stderr.
    #[arg(long)]
    pub verbose: bool,
}

struct Server {
    model: Arc<LlamaModel>,
    defaults: Sampling,
    name: String,
    slots: parking_lot::Mutex<Vec<Slot>>,
    free: Arc<Semaphore>,
}

/// Loads the model, makes the slots, and serves until the process ends.
pub async fn run(opts: LlmServerOptions) -> Result<(), LlmServerError> {
    let started = Instant::now();
    let lib_dir = match opts.lib_dir.clone() {
        Some(d) => d,
        None => crate::config::Config::load(None)
            .map_err(|e| LlmServerError::Runtime(e.to_string()))
            .and_then(|cfg| {
                crate::engines::llama_runtime_dir(&cfg)
                    .map_err(|e| LlmServerError::Runtime(e.to_string()))
            })?,
    };
    let model = LlamaModel::load(&ModelOptions {
        lib_dir,
        model: opts.model.clone(),
        verbose: opts.verbose,
    })?;
    let parallel = opts.parallel.max(1);
    let threads = slot_threads(
        opts.threads,
        parallel,
        std::thread::available_parallelism().map_or(2, |n| n.get()),
    );
    let slots = (0..parallel)
        .map(|_| model.slot(opts.ctx_size, threads))
        .collect::<Result<Vec<_>, _>>()?;
    let name = opts
        .model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "local".into());
    tracing::info!(
        model = %opts.model.display(),
        params = model.n_params(),
        slots = parallel,
        ctx = opts.ctx_size,
        threads,
        ms = started.elapsed().as_millis() as u64,
        "llm-server: model loaded"
    );
    let defaults = Sampling {
        top_k: opts.top_k,
        top_p: opts.top_p,
        min_p: opts.min_p,
        ..Sampling::default()
    };
    let server = Arc::new(Server {
        model,
        defaults,
        name,
        slots: parking_lot::Mutex::new(slots),
        free: Arc::new(Semaphore::new(parallel as usize)),
    });
    let app = Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .with_state(server);
    let addr = format!("{}:{}", opts.host, opts.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| LlmServerError::Listen {
            addr: addr.clone(),
            source,
        })?;
    tracing::info!(%addr, "llm-server: listening");
    axum::serve(listener, app)
        .await
        .map_err(LlmServerError::Serve)
}

async fn models(State(s): State<Arc<Server>>) -> Json<Value> {
    Json(json!({"object": "list", "data": [{"id": s.name, "object": "model", "owned_by": "arc"}]}))
}

/// The part of OpenAI's chat request this server reads; the rest (tools,
/// penalties, n) is accepted and ignored.
#[derive(Debug, Deserialize)]
struct ChatRequest {
    messages: Vec<Message>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    top_p: Option<f32>,
    /// llama.cpp's extensions to the OpenAI request.
    #[serde(default)]
    top_k: Option<i32>,
    #[serde(default)]
    min_p: Option<f32>,
    #[serde(default)]
    stop: Option<Stop>,
    #[serde(default)]
    seed: Option<u32>,
    #[serde(default)]
    stream: bool,
}

#[derive(Debug, Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
struct Part {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    (
        status,
        Json(json!({"error": {"message": message, "type": "invalid_request_error"}})),
    )
        .into_response()
}

impl ChatRequest {
    /// (role, text) pairs the chat template takes: system, user and
    /// assistant turns with text; tool traffic is not something this model
    /// was trained on, so it is left out.
    fn turns(&self) -> Vec<(String, String)> {
        self.messages
            .iter()
            .filter(|m| {
                matches!(
                    m.role.as_str(),
                    "system" | "developer" | "user" | "assistant"
                )
            })
            .filter_map(|m| {
                let text = match m.content.as_ref()? {
                    Content::Text(t) => t.clone(),
                    Content::Parts(p) => p.iter().filter_map(|p| p.text.clone()).collect(),
                };
                let role = if m.role == "developer" {
                    "system"
                } else {
                    m.role.as_str()
                };
                Some((role.to_string(), text))
            })
            .collect()
    }

    fn sampling(&self, defaults: &Sampling) -> Sampling {
        let mut s = defaults.clone();
        if let Some(t) = self.temperature {
            s.temperature = t;
        }
        if let Some(p) = self.top_p {
            s.top_p = p;
        }
        if let Some(k) = self.top_k {
            s.top_k = k;
        }
        if let Some(p) = self.min_p {
            s.min_p = p;
        }
        if let Some(n) = self.max_completion_tokens.or(self.max_tokens) {
            s.max_tokens = n as usize;
        }
        s.stop = match &self.stop {
            Some(Stop::One(s)) => vec![s.clone()],
            Some(Stop::Many(v)) => v.clone(),
            None => Vec::new(),
        };
        if let Some(seed) = self.seed {
            s.seed = seed;
        }
        s
    }
}

/// CPU threads for each slot. Asked for none: the cores shared out among the
/// slots (at least one each). Every slot with all the cores oversubscribed
/// them (two slots × two threads on two cores): llama.cpp's threads wait for
/// each other by spinning, and with two callers talking at once their
/// replies' first tokens took over 2 s, where one thread a slot gives ~0.6 s
/// (`cargo bench --bench capacity`, BENCHMARKS.md).
fn slot_threads(asked: usize, parallel: u32, cores: usize) -> i32 {
    let n = if asked == 0 {
        (cores / parallel.max(1) as usize).max(1)
    } else {
        asked
    };
    i32::try_from(n).unwrap_or(i32::MAX)
}

enum Out {
    Text(String),
    Done(Result<Generation, LlamaError>),
}

async fn chat(State(s): State<Arc<Server>>, body: axum::body::Bytes) -> Response {
    let req: ChatRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad chat request: {e}")),
    };
    let turns = req.turns();
    if turns.is_empty() {
        return error(StatusCode::BAD_REQUEST, "no message with text");
    }
    let prompt = match s
        .model
        .chat_prompt(&turns)
        .and_then(|p| s.model.tokenize(&p))
    {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let sampling = req.sampling(&s.defaults);
    let Ok(permit) = s.free.clone().acquire_owned().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    };
    // The free slot whose cache shares the longest prefix with this prompt.
    let slot = {
        let mut slots = s.slots.lock();
        let best = slots
            .iter()
            .enumerate()
            .max_by_key(|(_, sl)| common(sl.cached(), &prompt))
            .map(|(i, _)| i);
        best.map(|i| slots.swap_remove(i))
    };
    let Some(mut slot) = slot else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "no free slot");
    };
    let (tx, mut rx) = mpsc::channel::<Out>(64);
    let server = s.clone();
    tokio::task::spawn_blocking(move || {
        let text_tx = tx.clone();
        let result = slot.generate(&prompt, &sampling, |piece| {
            text_tx.blocking_send(Out::Text(piece.to_string())).is_ok()
        });
        server.slots.lock().push(slot);
        drop(permit);
        let _ = tx.blocking_send(Out::Done(result));
    });
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = chrono::Utc::now().timestamp();
    let model = s.name.clone();
    if !req.stream {
        let mut text = String::new();
        while let Some(out) = rx.recv().await {
            match out {
                Out::Text(t) => text.push_str(&t),
                Out::Done(Ok(g)) => {
                    return Json(json!({
                        "id": id, "object": "chat.completion", "created": created, "model": model,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                     "finish_reason": finish_reason(g.finish)}],
                        "usage": usage(&g),
                    }))
                    .into_response();
                }
                Out::Done(Err(e)) => {
                    return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                }
            }
        }
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generation ended without a result",
        );
    }
    let chunk = move |delta: Value, finish: Option<&str>| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let usage_chunk = {
        let id = format!("chatcmpl-usage-{created}");
        let model = s.name.clone();
        move |g: &Generation| {
            json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [], "usage": usage(g)})
        }
    };
    let stream = async_stream(rx, chunk, usage_chunk);
    Sse::new(stream).into_response()
}

/// The generator's output as OpenAI stream chunks: the first carries the
/// role, the last the finish reason, then the usage chunk and `[DONE]`.
/// Dropping the stream (the client left) closes `rx`, and the generator stops
/// at its next piece.
fn async_stream(
    rx: mpsc::Receiver<Out>,
    chunk: impl Fn(Value, Option<&str>) -> Value + Send + Sync + 'static,
    usage_chunk: impl Fn(&Generation) -> Value + Send + Sync + 'static,
) -> impl futures::Stream<Item = Result<Event, std::convert::Infallible>> {
    use futures::StreamExt;
    let fns = Arc::new((chunk, usage_chunk));
    futures::stream::unfold((rx, true), move |(mut rx, first)| {
        let fns = fns.clone();
        async move {
            let (chunk, usage_chunk) = &*fns;
            let events: Vec<Event> = match rx.recv().await? {
                Out::Text(t) => {
                    let delta = if first {
                        json!({"role": "assistant", "content": t})
                    } else {
                        json!({"content": t})
                    };
                    vec![Event::default().data(chunk(delta, None).to_string())]
                }
                Out::Done(Ok(g)) => vec![
                    Event::default()
                        .data(chunk(json!({}), Some(finish_reason(g.finish))).to_string()),
                    Event::default().data(usage_chunk(&g).to_string()),
                    Event::default().data("[DONE]"),
                ],
                Out::Done(Err(e)) => {
                    tracing::warn!(error = %e, "llm-server: generation failed");
                    vec![Event::default()
                        .data(json!({"error": {"message": e.to_string()}}).to_string())]
                }
            };
            Some((
                futures::stream::iter(events.into_iter().map(Ok)),
                (rx, false),
            ))
        }
    })
    .flatten()
}

fn finish_reason(f: Finish) -> &'static str {
    match f {
        Finish::Length => "length",
        Finish::Stop | Finish::Cancelled => "stop",
    }
}

fn usage(g: &Generation) -> Value {
    json!({
        "prompt_tokens": g.prompt_tokens,
        "completion_tokens": g.completion_tokens,
        "total_tokens": g.prompt_tokens + g.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": g.cached_tokens},
    })
}

fn common(a: &[i32], b: &[i32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::slot_threads;

    #[test]
    fn the_cores_are_shared_out_among_the_slots_unless_asked() {
        assert_eq!(slot_threads(0, 2, 2), 1, "two slots on two cores");
        assert_eq!(slot_threads(0, 2, 16), 8);
        assert_eq!(slot_threads(0, 1, 2), 2);
        assert_eq!(slot_threads(0, 4, 2), 1, "never none");
        assert_eq!(slot_threads(3, 2, 2), 3, "what was asked");
    }
}
