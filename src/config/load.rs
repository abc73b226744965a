//! Loading: the embedded default, the file over it, the environment over
//! both (see [`super::env`]); then serde reads the table (refusing a wrong
//! type or word and naming its key) and [`Config::validate`] checks the rest.

use super::env::{apply_env, ecosystem_first};
use super::error::{invalid, ConfigError};
use super::{Config, DEFAULT_TOML};
use std::path::Path;

impl Config {
    /// Load the default, then `file` (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with(file, std::env::vars())
    }

    /// Like [`Config::load`] with explicit environment variables (for tests).
    pub fn load_with(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = parse_toml(DEFAULT_TOML, "config/default.toml (embedded)")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let over = parse_toml(&text, &path.display().to_string())?;
            merge(&mut table, over, "")?;
        }
        apply_env(&mut table, ecosystem_first(env))?;
        let cfg = from_table(table)?;
        cfg.validate()?;
        Ok(cfg)
    }
}

/// The typed config; a refusal names the key (`a.b`, `a.list[0].c`) serde was at.
fn from_table(table: toml::Table) -> Result<Config, ConfigError> {
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        invalid(&key, e.into_inner().to_string().trim_end())
    })
}

fn parse_toml(text: &str, origin: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            path: origin.to_string(),
            message: e.to_string(),
        })
}

/// Merge `over` into `base`, refusing keys the default does not have.
fn merge(base: &mut toml::Table, over: toml::Table, prefix: &str) -> Result<(), ConfigError> {
    for (k, v) in over {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o, &key)?,
            (Some(toml::Value::Table(_)), _) => {
                return Err(invalid(&key, "is a section, not a value"))
            }
            (Some(slot), v) => {
                if std::mem::discriminant(slot) != std::mem::discriminant(&v)
                    && !matches!(
                        (&*slot, &v),
                        (toml::Value::Float(_), toml::Value::Integer(_))
                    )
                {
                    return Err(invalid(
                        &key,
                        format!("expected {}, got {}", slot.type_str(), v.type_str()),
                    ));
                }
                *slot = match (&*slot, v) {
                    (toml::Value::Float(_), toml::Value::Integer(i)) => {
                        toml::Value::Float(i as f64)
                    }
                    (_, v) => v,
                };
            }
            (None, _) => return Err(invalid(&key, "unknown setting (see config/default.toml)")),
        }
    }
    Ok(())
}
