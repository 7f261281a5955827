//! PostgreSQL backend: the production event store (DESIGN.md §3).
//!
//! Depends on `tokio-postgres` (no TLS: run it next to the database or behind a TLS-terminating
//! proxy); knows no domain type. Any number of processes may open the same schema: services
//! replicas append, projection and gateway processes read and subscribe.
//!
//! # Positions: the log head row
//! `$all` positions must be gap-free and become visible only in commit order (a subscriber reads
//! "the next position" and must never find it filled in later). A sequence cannot give that: a
//! transaction that took position 11 may commit after the one that took 12, and a reader that
//! saw 12 has skipped 11 for good. Nor do we read only below the oldest running transaction
//! (`pg_snapshot_xmin`): that stalls every reader behind any long transaction anywhere in the
//! database.
//!
//! Instead one row, `log_head`, holds the last position. Every append transaction locks it
//! (`SELECT … FOR UPDATE`), checks it, inserts its events numbered from it, writes the new head
//! back and commits. The row lock is released only when the transaction ends, after its commit is
//! visible, so appends are serialised on the head: positions are handed out in commit order,
//! without gaps (a rolled-back transaction rolls its head back too), and every snapshot any
//! reader takes sees a gap-free prefix of the log. Readers never wait on the lock (MVCC), and an
//! unrelated long transaction elsewhere in the database delays no one. The price is that
//! appends of all processes take turns on the head; group commit makes each turn carry many
//! appends, and the lock is held only while the server inserts and commits (below).
//!
//! # Writes: group commit, one round trip when the writer knows the streams
//! Each store has one writer task, on a thread and runtime of its own, with its own connection.
//! `append` sends the request over a channel; the writer takes what is waiting (up to
//! [`PostgresOptions::max_batch_requests`] requests or [`PostgresOptions::max_batch_events`]
//! events) and commits it all in one transaction. What it must know to decide each request
//! (the head, which event ids are stored, the version of each stream) comes from the cheapest
//! source that is still right:
//!
//! 1. **Cached**: the writer keeps the version of streams it has seen, valid while the head is
//!    the one it last wrote. If every stream of the batch is cached, it decides at once and
//!    sends `BEGIN; SELECT careflow_append(…); COMMIT` in one pipelined round trip.
//! 2. **Read**: otherwise one pipelined read (head, stored ids, versions of uncached streams)
//!    without a lock, then the same write.
//! 3. **Locked**: if the write finds the head moved (another process appended in between), the
//!    writer forgets its cache and reads again inside the transaction after taking the head
//!    lock, so nothing can change before it commits.
//!
//! `careflow_append` (migration 2) does the write on the server: it locks the head, checks that
//! it is where the batch was decided against (else SQLSTATE `CF001`) and that none of the event
//! ids is stored (else `CF002`: a retry the cache could not see; the writer reads and decides
//! again), inserts the events with `unnest`, writes the new head and sends one `pg_notify`. The
//! head lock is thus held only for the inserts and the commit. A request whose ids are stored is
//! answered with its original result ([`retry_result`](crate::retry_result)) or an
//! [`EventIdConflict`](StoreError::EventIdConflict); one whose expected versions fail gets
//! [`WrongExpectedVersion`](StoreError::WrongExpectedVersion); a refusal is only given from a
//! read of the database, never from the cache alone. Commits are durable: the connections run
//! with `synchronous_commit = on`.
//!
//! `UNIQUE (stream, version)` and `UNIQUE (event_id)` are the last line: an append that got past
//! the checks above wrongly (a writer that does not follow this protocol) fails instead of
//! storing a second version 5 or an event twice. If the transaction fails, every request of the
//! batch gets the error and nothing of it was written; if the connection drops during `COMMIT`
//! the outcome is unknown to the caller, and retrying the same event ids is safe.
//!
//! The writer's session uses `plan_cache_mode = force_custom_plan` (and so does the function):
//! a generic plan is chosen once, from the statistics of the moment, and one chosen while
//! `events` was empty scanned the whole table on every batch from then on (measured: appends/s
//! fell to a fifth).
//!
//! # Failures: unavailable, or a bug
//! A failure that may pass is [`StoreError::Unavailable`] (see `is_transient`): the server
//! restarting or shutting down ("terminating connection due to administrator command", "the
//! database system is starting up"), a refused, reset or closed connection, the server out of
//! disk, memory or connections, a transaction rolled back for a deadlock or a serialization
//! failure. The caller retries the same request (the same event ids), which idempotency makes
//! safe. Nothing of a batch refused this way was written, except when the connection drops
//! during `COMMIT`: then the caller cannot know, and its retry gets the original result if the
//! commit went through. The writer drops its connection after such a failure and opens a new
//! one for the next batch; a reader reopens a closed connection when next used; the listener
//! reconnects with backoff while the timer keeps polling. Everything else (a constraint the
//! protocol does not expect, malformed SQL, a row that does not decode) is a
//! [`StoreError::Backend`]: a bug, not to be retried.
//!
//! Every connection's `application_name` is `careflow-writer/<schema>`,
//! `careflow-reader/<schema>` or `careflow-listener/<schema>`.
//!
//! # Reads and live updates
//! Reads use a few connections of their own, each shared by concurrent readers (tokio-postgres
//! pipelines their queries). A `$all` read examines positions `[from, min(from + max, head + 1))`
//! where `head` is read from `log_head` **in the same statement**, so in the same snapshot: the
//! slice's `next` is exact even when a filter leaves it empty.
//!
//! The `head` watch of a store moves when its own writer commits, when a notification arrives on
//! the schema's channel (`careflow_events:<schema>`, payload: the new head) from any process, and
//! on a timer ([`PostgresOptions::poll_interval`]) that reads `log_head`, so a lost notification
//! or a dropped listening connection only delays a subscriber, never loses an event.
//!
//! # Schema
//! Tables live in one PostgreSQL schema ([`PostgresOptions::schema`], `careflow` by default),
//! created and upgraded by [`migrate`] (`careflow migrate`); a store refuses to open a schema at
//! another version. Version 1 ([`MIGRATIONS`]):
//! ```sql
//! CREATE TABLE events (
//!     position       bigint      NOT NULL PRIMARY KEY,     -- $all position, 1-based, gap-free
//!     event_id       uuid        NOT NULL UNIQUE,          -- idempotency
//!     stream         text        NOT NULL,
//!     category       text        NOT NULL,                 -- stream name before the first '-'
//!     version        bigint      NOT NULL,                 -- 0-based, gap-free per stream
//!     event_type     text        NOT NULL,
//!     schema_version bigint      NOT NULL,                 -- a u32
//!     data           bytea       NOT NULL,                 -- the JSON payload, byte for byte
//!     metadata       json        NOT NULL,                 -- `Metadata` as JSON
//!     recorded_at    timestamptz NOT NULL DEFAULT now(),   -- commit (transaction) time
//!     UNIQUE (stream, version)                             -- optimistic concurrency
//! );
//! CREATE TABLE log_head (singleton boolean PRIMARY KEY CHECK (singleton), position bigint NOT NULL);
//! CREATE TABLE checkpoints (name text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz);
//! CREATE TABLE careflow_migrations (version integer PRIMARY KEY, description text, applied_at timestamptz);
//! -- migration 2: the write, see "Writes" above
//! CREATE FUNCTION careflow_append(expected_head, new_head, channel, positions[], ids[], streams[],
//!     categories[], versions[], types[], schema_versions[], data[], metadata[]) RETURNS void;
//! ```
//! There is deliberately no index on `category`: every `$all` read is bounded to a range of
//! positions, which the primary key serves, and each index costs every append. Checkpoint
//! positions are stored as the two's-complement `bigint` of the `u64`, so any position
//! round-trips. `data` is `bytea` so that any payload is stored exactly; to query it, use
//! `convert_from(data, 'UTF8')::jsonb`.

mod listener;
mod reader;
mod schema;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

use crate::{
    AllSlice, AppendResult, CurrentVersion, EventStore, Filter, Position, RecordedEvent, StoreError,
    StreamAppend, StreamName, encode_metadata, validate_request,
};
pub use schema::{MIGRATIONS, Migration, drop_schema, latest_version, migrate};

/// The schema used when none is configured.
pub const DEFAULT_SCHEMA: &str = "careflow";

/// How to reach the database, and tuning. [`PostgresOptions::new`] gives the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// A libpq-style connection string or URL (`postgres://user@host:5432/db`).
    pub url: String,
    /// The PostgreSQL schema holding the tables: 1 to 63 of `[a-z0-9_]`, starting with a letter
    /// or `_`.
    pub schema: String,
    /// Connections for reads (each pipelines concurrent queries).
    pub readers: usize,
    /// The most append requests the writer puts in one transaction.
    pub max_batch_requests: usize,
    /// The most events the writer puts in one transaction (a larger single request goes alone).
    pub max_batch_events: usize,
    /// How often the head is read from the database, in case a notification was lost.
    pub poll_interval: Duration,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
}

impl PostgresOptions {
    /// The defaults for `url`, in the schema [`DEFAULT_SCHEMA`].
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            readers: 4,
            max_batch_requests: 1024,
            max_batch_events: 8192,
            poll_interval: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// The same options in another schema.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The `LISTEN`/`NOTIFY` channel of this schema.
    fn channel(&self) -> String {
        format!("careflow_events:{}", self.schema)
    }

    fn validate(&self) -> Result<tokio_postgres::Config, StoreError> {
        let schema_ok = !self.schema.is_empty()
            && self.schema.len() <= 63
            && self.schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !self.schema.starts_with(|c: char| c.is_ascii_digit());
        if !schema_ok {
            return Err(PostgresError::Config(format!(
                "invalid schema name {:?}: use 1 to 63 of a-z, 0-9 and _, not starting with a digit",
                self.schema
            ))
            .into());
        }
        tokio_postgres::Config::from_str(&self.url)
            .map_err(|e| PostgresError::Config(format!("invalid PostgreSQL connection string: {e}")).into())
    }
}

/// Errors of this backend, lifted into [`StoreError`] at the port.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// A database error (constraint, syntax, permission, connection …).
    #[error(transparent)]
    Database(#[from] tokio_postgres::Error),
    /// Bad options.
    #[error("{0}")]
    Config(String),
    /// A stored value that breaks the schema's rules.
    #[error("invalid stored row: {0}")]
    InvalidRow(String),
    /// A constraint violation that the write protocol should have made impossible: another
    /// writer does not follow it, or the data was changed by hand.
    #[error("unexpected constraint violation while appending: {0}")]
    Inconsistent(#[source] tokio_postgres::Error),
}

impl From<PostgresError> for StoreError {
    fn from(error: PostgresError) -> Self {
        match error {
            PostgresError::Database(e) if is_transient(&e) => StoreError::Unavailable(describe_transient(&e)),
            PostgresError::Config(message) => StoreError::Unavailable(message),
            other => StoreError::backend(other),
        }
    }
}

/// Whether a database error is a passing condition of the server or the network, which the
/// same request may get past later ([`StoreError::Unavailable`]), rather than a bug.
///
/// Transient: a closed connection; a transport failure (connect refused, reset, timed out:
/// an I/O error without a server error); and the server states of [`is_transient_state`].
/// Everything else is a [`StoreError::Backend`]: constraint violations the protocol does not
/// expect, malformed SQL, a value that does not decode, authentication and protocol errors.
pub(crate) fn is_transient(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    if let Some(state) = error.code() {
        return is_transient_state(state);
    }
    // No server error. Transport failures carry the socket's I/O error; the codec's own
    // failures (a message it cannot parse or encode) carry an InvalidData/InvalidInput one,
    // and value conversions (ToSql, FromSql) an error of their own type.
    std::error::Error::source(error).and_then(|source| source.downcast_ref::<std::io::Error>()).is_some_and(
        |io| !matches!(io.kind(), std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput),
    )
}

/// Whether a SQLSTATE says the server cannot serve the request now but may soon:
/// - class 08, connection exception (except 08P01, a protocol violation: a bug);
/// - 57P01 `admin_shutdown` ("terminating connection due to administrator command"), 57P02
///   `crash_shutdown`, 57P03 `cannot_connect_now` ("the database system is starting up", "…
///   is shutting down", "… is in recovery mode"), 57P05 `idle_session_timeout`, 57014
///   `query_canceled` (a statement timeout or an operator's cancel);
/// - class 53, insufficient resources (`disk_full`, `out_of_memory`, `too_many_connections`);
/// - 40001 `serialization_failure`, 40P01 `deadlock_detected`, 40003
///   `statement_completion_unknown`: the transaction was rolled back as a whole;
/// - 55P03 `lock_not_available` (a lock timeout), 58030 `io_error` (the server's disk), 25006
///   `read_only_sql_transaction` (connected to a standby during a failover).
pub(crate) fn is_transient_state(state: &SqlState) -> bool {
    let code = state.code();
    (code.starts_with("08") && code != "08P01")
        || code.starts_with("53")
        || matches!(
            code,
            "57P01"
                | "57P02"
                | "57P03"
                | "57P05"
                | "57014"
                | "40001"
                | "40P01"
                | "40003"
                | "55P03"
                | "58030"
                | "25006"
        )
}

/// The message of a transient error: what the server or the socket said, which names a state,
/// never a row (no event data or stream name reaches it).
fn describe_transient(error: &tokio_postgres::Error) -> String {
    match (error.as_db_error(), std::error::Error::source(error)) {
        (Some(db), _) => {
            format!("PostgreSQL is unavailable: {} (SQLSTATE {})", db.message(), db.code().code())
        }
        (None, Some(source)) => format!("PostgreSQL is unavailable: {error}: {source}"),
        (None, None) => format!("PostgreSQL is unavailable: {error}"),
    }
}

/// Opens one connection with the store's session settings and spawns its driver.
pub(crate) async fn connect(options: &PostgresOptions, application: &str) -> Result<Client, StoreError> {
    let (client, connection) =
        configure(options, application)?.connect(NoTls).await.map_err(PostgresError::from)?;
    let application = application.to_owned();
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, connection = application, "PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// The connection settings: the URL's, plus our schema first on `search_path`, durable commits,
/// no JIT and a recognisable application name, `<application>/<schema>` (e.g.
/// `careflow-writer/careflow`), so that `pg_stat_activity` shows which store each connection
/// serves.
///
/// JIT is off because our statements are short index scans that JIT only slows down: with the
/// one-row `log_head` unanalysed, the planner's estimate for a `$all` page crossed
/// `jit_above_cost` and every page of a replay paid ~130 ms of compilation (13k events/s
/// instead of hundreds of thousands).
fn configure(options: &PostgresOptions, application: &str) -> Result<tokio_postgres::Config, StoreError> {
    let mut config = options.validate()?;
    let inherited = config.get_options().map(str::to_owned).unwrap_or_default();
    config
        .options(
            format!("{inherited} -c search_path={} -c synchronous_commit=on -c jit=off", options.schema)
                .trim(),
        )
        .application_name(format!("{application}/{}", options.schema))
        .connect_timeout(options.connect_timeout);
    Ok(config)
}

/// The PostgreSQL event store. See the module docs.
pub struct PostgresStore {
    commands: mpsc::Sender<writer::Command>,
    head: watch::Receiver<Position>,
    readers: Arc<reader::Readers>,
    listener: tokio::task::JoinHandle<()>,
    schema: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .field("head", &*self.head.borrow())
            .finish()
    }
}

impl PostgresStore {
    /// Connects to a migrated schema (see [`migrate`]), reads the head and starts the writer and
    /// the listener. Must be called within a tokio runtime.
    pub async fn connect(options: PostgresOptions) -> Result<Self, StoreError> {
        let readers = Arc::new(reader::Readers::connect(&options).await?);
        let head_now = readers.head().await?;
        let (head_tx, head) = watch::channel(head_now);
        let head_tx = Arc::new(head_tx);
        let writer = writer::Writer::new(&options, Arc::clone(&head_tx));
        let (commands, queue) = mpsc::channel(4096);
        // The writer and its connection get a thread and a runtime of their own: each of its
        // round trips is a few wake-ups (writer → connection → socket → connection → writer),
        // and on the shared runtime each waited behind the callers' tasks, tripling the time a
        // batch holds the log head at 8 writers.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::backend)?;
        std::thread::Builder::new()
            .name("careflow-pg-writer".into())
            .spawn(move || runtime.block_on(writer.run(queue)))
            .map_err(StoreError::backend)?;
        let listener = tokio::spawn(listener::run(options.clone(), Arc::clone(&readers), head_tx));
        Ok(Self { commands, head, readers, listener, schema: options.schema })
    }

    /// The PostgreSQL schema this store uses.
    pub fn schema(&self) -> &str {
        &self.schema
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // The writer stops by itself once the queue is closed and drained.
        self.listener.abort();
    }
}

/// Converts a `u64` that must fit PostgreSQL's `bigint`.
fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::InvalidAppend(format!("{what} {value} is out of range")))
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn append(&self, request: Vec<StreamAppend>) -> Result<AppendResult, StoreError> {
        validate_request(&request)?;
        let metadata = encode_metadata(&request)?;
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(writer::Command { request, metadata, reply })
            .await
            .map_err(|_| writer::stopped())?;
        answer.await.map_err(|_| writer::stopped())?
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.readers.read_stream(stream, from_version, max).await
    }

    async fn read_all(&self, from: Position, max: usize, filter: &Filter) -> Result<AllSlice, StoreError> {
        let from = from.max(1);
        if max == 0 {
            return Ok(AllSlice { events: Vec::new(), next: from });
        }
        self.readers.read_all(from, max, filter).await
    }

    async fn stream_version(&self, stream: &StreamName) -> Result<CurrentVersion, StoreError> {
        self.readers.stream_version(stream).await
    }

    async fn find_event(&self, id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        self.readers.find_event(id).await
    }

    fn head(&self) -> watch::Receiver<Position> {
        let mut head = self.head.clone();
        head.mark_unchanged();
        head
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<Position>, StoreError> {
        self.readers.load_checkpoint(name).await
    }

    async fn save_checkpoint(&self, name: &str, position: Position) -> Result<(), StoreError> {
        self.readers.save_checkpoint(name, position).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_lost_connections_and_exhausted_resources_are_transient() {
        for state in [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::IDLE_SESSION_TIMEOUT,
            SqlState::QUERY_CANCELED,
            SqlState::CONNECTION_EXCEPTION,
            SqlState::CONNECTION_FAILURE,
            SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
            SqlState::CONNECTION_DOES_NOT_EXIST,
            SqlState::TRANSACTION_RESOLUTION_UNKNOWN,
            SqlState::INSUFFICIENT_RESOURCES,
            SqlState::DISK_FULL,
            SqlState::OUT_OF_MEMORY,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::T_R_STATEMENT_COMPLETION_UNKNOWN,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::IO_ERROR,
            SqlState::READ_ONLY_SQL_TRANSACTION,
        ] {
            assert!(is_transient_state(&state), "{}", state.code());
        }
    }

    #[test]
    fn bugs_stay_backend_errors() {
        for state in [
            SqlState::UNIQUE_VIOLATION,
            SqlState::CHECK_VIOLATION,
            SqlState::NOT_NULL_VIOLATION,
            SqlState::SYNTAX_ERROR,
            SqlState::UNDEFINED_TABLE,
            SqlState::UNDEFINED_FUNCTION,
            SqlState::INVALID_TEXT_REPRESENTATION,
            SqlState::DATATYPE_MISMATCH,
            SqlState::PROTOCOL_VIOLATION,
            SqlState::INVALID_PASSWORD,
            SqlState::INSUFFICIENT_PRIVILEGE,
            SqlState::INTERNAL_ERROR,
            SqlState::DATA_CORRUPTED,
            SqlState::T_R_INTEGRITY_CONSTRAINT_VIOLATION,
            SqlState::from_code("CF001"),
        ] {
            assert!(!is_transient_state(&state), "{}", state.code());
        }
    }
}
