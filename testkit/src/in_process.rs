//! [`InProcessNode`]: a NodeSupervisor in the test's own process, its events
//! in an in-memory sink, its engines synthetic unless the test gives others;
//! sessions started on it plain or scripted.

use crate::recording::RecordingOutput;
use crate::scripted::ScriptedCall;
use crate::with_llm::WithLlm;
use arc_actors::emit::ServiceIdentity;
use arc_actors::engine::LlmEngine;
use arc_actors::events::Event;
use arc_actors::node::{EngineProvider, NodeArgs, NodeError, NodeHandle, NodeStats, SessionSpec};
use arc_actors::session::{SessionConfig, SessionHandle};
use arc_actors::sink::{EventSink, EventStream};
use arc_actors::synthetic::{ScriptBook, SyntheticProvider};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A node supervisor of the test's.
pub struct InProcessNode {
    pub node: NodeHandle,
    /// Every event its sessions emitted, in order.
    pub events: EventStream,
    /// The book its synthetic STT reads the callers' lines from (empty and
    /// unread with engines of the test's own).
    pub scripts: ScriptBook,
}

/// How to start an [`InProcessNode`].
pub struct InProcessNodeBuilder {
    synthetic: SyntheticProvider,
    llm: Option<Arc<dyn LlmEngine>>,
    provider: Option<Arc<dyn EngineProvider>>,
    service: String,
    max_sessions: usize,
    sink_capacity: usize,
}

impl InProcessNodeBuilder {
    /// These synthetic engines (e.g. other endpointing rules).
    pub fn synthetic(mut self, provider: SyntheticProvider) -> Self {
        self.synthetic = provider;
        self
    }

    /// The synthetic ears and voice around this brain.
    pub fn llm(mut self, llm: Arc<dyn LlmEngine>) -> Self {
        self.llm = Some(llm);
        self
    }

    /// Engines of the test's own (the real ones, an STT under test).
    pub fn provider(mut self, provider: Arc<dyn EngineProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// The `service.name` of its events (default `arc-agent`).
    pub fn service(mut self, name: &str) -> Self {
        self.service = name.to_string();
        self
    }

    /// Its session limit (default 100).
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.max_sessions = n;
        self
    }

    /// How many events the sink holds before it drops (default 10 000).
    pub fn sink_capacity(mut self, n: usize) -> Self {
        self.sink_capacity = n;
        self
    }

    pub async fn start(self) -> InProcessNode {
        let scripts = self.synthetic.scripts.clone();
        let provider: Arc<dyn EngineProvider> = match (self.provider, self.llm) {
            (Some(p), _) => p,
            (None, Some(llm)) => Arc::new(WithLlm {
                synthetic: self.synthetic,
                llm,
            }),
            (None, None) => Arc::new(self.synthetic),
        };
        let (sink, events) = EventSink::new(self.sink_capacity);
        let (node, _) = NodeHandle::start(NodeArgs {
            identity: Arc::new(ServiceIdentity::local(&self.service)),
            sink,
            provider,
            max_sessions: self.max_sessions,
            stats: Arc::new(NodeStats::default()),
        })
        .await
        .expect("the node supervisor starts");
        InProcessNode {
            node,
            events,
            scripts,
        }
    }
}

impl InProcessNode {
    /// Synthetic engines, 100 sessions, 10 000 events, service `arc-agent`.
    pub fn builder() -> InProcessNodeBuilder {
        InProcessNodeBuilder {
            synthetic: SyntheticProvider::default(),
            llm: None,
            provider: None,
            service: "arc-agent".into(),
            max_sessions: 100,
            sink_capacity: 10_000,
        }
    }

    /// A node with the synthetic engines and the defaults.
    pub async fn synthetic() -> InProcessNode {
        Self::builder().start().await
    }

    /// A session whose output is `output`, with no script.
    pub async fn start_session(
        &self,
        config: SessionConfig,
        output: Arc<dyn arc_actors::session::AudioOutput>,
    ) -> Result<SessionHandle, NodeError> {
        self.node
            .start_session(SessionSpec { config, output })
            .await
    }

    /// A session recorded by a [`RecordingOutput`], with no script.
    pub async fn recorded_session(
        &self,
        config: SessionConfig,
    ) -> Result<(SessionHandle, Arc<RecordingOutput>), NodeError> {
        let out = Arc::new(RecordingOutput::default());
        let session = self.start_session(config, out.clone()).await?;
        Ok((session, out))
    }

    /// A session whose caller says `script`.
    pub async fn scripted(
        &self,
        config: SessionConfig,
        script: Vec<String>,
    ) -> Result<ScriptedCall, NodeError> {
        ScriptedCall::start(&self.node, &self.scripts, config, script).await
    }

    /// Drain its events in a task, as the mirrors would (benches: a full sink
    /// drops events); `events` gets none after this.
    pub fn drain_in_background(&mut self) {
        let (_, none) = EventSink::new(1);
        let mut events = std::mem::replace(&mut self.events, none);
        tokio::spawn(async move { while events.recv().await.is_some() {} });
    }

    /// The events that arrived since the last call.
    pub fn drain(&mut self) -> Vec<Arc<Event>> {
        let mut v = Vec::new();
        while let Some(e) = self.events.try_recv() {
            v.push(e);
        }
        v
    }

    /// The events that arrive until one matches `pred` (or `timeout`).
    pub async fn events_until(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Event) -> bool,
    ) -> Vec<Arc<Event>> {
        let mut events = Vec::new();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            events.extend(self.drain());
            if events.iter().any(|e| pred(e)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        events
    }
}
