//! compliance-audit-v1: who touched whose data in a session, and why.

use super::super::config::SessionConfig;
use crate::emit::ServiceIdentity;
use crate::events::{new_message_id, pulsar, Event};
use chrono::Utc;

/// What a piece of user data access was.
#[derive(Debug, Clone, PartialEq)]
pub struct DataAccess<'a> {
    /// compliance-audit-v1 `event_type`, e.g. "user_data_accessed".
    pub event_type: &'a str,
    /// "read" or "write".
    pub operation: &'a str,
    pub resource: &'a str,
    pub reason: &'a str,
    pub tables: &'a [&'a str],
    pub row_count: u64,
    pub columns: &'a [&'a str],
    pub pii_fields: &'a [&'a str],
}

/// An `audit/compliance-events` record: who touched whose data, and why.
pub fn audit(
    id: &ServiceIdentity,
    cfg: &SessionConfig,
    access: &DataAccess<'_>,
    trace_id: &str,
) -> Event {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Event::ComplianceAudit(pulsar::ComplianceAudit {
        schema: pulsar::ComplianceAudit::SCHEMA.into(),
        message_id: new_message_id(),
        timestamp: Utc::now(),
        event_type: access.event_type.into(),
        actor: pulsar::AuditActor {
            kind: "service".into(),
            service_name: id.service_name.clone(),
            instance_id: id.instance_id.clone(),
            authenticated_as: format!("{}-service-account", id.service_name),
        },
        action: pulsar::AuditAction {
            kind: if access.operation == "read" {
                "data_access".into()
            } else {
                "data_write".into()
            },
            operation: access.operation.into(),
            resource: access.resource.into(),
            resource_id: cfg.user_id.clone(),
            reason: access.reason.into(),
        },
        data_accessed: Some(pulsar::DataAccessed {
            tables: strings(access.tables),
            row_count: access.row_count,
            columns: strings(access.columns),
            pii_fields: strings(access.pii_fields),
        }),
        compliance: pulsar::ComplianceInfo {
            legal_basis: cfg.audit.legal_basis.clone(),
            data_retention_policy: cfg.audit.data_retention_policy.clone(),
            encryption: cfg.audit.encryption.clone(),
            anonymization: cfg.audit.anonymization,
        },
        context: pulsar::AuditContext {
            trace_id: trace_id.into(),
            user_consent_id: cfg.audit.user_consent_id.clone(),
            session_id: cfg.session_id.clone(),
        },
    })
}
