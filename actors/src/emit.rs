//! Builders for the node's own events: who is emitting ([`ServiceIdentity`],
//! the seeds' `service` blocks), its lifecycle (agent-lifecycle-v1) and the
//! errors a user would feel (`system.service.error`). The events of one
//! conversation are built in [`crate::session::emit`].

use crate::events::{nats, new_message_id, pulsar, Event};
use chrono::Utc;

/// Who is emitting: the node process (the seeds' `service` blocks).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceIdentity {
    /// `service.name` / `service` (e.g. "arc-agent").
    pub service_name: String,
    pub instance_id: String,
    pub version: String,
    /// Host or Kubernetes node name.
    pub node: String,
    pub cpu_limit: String,
    pub memory_limit: String,
}

impl ServiceIdentity {
    /// An identity for tests and tools.
    pub fn local(service_name: &str) -> Self {
        Self {
            service_name: service_name.to_string(),
            instance_id: crate::ids::prefixed(service_name),
            version: env!("CARGO_PKG_VERSION").to_string(),
            node: "localhost".into(),
            cpu_limit: String::new(),
            memory_limit: String::new(),
        }
    }
}

/// A change of a service's state (agent-lifecycle-v1 `event_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleChange {
    Started,
    Stopped,
    Crashed,
    Degraded,
    Recovered,
}

impl LifecycleChange {
    fn parts(self) -> (&'static str, &'static str, &'static str, &'static str) {
        // (event_type, details.type, previous_state, current_state)
        match self {
            LifecycleChange::Started => ("service_started", "started", "stopped", "running"),
            LifecycleChange::Stopped => ("service_stopped", "stopped", "running", "stopped"),
            LifecycleChange::Crashed => ("service_crashed", "crashed", "running", "crashed"),
            LifecycleChange::Degraded => {
                ("service_health_degraded", "degraded", "running", "degraded")
            }
            LifecycleChange::Recovered => ("service_recovered", "recovered", "crashed", "running"),
        }
    }
}

/// An `events/agent-lifecycle` event for `service` (the node, or one of its
/// actors as "arc-agent/brain").
pub fn lifecycle(
    id: &ServiceIdentity,
    service: &str,
    change: LifecycleChange,
    reason: &str,
    trace_id: &str,
) -> Event {
    lifecycle_with_health(id, service, change, reason, trace_id, 0, true)
}

/// Like [`lifecycle`], with the task count and dependency health filled in.
pub fn lifecycle_with_health(
    id: &ServiceIdentity,
    service: &str,
    change: LifecycleChange,
    reason: &str,
    trace_id: &str,
    tasks: u64,
    dependencies_healthy: bool,
) -> Event {
    let (event_type, kind, prev, cur) = change.parts();
    Event::AgentLifecycle(pulsar::AgentLifecycle {
        schema: pulsar::AgentLifecycle::SCHEMA.into(),
        message_id: new_message_id(),
        timestamp: Utc::now(),
        trace_id: trace_id.into(),
        event_type: event_type.into(),
        service: pulsar::ServiceInfo {
            name: service.into(),
            instance_id: id.instance_id.clone(),
            version: id.version.clone(),
            node: id.node.clone(),
        },
        event_details: pulsar::LifecycleDetails {
            kind: kind.into(),
            reason: reason.into(),
            previous_state: prev.into(),
            current_state: cur.into(),
        },
        health: pulsar::LifecycleHealth {
            cpu_limit: id.cpu_limit.clone(),
            memory_limit: id.memory_limit.clone(),
            initial_goroutines: tasks,
            dependencies_healthy,
        },
    })
}

/// A `system.service.error` event: an error a user would feel.
pub fn service_error(
    id: &ServiceIdentity,
    error_type: &str,
    message: &str,
    severity: &str,
    action_required: &str,
    trace_id: &str,
) -> Event {
    Event::ServiceError(nats::ServiceError {
        service: id.service_name.clone(),
        timestamp: Utc::now(),
        trace_id: trace_id.into(),
        error_type: error_type.into(),
        error_message: message.into(),
        severity: severity.into(),
        action_required: action_required.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_pairs() {
        let id = ServiceIdentity::local("arc-agent");
        let e = lifecycle(
            &id,
            "arc-agent/brain",
            LifecycleChange::Crashed,
            "boom",
            "t",
        );
        match e {
            Event::AgentLifecycle(l) => {
                assert_eq!(l.event_type, "service_crashed");
                assert_eq!(l.service.name, "arc-agent/brain");
                assert_eq!(l.event_details.current_state, "crashed");
            }
            _ => panic!("wrong event"),
        }
    }
}
