//! The writer thread: the only read-write connection, group commit, the stream version cache.
//! Committed batches go to the [syncer](super::syncer), which makes them durable and answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use chrono::Utc;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::SqliteOptions;
use super::reader::InvalidRow;
use super::schema::{db, last_position};
use super::syncer::{Committed, Reply, stopped_after_sync_failure};
use crate::{
    AppendResult, CurrentVersion, Position, StoreError, StoredAt, StreamAppend, StreamName, StreamWritten,
    category_of, retry_result,
};

/// The cache is emptied when it grows past this many streams (at a batch boundary), so memory
/// stays bounded on stores with very many streams. It refills from the index on demand.
const MAX_CACHED_STREAMS: usize = 200_000;

/// A write for the writer thread.
pub(super) enum Command {
    /// An append; `metadata` holds the JSON of each event's metadata, in request order.
    Append {
        request: Vec<StreamAppend>,
        metadata: Vec<String>,
        reply: oneshot::Sender<Result<AppendResult, StoreError>>,
    },
    /// A checkpoint save.
    SaveCheckpoint { name: String, position: Position, reply: oneshot::Sender<Result<(), StoreError>> },
}

impl Command {
    fn events(&self) -> usize {
        match self {
            Self::Append { request, .. } => request.iter().map(|a| a.events.len()).sum(),
            Self::SaveCheckpoint { .. } => 1,
        }
    }

    /// The reply to send, given the append's outcome in its batch (`None` for a checkpoint).
    fn reply(self, outcome: Option<Result<AppendResult, StoreError>>) -> Reply {
        match self {
            Self::Append { reply, .. } => Reply::Append(
                reply,
                outcome.unwrap_or_else(|| Err(StoreError::Unavailable("internal error: no outcome".into()))),
            ),
            Self::SaveCheckpoint { reply, .. } => Reply::Saved(reply, Ok(())),
        }
    }

    fn fail(self, error: StoreError) {
        self.reply(None).fail(error);
    }
}

/// A failure of the whole batch, shared by the error of every request in it.
#[derive(Debug, thiserror::Error)]
#[error("the group commit failed: {0}")]
struct BatchFailed(Arc<StoreError>);

/// One request's copy of the batch's error: still [`StoreError::Unavailable`] when the batch
/// was refused for a passing condition (disk full, I/O error), so the caller knows to retry.
fn share(error: &Arc<StoreError>) -> StoreError {
    match &**error {
        StoreError::Unavailable(condition) => StoreError::Unavailable(condition.clone()),
        _ => StoreError::backend(BatchFailed(Arc::clone(error))),
    }
}

/// A constraint violation that idempotency does not explain: the cache or the file is wrong.
#[derive(Debug, thiserror::Error)]
#[error("unexpected constraint violation while appending: {0}")]
struct Inconsistent(#[source] rusqlite::Error);

/// How long a checkpoint that bounds the WAL waits for readers to move off it.
const WAL_CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_millis(10);

pub(super) struct Writer {
    conn: Connection,
    /// Where committed batches go to be synced and answered.
    synced: mpsc::Sender<Committed>,
    /// Set by the syncer when an fsync fails: no more writes.
    failed: Arc<AtomicBool>,
    /// The last position written in the open transaction (or committed, between batches);
    /// `None` after a failed batch, until reloaded from the file.
    last_position: Option<Position>,
    /// Current version of streams, as of the open transaction. Emptied when a batch fails.
    versions: HashMap<StreamName, CurrentVersion>,
    max_batch_requests: usize,
    max_batch_events: usize,
    /// The WAL file, watched after each batch ([`Writer::bound_wal`]); `None` for a database
    /// in memory.
    wal: Option<std::path::PathBuf>,
    wal_limit_bytes: u64,
}

impl Writer {
    pub(super) fn new(
        conn: Connection,
        synced: mpsc::Sender<Committed>,
        failed: Arc<AtomicBool>,
        last_position: Position,
        options: &SqliteOptions,
    ) -> Self {
        Self {
            synced,
            failed,
            last_position: Some(last_position),
            versions: HashMap::new(),
            max_batch_requests: options.max_batch_requests.max(1),
            max_batch_events: options.max_batch_events.max(1),
            wal: conn.path().filter(|p| !p.is_empty()).map(|p| std::path::PathBuf::from(format!("{p}-wal"))),
            wal_limit_bytes: options.wal_limit_bytes(),
            conn,
        }
    }

    /// Serves commands until every sender is gone and the queue is empty. Returning closes the
    /// connection (SQLite checkpoints the WAL on close) and the syncer's channel (the syncer
    /// finishes what it has, then stops).
    pub(super) fn run(mut self, commands: &mpsc::Receiver<Command>) {
        let mut carried: Option<Command> = None;
        let mut batch = Vec::new();
        loop {
            let first = match carried.take() {
                Some(command) => command,
                None => match commands.recv() {
                    Ok(command) => command,
                    Err(mpsc::RecvError) => break,
                },
            };
            let mut events = first.events();
            batch.push(first);
            while batch.len() < self.max_batch_requests && events < self.max_batch_events {
                let Ok(command) = commands.try_recv() else { break };
                if events + command.events() > self.max_batch_events {
                    carried = Some(command);
                    break;
                }
                events += command.events();
                batch.push(command);
            }
            self.serve(&mut batch);
            self.bound_wal();
        }
    }

    /// Keeps the WAL within its limit. SQLite checkpoints it every `wal_autocheckpoint` pages,
    /// but restarts it from the beginning only when no reader is reading it, which under
    /// steady load (projections and gateways always reading) may never happen: the file then
    /// grows by every commit. Past its limit (twice the checkpoint size: the file's size, which
    /// after a restart stays at most the limit, `journal_size_limit`, while SQLite writes it
    /// over from the start) this checkpoints in RESTART mode, which
    /// waits (briefly) for the readers to move to the data file, so that the next commit
    /// writes the WAL from its start again, over the file's existing blocks. Not TRUNCATE: a WAL that grows from empty again makes every
    /// commit's fsync write the file's size too, which halved the append rate. Appends wait
    /// meanwhile; a checkpoint that cannot finish is tried after the next batch.
    fn bound_wal(&mut self) {
        if self.failed.load(Ordering::Acquire) {
            return;
        }
        let Some(wal) = &self.wal else { return };
        let size = std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0);
        if size <= self.wal_limit_bytes {
            return;
        }
        // Readers hold the WAL for a read's length (milliseconds): wait that long, not the
        // writer's usual busy timeout, so appends are not held up behind a busy reader.
        let _ = self.conn.busy_timeout(WAL_CHECKPOINT_WAIT);
        let result = self.conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| row.get::<_, i64>(0));
        let _ = self.conn.busy_timeout(super::schema::BUSY_TIMEOUT);
        match result {
            Ok(0) => tracing::debug!(size, "WAL over its limit: checkpointed and restarted"),
            Ok(_) => {
                tracing::debug!(size, "WAL over its limit: readers kept it busy; trying after the next batch")
            }
            Err(error) => tracing::warn!(%error, size, "cannot checkpoint the WAL"),
        }
    }

    /// Applies a batch in one transaction and hands it to the syncer.
    fn serve(&mut self, batch: &mut Vec<Command>) {
        if self.failed.load(Ordering::Acquire) {
            batch.drain(..).for_each(|command| command.fail(stopped_after_sync_failure()));
            return;
        }
        match self.execute(batch) {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                let replies = batch
                    .drain(..)
                    .map(|command| {
                        let outcome = match command {
                            Command::Append { .. } => outcomes.next(),
                            Command::SaveCheckpoint { .. } => None,
                        };
                        command.reply(outcome)
                    })
                    .collect();
                let last_position = self.last_position.unwrap_or(0);
                if let Err(mpsc::SendError(committed)) =
                    self.synced.send(Committed { last_position, replies })
                {
                    let stopped = || StoreError::Unavailable("the SQLite syncer has stopped".into());
                    committed.replies.into_iter().for_each(|reply| reply.fail(stopped()));
                }
            }
            Err(error) => {
                match &error {
                    StoreError::Unavailable(condition) => {
                        tracing::warn!(%condition, requests = batch.len(), "event store batch refused; nothing in it was written");
                    }
                    _ => {
                        tracing::error!(%error, requests = batch.len(), "event store batch failed; nothing in it was written");
                    }
                }
                self.abort();
                let error = Arc::new(error);
                for command in batch.drain(..) {
                    command.fail(share(&error));
                }
            }
        }
    }

    /// Rolls back whatever is open and forgets the in-memory state, to be reloaded.
    fn abort(&mut self) {
        if !self.conn.is_autocommit() {
            // Best effort; if even this fails, the next BEGIN will report the problem.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.versions.clear();
        self.last_position = None;
    }

    fn exec(&self, sql: &str) -> Result<(), StoreError> {
        self.conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(drop).map_err(db)
    }

    /// Runs the batch in one transaction: the outcome of each append, in order. `Err` means
    /// the transaction as a whole failed.
    fn execute(&mut self, batch: &[Command]) -> Result<Vec<Result<AppendResult, StoreError>>, StoreError> {
        if self.versions.len() > MAX_CACHED_STREAMS {
            self.versions.clear();
        }
        if self.last_position.is_none() {
            self.last_position = Some(last_position(&self.conn)?);
        }
        self.exec("BEGIN IMMEDIATE")?;
        let recorded_at = Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        let mut outcomes = Vec::with_capacity(batch.len());
        for command in batch {
            match command {
                Command::Append { request, metadata, .. } => {
                    outcomes.push(self.append(request, metadata, recorded_at)?);
                }
                Command::SaveCheckpoint { name, position, .. } => self.save_checkpoint(name, *position)?,
            }
        }
        self.exec("COMMIT")?;
        Ok(outcomes)
    }

    fn save_checkpoint(&self, name: &str, position: Position) -> Result<(), StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "INSERT INTO checkpoints (name, position) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            )
            .map_err(db)?;
        // Two's complement: a lossless round trip for any u64 (see the module docs).
        statement.execute(params![name, position as i64]).map_err(db)?;
        Ok(())
    }

    /// The version of `stream` in the open transaction, from the cache or the index (then
    /// cached).
    fn current_version(&mut self, stream: &StreamName) -> Result<CurrentVersion, StoreError> {
        if let Some(version) = self.versions.get(stream) {
            return Ok(*version);
        }
        let version = self.stored_version(stream)?;
        self.versions.insert(stream.clone(), version);
        Ok(version)
    }

    /// Like [`Self::current_version`], without filling the cache.
    fn peek_version(&self, stream: &StreamName) -> Result<CurrentVersion, StoreError> {
        match self.versions.get(stream) {
            Some(version) => Ok(*version),
            None => self.stored_version(stream),
        }
    }

    fn stored_version(&self, stream: &StreamName) -> Result<CurrentVersion, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT version FROM events WHERE stream = ?1 ORDER BY version DESC LIMIT 1")
            .map_err(db)?;
        let version: Option<i64> =
            statement.query_row(params![stream.as_str()], |row| row.get(0)).optional().map_err(db)?;
        match version {
            None => Ok(CurrentVersion::NoStream),
            Some(v) => u64::try_from(v)
                .map(CurrentVersion::Version)
                .map_err(|_| StoreError::backend(InvalidRow(format!("stream {stream} has version {v}")))),
        }
    }

    /// Where an event id is stored, if it is.
    fn lookup(&self, id: Uuid) -> Result<Option<StoredAt>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT stream, version, position FROM events WHERE event_id = ?1")
            .map_err(db)?;
        let row = statement
            .query_row(params![id.as_bytes().as_slice()], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            })
            .optional()
            .map_err(db)?;
        let Some((stream, version, position)) = row else { return Ok(None) };
        let invalid =
            || StoreError::backend(InvalidRow(format!("event {id} at {stream}/{version} #{position}")));
        Ok(Some(StoredAt {
            stream: StreamName::new(stream.clone()).map_err(|_| invalid())?,
            version: u64::try_from(version).map_err(|_| invalid())?,
            position: u64::try_from(position).map_err(|_| invalid())?,
        }))
    }

    /// The idempotency answer for `request` (see [`retry_result`]): `Ok(None)` when none of its
    /// ids is stored.
    fn retried(
        &self,
        request: &[StreamAppend],
    ) -> Result<Option<Result<AppendResult, StoreError>>, StoreError> {
        match retry_result(request, |id| self.lookup(id), |stream| self.peek_version(stream)) {
            Ok(None) => Ok(None),
            Ok(Some(result)) => Ok(Some(Ok(result))),
            // The file failed us (a bug, or a passing condition such as an I/O error): the
            // batch fails as a whole, rolled back.
            Err(error @ (StoreError::Backend(_) | StoreError::Unavailable(_))) => Err(error),
            Err(error) => Ok(Some(Err(error))),
        }
    }

    /// Applies one append request inside the open transaction. The outer `Result` fails the
    /// whole batch; the inner one is this request's answer.
    fn append(
        &mut self,
        request: &[StreamAppend],
        metadata: &[String],
        recorded_at: i64,
    ) -> Result<Result<AppendResult, StoreError>, StoreError> {
        let Some(last) = self.last_position else {
            return Err(StoreError::Unavailable("the writer lost its position".into()));
        };
        let total: usize = request.iter().map(|a| a.events.len()).sum();
        if metadata.len() != total {
            return Ok(Err(StoreError::InvalidAppend("metadata does not match the events".into())));
        }
        // 1. Expectations, from the cache. A retry is answered even if they no longer hold.
        let mut currents = Vec::with_capacity(request.len());
        for append in request {
            let actual = self.current_version(&append.stream)?;
            if !append.expected.accepts(actual) {
                return Ok(self.retried(request)?.unwrap_or_else(|| {
                    Err(StoreError::WrongExpectedVersion {
                        stream: append.stream.clone(),
                        expected: append.expected,
                        actual,
                    })
                }));
            }
            currents.push(actual);
        }
        // 2. Insert. A stored id surfaces as a UNIQUE violation; then idempotency decides.
        let savepoint = total > 1;
        if savepoint {
            self.exec("SAVEPOINT request")?;
        }
        match self.insert(request, metadata, &currents, last, recorded_at) {
            Ok(result) => {
                if savepoint {
                    self.exec("RELEASE request")?;
                }
                self.last_position = Some(result.last_position);
                for written in &result.streams {
                    self.versions.insert(written.stream.clone(), written.version);
                }
                Ok(Ok(result))
            }
            Err(error) => {
                let is_constraint = matches!(
                    &error,
                    rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::ConstraintViolation
                );
                if !is_constraint {
                    // The batch fails as a whole (and is rolled back): report this error, not
                    // that of a ROLLBACK TO which SQLite may have made impossible (after
                    // SQLITE_FULL it can roll the whole transaction back by itself).
                    return Err(db(error));
                }
                if savepoint {
                    self.exec("ROLLBACK TO request")?;
                    self.exec("RELEASE request")?;
                }
                match self.retried(request)? {
                    Some(answer) => Ok(answer),
                    None => Err(StoreError::backend(Inconsistent(error))),
                }
            }
        }
    }

    /// Inserts every event of a checked request after position `last`.
    fn insert(
        &self,
        request: &[StreamAppend],
        metadata: &[String],
        currents: &[CurrentVersion],
        last: Position,
        recorded_at: i64,
    ) -> Result<AppendResult, rusqlite::Error> {
        let mut statement = self.conn.prepare_cached(
            "INSERT INTO events (position, event_id, stream, category, version, event_type, schema_version, \
             data, metadata, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut position = last;
        let mut metadata = metadata.iter();
        let mut streams = Vec::with_capacity(request.len());
        for (append, current) in request.iter().zip(currents) {
            let mut version = *current;
            let category = category_of(append.stream.as_str());
            for (event, metadata) in append.events.iter().zip(&mut metadata) {
                position += 1;
                let next = version.next();
                statement.execute(params![
                    i64::try_from(position)
                        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
                    event.id.as_bytes().as_slice(),
                    append.stream.as_str(),
                    category,
                    i64::try_from(next).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
                    event.event_type,
                    event.schema_version,
                    event.data,
                    metadata,
                    recorded_at,
                ])?;
                version = CurrentVersion::Version(next);
            }
            streams.push(StreamWritten { stream: append.stream.clone(), version });
        }
        Ok(AppendResult { streams, first_position: last + 1, last_position: position })
    }
}

#[cfg(test)]
mod tests {
    use crate::{ExpectedVersion, Metadata, NewEvent, encode_metadata};

    use super::super::schema::open_writer;
    use super::*;

    /// An append of one event of `bytes` bytes (a JSON string) to `stream`.
    fn append(stream: &str, bytes: usize) -> (Vec<StreamAppend>, Uuid) {
        let id = Uuid::now_v7();
        let metadata = Metadata::new(id, Utc::now());
        let event = NewEvent::json(id, "Filled", 1, &"x".repeat(bytes), metadata).unwrap();
        let request = vec![StreamAppend {
            stream: StreamName::new(stream).unwrap(),
            expected: ExpectedVersion::Any,
            events: vec![event],
        }];
        (request, id)
    }

    /// Serves `request` as a batch of its own and answers it as the syncer would.
    fn serve(
        writer: &mut Writer,
        synced: &mpsc::Receiver<Committed>,
        request: Vec<StreamAppend>,
    ) -> Result<AppendResult, StoreError> {
        let metadata = encode_metadata(&request).unwrap();
        let (reply, mut answer) = oneshot::channel();
        writer.serve(&mut vec![Command::Append { request, metadata, reply }]);
        while let Ok(committed) = synced.try_recv() {
            committed.replies.into_iter().for_each(Reply::send);
        }
        answer.try_recv().unwrap()
    }

    fn stored(conn: &Connection, id: Uuid) -> bool {
        conn.query_row("SELECT count(*) FROM events WHERE event_id = ?1", [id.as_bytes().as_slice()], |row| {
            row.get::<_, i64>(0)
        })
        .unwrap()
            == 1
    }

    /// SQLITE_FULL on a real file (its size capped with `max_page_count`): every write is
    /// refused as unavailable and writes nothing, the writer keeps serving, and once there is
    /// room again the same request goes through at the next position.
    #[test]
    fn a_full_database_refuses_writes_as_unavailable_until_there_is_room() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions::default();
        let conn = open_writer(&dir.path().join("events.sqlite"), &options).unwrap();
        let (synced_tx, synced) = mpsc::channel();
        let mut writer = Writer::new(conn, synced_tx, Arc::new(AtomicBool::new(false)), 0, &options);
        let first = serve(&mut writer, &synced, append("bed-1", 100).0).unwrap();
        assert_eq!(first.last_position, 1);

        let pages: i64 = writer.conn.pragma_query_value(None, "page_count", |row| row.get(0)).unwrap();
        writer.conn.pragma_update(None, "max_page_count", pages + 2).unwrap();
        let (big, big_id) = append("bed-1", 64 * 1024);
        for _ in 0..3 {
            match serve(&mut writer, &synced, big.clone()) {
                Err(StoreError::Unavailable(condition)) => {
                    assert!(condition.contains("SQLITE_FULL"), "{condition}")
                }
                other => panic!("expected unavailable, got {other:?}"),
            }
            assert!(!stored(&writer.conn, big_id), "a refused append wrote nothing");
        }
        // Multi-event requests go through a savepoint: SQLITE_FULL there is reported as such.
        let (mut two, _) = append("bed-2", 64 * 1024);
        two.extend(append("bed-3", 64 * 1024).0);
        assert!(matches!(serve(&mut writer, &synced, two), Err(StoreError::Unavailable(_))));

        writer.conn.pragma_update(None, "max_page_count", 1_000_000).unwrap();
        let retried = serve(&mut writer, &synced, big).unwrap();
        assert_eq!((retried.first_position, retried.last_position), (2, 2));
        assert!(stored(&writer.conn, big_id));
        let count: i64 = writer.conn.query_row("SELECT count(*) FROM events", [], |row| row.get(0)).unwrap();
        assert_eq!(count, 2);
    }
}
