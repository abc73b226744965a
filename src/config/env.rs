//! The environment layer: `ARC__SECTION__KEY=value` over the file, typed like
//! the default's value at `section.key`, and the ecosystem's own variables
//! (LiveKit's `LIVEKIT_*`, `DATABASE_URL`, `REDIS_URL`) under them.

use super::error::{invalid, ConfigError};

/// Prefix of environment overrides.
pub const ENV_PREFIX: &str = "ARC__";

/// The ecosystem's own environment variables and the keys they set: LiveKit's
/// (as its SDKs and CLI read them) and the database URLs every PostgreSQL and
/// Redis tool reads.
pub const ECOSYSTEM_ENV: [(&str, &str); 5] = [
    ("LIVEKIT_URL", "ARC__LIVEKIT__URL"),
    ("LIVEKIT_API_KEY", "ARC__LIVEKIT__API_KEY"),
    ("LIVEKIT_API_SECRET", "ARC__LIVEKIT__API_SECRET"),
    ("DATABASE_URL", "ARC__CONSUMERS__POSTGRES_URL"),
    ("REDIS_URL", "ARC__CONSUMERS__REDIS_URL"),
];

/// The variables in the order they apply: the ecosystem's first (renamed to
/// their `ARC__*` key), so that they win over the file and `ARC__*` wins over them.
pub(super) fn ecosystem_first(
    env: impl IntoIterator<Item = (String, String)>,
) -> impl Iterator<Item = (String, String)> {
    let (ecosystem, arc): (Vec<_>, Vec<_>) = env
        .into_iter()
        .partition(|(k, _)| ECOSYSTEM_ENV.iter().any(|(name, _)| name == k));
    let ecosystem = ecosystem.into_iter().filter_map(|(k, v)| {
        ECOSYSTEM_ENV
            .iter()
            .find(|(name, _)| *name == k)
            .map(|(_, key)| (key.to_string(), v))
    });
    ecosystem.chain(arc)
}

/// Apply `ARC__A__B=value` overrides, typed like the default's value at a.b.
pub(super) fn apply_env(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (name, raw) in vars {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let parts: Vec<String> = path.split("__").map(|p| p.to_ascii_lowercase()).collect();
        let key = parts.join(".");
        let mut cur = &mut *table;
        for p in &parts[..parts.len() - 1] {
            cur = match cur.get_mut(p) {
                Some(toml::Value::Table(t)) => t,
                _ => {
                    return Err(invalid(
                        &key,
                        format!("unknown setting (from environment variable {name})"),
                    ))
                }
            };
        }
        let leaf = &parts[parts.len() - 1];
        let slot = cur.get_mut(leaf).ok_or_else(|| {
            invalid(
                &key,
                format!("unknown setting (from environment variable {name})"),
            )
        })?;
        let bad = |what: &str| {
            invalid(
                &key,
                format!("environment variable {name}={raw:?} is not {what}"),
            )
        };
        *slot = match slot {
            toml::Value::String(_) => toml::Value::String(raw.clone()),
            toml::Value::Integer(_) => {
                toml::Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?)
            }
            toml::Value::Float(_) => {
                toml::Value::Float(raw.trim().parse().map_err(|_| bad("a number"))?)
            }
            toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => return Err(bad("a boolean")),
            }),
            toml::Value::Table(_) => return Err(invalid(&key, "is a section, not a value")),
            other => {
                return Err(invalid(
                    &key,
                    format!("cannot be set from the environment ({})", other.type_str()),
                ))
            }
        };
    }
    Ok(())
}

/// The secret in the environment variable a setting names (`*_env` keys):
/// None when the name is empty, the variable unset, or its value blank.
/// Secrets live only in the environment, never in the file.
pub fn secret_from_env(name: &str) -> Option<String> {
    (!name.is_empty())
        .then(|| std::env::var(name).ok())
        .flatten()
        .filter(|v| !v.trim().is_empty())
}
