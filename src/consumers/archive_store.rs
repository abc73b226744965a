//! Where the archive's Parquet parts live: a local folder
//! (`consumers.archive_dir`: each part written aside, fsynced, renamed, the
//! folder fsynced) or an S3-compatible object store through `object_store`
//! (`consumers.archive_url = "s3://bucket/prefix"`, where one PUT is the
//! whole object or nothing). Either way a part is whole or absent, and its
//! key is `v1/date=YYYY-MM-DD/hour=HH/part-*.parquet` under the root.

use super::error::{ConsumeError, WriteError};
use crate::config::ConsumersSection;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The archive's storage.
pub(crate) enum ArchiveStore {
    Local {
        root: PathBuf,
    },
    Object {
        store: Arc<dyn ObjectStore>,
        /// The prefix inside the bucket (may be empty).
        prefix: String,
        /// `s3://bucket/prefix`, for messages.
        url: String,
    },
}

impl ArchiveStore {
    /// `archive_url` when set (credentials, region and endpoint from the
    /// standard `AWS_*` environment variables), else `archive_dir`.
    pub(crate) fn open(c: &ConsumersSection) -> Result<ArchiveStore, ConsumeError> {
        if c.archive_url.is_empty() {
            let root = c.archive_dir.clone();
            std::fs::create_dir_all(&root).map_err(|source| ConsumeError::Archive {
                path: root.clone(),
                source,
            })?;
            return Ok(ArchiveStore::Local { root });
        }
        let url = c.archive_url.trim_end_matches('/').to_string();
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| ConsumeError::ArchiveUrl {
                url: url.clone(),
                reason: "only s3:// (S3 or an S3-compatible store) is supported".into(),
            })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| ConsumeError::ArchiveUrl {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        Ok(ArchiveStore::Object {
            store: Arc::new(store),
            prefix: prefix.to_string(),
            url,
        })
    }

    /// The finished parts under `dir` (relative to the root, e.g.
    /// `v1/date=…/hour=…`), sorted; none when it does not exist.
    pub(crate) async fn parts(&self, dir: &str) -> Result<Vec<String>, WriteError> {
        let is_part = |name: &str| name.starts_with("part-") && name.ends_with(".parquet");
        let mut out = Vec::new();
        match self {
            ArchiveStore::Local { root } => {
                let path = root.join(dir);
                let entries = match std::fs::read_dir(&path) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                    Err(e) => return Err(local_err("cannot list", &path, e)),
                };
                for e in entries {
                    let e = e.map_err(|e| local_err("cannot list", &path, e))?;
                    let name = e.file_name().to_string_lossy().into_owned();
                    if is_part(&name) {
                        out.push(format!("{dir}/{name}"));
                    }
                }
            }
            ArchiveStore::Object { store, .. } => {
                let at = self.key(dir);
                let listed: Vec<_> = store
                    .list(Some(&at))
                    .try_collect()
                    .await
                    .map_err(|e| self.object_err("cannot list", dir, e))?;
                for meta in listed {
                    let name = meta.location.filename().unwrap_or("").to_string();
                    if is_part(&name) {
                        out.push(format!("{dir}/{name}"));
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The bytes of a part (`parts`' names).
    pub(crate) async fn get(&self, part: &str) -> Result<Bytes, WriteError> {
        match self {
            ArchiveStore::Local { root } => {
                let path = root.join(part);
                std::fs::read(&path)
                    .map(Bytes::from)
                    .map_err(|e| local_err("cannot read", &path, e))
            }
            ArchiveStore::Object { store, .. } => {
                let got = store
                    .get(&self.key(part))
                    .await
                    .map_err(|e| self.object_err("cannot get", part, e))?;
                got.bytes()
                    .await
                    .map_err(|e| self.object_err("cannot read", part, e))
            }
        }
    }

    /// Stores a part whole or not at all.
    pub(crate) async fn put(&self, part: &str, bytes: Vec<u8>) -> Result<(), WriteError> {
        match self {
            ArchiveStore::Local { root } => {
                let path = root.join(part);
                let dir = path.parent().unwrap_or(root).to_path_buf();
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                tokio::task::spawn_blocking(move || write_local(&dir, &name, &bytes))
                    .await
                    .map_err(|e| WriteError::Archive(format!("archive write task failed: {e}")))?
            }
            ArchiveStore::Object { store, .. } => store
                .put(&self.key(part), PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(|e| self.object_err("cannot put", part, e)),
        }
    }

    fn key(&self, rel: &str) -> ObjectPath {
        match self {
            ArchiveStore::Object { prefix, .. } if !prefix.is_empty() => {
                ObjectPath::from(format!("{prefix}/{rel}"))
            }
            _ => ObjectPath::from(rel),
        }
    }

    fn object_err(&self, what: &str, rel: &str, e: object_store::Error) -> WriteError {
        let url = match self {
            ArchiveStore::Object { url, .. } => url.as_str(),
            ArchiveStore::Local { .. } => "",
        };
        WriteError::Archive(format!("{what} {url}/{rel}: {e}"))
    }

    /// Where the archive is, for logs.
    pub(crate) fn describe(&self) -> String {
        match self {
            ArchiveStore::Local { root } => root.display().to_string(),
            ArchiveStore::Object { url, .. } => url.clone(),
        }
    }
}

fn local_err(what: &str, path: &Path, e: impl std::fmt::Display) -> WriteError {
    WriteError::Archive(format!("{what} {}: {e}", path.display()))
}

/// `dir/.name.tmp`, synced, renamed to `dir/name`, the folder synced.
fn write_local(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), WriteError> {
    use std::io::Write;
    std::fs::create_dir_all(dir).map_err(|e| local_err("cannot create", dir, e))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let done = dir.join(name);
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(|e| local_err("cannot write", &tmp, e))
        .and_then(|()| {
            std::fs::rename(&tmp, &done).map_err(|e| local_err("cannot rename", &tmp, e))?;
            // The rename itself must survive a crash.
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| local_err("cannot sync", dir, e))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
