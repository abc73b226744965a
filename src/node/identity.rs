//! Who this node says it is in every event (`service_name`, `instance_id`, ...).

use crate::config::Config;
use arc_actors::emit::ServiceIdentity;

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The identity this node reports, from config (or host and pid).
pub(crate) fn identity(cfg: &Config) -> ServiceIdentity {
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
