//! LiveKit's FFI library (`liblivekit_ffi.so`, LiveKit's Rust SDK behind a C
//! ABI, as shipped in the official `livekit` PyPI wheel), loaded at run time.
//!
//! The calling convention is the one of the Python SDK's `_ffi_client.py`:
//! `livekit_ffi_initialize(callback, capture_logs, sdk, version)` once per
//! process; every request is a protobuf `FfiRequest` answered at once by an
//! `FfiResponse` (whose buffer is a handle to drop); long operations answer
//! later, through the callback, with an `FfiEvent` carrying the request's
//! async id. Room and audio-stream events arrive through the same callback and
//! are routed here by room / stream handle. Objects the library hands out are
//! handles, dropped with `livekit_ffi_drop_handle` ([`OwnedHandle`]).
//!
//! The library has one global callback, so there is one [`LiveKitFfi`] per
//! process, shared by every room of the node.

use crate::proto::{self, ffi_event, ffi_request, ffi_response};
use crate::RoomError;
use prost::Message;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

type InitializeFn = unsafe extern "C" fn(
    callback: extern "C" fn(*const u8, usize),
    capture_logs: bool,
    sdk: *const std::ffi::c_char,
    sdk_version: *const std::ffi::c_char,
);
type RequestFn = unsafe extern "C" fn(*const u8, usize, *mut *const u8, *mut usize) -> u64;
type DropHandleFn = unsafe extern "C" fn(u64) -> bool;
type DisposeFn = unsafe extern "C" fn();

/// The handle value the library never hands out.
const INVALID_HANDLE: u64 = 0;
/// Our async ids (`request_async_id`) start far above the library's own
/// counter, so the two never meet.
const ASYNC_ID_BASE: u64 = 1 << 48;
/// Audio-stream events for a stream nobody listens to yet (the stream's
/// first frames can beat its registration): kept, up to this many.
const MAX_ORPHAN_STREAM_EVENTS: usize = 256;
/// Callbacks that came before their waiter (kept, up to this many).
const MAX_EARLY_CALLBACKS: usize = 256;

/// The library's default location: where `scripts/setup.sh` unpacked it when
/// this crate was built (like an rpath).
pub const DEFAULT_LIBRARY: &str = env!("ARC_LIVEKIT_FFI_DEFAULT");

/// The library to load: `configured` if set, else `LIVEKIT_LIB_PATH` (the
/// variable LiveKit's Python SDK reads), else [`DEFAULT_LIBRARY`].
pub fn library_path(configured: &str) -> PathBuf {
    if !configured.is_empty() {
        return PathBuf::from(configured);
    }
    match std::env::var("LIVEKIT_LIB_PATH") {
        Ok(p) if !p.trim().is_empty() => PathBuf::from(p.trim()),
        _ => PathBuf::from(DEFAULT_LIBRARY),
    }
}

/// One frame of remote audio: interleaved 16-bit PCM.
#[derive(Debug, Clone, PartialEq)]
pub struct PcmFrame {
    pub sample_rate: u32,
    pub num_channels: u32,
    pub samples: Vec<i16>,
}

/// What an audio stream delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Frame(PcmFrame),
    /// The track ended.
    Eos,
}

#[derive(Default)]
struct Routes {
    waiters: HashMap<u64, oneshot::Sender<ffi_event::Message>>,
    /// Calls we stopped waiting for: a late answer is cleaned up, not kept.
    abandoned: std::collections::HashSet<u64>,
    early: VecDeque<(u64, ffi_event::Message)>,
    /// Room events are few (joins, leaves, tracks, state): unbounded is fine,
    /// and losing one (a participant leaving) would be worse than a queue.
    rooms: HashMap<u64, mpsc::UnboundedSender<proto::RoomEvent>>,
    streams: HashMap<u64, mpsc::Sender<StreamEvent>>,
    orphans: VecDeque<(u64, StreamEvent)>,
}

/// The loaded library and the routing of its callbacks.
pub struct LiveKitFfi {
    path: PathBuf,
    request_fn: RequestFn,
    drop_handle_fn: DropHandleFn,
    dispose_fn: DisposeFn,
    next_async_id: AtomicU64,
    routes: Mutex<Routes>,
    dropped_frames: AtomicU64,
    panicked: AtomicBool,
    disposed: AtomicBool,
    // Kept last: the functions above point into it.
    _lib: libloading::Library,
}

impl std::fmt::Debug for LiveKitFfi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKitFfi")
            .field("path", &self.path)
            .finish()
    }
}

static INSTANCE: Mutex<Option<Arc<LiveKitFfi>>> = Mutex::new(None);
static ROUTER: std::sync::OnceLock<Arc<LiveKitFfi>> = std::sync::OnceLock::new();

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LiveKitFfi {
    /// Loads and initializes the library once per process; later calls with
    /// the same path get the same instance.
    pub fn load(path: &Path) -> Result<Arc<LiveKitFfi>, RoomError> {
        let lib_err = |reason: String| RoomError::Library {
            path: path.to_path_buf(),
            reason,
        };
        if !path.is_file() {
            return Err(lib_err("no such file".into()));
        }
        let mut slot = lock(&INSTANCE);
        if let Some(ffi) = slot.as_ref() {
            if ffi.path == path {
                return Ok(ffi.clone());
            }
            return Err(RoomError::LibraryMismatch {
                loaded: ffi.path.clone(),
                wanted: path.to_path_buf(),
            });
        }
        // SAFETY: loading runs the library's initializers; it is LiveKit's
        // own FFI build, made to be loaded this way (ctypes does the same).
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| lib_err(e.to_string()))?;
        // SAFETY: the signatures are those of livekit_ffi.h and _ffi_client.py.
        let (init, request_fn, drop_handle_fn, dispose_fn) = unsafe {
            let sym = |name: &[u8]| -> Result<*const (), RoomError> {
                lib.get::<*const ()>(name)
                    .map(|s| *s)
                    .map_err(|e| lib_err(e.to_string()))
            };
            (
                std::mem::transmute::<*const (), InitializeFn>(sym(b"livekit_ffi_initialize\0")?),
                std::mem::transmute::<*const (), RequestFn>(sym(b"livekit_ffi_request\0")?),
                std::mem::transmute::<*const (), DropHandleFn>(sym(b"livekit_ffi_drop_handle\0")?),
                std::mem::transmute::<*const (), DisposeFn>(sym(b"livekit_ffi_dispose\0")?),
            )
        };
        let ffi = Arc::new(LiveKitFfi {
            path: path.to_path_buf(),
            request_fn,
            drop_handle_fn,
            dispose_fn,
            next_async_id: AtomicU64::new(ASYNC_ID_BASE),
            routes: Mutex::new(Routes::default()),
            dropped_frames: AtomicU64::new(0),
            panicked: AtomicBool::new(false),
            disposed: AtomicBool::new(false),
            _lib: lib,
        });
        // The router must be in place before the library can call back.
        if ROUTER.set(ffi.clone()).is_err() {
            return Err(lib_err(
                "a LiveKit FFI library was already initialized in this process".into(),
            ));
        }
        // The SDK name the server knows clients by (ARC speaks from Rust).
        let sdk = c"rust";
        let version = std::ffi::CString::new(env!("CARGO_PKG_VERSION")).unwrap_or_default();
        // SAFETY: `on_event` lives for the whole process; the strings outlive the call.
        unsafe { init(on_event, true, sdk.as_ptr(), version.as_ptr()) };
        tracing::info!(path = %path.display(), "LiveKit FFI library loaded");
        *slot = Some(ffi.clone());
        Ok(ffi)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remote audio frames dropped because their stream's reader was behind.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped_frames.load(Ordering::Relaxed)
    }

    /// A synchronous request: its immediate response.
    pub fn request(
        &self,
        name: &'static str,
        msg: ffi_request::Message,
    ) -> Result<ffi_response::Message, RoomError> {
        let err = |reason: String| RoomError::Ffi {
            request: name,
            reason,
        };
        if self.panicked.load(Ordering::Relaxed) {
            return Err(err("the library panicked earlier; it is unusable".into()));
        }
        if self.disposed.load(Ordering::Relaxed) {
            return Err(err("the library was disposed".into()));
        }
        let bytes = proto::FfiRequest { message: Some(msg) }.encode_to_vec();
        let mut out_ptr: *const u8 = std::ptr::null();
        let mut out_len: usize = 0;
        // SAFETY: the request buffer lives across the call; the library
        // writes the response pointer and length and keeps the buffer alive
        // until its handle is dropped.
        let handle =
            unsafe { (self.request_fn)(bytes.as_ptr(), bytes.len(), &mut out_ptr, &mut out_len) };
        if handle == INVALID_HANDLE || out_ptr.is_null() {
            return Err(err("the library refused the request".into()));
        }
        // SAFETY: see above; copied before the handle is dropped.
        let data = unsafe { std::slice::from_raw_parts(out_ptr, out_len) }.to_vec();
        self.drop_handle(handle);
        let resp = proto::FfiResponse::decode(data.as_slice())
            .map_err(|e| err(format!("undecodable response: {e}")))?;
        resp.message.ok_or_else(|| err("empty response".into()))
    }

    /// A fresh id for a request's `request_async_id`.
    pub fn next_async_id(&self) -> u64 {
        self.next_async_id.fetch_add(1, Ordering::Relaxed)
    }

    /// An asynchronous request: `build` gets the async id to put in it; the
    /// callback event with that id is the answer. The waiter is registered
    /// before the request goes out, so a fast callback is never missed.
    pub async fn call(
        &self,
        name: &'static str,
        timeout: Duration,
        build: impl FnOnce(u64) -> ffi_request::Message,
    ) -> Result<ffi_event::Message, RoomError> {
        let id = self.next_async_id();
        let (tx, rx) = oneshot::channel();
        lock(&self.routes).waiters.insert(id, tx);
        let resp = match self.request(name, build(id)) {
            Ok(r) => r,
            Err(e) => {
                lock(&self.routes).waiters.remove(&id);
                return Err(e);
            }
        };
        // A library that ignores request_async_id picks its own: follow it.
        let answered_id = response_async_id(&resp).unwrap_or(id);
        let rx = if answered_id != id {
            let mut routes = lock(&self.routes);
            let tx = routes.waiters.remove(&id);
            if let Some(pos) = routes.early.iter().position(|(a, _)| *a == answered_id) {
                let (_, ev) = routes.early.remove(pos).expect("position is in range");
                return Ok(ev);
            }
            let (tx2, rx2) = oneshot::channel();
            drop(tx);
            routes.waiters.insert(answered_id, tx2);
            rx2
        } else {
            rx
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(ev)) => Ok(ev),
            Ok(Err(_)) => Err(RoomError::Ffi {
                request: name,
                reason: "the library went away before answering".into(),
            }),
            Err(_) => {
                let mut routes = lock(&self.routes);
                routes.waiters.remove(&answered_id);
                routes.abandoned.insert(answered_id);
                drop(routes);
                Err(RoomError::Timeout {
                    request: name,
                    ms: timeout.as_millis() as u64,
                })
            }
        }
    }

    pub fn drop_handle(&self, handle: u64) {
        if handle == INVALID_HANDLE || self.disposed.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: handles are ids; the library ignores unknown ones (returns false).
        let known = unsafe { (self.drop_handle_fn)(handle) };
        if !known {
            tracing::debug!(handle, "LiveKit FFI: dropped an unknown handle");
        }
    }

    /// Room events of `room_handle` from now on (replaces an earlier subscriber).
    pub fn subscribe_room(&self, room_handle: u64) -> mpsc::UnboundedReceiver<proto::RoomEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.routes).rooms.insert(room_handle, tx);
        rx
    }

    pub fn unsubscribe_room(&self, room_handle: u64) {
        lock(&self.routes).rooms.remove(&room_handle);
    }

    /// Frames of audio stream `stream_handle`, `capacity` frames deep; when the
    /// reader falls behind, new frames are dropped and counted.
    pub fn subscribe_stream(
        &self,
        stream_handle: u64,
        capacity: usize,
    ) -> mpsc::Receiver<StreamEvent> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let mut routes = lock(&self.routes);
        let mut kept = VecDeque::new();
        for (h, ev) in routes.orphans.drain(..) {
            if h == stream_handle {
                let _ = tx.try_send(ev);
            } else {
                kept.push_back((h, ev));
            }
        }
        routes.orphans = kept;
        routes.streams.insert(stream_handle, tx);
        rx
    }

    pub fn unsubscribe_stream(&self, stream_handle: u64) {
        lock(&self.routes).streams.remove(&stream_handle);
    }

    /// Ends the library's work (rooms, tracks, its runtime); every handle is
    /// invalid after it. For process exit: the library cannot be used again.
    pub fn dispose(&self) {
        if self.disposed.swap(true, Ordering::SeqCst) {
            return;
        }
        // SAFETY: no handle is used after this (drop_handle checks `disposed`).
        unsafe { (self.dispose_fn)() };
    }

    fn route(&self, msg: ffi_event::Message) {
        use ffi_event::Message as M;
        match msg {
            M::Logs(batch) => {
                for r in batch.records {
                    log_record(&r);
                }
            }
            M::Panic(p) => {
                self.panicked.store(true, Ordering::SeqCst);
                tracing::error!(message = %p.message, "LiveKit FFI library panicked; rooms on this node are lost");
            }
            M::RoomEvent(ev) => {
                let routes = lock(&self.routes);
                if let Some(tx) = routes.rooms.get(&ev.room_handle) {
                    let _ = tx.send(ev);
                }
            }
            M::AudioStreamEvent(ev) => self.route_audio(ev),
            other => {
                let Some(id) = event_async_id(&other) else {
                    return;
                };
                let mut routes = lock(&self.routes);
                if routes.abandoned.remove(&id) {
                    drop(routes);
                    self.release(&other);
                    return;
                }
                match routes.waiters.remove(&id) {
                    Some(tx) => {
                        let _ = tx.send(other);
                    }
                    None => {
                        if routes.early.len() >= MAX_EARLY_CALLBACKS {
                            routes.early.pop_front();
                        }
                        routes.early.push_back((id, other));
                    }
                }
            }
        }
    }

    /// Releases what a late answer handed us: a room joined after we gave
    /// up on it is left again.
    fn release(&self, ev: &ffi_event::Message) {
        use proto::connect_callback::Message as C;
        use proto::publish_track_callback::Message as P;
        match ev {
            ffi_event::Message::Connect(cb) => {
                if let Some(C::Result(r)) = &cb.message {
                    tracing::warn!(room = %r.room.info.name, "a connect answered after its timeout: leaving that room");
                    for p in &r.participants {
                        self.drop_handle(p.participant.handle.id);
                        for publication in &p.publications {
                            self.drop_handle(publication.handle.id);
                        }
                    }
                    self.drop_handle(r.local_participant.handle.id);
                    self.drop_handle(r.room.handle.id);
                }
            }
            ffi_event::Message::PublishTrack(cb) => {
                if let Some(P::Publication(p)) = &cb.message {
                    self.drop_handle(p.handle.id);
                }
            }
            _ => {}
        }
    }

    fn route_audio(&self, ev: proto::AudioStreamEvent) {
        use proto::audio_stream_event::Message as A;
        let handle = ev.stream_handle;
        let event = match ev.message {
            Some(A::FrameReceived(f)) => {
                let info = f.frame.info;
                let len = info.samples_per_channel as usize * info.num_channels as usize;
                let samples = if info.data_ptr == 0 || len == 0 {
                    Vec::new()
                } else {
                    // SAFETY: the buffer belongs to the frame's handle, alive
                    // until dropped just below; copied first.
                    unsafe { std::slice::from_raw_parts(info.data_ptr as *const i16, len) }.to_vec()
                };
                self.drop_handle(f.frame.handle.id);
                StreamEvent::Frame(PcmFrame {
                    sample_rate: info.sample_rate,
                    num_channels: info.num_channels,
                    samples,
                })
            }
            Some(A::Eos(_)) => StreamEvent::Eos,
            None => return,
        };
        let mut routes = lock(&self.routes);
        match routes.streams.get(&handle) {
            Some(tx) => {
                if tx.try_send(event).is_err() {
                    self.dropped_frames.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                if routes.orphans.len() >= MAX_ORPHAN_STREAM_EVENTS {
                    routes.orphans.pop_front();
                    self.dropped_frames.fetch_add(1, Ordering::Relaxed);
                }
                routes.orphans.push_back((handle, event));
            }
        }
    }
}

/// The library's callback: decode, route, never unwind into C.
extern "C" fn on_event(data: *const u8, len: usize) {
    if data.is_null() {
        return;
    }
    // SAFETY: the library passes a buffer of `len` bytes valid for the call.
    let bytes = unsafe { std::slice::from_raw_parts(data, len) };
    let _ = std::panic::catch_unwind(|| {
        let Some(ffi) = ROUTER.get() else { return };
        match proto::FfiEvent::decode(bytes) {
            Ok(proto::FfiEvent { message: Some(m) }) => ffi.route(m),
            Ok(_) => {}
            Err(e) => tracing::warn!("LiveKit FFI: undecodable event ({len} bytes): {e}"),
        }
    });
}

fn log_record(r: &proto::LogRecord) {
    use proto::LogLevel;
    let target = r.target.as_str();
    match LogLevel::try_from(r.level) {
        Ok(LogLevel::LogError) => tracing::error!(lk_target = target, "{}", r.message),
        Ok(LogLevel::LogWarn) => tracing::warn!(lk_target = target, "{}", r.message),
        Ok(LogLevel::LogInfo) => tracing::info!(lk_target = target, "{}", r.message),
        Ok(LogLevel::LogDebug) => tracing::debug!(lk_target = target, "{}", r.message),
        _ => tracing::trace!(lk_target = target, "{}", r.message),
    }
}

/// The async id of a callback this crate waits for.
fn event_async_id(m: &ffi_event::Message) -> Option<u64> {
    use ffi_event::Message as M;
    Some(match m {
        M::Connect(c) => c.async_id,
        M::Disconnect(c) => c.async_id,
        M::Dispose(c) => c.async_id,
        M::PublishTrack(c) => c.async_id,
        M::UnpublishTrack(c) => c.async_id,
        M::CaptureAudioFrame(c) => c.async_id,
        _ => return None,
    })
}

/// The async id in an immediate response to an asynchronous request.
fn response_async_id(m: &ffi_response::Message) -> Option<u64> {
    use ffi_response::Message as M;
    Some(match m {
        M::Connect(r) => r.async_id,
        M::Disconnect(r) => r.async_id,
        M::PublishTrack(r) => r.async_id,
        M::UnpublishTrack(r) => r.async_id,
        M::CaptureAudioFrame(r) => r.async_id,
        _ => return None,
    })
}

/// A handle the library gave us; dropped (released there) with this value.
#[derive(Debug)]
pub struct OwnedHandle {
    id: u64,
    ffi: Arc<LiveKitFfi>,
}

impl OwnedHandle {
    pub fn new(ffi: &Arc<LiveKitFfi>, id: u64) -> Self {
        Self {
            id,
            ffi: ffi.clone(),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        self.ffi.drop_handle(self.id);
    }
}
