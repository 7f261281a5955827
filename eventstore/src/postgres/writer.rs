//! The writer task: group commit of append requests under the log head lock (module docs of
//! [`super`]).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use super::reader::position;
use super::{PostgresError, PostgresOptions, connect, to_i64};
use crate::{
    AppendResult, CurrentVersion, Position, StoreError, StoredAt, StreamAppend, StreamName, StreamWritten,
    category_of, retry_result,
};

/// How long the writer waits for more requests when its batch is smaller than the last one.
const LINGER: std::time::Duration = std::time::Duration::from_micros(100);

/// More cached stream versions than this and the cache starts again empty.
const MAX_CACHED_STREAMS: usize = 100_000;

/// An append request on its way to the writer.
pub(super) struct Command {
    pub(super) request: Vec<StreamAppend>,
    /// The JSON of each event's metadata, in request order.
    pub(super) metadata: Vec<String>,
    pub(super) reply: oneshot::Sender<Result<AppendResult, StoreError>>,
}

impl Command {
    fn events(&self) -> usize {
        self.metadata.len()
    }
}

/// The error a caller gets once the writer is gone.
pub(super) fn stopped() -> StoreError {
    StoreError::Unavailable("the PostgreSQL writer has stopped".into())
}

/// A failure of the whole batch, shared by the error of every request in it.
#[derive(Debug, thiserror::Error)]
#[error("the group commit failed: {0}")]
struct BatchFailed(Arc<StoreError>);

/// The writer's connection and its prepared statements.
struct Connection {
    client: Client,
    begin: Statement,
    lock_head: Statement,
    read_head: Statement,
    lookup_ids: Statement,
    versions: Statement,
    append: Statement,
    commit: Statement,
}

impl Connection {
    async fn open(options: &PostgresOptions) -> Result<Self, StoreError> {
        let client = connect(options, "careflow-writer").await?;
        // Generic plans are made once, from the statistics of the moment: made while `events`
        // was empty, `event_id = ANY($1)` would scan the whole table on every batch for good.
        client.batch_execute("SET plan_cache_mode = force_custom_plan").await.map_err(PostgresError::from)?;
        let prepare = |sql: &'static str| {
            let client = &client;
            async move { client.prepare(sql).await.map_err(PostgresError::from) }
        };
        let (begin, lock_head, read_head, lookup_ids, versions, append, commit) = futures::try_join!(
            prepare("BEGIN"),
            prepare("SELECT position FROM log_head FOR UPDATE"),
            prepare("SELECT position FROM log_head"),
            prepare("SELECT event_id, stream, version, position FROM events WHERE event_id = ANY($1)"),
            // One backwards index probe per stream (a GROUP BY would scan whole streams).
            prepare(
                "SELECT s.stream, (SELECT e.version FROM events e WHERE e.stream = s.stream \
                 ORDER BY e.version DESC LIMIT 1) FROM unnest($1::text[]) AS s(stream)"
            ),
            prepare(
                "SELECT careflow_append($1, $2, $3, $4::int8[], $5::uuid[], $6::text[], $7::text[], \
                 $8::int8[], $9::text[], $10::int8[], $11::bytea[], $12::text[])"
            ),
            prepare("COMMIT"),
        )?;
        Ok(Self { client, begin, lock_head, read_head, lookup_ids, versions, append, commit })
    }
}

/// The SQLSTATE `careflow_append` raises when the log head is not where the batch expected.
const HEAD_MOVED: &str = "CF001";
/// The SQLSTATE `careflow_append` raises when one of the event ids is already stored.
const IDS_STORED: &str = "CF002";

/// How an attempt learns what a batch needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// From the cache alone, taking the head to be the one this writer last wrote: no round
    /// trip before the write, which `careflow_append` checks (head, and no event id stored).
    Cached,
    /// One pipelined read (head, stored ids, stream versions) without a lock; the write
    /// checks that the head has not moved since.
    Read,
    /// The same read inside the transaction, after taking the head lock: nothing can change
    /// before the commit.
    Locked,
}

/// Why an attempt at a batch did not commit.
enum Attempt {
    /// Another process appended after the batch was read: read again, under the lock.
    HeadMoved,
    /// The cache cannot answer for the batch (an event id is stored, or a request was
    /// refused): read the database.
    NeedsView,
    /// Anything else: the batch fails.
    Failed(StoreError),
}

impl From<StoreError> for Attempt {
    fn from(error: StoreError) -> Self {
        Self::Failed(error)
    }
}

impl From<PostgresError> for Attempt {
    fn from(error: PostgresError) -> Self {
        Self::Failed(error.into())
    }
}

/// The columns of the events one batch inserts.
#[derive(Default)]
struct Rows<'a> {
    positions: Vec<i64>,
    ids: Vec<Uuid>,
    streams: Vec<&'a str>,
    categories: Vec<&'a str>,
    versions: Vec<i64>,
    types: Vec<&'a str>,
    schema_versions: Vec<i64>,
    data: Vec<&'a [u8]>,
    metadata: Vec<&'a str>,
}

/// What one attempt sees: the head, stored ids of the batch and the version of each of its
/// streams.
struct View {
    head: Position,
    stored: HashMap<Uuid, StoredAt>,
    versions: HashMap<StreamName, CurrentVersion>,
    /// The head and some versions came from the cache, not the database.
    from_cache: bool,
}

pub(super) struct Writer {
    options: PostgresOptions,
    channel: String,
    connection: Option<Connection>,
    head: Arc<watch::Sender<Position>>,
    /// Stream versions as of `cached_at`; valid only while the log head is still there.
    cache: HashMap<StreamName, CurrentVersion>,
    cached_at: Option<Position>,
}

impl Writer {
    pub(super) fn new(options: &PostgresOptions, head: Arc<watch::Sender<Position>>) -> Self {
        Self {
            options: options.clone(),
            channel: options.channel(),
            connection: None,
            head,
            cache: HashMap::new(),
            cached_at: None,
        }
    }

    /// Serves requests until every sender is gone and the queue is empty.
    pub(super) async fn run(mut self, mut queue: mpsc::Receiver<Command>) {
        let (max_requests, max_events) =
            (self.options.max_batch_requests.max(1), self.options.max_batch_events.max(1));
        let mut carried: Option<Command> = None;
        let mut previous = 0;
        loop {
            let first = match carried.take() {
                Some(command) => command,
                None => match queue.recv().await {
                    Some(command) => command,
                    None => break,
                },
            };
            let mut events = first.events();
            let mut batch = vec![first];
            let mut lingered = false;
            while batch.len() < max_requests && events < max_events {
                let command = match queue.try_recv() {
                    Ok(command) => command,
                    // The callers answered last time are likely sending again right now: a
                    // moment's wait fills the batch (this thread is the writer's own).
                    Err(_) if !lingered && batch.len() < previous => {
                        lingered = true;
                        std::thread::sleep(LINGER);
                        continue;
                    }
                    Err(_) => break,
                };
                if events + command.events() > max_events {
                    carried = Some(command);
                    break;
                }
                events += command.events();
                batch.push(command);
            }
            previous = batch.len();
            self.serve(batch).await;
        }
    }

    async fn serve(&mut self, batch: Vec<Command>) {
        match self.execute(&batch).await {
            Ok((outcomes, head)) => {
                self.head.send_if_modified(|current| {
                    let moved = head > *current;
                    *current = (*current).max(head);
                    moved
                });
                for (command, outcome) in batch.into_iter().zip(outcomes) {
                    // A caller that has gone away is no error of ours.
                    let _ = command.reply.send(outcome);
                }
            }
            Err(error) => {
                tracing::error!(%error, requests = batch.len(), "event store batch failed; nothing in it was written");
                self.forget(&error);
                let error = Arc::new(error);
                for command in batch {
                    let _ = command.reply.send(Err(share(&error)));
                }
            }
        }
    }

    /// After a failed transaction: drop the cache, and the connection unless it is healthy (then
    /// end whatever transaction is open).
    fn forget(&mut self, error: &StoreError) {
        self.cache.clear();
        self.cached_at = None;
        let keep = matches!(error, StoreError::Backend(_))
            && self.connection.as_ref().is_some_and(|c| !c.client.is_closed());
        if !keep {
            self.connection = None;
        }
    }

    /// The connection, (re)opened if needed.
    async fn connected(&mut self) -> Result<&Connection, StoreError> {
        if self.connection.as_ref().is_none_or(|c| c.client.is_closed()) {
            self.connection = None;
            self.connection = Some(Connection::open(&self.options).await?);
        }
        self.connection.as_ref().ok_or_else(stopped)
    }

    /// One transaction for the batch: each request's outcome, and the head after it. `Err`
    /// means nothing of the batch was written.
    async fn execute(
        &mut self,
        batch: &[Command],
    ) -> Result<(Vec<Result<AppendResult, StoreError>>, Position), StoreError> {
        let result = self.transaction(batch).await;
        if result.is_err()
            && let Some(connection) = self.connection.as_ref().filter(|c| !c.client.is_closed())
        {
            // End the failed transaction (a no-op warning if COMMIT already ended it).
            if let Err(error) = connection.client.batch_execute("ROLLBACK").await {
                tracing::warn!(%error, "rollback after a failed batch failed");
            }
        }
        result
    }

    async fn transaction(
        &mut self,
        batch: &[Command],
    ) -> Result<(Vec<Result<AppendResult, StoreError>>, Position), StoreError> {
        if self.cache.len() > MAX_CACHED_STREAMS {
            self.forget_versions();
        }
        let mut mode = if self.covers(batch) { Mode::Cached } else { Mode::Read };
        loop {
            match self.attempt(batch, mode).await {
                Ok(done) => return Ok(done),
                Err(Attempt::Failed(error)) => return Err(error),
                Err(Attempt::NeedsView) if mode == Mode::Cached => mode = Mode::Read,
                Err(Attempt::NeedsView | Attempt::HeadMoved) if mode != Mode::Locked => {
                    // Another process appended since our view: read again, holding the head.
                    self.forget_versions();
                    mode = Mode::Locked;
                }
                Err(Attempt::NeedsView | Attempt::HeadMoved) => {
                    return Err(StoreError::backend(PostgresError::InvalidRow(
                        "the log head or the event ids changed while this writer held the head lock".into(),
                    )));
                }
            }
        }
    }

    fn forget_versions(&mut self) {
        self.cache.clear();
        self.cached_at = None;
    }

    /// Whether the cache alone can plan the batch: it is current and knows every stream.
    fn covers(&self, batch: &[Command]) -> bool {
        self.cached_at.is_some()
            && batch.iter().flat_map(|c| &c.request).all(|a| self.cache.contains_key(&a.stream))
    }

    /// One attempt: get a view of what the batch needs (see [`Mode`]), decide each request, and
    /// write the numbered events in one call, which checks that the view still holds.
    async fn attempt(
        &mut self,
        batch: &[Command],
        mode: Mode,
    ) -> Result<(Vec<Result<AppendResult, StoreError>>, Position), Attempt> {
        let view = match (mode, self.cached_at) {
            (Mode::Cached, Some(head)) => View {
                head,
                stored: HashMap::new(),
                versions: batch
                    .iter()
                    .flat_map(|c| &c.request)
                    .filter_map(|a| Some((a.stream.clone(), *self.cache.get(&a.stream)?)))
                    .collect(),
                from_cache: true,
            },
            (Mode::Cached, None) => return Err(Attempt::NeedsView),
            (Mode::Read | Mode::Locked, _) => self.view(batch, mode == Mode::Locked).await?,
        };
        let View { head, stored, mut versions, from_cache } = view;

        let mut rows = Rows::default();
        let mut planned: HashMap<Uuid, StoredAt> = HashMap::new();
        let mut last = head;
        let outcomes: Vec<_> = batch
            .iter()
            .map(|command| plan(command, &stored, &mut planned, &mut versions, &mut last, &mut rows))
            .collect::<Result<_, _>>()?;
        if mode == Mode::Cached && outcomes.iter().any(Result::is_err) {
            // A refusal may be a retry in disguise (its ids stored, its stream moved on): only
            // a view with the stored ids can tell.
            return Err(Attempt::NeedsView);
        }

        self.connected().await?;
        let connection = self.connection.as_ref().ok_or_else(stopped)?;
        let client = &connection.client;
        let plain = |e| PostgresError::from(e);
        if rows.ids.is_empty() {
            // Nothing to write: every answer came from the view. One read from the cache must
            // still be confirmed: no other process may have appended since our last commit.
            if mode == Mode::Locked {
                client.batch_execute("ROLLBACK").await.map_err(plain)?;
            } else if from_cache {
                let now = client.query_one(&connection.read_head, &[]).await.map_err(plain)?;
                if position(&now, 0, "log head")? != head {
                    return Err(Attempt::HeadMoved);
                }
            }
            return Ok((outcomes, head));
        }
        let (head_sql, last_sql) = (to_i64(head, "position")?, to_i64(last, "position")?);
        let append = async {
            client
                .execute(
                    &connection.append,
                    &[
                        &head_sql,
                        &last_sql,
                        &self.channel,
                        &rows.positions,
                        &rows.ids,
                        &rows.streams,
                        &rows.categories,
                        &rows.versions,
                        &rows.types,
                        &rows.schema_versions,
                        &rows.data,
                        &rows.metadata,
                    ],
                )
                .await
                .map_err(|e| match e.code().map(SqlState::code) {
                    Some(HEAD_MOVED) => Attempt::HeadMoved,
                    Some(IDS_STORED) => Attempt::NeedsView,
                    Some(code) if code == SqlState::UNIQUE_VIOLATION.code() => {
                        Attempt::Failed(PostgresError::Inconsistent(e).into())
                    }
                    _ => Attempt::Failed(PostgresError::from(e).into()),
                })
        };
        let commit =
            async { client.execute(&connection.commit, &[]).await.map_err(|e| Attempt::from(plain(e))) };
        // Pipelined: one round trip. After a failed call, COMMIT ends the transaction as a
        // rollback.
        if mode == Mode::Locked {
            futures::try_join!(append, commit)?;
        } else {
            let begin =
                async { client.execute(&connection.begin, &[]).await.map_err(|e| Attempt::from(plain(e))) };
            futures::try_join!(begin, append, commit)?;
        }
        // Committed: what this batch saw and wrote is the truth as of `last`.
        self.cache.extend(versions);
        self.cached_at = Some(last);
        Ok((outcomes, last))
    }

    /// Reads the head, where the batch's event ids are stored and the version of each of its
    /// streams, in one pipelined round trip. `locked`: opens the transaction and takes the head
    /// lock first. Otherwise, when the cache is current (`cached_at`), the head is taken to be
    /// the one we last wrote and cached versions are not read again.
    async fn view(&mut self, batch: &[Command], locked: bool) -> Result<View, StoreError> {
        let ids: Vec<Uuid> =
            batch.iter().flat_map(|c| &c.request).flat_map(|a| &a.events).map(|e| e.id).collect();
        let mut streams: Vec<&StreamName> =
            batch.iter().flat_map(|c| &c.request).map(|a| &a.stream).collect();
        streams.sort_unstable();
        streams.dedup();
        let cached_head = if locked { None } else { self.cached_at };
        let uncached: Vec<&str> = streams
            .iter()
            .filter(|s| cached_head.is_none() || !self.cache.contains_key(**s))
            .map(|s| s.as_str())
            .collect();

        self.connected().await?;
        let connection = self.connection.as_ref().ok_or_else(stopped)?;
        let client = &connection.client;
        let plain = |e| PostgresError::from(e);
        let stored_rows = async { client.query(&connection.lookup_ids, &[&ids]).await.map_err(plain) };
        let version_rows = async { client.query(&connection.versions, &[&uncached]).await.map_err(plain) };
        let (head, stored_rows, version_rows) = match (locked, cached_head) {
            (true, _) => {
                let (_, head, stored, versions) = futures::try_join!(
                    async { client.execute(&connection.begin, &[]).await.map_err(plain) },
                    async { client.query_one(&connection.lock_head, &[]).await.map_err(plain) },
                    stored_rows,
                    version_rows,
                )?;
                (position(&head, 0, "log head")?, stored, versions)
            }
            (false, Some(head)) => {
                let (stored, versions) = futures::try_join!(stored_rows, version_rows)?;
                (head, stored, versions)
            }
            (false, None) => {
                let (head, stored, versions) = futures::try_join!(
                    async { client.query_one(&connection.read_head, &[]).await.map_err(plain) },
                    stored_rows,
                    version_rows,
                )?;
                (position(&head, 0, "log head")?, stored, versions)
            }
        };

        let mut stored = HashMap::with_capacity(stored_rows.len());
        for row in &stored_rows {
            let id: Uuid = row.try_get(0).map_err(plain)?;
            let stream: &str = row.try_get(1).map_err(plain)?;
            let stream = StreamName::new(stream)
                .map_err(|_| PostgresError::InvalidRow(format!("event {id} has stream {stream:?}")))?;
            let at = StoredAt {
                stream,
                version: position(row, 2, "version")?,
                position: position(row, 3, "position")?,
            };
            stored.insert(id, at);
        }
        let mut versions = HashMap::with_capacity(streams.len());
        read_versions(&version_rows, &mut versions)?;
        if cached_head.is_some() {
            for stream in &streams {
                if let Some(version) = self.cache.get(*stream) {
                    versions.insert((*stream).clone(), *version);
                }
            }
        }
        Ok(View { head, stored, versions, from_cache: cached_head.is_some() })
    }
}

/// Adds `(stream, last version or NULL)` rows to `versions`.
fn read_versions(
    rows: &[tokio_postgres::Row],
    versions: &mut HashMap<StreamName, CurrentVersion>,
) -> Result<(), StoreError> {
    for row in rows {
        let stream: &str = row.try_get(0).map_err(PostgresError::from)?;
        let stream = StreamName::new(stream)
            .map_err(|_| PostgresError::InvalidRow(format!("stream name {stream:?}")))?;
        let version: Option<i64> = row.try_get(1).map_err(PostgresError::from)?;
        let version = match version {
            None => CurrentVersion::NoStream,
            Some(v) => CurrentVersion::Version(
                u64::try_from(v)
                    .map_err(|_| PostgresError::InvalidRow(format!("stream {stream} version {v}")))?,
            ),
        };
        versions.insert(stream, version);
    }
    Ok(())
}

/// Decides one request within the batch. The outer `Result` fails the batch; the inner one is
/// the request's answer. Numbered events go into `rows`; `last`, `versions` and `planned`
/// follow them.
fn plan<'a>(
    command: &'a Command,
    stored: &HashMap<Uuid, StoredAt>,
    planned: &mut HashMap<Uuid, StoredAt>,
    versions: &mut HashMap<StreamName, CurrentVersion>,
    last: &mut Position,
    rows: &mut Rows<'a>,
) -> Result<Result<AppendResult, StoreError>, StoreError> {
    let request = &command.request;
    if command.metadata.len() != request.iter().map(|a| a.events.len()).sum::<usize>() {
        return Ok(Err(StoreError::InvalidAppend("metadata does not match the events".into())));
    }
    let version_of = |versions: &HashMap<StreamName, CurrentVersion>, stream: &StreamName| {
        versions.get(stream).copied().ok_or_else(|| {
            StoreError::backend(PostgresError::InvalidRow(format!("no version read for stream {stream}")))
        })
    };
    // 1. Idempotency: a request whose ids are stored (or planned earlier in this batch).
    let retried = retry_result(
        request,
        |id| Ok(stored.get(&id).or_else(|| planned.get(&id)).cloned()),
        |stream| version_of(versions, stream),
    );
    match retried {
        Ok(None) => {}
        Ok(Some(original)) => return Ok(Ok(original)),
        Err(error @ StoreError::Backend(_)) => return Err(error),
        Err(error) => return Ok(Err(error)),
    }
    // 2. Expectations.
    for append in request {
        let actual = version_of(versions, &append.stream)?;
        if !append.expected.accepts(actual) {
            return Ok(Err(StoreError::WrongExpectedVersion {
                stream: append.stream.clone(),
                expected: append.expected,
                actual,
            }));
        }
    }
    // 3. Number the events.
    let first = *last + 1;
    let mut metadata = command.metadata.iter();
    let mut streams = Vec::with_capacity(request.len());
    for append in request {
        let mut version = version_of(versions, &append.stream)?;
        for (event, metadata) in append.events.iter().zip(&mut metadata) {
            *last += 1;
            let next = version.next();
            rows.positions.push(to_i64(*last, "position")?);
            rows.ids.push(event.id);
            rows.streams.push(append.stream.as_str());
            rows.categories.push(category_of(append.stream.as_str()));
            rows.versions.push(to_i64(next, "version")?);
            rows.types.push(&event.event_type);
            rows.schema_versions.push(i64::from(event.schema_version));
            rows.data.push(&event.data);
            rows.metadata.push(metadata);
            planned
                .insert(event.id, StoredAt { stream: append.stream.clone(), version: next, position: *last });
            version = CurrentVersion::Version(next);
        }
        versions.insert(append.stream.clone(), version);
        streams.push(StreamWritten { stream: append.stream.clone(), version });
    }
    Ok(Ok(AppendResult { streams, first_position: first, last_position: *last }))
}

/// One request's copy of the batch's error.
fn share(error: &Arc<StoreError>) -> StoreError {
    match &**error {
        StoreError::Unavailable(message) => StoreError::Unavailable(message.clone()),
        _ => StoreError::backend(BatchFailed(Arc::clone(error))),
    }
}
