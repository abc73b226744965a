//! `consume archive`: every event of every topic into hourly Parquet files,
//! `v1/date=YYYY-MM-DD/hour=HH/part-*.parquet` under `archive_dir` or
//! `archive_url` (an S3-compatible store; see `archive_store`) — the event's
//! own time picks the hour, so a replayed event lands where it did before.
//!
//! Schema `arc-archive-v1` (the version is in the folder and in the file's
//! key-value metadata): message_id, topic, schema, key, event_time,
//! publish_time (ms timestamps), and the event's JSON as it was published.
//!
//! One part per flush and hour, written whole or not at all, and
//! acknowledged only after. Idempotent: the message ids of an hour already
//! stored (read back from its parts) are skipped, so a redelivery or a
//! replay writes nothing twice.

use super::archive_store::ArchiveStore;
use super::error::{ConsumeError, WriteError};
use super::metrics::ConsumerMetrics;
use super::record::Record;
use super::subscription::Writer;
use crate::config::ConsumersSection;
use arc_actors::events::PulsarTopic;
use bytes::Bytes;
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
    store: ArchiveStore,
    /// Message ids stored, per hour folder.
    seen: HashMap<String, HashSet<String>>,
    metrics: Arc<ConsumerMetrics>,
}

impl ArchiveWriter {
    pub(crate) fn start(
        c: &ConsumersSection,
        metrics: Arc<ConsumerMetrics>,
    ) -> Result<ArchiveWriter, ConsumeError> {
        let store = ArchiveStore::open(c)?;
        tracing::info!(archive = %store.describe(), "archiving to");
        Ok(ArchiveWriter {
            store,
            seen: HashMap::new(),
            metrics,
        })
    }

    /// The message ids of the parts already in `hour_dir`.
    async fn seen_in(&mut self, hour_dir: &str) -> Result<&mut HashSet<String>, WriteError> {
        if !self.seen.contains_key(hour_dir) {
            if self.seen.len() >= HOURS_KEPT {
                if let Some(oldest) = self.seen.keys().min().cloned() {
                    self.seen.remove(&oldest);
                }
            }
            let mut ids = HashSet::new();
            for part in self.store.parts(hour_dir).await? {
                let bytes = self.store.get(&part).await?;
                ids.extend(read_part(bytes, &part)?.into_iter().map(|r| r.message_id));
            }
            self.seen.insert(hour_dir.to_string(), ids);
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
        let mut by_hour: BTreeMap<String, Vec<Row>> = BTreeMap::new();
        for r in batch {
            let Some(id) = r.event.message_id() else {
                continue;
            };
            by_hour
                .entry(hour_dir(r.event_time_ms))
                .or_default()
                .push(Row {
                    message_id: id,
                    record: r,
                });
        }
        for (dir, rows) in by_hour {
            let seen = self.seen_in(&dir).await?;
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
            let (name, bytes) = encode_part(&fresh)?;
            self.store.put(&format!("{dir}/{name}"), bytes).await?;
            let seen = self.seen_in(&dir).await?;
            seen.extend(fresh.iter().map(|r| r.message_id.to_string()));
        }
        self.metrics
            .write_took("parquet", t0.elapsed().as_secs_f64());
        Ok(())
    }
}

/// `v1/date=YYYY-MM-DD/hour=HH` of a time in ms.
fn hour_dir(ms: u64) -> String {
    let t = Utc
        .timestamp_millis_opt(ms as i64)
        .single()
        .unwrap_or_default();
    format!(
        "{SCHEMA_FOLDER}/date={}/hour={}",
        t.format("%Y-%m-%d"),
        t.format("%H")
    )
}

fn archive_err(what: &str, part: &str, e: impl std::fmt::Display) -> WriteError {
    WriteError::Archive(format!("{what} {part}: {e}"))
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

/// Reads a part back (`part` names it in errors).
pub(crate) fn read_part(bytes: Bytes, path: &str) -> Result<Vec<ArchivedRow>, WriteError> {
    let reader =
        SerializedFileReader::new(bytes).map_err(|e| archive_err("not a Parquet file", path, e))?;
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

/// A part of `rows`: its name (from its content: the same rows give the
/// same name) and its Parquet bytes.
fn encode_part(rows: &[Row]) -> Result<(String, Vec<u8>), WriteError> {
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
    let bytes = encode_rows(&name, rows)?;
    Ok((name, bytes))
}

fn encode_rows(path: &str, rows: &[Row]) -> Result<Vec<u8>, WriteError> {
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
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props).map_err(err)?;
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
    writer.into_inner().map_err(err)
}
