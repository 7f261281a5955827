//! Opening connections: pragmas, the schema and its version.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};

use super::SqliteOptions;
use crate::{Position, StoreError};

/// The schema version this build writes and understands (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

/// How long a connection waits on a lock held by another connection before failing. Only
/// recovery and checkpoints ever make a connection wait here: there is one writer.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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

/// Lifts a SQLite error: [`StoreError::Unavailable`] when it is a passing condition of the
/// disk or the file ([`transient`]), else [`StoreError::Backend`].
pub(super) fn db(error: rusqlite::Error) -> StoreError {
    match transient(&error) {
        Some(condition) => StoreError::Unavailable(condition.to_owned()),
        None => StoreError::backend(error),
    }
}

/// What a SQLite error says about the disk or the file, when it is something that may pass and
/// a retry may get past: the disk is full (`SQLITE_FULL`; writes resume once space is freed), a
/// read or write failed (`SQLITE_IOERR`, any extended code), the file is busy or locked
/// (`SQLITE_BUSY`, `SQLITE_LOCKED`: only recovery or a checkpoint holds it, briefly), cannot be
/// opened (`SQLITE_CANTOPEN`), memory ran out (`SQLITE_NOMEM`) or the WAL's lock protocol failed
/// (`SQLITE_PROTOCOL`). `None` for everything else: constraint violations, malformed SQL, a
/// corrupt file, misuse, values that do not convert, which are bugs or damage, not to be retried.
pub(super) fn transient(error: &rusqlite::Error) -> Option<&'static str> {
    let rusqlite::Error::SqliteFailure(failure, _) = error else { return None };
    match failure.code {
        ErrorCode::DiskFull => Some("the event store's disk is full (SQLITE_FULL)"),
        ErrorCode::SystemIoFailure => Some("the event store's disk failed to read or write (SQLITE_IOERR)"),
        ErrorCode::DatabaseBusy => Some("the event store's file is busy (SQLITE_BUSY)"),
        ErrorCode::DatabaseLocked => Some("the event store's file is locked (SQLITE_LOCKED)"),
        ErrorCode::CannotOpen => Some("the event store's file cannot be opened (SQLITE_CANTOPEN)"),
        ErrorCode::OutOfMemory => Some("the event store ran out of memory (SQLITE_NOMEM)"),
        ErrorCode::FileLockingProtocolFailed => {
            Some("the event store's file locking failed (SQLITE_PROTOCOL)")
        }
        _ => None,
    }
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
    // Keep the WAL file from staying larger than its limit after a burst.
    let limit = i64::try_from(options.wal_limit_bytes()).unwrap_or(i64::MAX);
    conn.pragma_update(None, "journal_size_limit", limit).map_err(db)?;
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

#[cfg(test)]
mod tests {
    use rusqlite::ffi;

    use super::*;

    fn failure(code: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
    }

    #[test]
    fn disk_and_file_conditions_are_unavailable() {
        for code in [
            ffi::SQLITE_FULL,
            ffi::SQLITE_IOERR,
            ffi::SQLITE_IOERR_WRITE,
            ffi::SQLITE_IOERR_FSYNC,
            ffi::SQLITE_IOERR_SHMSIZE,
            ffi::SQLITE_BUSY,
            ffi::SQLITE_BUSY_SNAPSHOT,
            ffi::SQLITE_LOCKED,
            ffi::SQLITE_CANTOPEN,
            ffi::SQLITE_NOMEM,
            ffi::SQLITE_PROTOCOL,
        ] {
            assert!(matches!(db(failure(code)), StoreError::Unavailable(_)), "code {code}");
        }
        let message = db(failure(ffi::SQLITE_FULL)).to_string();
        assert!(message.contains("disk is full"), "{message}");
    }

    #[test]
    fn bugs_and_damage_stay_backend_errors() {
        for code in [
            ffi::SQLITE_CONSTRAINT_UNIQUE,
            ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
            ffi::SQLITE_ERROR,
            ffi::SQLITE_CORRUPT,
            ffi::SQLITE_NOTADB,
            ffi::SQLITE_MISUSE,
            ffi::SQLITE_READONLY,
            ffi::SQLITE_TOOBIG,
            ffi::SQLITE_MISMATCH,
        ] {
            assert!(matches!(db(failure(code)), StoreError::Backend(_)), "code {code}");
        }
        for error in [
            rusqlite::Error::InvalidColumnType(0, "position".into(), rusqlite::types::Type::Text),
            rusqlite::Error::QueryReturnedNoRows,
            rusqlite::Error::InvalidParameterCount(1, 2),
        ] {
            assert!(matches!(db(error), StoreError::Backend(_)));
        }
    }

    #[test]
    fn a_real_malformed_statement_and_a_real_full_database() {
        let conn = Connection::open_in_memory().unwrap();
        let malformed = conn.execute_batch("SELEC 1").map_err(db);
        assert!(matches!(malformed, Err(StoreError::Backend(_))), "{malformed:?}");
        conn.execute_batch("CREATE TABLE t (b BLOB); PRAGMA max_page_count = 8;").unwrap();
        let full = conn.execute("INSERT INTO t VALUES (zeroblob(1000000))", []).map_err(db);
        assert!(matches!(full, Err(StoreError::Unavailable(_))), "{full:?}");
    }
}
