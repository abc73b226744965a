//! `consume archive`: every event of every topic into hourly Parquet files,
//! `<archive_dir>/v1/date=YYYY-MM-DD/hour=HH/part-*.parquet` (the event's own
//! time picks the hour, so a replayed event lands where it did before).
//!
//! Schema `arc-archive-v1` (the version is in the folder and in the file's
//! key-value metadata): message_id, topic, schema, key, event_time,
//! publish_time (ms timestamps), and the event's JSON as it was published.
//!
//! One part per flush and hour, written whole or not at all (to a hidden
//! name, synced, then renamed), and acknowledged only after. Idempotent: the
//! message ids of an hour already on disk (read back from its parts) are
//! skipped, so a redelivery or a replay writes nothing twice.

use super::error::{ConsumeError, WriteError};
use super::metrics::ConsumerMetrics;
use super::record::Record;
use super::subscription::Writer;
use arc_actors::events::PulsarTopic;
use chrono::{TimeZone, Utc};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::RowAccessor;
use parquet::schema::parser::parse_message_type;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The archive's schema version: its folder and its metadata value.
pub(crate) const ARCHIVE_SCHEMA: &str = "arc-archive-v1";
const SCHEMA_FOLDER: &str = "v1";
const MESSAGE_TYPE: &str = "message arc_archive_v1 {
    REQUIRED BYTE_ARRAY message_id (UTF8);
    REQUIRED BYTE_ARRAY topic (UTF8);
    REQUIRED BYTE_ARRAY schema (UTF8);
    OPTIONAL BYTE_ARRAY key (UTF8);
    REQUIRED INT64 event_time (TIMESTAMP(MILLIS,true));
    REQUIRED INT64 publish_time (TIMESTAMP(MILLIS,true));
    REQUIRED BYTE_ARRAY payload (UTF8);
}";
/// Hours whose message ids are kept in memory (older ones are read again if
/// an event for them comes).
const HOURS_KEPT: usize = 48;

pub(crate) struct ArchiveWriter {
    root: PathBuf,
    /// Message ids on disk, per hour folder.
    seen: HashMap<PathBuf, HashSet<String>>,
    metrics: Arc<ConsumerMetrics>,
}

impl ArchiveWriter {
    pub(crate) fn start(
        dir: &Path,
        metrics: Arc<ConsumerMetrics>,
    ) -> Result<ArchiveWriter, ConsumeError> {
        let root = dir.join(SCHEMA_FOLDER);
        std::fs::create_dir_all(&root).map_err(|source| ConsumeError::Archive {
            path: root.clone(),
            source,
        })?;
        Ok(ArchiveWriter {
            root,
            seen: HashMap::new(),
            metrics,
        })
    }

    /// The message ids of the parts already in `hour_dir`.
    fn seen_in(&mut self, hour_dir: &Path) -> Result<&mut HashSet<String>, WriteError> {
        if !self.seen.contains_key(hour_dir) {
            if self.seen.len() >= HOURS_KEPT {
                if let Some(oldest) = self.seen.keys().min().cloned() {
                    self.seen.remove(&oldest);
                }
            }
            let ids = read_ids(hour_dir)?;
            self.seen.insert(hour_dir.to_path_buf(), ids);
        }
        self.seen
            .get_mut(hour_dir)
            .ok_or_else(|| WriteError::Archive("hour index vanished".into()))
    }
}

/// One archived row.
struct Row<'a> {
    message_id: &'a str,
    record: &'a Record,
}

impl Writer for ArchiveWriter {
    fn topics(&self) -> &'static [PulsarTopic] {
        &PulsarTopic::ALL
    }

    async fn write(&mut self, batch: &[Record]) -> Result<(), WriteError> {
        let t0 = Instant::now();
        let mut by_hour: BTreeMap<PathBuf, Vec<Row>> = BTreeMap::new();
        for r in batch {
            let Some(id) = r.event.message_id() else {
                continue;
            };
            by_hour
                .entry(hour_dir(&self.root, r.event_time_ms))
                .or_default()
                .push(Row {
                    message_id: id,
                    record: r,
                });
        }
        for (dir, rows) in by_hour {
            let seen = self.seen_in(&dir)?;
            let mut fresh = Vec::new();
            let mut in_part = HashSet::new();
            for row in rows {
                if !seen.contains(row.message_id) && in_part.insert(row.message_id) {
                    fresh.push(row);
                }
            }
            if fresh.is_empty() {
                continue;
            }
            write_part(&dir, &fresh)?;
            let seen = self.seen_in(&dir)?;
            seen.extend(fresh.iter().map(|r| r.message_id.to_string()));
        }
        self.metrics
            .write_took("parquet", t0.elapsed().as_secs_f64());
        Ok(())
    }
}

/// `<root>/date=YYYY-MM-DD/hour=HH` of a time in ms.
fn hour_dir(root: &Path, ms: u64) -> PathBuf {
    let t = Utc
        .timestamp_millis_opt(ms as i64)
        .single()
        .unwrap_or_default();
    root.join(format!("date={}", t.format("%Y-%m-%d")))
        .join(format!("hour={}", t.format("%H")))
}

fn archive_err(what: &str, path: &Path, e: impl std::fmt::Display) -> WriteError {
    WriteError::Archive(format!("{what} {}: {e}", path.display()))
}

/// Every `message_id` in the parts of `dir`.
fn read_ids(dir: &Path) -> Result<HashSet<String>, WriteError> {
    let mut ids = HashSet::new();
    for part in parts(dir)? {
        for row in read_part(&part)? {
            ids.insert(row.message_id);
        }
    }
    Ok(ids)
}

/// The finished parts of one hour folder (none when it does not exist).
pub(crate) fn parts(dir: &Path) -> Result<Vec<PathBuf>, WriteError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(archive_err("cannot list", dir, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let path = e.map_err(|e| archive_err("cannot list", dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("part-") && name.ends_with(".parquet") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// One row of a part, as read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArchivedRow {
    pub(crate) message_id: String,
    pub(crate) topic: String,
    pub(crate) schema: String,
    pub(crate) key: Option<String>,
    pub(crate) event_time_ms: i64,
    pub(crate) publish_time_ms: i64,
    pub(crate) payload: String,
}

/// Reads a part back (the archive's own check, and the replay's reader).
pub(crate) fn read_part(path: &Path) -> Result<Vec<ArchivedRow>, WriteError> {
    let file = std::fs::File::open(path).map_err(|e| archive_err("cannot open", path, e))?;
    let reader =
        SerializedFileReader::new(file).map_err(|e| archive_err("not a Parquet file", path, e))?;
    let rows = reader
        .get_row_iter(None)
        .map_err(|e| archive_err("cannot read", path, e))?;
    let mut out = Vec::new();
    for row in rows {
        let row = row.map_err(|e| archive_err("cannot read", path, e))?;
        let text = |i: usize| row.get_string(i).map(|s| s.to_string());
        let bad = |e| archive_err("unexpected column in", path, e);
        out.push(ArchivedRow {
            message_id: text(0).map_err(bad)?,
            topic: text(1).map_err(bad)?,
            schema: text(2).map_err(bad)?,
            key: text(3).ok(),
            event_time_ms: row.get_timestamp_millis(4).map_err(bad)?,
            publish_time_ms: row.get_timestamp_millis(5).map_err(bad)?,
            payload: text(6).map_err(bad)?,
        });
    }
    Ok(out)
}

/// Writes `rows` as a new part of `dir`: to `.part-*.tmp`, synced, renamed.
fn write_part(dir: &Path, rows: &[Row]) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|e| archive_err("cannot create", dir, e))?;
    // Named for its content: the same rows give the same name.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for r in rows {
        std::hash::Hash::hash(r.message_id, &mut h);
    }
    let first = rows
        .iter()
        .map(|r| r.record.event_time_ms)
        .min()
        .unwrap_or(0);
    let name = format!(
        "part-{first:013}-{:016x}.parquet",
        std::hash::Hasher::finish(&h)
    );
    let tmp = dir.join(format!(".{name}.tmp"));
    let done = dir.join(&name);
    let result = write_file(&tmp, rows).and_then(|()| {
        std::fs::rename(&tmp, &done).map_err(|e| archive_err("cannot rename", &tmp, e))?;
        // The rename itself must survive a crash.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| archive_err("cannot sync", dir, e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_file(path: &Path, rows: &[Row]) -> Result<(), WriteError> {
    let err = |e: parquet::errors::ParquetError| archive_err("cannot write", path, e);
    let schema = Arc::new(parse_message_type(MESSAGE_TYPE).map_err(err)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_key_value_metadata(Some(vec![KeyValue::new(
                "arc.archive.schema".to_string(),
                ARCHIVE_SCHEMA.to_string(),
            )]))
            .build(),
    );
    let file = std::fs::File::create(path).map_err(|e| archive_err("cannot create", path, e))?;
    let mut writer = SerializedFileWriter::new(file, schema, props).map_err(err)?;
    let text = |f: &dyn Fn(&Row) -> String| -> Vec<ByteArray> {
        rows.iter()
            .map(|r| ByteArray::from(f(r).into_bytes()))
            .collect()
    };
    let ids = text(&|r| r.message_id.to_string());
    let topics = text(&|r| r.record.topic.name().to_string());
    let schemas = text(&|r| super::record::expected_schema(r.record.topic).to_string());
    let keys: Vec<ByteArray> = rows
        .iter()
        .filter_map(|r| r.record.key.clone())
        .map(|k| ByteArray::from(k.into_bytes()))
        .collect();
    let key_levels: Vec<i16> = rows
        .iter()
        .map(|r| i16::from(r.record.key.is_some()))
        .collect();
    let event_times: Vec<i64> = rows.iter().map(|r| r.record.event_time_ms as i64).collect();
    let publish_times: Vec<i64> = rows
        .iter()
        .map(|r| r.record.publish_time_ms as i64)
        .collect();
    let payloads = text(&|r| String::from_utf8_lossy(&r.record.raw).into_owned());
    let mut rg = writer.next_row_group().map_err(err)?;
    let mut index = 0;
    while let Some(mut col) = rg.next_column().map_err(err)? {
        match index {
            0 => col.typed::<ByteArrayType>().write_batch(&ids, None, None),
            1 => col
                .typed::<ByteArrayType>()
                .write_batch(&topics, None, None),
            2 => col
                .typed::<ByteArrayType>()
                .write_batch(&schemas, None, None),
            3 => col
                .typed::<ByteArrayType>()
                .write_batch(&keys, Some(&key_levels), None),
            4 => col
                .typed::<Int64Type>()
                .write_batch(&event_times, None, None),
            5 => col
                .typed::<Int64Type>()
                .write_batch(&publish_times, None, None),
            _ => col
                .typed::<ByteArrayType>()
                .write_batch(&payloads, None, None),
        }
        .map_err(err)?;
        col.close().map_err(err)?;
        index += 1;
    }
    rg.close().map_err(err)?;
    let mut file = writer.into_inner().map_err(err)?;
    file.flush()
        .and_then(|()| file.sync_all())
        .map_err(|e| archive_err("cannot sync", path, e))
}
