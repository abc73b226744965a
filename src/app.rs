//! Wiring: start the node's parts in order, and stop them in the reverse order
//! so that nothing emitted before shutdown is lost (sessions drain, their last
//! events reach the mirrors, the spool is flushed).

use crate::agent_worker::AgentWorker;
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::heartbeat::{self, HeartbeatSources};
use crate::http::{self, HttpState};
use crate::metrics::{Metrics, ScrapeSources};
use crate::mirror::{self, MirrorStats};
use crate::webhook::WebhookReceiver;
use arc_actors::emit::{self, LifecycleChange, ServiceIdentity};
use arc_actors::node::{EngineProvider, NodeArgs, NodeHandle, NodeStats};
use arc_actors::session::EndReason;
use arc_actors::sink::{spawn_fanout, EventSink, MirrorFilter, MirrorInput};
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot open the Pulsar spool at {dir}: {source}")]
    Spool {
        dir: String,
        source: crate::spool::SpoolError,
    },
    #[error("invalid NATS setting nats.url = {url:?}: {source}")]
    Nats {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("cannot listen on http.listen = {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("node supervisor failed to start: {0}")]
    Node(String),
    #[error("engines (engines.profile = {profile:?}) are not ready: {source}")]
    Engines {
        profile: String,
        source: crate::engines::EnginesError,
    },
}

/// A running node.
pub struct App {
    pub cfg: Arc<Config>,
    pub node: NodeHandle,
    pub sink: EventSink,
    pub identity: ServiceIdentity,
    pub metrics: Arc<Metrics>,
    local_addr: SocketAddr,
    draining: Arc<AtomicBool>,
    fanout_stop: CancellationToken,
    fanout: JoinHandle<()>,
    heartbeat_stop: CancellationToken,
    heartbeat: JoinHandle<()>,
    pub dispatch: Arc<Dispatcher>,
    dispatch_stop: CancellationToken,
    dispatch_task: Option<JoinHandle<()>>,
    worker_task: Option<JoinHandle<()>>,
    nats: Option<JoinHandle<()>>,
    pulsar: Option<mirror::pulsar::PulsarMirror>,
    observer: JoinHandle<()>,
    http_stop: CancellationToken,
    http: JoinHandle<()>,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The identity this node reports, from config (or host and pid).
pub fn identity(cfg: &Config) -> ServiceIdentity {
    let host = hostname();
    ServiceIdentity {
        service_name: cfg.node.service_name.clone(),
        instance_id: if cfg.node.instance_id.is_empty() {
            format!("{host}-{}", std::process::id())
        } else {
            cfg.node.instance_id.clone()
        },
        version: env!("CARGO_PKG_VERSION").to_string(),
        node: if cfg.node.node_name.is_empty() {
            host
        } else {
            cfg.node.node_name.clone()
        },
        cpu_limit: cfg.node.cpu_limit.clone(),
        memory_limit: cfg.node.memory_limit.clone(),
    }
}

impl App {
    pub async fn start(cfg: Config) -> Result<App, AppError> {
        Self::start_with_taps(cfg, Vec::new()).await
    }

    /// Start with extra consumers of the event stream (tests, the load generator).
    pub async fn start_with_taps(cfg: Config, taps: Vec<MirrorInput>) -> Result<App, AppError> {
        let (provider, inference) =
            crate::engines::provider(&cfg)
                .await
                .map_err(|source| AppError::Engines {
                    profile: cfg.engines.profile.clone(),
                    source,
                })?;
        Self::start_with_provider(cfg, taps, provider, inference).await
    }

    /// Start with the engines given (`converse` loads them itself, to use the
    /// VAD for its file user too).
    pub async fn start_with_provider(
        cfg: Config,
        taps: Vec<MirrorInput>,
        provider: Arc<dyn EngineProvider>,
        inference: Option<Arc<arc_models::pool::InferencePool>>,
    ) -> Result<App, AppError> {
        let cfg = Arc::new(cfg);
        let identity = identity(&cfg);
        let (sink, stream) = EventSink::new(cfg.events.sink_capacity);
        let sink = match cfg.privacy.redactor() {
            Some(r) => {
                tracing::info!(kinds = ?cfg.privacy.kinds, fields = ?cfg.privacy.fields, "PII redaction on for every mirrored event");
                sink.with_redactor(r)
            }
            None => sink,
        };
        let metrics = Metrics::new(cfg.session.target_latency_ms);
        let mut inputs = taps;
        let mut scrape_mirrors = Vec::new();
        let mut health_mirrors = Vec::new();

        let (obs_in, obs_rx) = MirrorInput::new("metrics", MirrorFilter::All, 65_536);
        inputs.push(obs_in);
        let observer = metrics.spawn_observer(obs_rx);

        let pulsar = if cfg.pulsar.enabled {
            let stats = Arc::new(MirrorStats::default());
            let (input, rx) =
                MirrorInput::new("pulsar", MirrorFilter::Pulsar, cfg.events.pulsar_queue);
            let dir = cfg.spool_dir();
            let m = mirror::pulsar::spawn(cfg.pulsar.clone(), dir.clone(), rx, stats.clone())
                .map_err(|source| AppError::Spool {
                    dir: dir.display().to_string(),
                    source,
                })?;
            scrape_mirrors.push(("pulsar", stats.clone(), Some(input.probe())));
            health_mirrors.push(("pulsar", stats));
            inputs.push(input);
            Some(m)
        } else {
            tracing::info!("Pulsar mirror disabled (pulsar.enabled = false)");
            None
        };

        let mut nats_client = None;
        let nats = if cfg.nats.enabled {
            let stats = Arc::new(MirrorStats::default());
            let (input, rx) = MirrorInput::new("nats", MirrorFilter::Nats, cfg.events.nats_queue);
            let client = mirror::nats::connect(&cfg.nats, stats.clone())
                .await
                .map_err(|source| AppError::Nats {
                    url: cfg.nats.url.clone(),
                    source,
                })?;
            nats_client = Some(client.clone());
            let task = tokio::spawn(mirror::nats::run(client, rx, stats.clone()));
            scrape_mirrors.push(("nats", stats.clone(), Some(input.probe())));
            health_mirrors.push(("nats", stats));
            inputs.push(input);
            Some(task)
        } else {
            tracing::info!("NATS mirror disabled (nats.enabled = false)");
            None
        };

        let fanout_stop = CancellationToken::new();
        let fanout = spawn_fanout(stream, inputs, fanout_stop.clone());

        let node_stats = Arc::new(NodeStats::default());
        let (node, _) = NodeHandle::start(NodeArgs {
            identity: identity.clone(),
            sink: sink.clone(),
            provider,
            max_sessions: cfg.node.max_sessions,
            stats: node_stats.clone(),
        })
        .await
        .map_err(|e| AppError::Node(e.to_string()))?;

        let heartbeat_stop = CancellationToken::new();
        let heartbeat = heartbeat::spawn(
            HeartbeatSources {
                identity: identity.clone(),
                sink: sink.clone(),
                node: node_stats.clone(),
                max_sessions: cfg.dispatch_max_sessions(),
                mirrors: health_mirrors,
            },
            Duration::from_millis(cfg.heartbeat.interval_ms),
            heartbeat_stop.clone(),
        );

        let draining = Arc::new(AtomicBool::new(false));
        let dispatch = Dispatcher::new(
            (!cfg.livekit.url.is_empty()).then(|| cfg.clone()),
            cfg.dispatch.clone(),
            cfg.node.max_sessions,
            identity.instance_id.clone(),
            nats_client,
            node.clone(),
            cfg.session_config(),
            draining.clone(),
            metrics.clone(),
        );
        let dispatch_stop = CancellationToken::new();
        let dispatch_task = match dispatch.spawn_taker(dispatch_stop.clone()).await {
            Ok(t) => t,
            Err(e) => {
                // The node still serves its own webhooks and sessions.
                tracing::error!(error = %e, "not taking tracks from the cluster");
                None
            }
        };
        let worker_task = if cfg.dispatch.livekit_worker {
            let worker = AgentWorker::new(
                cfg.clone(),
                node.clone(),
                metrics.clone(),
                draining.clone(),
                cfg.dispatch_max_sessions(),
            );
            Some(tokio::spawn(worker.run(dispatch_stop.clone())))
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(&cfg.http.listen)
            .await
            .map_err(|source| AppError::Listen {
                addr: cfg.http.listen.clone(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| AppError::Listen {
            addr: cfg.http.listen.clone(),
            source,
        })?;
        let sources = Arc::new(ScrapeSources {
            sink: sink.clone(),
            node: node_stats,
            mirrors: scrape_mirrors,
            inference,
        });
        metrics.set_sources(sources.clone());
        let state = HttpState {
            cfg: cfg.clone(),
            node: node.clone(),
            metrics: metrics.clone(),
            sources,
            draining: draining.clone(),
            sink: sink.clone(),
            webhooks: Arc::new(WebhookReceiver::new(&cfg.livekit, &cfg.webhook)),
            dispatch: dispatch.clone(),
        };
        let http_stop = CancellationToken::new();
        let stop = http_stop.clone();
        let http = tokio::spawn(async move {
            let server = axum::serve(listener, http::router(state))
                .with_graceful_shutdown(async move { stop.cancelled().await });
            if let Err(e) = server.await {
                tracing::error!(error = %e, "HTTP server failed");
            }
        });

        sink.emit(emit::lifecycle(
            &identity,
            &identity.service_name,
            LifecycleChange::Started,
            "process_start",
            "",
        ));
        tracing::info!(
            instance_id = %identity.instance_id,
            http = %local_addr,
            nats = if cfg.nats.enabled { cfg.nats.url.as_str() } else { "disabled" },
            pulsar = if cfg.pulsar.enabled { cfg.pulsar.url.as_str() } else { "disabled" },
            engines = %cfg.engines.profile,
            "arc-agent node started"
        );
        Ok(App {
            cfg,
            node,
            sink,
            identity,
            metrics,
            local_addr,
            draining,
            fanout_stop,
            fanout,
            heartbeat_stop,
            heartbeat,
            dispatch,
            dispatch_stop,
            dispatch_task,
            worker_task,
            nats,
            pulsar,
            observer,
            http_stop,
            http,
        })
    }

    /// The address the HTTP server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Drain sessions, flush the mirrors and the spool, stop.
    pub async fn shutdown(self, reason: &str) {
        tracing::info!(%reason, sessions = self.node.active_sessions(), "shutting down: draining sessions");
        self.draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        // Leave the dispatch queue group first: new tracks go to other nodes.
        self.dispatch_stop.cancel();
        if let Some(t) = self.dispatch_task {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        if let Some(t) = self.worker_task {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        let drain = Duration::from_millis(self.cfg.node.drain_timeout_ms);
        let left = self.node.drain(EndReason::NodeShutdown, drain).await;
        if left > 0 {
            tracing::warn!(
                sessions = left,
                "sessions did not end within node.drain_timeout_ms"
            );
        }
        self.heartbeat_stop.cancel();
        let _ = self.heartbeat.await;
        self.sink.emit(emit::lifecycle(
            &self.identity,
            &self.identity.service_name,
            LifecycleChange::Stopped,
            reason,
            "",
        ));
        self.node.stop();
        self.fanout_stop.cancel();
        let _ = self.fanout.await;
        if let Some(n) = self.nats {
            let _ = tokio::time::timeout(Duration::from_secs(5), n).await;
        }
        if let Some(p) = self.pulsar {
            p.shutdown(drain.max(Duration::from_secs(1))).await;
        }
        let _ = self.observer.await;
        self.http_stop.cancel();
        let _ = self.http.await;
        tracing::info!("arc-agent node stopped");
    }
}
