//! What moves the metrics between scrapes: the observer of the event stream
//! (the same events the brokers get), and the counts the webhook receiver,
//! the dispatcher and the LiveKit transport report directly.

use super::{labels, Metrics};
use arc_actors::events::Event;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

impl Metrics {
    /// Count one webhook by outcome (one of [`WEBHOOK_OUTCOMES`](super::WEBHOOK_OUTCOMES)).
    pub fn webhook(&self, outcome: &str) {
        self.webhooks
            .get_or_create(&labels(&[("outcome", outcome)]))
            .inc();
    }

    /// Count one dispatch step by outcome (one of [`DISPATCH_OUTCOMES`](super::DISPATCH_OUTCOMES)).
    pub fn dispatch(&self, outcome: &str) {
        self.dispatch
            .get_or_create(&labels(&[("outcome", outcome)]))
            .inc();
    }

    /// A LiveKit join ended: in the room (`joined`) or given up, after `attempts`.
    pub fn livekit_join(&self, joined: bool, attempts: u32) {
        let outcome = if joined { "joined" } else { "failed" };
        self.livekit_joins
            .get_or_create(&labels(&[("outcome", outcome)]))
            .inc();
        self.livekit_connect_attempts.inc_by(u64::from(attempts));
    }

    /// LiveKit started reconnecting a room.
    pub fn livekit_reconnect(&self) {
        self.livekit_reconnects.inc();
    }

    /// Update the metrics from one event.
    pub fn observe(&self, ev: &Event) {
        self.events_by_kind
            .get_or_create(&labels(&[("kind", ev.kind())]))
            .inc();
        match ev {
            Event::Conversation(c) => {
                self.turns.inc();
                let p = &c.performance;
                // Turns that produced audio have a voice-to-voice latency (0 ms is a value).
                if c.agent_response.tts_audio_duration_ms > 0 {
                    self.turn_latency
                        .observe(p.total_latency_ms as f64 / 1000.0);
                    if p.total_latency_ms > self.target_latency_ms.load(Ordering::Relaxed) {
                        self.sla_violations.inc();
                    }
                }
                for (stage, ms) in [
                    ("stt", p.stt_latency_ms),
                    ("llm", p.llm_latency_ms),
                    ("tts_first_chunk", p.tts_latency_ms),
                ] {
                    self.stage_latency
                        .get_or_create(&labels(&[("stage", stage)]))
                        .observe(ms as f64 / 1000.0);
                }
            }
            Event::SessionEnded(s) => {
                self.sessions_ended
                    .get_or_create(&labels(&[("reason", &s.reason)]))
                    .inc();
            }
            Event::SessionMetrics(m) => {
                self.barge_ins.inc_by(m.user_experience.interruptions);
            }
            Event::ToolResult(t) => {
                // A name the model made up must not become a new series.
                let tool = if t.outcome == "unknown_tool" {
                    "unknown"
                } else {
                    &t.tool
                };
                self.tool_calls
                    .get_or_create(&labels(&[("tool", tool), ("outcome", &t.outcome)]))
                    .inc();
            }
            Event::BrainResponse(b) => {
                if let Some(ms) = b.performance.time_to_first_token_ms {
                    self.stage_latency
                        .get_or_create(&labels(&[("stage", "llm_first_token")]))
                        .observe(ms as f64 / 1000.0);
                }
            }
            Event::BrainError(b) => {
                self.fallbacks
                    .get_or_create(&labels(&[("error_type", &b.error_type)]))
                    .inc();
            }
            Event::ServiceError(e) => {
                self.service_errors
                    .get_or_create(&labels(&[("error_type", &e.error_type)]))
                    .inc();
            }
            Event::AgentLifecycle(l) => {
                self.lifecycle
                    .get_or_create(&labels(&[("event_type", &l.event_type)]))
                    .inc();
                if l.event_type == "service_crashed" {
                    if let Some((_, actor)) = l.service.name.rsplit_once('/') {
                        self.actor_restarts
                            .get_or_create(&labels(&[("actor", actor)]))
                            .inc();
                    }
                }
            }
            _ => {}
        }
    }

    /// Feed the metrics from a mirror input of the fan-out.
    pub fn spawn_observer(
        self: &Arc<Self>,
        mut rx: mpsc::Receiver<Arc<Event>>,
    ) -> tokio::task::JoinHandle<()> {
        let m = self.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                m.observe(&ev);
            }
        })
    }
}
