//! The `config` target: a file and environment variables through the loader.

use super::scratch;
use crate::config::Config;

/// The config loader: the input up to its first zero byte is the file; after
/// it, `NAME=value` lines are the environment.
///
/// Promises: a refusal is an error, never a panic; loading the same layers
/// again gives the same config.
pub fn config(data: &[u8]) {
    let (file, env) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let path = scratch("config").join("config.toml");
    std::fs::write(&path, file).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    let env: Vec<(String, String)> = String::from_utf8_lossy(env)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .take(16)
        .collect();
    let Ok(cfg) = Config::load_with(Some(&path), env.clone()).map_err(|e| e.to_string()) else {
        return;
    };
    let again = Config::load_with(Some(&path), env).expect("a config that loaded loads again");
    // Debug, not ==: a NaN setting is not equal to itself.
    assert_eq!(format!("{cfg:?}"), format!("{again:?}"));
}
