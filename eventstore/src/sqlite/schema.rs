//! Opening connections: pragmas, the schema and its version.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::SqliteOptions;
use crate::{Position, StoreError};

/// The schema version this build writes and understands (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

/// How long a connection waits on a lock held by another connection before failing. Only
/// recovery and checkpoints ever make a connection wait here: there is one writer.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Cached prepared statements per connection.
const STATEMENT_CACHE: usize = 64;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    position       INTEGER PRIMARY KEY,
    event_id       BLOB    NOT NULL UNIQUE,
    stream         TEXT    NOT NULL,
    category       TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    data           BLOB    NOT NULL,
    metadata       TEXT    NOT NULL,
    recorded_at    INTEGER NOT NULL,
    UNIQUE (stream, version)
);
CREATE INDEX IF NOT EXISTS events_category ON events (category);
CREATE TABLE IF NOT EXISTS checkpoints (
    name     TEXT    PRIMARY KEY,
    position INTEGER NOT NULL
) WITHOUT ROWID;
";

/// An error found while opening the file that SQLite itself does not report.
#[derive(Debug, thiserror::Error)]
pub(super) enum SchemaError {
    /// The file was written by a newer build.
    #[error("the event store schema version is {found}; this build understands up to {SCHEMA_VERSION}")]
    TooNew {
        /// The file's `user_version`.
        found: i64,
    },
    /// WAL mode could not be turned on (e.g. an in-memory or read-only file).
    #[error("cannot put the event store in WAL mode (journal mode is {0:?})")]
    NoWal(String),
}

pub(super) fn db(error: rusqlite::Error) -> StoreError {
    StoreError::backend(error)
}

/// Opens the read-write connection of the writer thread: WAL, the durability setting, the
/// schema (created or checked).
pub(super) fn open_writer(path: &Path, options: &SqliteOptions) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(db)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::backend(SchemaError::NoWal(mode)));
    }
    // NORMAL: SQLite does not fsync at commit (the syncer thread does, see the module docs) but
    // does fsync around checkpoints and WAL restarts, which keeps the file safe from corruption.
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(db)?;
    conn.pragma_update(None, "wal_autocheckpoint", options.wal_autocheckpoint_pages).map_err(db)?;
    // Keep the WAL file from staying huge after a burst.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024).map_err(db)?;
    conn.pragma_update(None, "cache_size", -i64::from(options.writer_cache_kib)).map_err(db)?;
    conn.pragma_update(None, "temp_store", "MEMORY").map_err(db)?;
    conn.pragma_update(None, "foreign_keys", "OFF").map_err(db)?;
    migrate(&conn)?;
    Ok(conn)
}

/// Creates the schema in a new file, or checks the version of an existing one, in one
/// transaction (a crash halfway leaves no half-made schema).
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
    let result = (|| {
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(db)?;
        match version {
            0 => {
                conn.execute_batch(SCHEMA).map_err(db)?;
                conn.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(db)
            }
            SCHEMA_VERSION => Ok(()),
            found => Err(StoreError::backend(SchemaError::TooNew { found })),
        }
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT").map_err(db),
        Err(e) => {
            // Best effort: the error that matters is `e`.
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The last stored position (0 for an empty store).
pub(super) fn last_position(conn: &Connection) -> Result<Position, StoreError> {
    let last: Option<i64> = conn
        .query_row("SELECT position FROM events ORDER BY position DESC LIMIT 1", [], |row| row.get(0))
        .optional()
        .map_err(db)?;
    Ok(last.map_or(0, |p| u64::try_from(p).unwrap_or(0)))
}

/// Opens a read-only connection for the reader pool.
pub(super) fn open_reader(path: &Path, options: &SqliteOptions) -> Result<Connection, StoreError> {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(db)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "cache_size", -i64::from(options.reader_cache_kib)).map_err(db)?;
    conn.pragma_update(None, "mmap_size", options.reader_mmap_bytes).map_err(db)?;
    conn.pragma_update(None, "temp_store", "MEMORY").map_err(db)?;
    Ok(conn)
}
