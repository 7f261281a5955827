//! The read side: a pool of read-only connections and the queries they run.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::DateTime;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::SqliteOptions;
use super::schema::{db, open_reader};
use crate::{CurrentVersion, Filter, Position, RecordedEvent, StoreError, StreamName};

/// The columns every event query selects, in the order [`decode_event`] reads them.
const EVENT_COLUMNS: &str =
    "position, stream, version, event_id, event_type, schema_version, data, metadata, recorded_at";

/// Read-only connections, opened on demand and kept for reuse.
pub(super) struct ReaderPool {
    path: PathBuf,
    options: SqliteOptions,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    pub(super) fn new(path: PathBuf, options: &SqliteOptions) -> Self {
        Self { path, options: options.clone(), idle: Mutex::new(Vec::new()) }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        // The vector is consistent whatever a panicking holder was doing.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `read` on a pooled connection (blocking).
    pub(super) fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.idle().pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_reader(&self.path, &self.options)?,
        };
        let result = read(&conn);
        let mut idle = self.idle();
        if idle.len() < self.options.max_idle_readers {
            idle.push(conn);
        }
        result
    }

    /// Closes the idle connections.
    pub(super) fn close_idle(&self) {
        let closing = std::mem::take(&mut *self.idle());
        drop(closing);
    }
}

/// Clamps a `u64` to SQLite's `INTEGER` range for use as a lower or upper bound.
fn bound(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn decode_error(position: Position, message: impl std::fmt::Display) -> StoreError {
    StoreError::Decode { position, message: message.to_string() }
}

/// Decodes one row selected with [`EVENT_COLUMNS`]. `previous` is the stream of the row before,
/// shared (not copied) when this row is in the same stream, as consecutive events often are.
fn decode_event(row: &Row<'_>, previous: Option<&StreamName>) -> Result<RecordedEvent, StoreError> {
    let raw_position: i64 = row.get(0).map_err(db)?;
    let position =
        u64::try_from(raw_position).map_err(|e| decode_error(0, format!("position {raw_position}: {e}")))?;
    let stream = row.get_ref(1).map_err(db)?.as_str().map_err(|e| decode_error(position, e))?;
    let stream = match previous {
        Some(previous) if previous.as_str() == stream => previous.clone(),
        _ => StreamName::new(stream).map_err(|e| decode_error(position, e))?,
    };
    let version: i64 = row.get(2).map_err(db)?;
    let version =
        u64::try_from(version).map_err(|e| decode_error(position, format!("version {version}: {e}")))?;
    let id = row.get_ref(3).map_err(db)?.as_blob().map_err(|e| decode_error(position, e))?;
    let id = Uuid::from_slice(id).map_err(|e| decode_error(position, e))?;
    let event_type: String = row.get(4).map_err(db)?;
    let schema_version: i64 = row.get(5).map_err(db)?;
    let schema_version = u32::try_from(schema_version).map_err(|e| decode_error(position, e))?;
    let data = row.get_ref(6).map_err(db)?.as_bytes().map_err(|e| decode_error(position, e))?.to_vec();
    let metadata = row.get_ref(7).map_err(db)?.as_bytes().map_err(|e| decode_error(position, e))?;
    let metadata = crate::metadata_codec::decode(metadata)
        .map_err(|e| decode_error(position, format!("metadata: {e}")))?;
    let recorded_at = DateTime::from_timestamp_nanos(row.get(8).map_err(db)?);
    Ok(RecordedEvent {
        position,
        stream,
        version,
        id,
        event_type,
        schema_version,
        data,
        metadata,
        recorded_at,
        decoded: Default::default(),
    })
}

fn collect_events(mut rows: rusqlite::Rows<'_>, capacity: usize) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events = Vec::with_capacity(capacity);
    while let Some(row) = rows.next().map_err(db)? {
        let event = decode_event(row, events.last().map(|e: &RecordedEvent| &e.stream))?;
        events.push(event);
    }
    Ok(events)
}

pub(super) fn read_stream(
    conn: &Connection,
    stream: &StreamName,
    from_version: u64,
    max: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream = ?1 AND version >= ?2 ORDER BY version LIMIT ?3"
        ))
        .map_err(db)?;
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    let rows = statement.query(params![stream.as_str(), bound(from_version), limit]).map_err(db)?;
    collect_events(rows, max.min(1024))
}

/// Events at positions in `[from, end)` that match `filter`, in position order.
pub(super) fn read_all(
    conn: &Connection,
    from: Position,
    end: Position,
    filter: &Filter,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE position >= ?1 AND position < ?2");
    let mut values = vec![Value::Integer(bound(from)), Value::Integer(bound(end))];
    for (column, wanted) in [("category", &filter.categories), ("event_type", &filter.event_types)] {
        if wanted.is_empty() {
            continue;
        }
        let first = values.len() + 1;
        let placeholders: Vec<String> = (first..first + wanted.len()).map(|i| format!("?{i}")).collect();
        sql.push_str(&format!(" AND {column} IN ({})", placeholders.join(", ")));
        values.extend(wanted.iter().map(|w| Value::Text(w.clone())));
    }
    sql.push_str(" ORDER BY position");
    let mut statement = conn.prepare_cached(&sql).map_err(db)?;
    let rows = statement.query(rusqlite::params_from_iter(values)).map_err(db)?;
    let span = usize::try_from(end.saturating_sub(from)).unwrap_or(usize::MAX);
    collect_events(rows, if filter.is_all() { span.min(8192) } else { 64 })
}

pub(super) fn find_event(conn: &Connection, id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?1"))
        .map_err(db)?;
    let mut rows = statement.query(params![id.as_bytes().as_slice()]).map_err(db)?;
    match rows.next().map_err(db)? {
        Some(row) => decode_event(row, None).map(Some),
        None => Ok(None),
    }
}

/// The version of a stream's last event, from the `(stream, version)` index.
pub(super) fn stream_version(conn: &Connection, stream: &StreamName) -> Result<CurrentVersion, StoreError> {
    let mut statement = conn
        .prepare_cached("SELECT version FROM events WHERE stream = ?1 ORDER BY version DESC LIMIT 1")
        .map_err(db)?;
    let version: Option<i64> =
        statement.query_row(params![stream.as_str()], |row| row.get(0)).optional().map_err(db)?;
    match version {
        None => Ok(CurrentVersion::NoStream),
        Some(version) => u64::try_from(version).map(CurrentVersion::Version).map_err(|e| {
            StoreError::backend(InvalidRow(format!("stream {stream} has version {version}: {e}")))
        }),
    }
}

pub(super) fn load_checkpoint(conn: &Connection, name: &str) -> Result<Option<Position>, StoreError> {
    let mut statement =
        conn.prepare_cached("SELECT position FROM checkpoints WHERE name = ?1").map_err(db)?;
    let position: Option<i64> =
        statement.query_row(params![name], |row| row.get(0)).optional().map_err(db)?;
    // Stored as the two's-complement i64 of the u64 (see the module docs): a lossless round trip.
    Ok(position.map(|p| p as u64))
}

/// A stored value that breaks the schema's rules.
#[derive(Debug, thiserror::Error)]
#[error("invalid stored row: {0}")]
pub(super) struct InvalidRow(pub(super) String);
