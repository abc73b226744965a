//! The node process: start its parts in order, serve HTTP, and stop them in
//! the reverse order so that nothing emitted before shutdown is lost
//! (sessions drain, their last events reach the mirrors, the spool is flushed).
//!
//! `app` is the top of the library: it builds the [`NodeContext`] and hands it
//! to the transports, the cluster code and the HTTP server ([`http`]); nothing
//! below calls back into `app`. Only `main.rs` and `cli` use it.

mod auth;
pub(crate) mod http;

use crate::cluster::agent_worker::AgentWorker;
use crate::cluster::dispatch::Dispatcher;
use crate::cluster::webhook;
use crate::config::Config;
use crate::engines::NodeEngines;
use crate::mirror::nats::NatsMirror;
use crate::mirror::pulsar::PulsarMirror;
use crate::mirror::{self, MirrorStats};
use crate::node::{identity::identity, NodeContext, Shutdown, Stage};
use crate::ops::heartbeat::{self, HeartbeatSources};
use crate::ops::metrics::{Metrics, ScrapeSources};
use crate::ops::performance::{self, PerformanceSources};
use crate::transports;
use arc_actors::emit::{self, LifecycleChange};
use arc_actors::node::{NodeArgs, NodeHandle, NodeStats};
use arc_actors::session::EndReason;
use arc_actors::sink::{spawn_fanout, EventSink, MirrorFilter, MirrorInput};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot open the Pulsar spool at {dir}: {source}")]
    Spool {
        dir: String,
        source: crate::mirror::spool::SpoolError,
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

/// The longest wait for a background stage that should end at once.
const STAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running node.
pub struct App {
    /// What the node's parts share (configuration, sessions, events, metrics).
    pub ctx: NodeContext,
    local_addr: SocketAddr,
    shutdown: Shutdown,
    nats: Option<NatsMirror>,
    pulsar: Option<PulsarMirror>,
    /// Each enabled mirror's counters, by broker name.
    brokers: Vec<(&'static str, Arc<MirrorStats>)>,
}

/// What `start_parts` hands `App`.
struct Started {
    ctx: NodeContext,
    local_addr: SocketAddr,
    nats: Option<NatsMirror>,
    pulsar: Option<PulsarMirror>,
    brokers: Vec<(&'static str, Arc<MirrorStats>)>,
}

impl App {
    pub async fn start(cfg: Config) -> Result<App, AppError> {
        Self::start_with_taps(cfg, Vec::new()).await
    }

    /// Start with extra consumers of the event stream (tests, the load generator).
    pub async fn start_with_taps(cfg: Config, taps: Vec<MirrorInput>) -> Result<App, AppError> {
        let engines =
            crate::engines::for_profile(&cfg)
                .await
                .map_err(|source| AppError::Engines {
                    profile: cfg.engines.profile.to_string(),
                    source,
                })?;
        Self::start_with_engines(cfg, taps, engines).await
    }

    /// Start with the engines given (`converse` loads them itself, to use the
    /// VAD for its file user too).
    pub async fn start_with_engines(
        cfg: Config,
        taps: Vec<MirrorInput>,
        engines: NodeEngines,
    ) -> Result<App, AppError> {
        let shutdown = Shutdown::new();
        let started = Self::start_parts(cfg, taps, engines, &shutdown).await;
        if started.is_err() {
            shutdown.abort();
        }
        let Started {
            ctx,
            local_addr,
            nats,
            pulsar,
            brokers,
        } = started?;
        Ok(App {
            ctx,
            local_addr,
            shutdown,
            nats,
            pulsar,
            brokers,
        })
    }

    async fn start_parts(
        cfg: Config,
        taps: Vec<MirrorInput>,
        engines: NodeEngines,
        shutdown: &Shutdown,
    ) -> Result<Started, AppError> {
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
        shutdown.track(Stage::Observers, metrics.spawn_observer(obs_rx));

        let pulsar = if cfg.pulsar.enabled {
            let stats = Arc::new(MirrorStats::default());
            // With a realtime topic, the NATS-subject events are spooled too.
            let filter = if cfg.pulsar.realtime_topic.is_empty() {
                MirrorFilter::Pulsar
            } else {
                MirrorFilter::All
            };
            let (input, rx) = MirrorInput::new("pulsar", filter, cfg.events.pulsar_queue);
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
            let m = NatsMirror::spawn(client, rx, stats.clone());
            scrape_mirrors.push(("nats", stats.clone(), Some(input.probe())));
            health_mirrors.push(("nats", stats));
            inputs.push(input);
            Some(m)
        } else {
            tracing::info!("NATS mirror disabled (nats.enabled = false)");
            None
        };

        // The hourly rollup reads the sessions' last events, so it stops
        // with the heartbeat, after the sessions have drained.
        let performance = cfg.analytics.agent_performance.then(|| {
            let (input, rx) = MirrorInput::new(
                "agent_performance",
                MirrorFilter::Kinds(performance::KINDS),
                65_536,
            );
            inputs.push(input);
            rx
        });

        shutdown.track(
            Stage::Events,
            spawn_fanout(stream, inputs, shutdown.token(Stage::Events)),
        );
        if let Some(rx) = performance {
            shutdown.track(
                Stage::Heartbeat,
                performance::spawn(
                    PerformanceSources {
                        identity: identity.clone(),
                        sink: sink.clone(),
                        default_agent: cfg.session.agent_id.clone(),
                        sample_interval: Duration::from_millis(cfg.analytics.sample_interval_ms),
                        clock: performance::Clock::System,
                    },
                    rx,
                    shutdown.token(Stage::Heartbeat),
                ),
            );
        }

        let node_stats = Arc::new(NodeStats::default());
        let (node, _) = NodeHandle::start(NodeArgs {
            identity: Arc::new(identity.clone()),
            sink: sink.clone(),
            provider: engines.provider,
            max_sessions: cfg.node.max_sessions,
            stats: node_stats.clone(),
        })
        .await
        .map_err(|e| AppError::Node(e.to_string()))?;

        shutdown.track(
            Stage::Heartbeat,
            heartbeat::spawn(
                HeartbeatSources {
                    identity: identity.clone(),
                    sink: sink.clone(),
                    node: node_stats.clone(),
                    max_sessions: cfg.dispatch_max_sessions(),
                    mirrors: health_mirrors.clone(),
                },
                Duration::from_millis(cfg.heartbeat.interval_ms),
                shutdown.token(Stage::Heartbeat),
            ),
        );

        shutdown.track(
            Stage::Heartbeat,
            crate::ops::memory_trim::spawn(
                node_stats.clone(),
                Duration::from_millis(cfg.node.memory_trim_interval_ms),
                shutdown.token(Stage::Heartbeat),
            ),
        );

        let ctx = NodeContext::new(cfg.clone(), node, sink, identity, metrics, engines.scripts);
        let dispatch = Dispatcher::new(ctx.clone(), nats_client);
        match dispatch.spawn_taker(shutdown.token(Stage::Intake)).await {
            Ok(Some(task)) => shutdown.track(Stage::Intake, task),
            Ok(None) => {}
            // The node still serves its own webhooks and sessions.
            Err(e) => tracing::error!(error = %e, "not taking tracks from the cluster"),
        }
        if cfg.dispatch.livekit_worker {
            let worker = AgentWorker::new(ctx.clone());
            shutdown.spawn(Stage::Intake, worker.run(shutdown.token(Stage::Intake)));
        }

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
            sink: ctx.sink.clone(),
            node: node_stats,
            mirrors: scrape_mirrors,
            inference: engines.inference,
        });
        ctx.metrics.set_sources(sources.clone());
        let router = http::router(ctx.clone(), sources)
            .merge(webhook::route::routes(ctx.clone(), dispatch))
            .merge(transports::ws::routes(ctx.clone()));
        let stop = shutdown.token(Stage::Http);
        shutdown.spawn(Stage::Http, async move {
            let server = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(stop.cancelled_owned());
            if let Err(e) = server.await {
                tracing::error!(error = %e, "HTTP server failed");
            }
        });

        let id = &ctx.identity;
        ctx.sink.emit(emit::lifecycle(
            id,
            &id.service_name,
            LifecycleChange::Started,
            "process_start",
            "",
        ));
        tracing::info!(
            instance_id = %id.instance_id,
            http = %local_addr,
            nats = if cfg.nats.enabled { cfg.nats.url.as_str() } else { "disabled" },
            pulsar = if cfg.pulsar.enabled { cfg.pulsar.url.as_str() } else { "disabled" },
            engines = %cfg.engines.profile,
            "arc-agent node started"
        );
        Ok(Started {
            ctx,
            local_addr,
            nats,
            pulsar,
            brokers: health_mirrors,
        })
    }

    /// The address the HTTP server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether every enabled broker mirror is connected (true with none).
    pub fn brokers_connected(&self) -> bool {
        self.brokers.iter().all(|(_, stats)| stats.is_connected())
    }

    /// Drain sessions, flush the mirrors and the spool, stop. The order:
    /// 1. refuse new work and leave the cluster (new tracks go to other nodes);
    /// 2. drain the sessions (each ends with `node_shutdown`);
    /// 3. stop the heartbeat, emit the node's `stopped` lifecycle event;
    /// 4. end the fan-out, then let each mirror publish what it holds (Pulsar
    ///    flushes its spool; what cannot be sent stays spooled for the next start);
    /// 5. stop the metrics observer and, last, the HTTP server.
    pub async fn shutdown(self, reason: &str) {
        let App {
            ctx,
            shutdown,
            nats,
            pulsar,
            ..
        } = self;
        tracing::info!(%reason, sessions = ctx.node.active_sessions(), "shutting down: draining sessions");
        ctx.start_draining();
        if !shutdown.stop(Stage::Intake, Duration::from_secs(2)).await {
            tracing::warn!("dispatch did not stop within 2 s");
        }
        let drain = Duration::from_millis(ctx.cfg.node.drain_timeout_ms);
        let left = ctx.node.drain(EndReason::NodeShutdown, drain).await;
        if left > 0 {
            tracing::warn!(
                sessions = left,
                "sessions did not end within node.drain_timeout_ms"
            );
        }
        shutdown.stop(Stage::Heartbeat, STAGE_TIMEOUT).await;
        ctx.sink.emit(emit::lifecycle(
            &ctx.identity,
            &ctx.identity.service_name,
            LifecycleChange::Stopped,
            reason,
            "",
        ));
        ctx.node.stop();
        shutdown.stop(Stage::Events, STAGE_TIMEOUT).await;
        if let Some(n) = nats {
            n.shutdown(Duration::from_secs(5)).await;
        }
        if let Some(p) = pulsar {
            p.shutdown(drain.max(Duration::from_secs(1))).await;
        }
        shutdown.join(Stage::Observers, STAGE_TIMEOUT).await;
        shutdown.stop(Stage::Http, STAGE_TIMEOUT).await;
        tracing::info!("arc-agent node stopped");
    }
}
