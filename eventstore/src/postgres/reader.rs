//! The read side: a few shared connections (queries on one connection are pipelined), each
//! reconnected on demand, and the statements they run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, Row, Statement};
use uuid::Uuid;

use super::{PostgresError, PostgresOptions, connect, schema};
use crate::{AllSlice, CurrentVersion, Filter, Position, RecordedEvent, StoreError, StreamName};

/// The columns every event query selects, in the order [`decode_event`] reads them.
const EVENT_COLUMNS: &str =
    "position, stream, version, event_id, event_type, schema_version, data, metadata, recorded_at";

/// One reader connection and its prepared statements.
struct Reader {
    client: Client,
    read_stream: Statement,
    read_all: Statement,
    stream_version: Statement,
    find_event: Statement,
    head: Statement,
    load_checkpoint: Statement,
    save_checkpoint: Statement,
}

impl Reader {
    async fn open(options: &PostgresOptions) -> Result<Self, StoreError> {
        let client = connect(options, "careflow-reader").await?;
        schema::check(&client, options).await?;
        let prepare = |sql: String| {
            let client = &client;
            async move { client.prepare(&sql).await.map_err(PostgresError::from) }
        };
        let (read_stream, read_all, stream_version, find_event, head, load_checkpoint, save_checkpoint) = futures::try_join!(
            prepare(format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE stream = $1 AND version >= $2 \
                     ORDER BY version LIMIT $3"
            )),
            // The head and the events in one statement, hence one snapshot (module docs).
            prepare(format!(
                "SELECT h.position AS head, e.* FROM log_head h LEFT JOIN LATERAL ( \
                       SELECT {EVENT_COLUMNS} FROM events \
                       WHERE position >= $1 AND position < LEAST($2, h.position + 1) \
                         AND (cardinality($3::text[]) = 0 OR category = ANY($3)) \
                         AND (cardinality($4::text[]) = 0 OR event_type = ANY($4)) \
                       ORDER BY position) e ON true \
                     ORDER BY e.position"
            )),
            prepare("SELECT version FROM events WHERE stream = $1 ORDER BY version DESC LIMIT 1".to_owned()),
            prepare(format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = $1")),
            prepare("SELECT position FROM log_head".to_owned()),
            prepare("SELECT position FROM checkpoints WHERE name = $1".to_owned()),
            prepare(
                "INSERT INTO checkpoints (name, position, updated_at) VALUES ($1, $2, now()) \
                     ON CONFLICT (name) DO UPDATE SET position = excluded.position, \
                     updated_at = excluded.updated_at"
                    .to_owned()
            ),
        )?;
        Ok(Self {
            client,
            read_stream,
            read_all,
            stream_version,
            find_event,
            head,
            load_checkpoint,
            save_checkpoint,
        })
    }
}

/// The reader connections, used round-robin.
pub(super) struct Readers {
    options: PostgresOptions,
    slots: Vec<Mutex<Option<Arc<Reader>>>>,
    next: AtomicUsize,
}

impl Readers {
    /// Opens the first connection at once (so bad options or an unmigrated schema fail here);
    /// the others open on first use.
    pub(super) async fn connect(options: &PostgresOptions) -> Result<Self, StoreError> {
        let first = Reader::open(options).await?;
        let mut slots: Vec<_> = (1..options.readers.max(1)).map(|_| Mutex::new(None)).collect();
        slots.insert(0, Mutex::new(Some(Arc::new(first))));
        Ok(Self { options: options.clone(), slots, next: AtomicUsize::new(0) })
    }

    /// A live connection, reconnecting a closed one.
    async fn get(&self) -> Result<Arc<Reader>, StoreError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let Some(slot) = self.slots.get(index) else {
            return Err(StoreError::Unavailable("no reader connection".into()));
        };
        let mut slot = slot.lock().await;
        if let Some(reader) = slot.as_ref().filter(|r| !r.client.is_closed()) {
            return Ok(Arc::clone(reader));
        }
        let reader = Arc::new(Reader::open(&self.options).await?);
        *slot = Some(Arc::clone(&reader));
        Ok(reader)
    }

    /// The committed head, from `log_head`.
    pub(super) async fn head(&self) -> Result<Position, StoreError> {
        let reader = self.get().await?;
        let row = reader.client.query_one(&reader.head, &[]).await.map_err(PostgresError::from)?;
        position(&row, 0, "log head")
    }

    pub(super) async fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let reader = self.get().await?;
        let from = i64::try_from(from_version).unwrap_or(i64::MAX);
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let rows = reader
            .client
            .query(&reader.read_stream, &[&stream.as_str(), &from, &limit])
            .await
            .map_err(PostgresError::from)?;
        decode_rows(&rows, 0)
    }

    pub(super) async fn read_all(
        &self,
        from: Position,
        max: usize,
        filter: &Filter,
    ) -> Result<AllSlice, StoreError> {
        let reader = self.get().await?;
        let from_sql = i64::try_from(from).unwrap_or(i64::MAX);
        let end = from.saturating_add(u64::try_from(max).unwrap_or(u64::MAX));
        let end_sql = i64::try_from(end).unwrap_or(i64::MAX);
        let rows = reader
            .client
            .query(&reader.read_all, &[&from_sql, &end_sql, &filter.categories, &filter.event_types])
            .await
            .map_err(PostgresError::from)?;
        let Some(first) = rows.first() else {
            return Err(PostgresError::InvalidRow("log_head has no row".into()).into());
        };
        let head = position(first, 0, "log head")?;
        // Rows without an event (the LEFT JOIN found none) have a NULL position.
        let with_events = if first.try_get::<_, Option<i64>>(1).map_err(PostgresError::from)?.is_some() {
            &rows[..]
        } else {
            &rows[..0]
        };
        let events = decode_rows(with_events, 1)?;
        Ok(AllSlice { events, next: end.min(head.saturating_add(1)).max(from) })
    }

    pub(super) async fn stream_version(&self, stream: &StreamName) -> Result<CurrentVersion, StoreError> {
        let reader = self.get().await?;
        let row = reader
            .client
            .query_opt(&reader.stream_version, &[&stream.as_str()])
            .await
            .map_err(PostgresError::from)?;
        match row {
            None => Ok(CurrentVersion::NoStream),
            Some(row) => Ok(CurrentVersion::Version(position(&row, 0, "version")?)),
        }
    }

    pub(super) async fn find_event(&self, id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        let reader = self.get().await?;
        let row = reader.client.query_opt(&reader.find_event, &[&id]).await.map_err(PostgresError::from)?;
        row.map(|row| decode_event(&row, 0, None)).transpose()
    }

    pub(super) async fn load_checkpoint(&self, name: &str) -> Result<Option<Position>, StoreError> {
        let reader = self.get().await?;
        let row =
            reader.client.query_opt(&reader.load_checkpoint, &[&name]).await.map_err(PostgresError::from)?;
        // Stored as the two's-complement i64 of the u64 (module docs): a lossless round trip.
        row.map(|row| row.try_get::<_, i64>(0).map(|p| p as u64).map_err(|e| PostgresError::from(e).into()))
            .transpose()
    }

    pub(super) async fn save_checkpoint(&self, name: &str, position: Position) -> Result<(), StoreError> {
        let reader = self.get().await?;
        let stored = position as i64; // two's complement, see load_checkpoint
        reader
            .client
            .execute(&reader.save_checkpoint, &[&name, &stored])
            .await
            .map_err(PostgresError::from)?;
        Ok(())
    }
}

/// A non-negative `bigint` column as a `u64`.
pub(super) fn position(row: &Row, index: usize, what: &str) -> Result<u64, StoreError> {
    let value: i64 = row.try_get(index).map_err(PostgresError::from)?;
    u64::try_from(value).map_err(|_| PostgresError::InvalidRow(format!("{what} {value} is negative")).into())
}

/// A `json` or `jsonb` value as its UTF-8 text, without parsing it.
struct RawJson<'a>(&'a [u8]);

impl<'a> FromSql<'a> for RawJson<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == Type::JSONB {
            // Binary jsonb is a version byte (1) and the text.
            return match raw.split_first() {
                Some((1, text)) => Ok(Self(text)),
                _ => Err("unsupported jsonb format version".into()),
            };
        }
        Ok(Self(raw))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON || *ty == Type::JSONB
    }
}

fn decode_error(position: Position, message: impl std::fmt::Display) -> StoreError {
    StoreError::Decode { position, message: message.to_string() }
}

fn decode_rows(rows: &[Row], offset: usize) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events: Vec<RecordedEvent> = Vec::with_capacity(rows.len());
    for row in rows {
        let event = decode_event(row, offset, events.last().map(|e| &e.stream))?;
        events.push(event);
    }
    Ok(events)
}

/// Decodes one row whose [`EVENT_COLUMNS`] start at column `offset`. `previous` is the stream of
/// the row before, shared (not copied) when this row is in the same stream.
fn decode_event(
    row: &Row,
    offset: usize,
    previous: Option<&StreamName>,
) -> Result<RecordedEvent, StoreError> {
    let column = |i: usize| offset + i;
    let position = position(row, column(0), "position")?;
    let get_error = |e: tokio_postgres::Error| decode_error(position, e);
    let stream: &str = row.try_get(column(1)).map_err(get_error)?;
    let stream = match previous {
        Some(previous) if previous.as_str() == stream => previous.clone(),
        _ => StreamName::new(stream).map_err(|e| decode_error(position, e))?,
    };
    let version: i64 = row.try_get(column(2)).map_err(get_error)?;
    let version =
        u64::try_from(version).map_err(|e| decode_error(position, format!("version {version}: {e}")))?;
    let id: Uuid = row.try_get(column(3)).map_err(get_error)?;
    let event_type: String = row.try_get(column(4)).map_err(get_error)?;
    let schema_version: i64 = row.try_get(column(5)).map_err(get_error)?;
    let schema_version = u32::try_from(schema_version).map_err(|e| decode_error(position, e))?;
    let data: Vec<u8> = row.try_get(column(6)).map_err(get_error)?;
    let metadata: RawJson<'_> = row.try_get(column(7)).map_err(get_error)?;
    let metadata = crate::metadata_codec::decode(metadata.0)
        .map_err(|e| decode_error(position, format!("metadata: {e}")))?;
    let recorded_at: DateTime<Utc> = row.try_get(column(8)).map_err(get_error)?;
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
