//! SQLite backend: the embedded default event store (DESIGN.md §3).
//!
//! One data file, in WAL mode, owned by one process. Depends on `rusqlite` (bundled SQLite), std
//! threads for the writer and tokio's blocking pool for reads; it knows no domain type.
//!
//! # Writes: one writer thread, group commit, a syncer thread
//! Every write (appends and checkpoint saves) is sent over a channel to one dedicated
//! `std::thread` that owns the only read-write connection, with a oneshot channel for the reply.
//! The writer takes the first waiting command, drains whatever else is already waiting (up to
//! [`SqliteOptions::max_batch_requests`] commands or [`SqliteOptions::max_batch_events`] events)
//! and applies them all in ONE transaction:
//!
//! 1. `BEGIN IMMEDIATE`;
//! 2. per append request: the expected versions are checked against an in-memory cache of stream
//!    versions (filled from the `(stream, version)` index on a miss); the events are inserted
//!    with positions handed out by the writer, under a `SAVEPOINT` when the request has more
//!    than one event, so a failing request rolls back only itself and leaves the rest of the
//!    batch alone. An event id that is already stored shows up as a `UNIQUE(event_id)`
//!    violation; the request is then rolled back and answered by [`retry_result`](crate::retry_result) (the original
//!    result of a retry, or [`StoreError::EventIdConflict`]). A failed expectation also consults
//!    [`retry_result`](crate::retry_result) first, so a retry whose expectation no longer holds still gets its
//!    original result, as with [`MemoryStore`](crate::memory::MemoryStore);
//! 3. one `COMMIT`;
//! 4. the batch (its answers and last position) goes to the **syncer** thread, and the writer
//!    starts on the next batch at once.
//!
//! The syncer takes every batch committed so far, makes them durable with one `fdatasync` of the
//! WAL file, advances the `head` watch to their last position, then answers their requests (so
//! when `append` returns, `head()` already shows its `last_position`). Nothing is acknowledged
//! before it is on disk: this is what `synchronous=FULL` promises, but the fsync of batch *n*
//! overlaps the inserts of batch *n + 1* instead of stalling the only writer, which is most of
//! the throughput at 8 and more writers. SQLite itself runs with `synchronous=NORMAL`: it does
//! not sync at commit (the syncer does) but it does sync around checkpoints and WAL restarts,
//! which is what keeps the file free of corruption (SQLite's own guarantee for `NORMAL`). If an
//! `fdatasync` fails, the store refuses every later write (like PostgreSQL, it does not trust a
//! file whose writeback failed) until it is reopened. [`Synchronous::Normal`] skips the
//! `fdatasync`.
//!
//! If the transaction fails as a whole (I/O error, disk full, failed `COMMIT`), it is rolled
//! back, every request of the batch gets an error, nothing is acknowledged, and the writer
//! forgets its cache and reloads the last position from the file before the next batch. The
//! writer thread goes on serving: once space is freed (or the I/O error passes), writes resume
//! by themselves. A failure that may pass this way (`SQLITE_FULL`, `SQLITE_IOERR`,
//! `SQLITE_BUSY`/`SQLITE_LOCKED`, `SQLITE_CANTOPEN`, `SQLITE_NOMEM`) is a
//! [`StoreError::Unavailable`], for the caller to retry; anything else (a constraint the cache
//! did not predict, malformed SQL, a corrupt file) is a [`StoreError::Backend`].
//!
//! Since the writer alone assigns positions and commits in position order, positions are
//! gap-free and a position is visible only once every lower one is: exactly what
//! [`Subscription`](crate::Subscription) relies on.
//!
//! # Reads
//! Reads go through a small pool of read-only connections (WAL lets them run beside the writer)
//! on tokio's blocking pool, never on the async runtime's threads. A `$all` read examines
//! positions `[from, min(from + max, head + 1))`, where `head` is the durable head when the read
//! starts: every position in that range is committed, synced and visible, so [`AllSlice::next`]
//! (one past the last position examined) is exact even with a filter, and subscribers (hence
//! read models) never see an event that a power cut could still take back. Stream reads,
//! [`find_event`](EventStore::find_event) and [`stream_version`](EventStore::stream_version)
//! see every committed event, including one whose sync is still under way (for well under a
//! millisecond): that keeps them in step with the expected-version checks of the writer. Only a
//! power cut in that window could take such an event back, and then its writer was never told
//! it succeeded, nor was anything appended after it acknowledged.
//!
//! # One process per data file
//! The store takes an exclusive advisory lock ([`std::fs::File::try_lock`], `flock(2)` on Linux)
//! on a lock file next to the data file (`<file>.lock`, left in place on close). A second
//! [`SqliteStore::open`] of the same file, from this process or another, fails with
//! [`StoreError::Unavailable`] while the first is open. The kernel drops the lock when the
//! process dies, even by `kill -9`, so a crashed store reopens at once. (SQLite's own
//! `locking_mode=EXCLUSIVE` is not used: it would lock out the reader connections too.)
//!
//! # Schema (`PRAGMA user_version = 1`)
//! ```sql
//! CREATE TABLE events (
//!     position       INTEGER PRIMARY KEY,   -- the $all position, assigned by the writer
//!     event_id       BLOB    NOT NULL UNIQUE, -- 16-byte UUID
//!     stream         TEXT    NOT NULL,
//!     category       TEXT    NOT NULL,      -- stream name before the first '-'
//!     version        INTEGER NOT NULL,      -- 0-based, gap-free per stream
//!     event_type     TEXT    NOT NULL,
//!     schema_version INTEGER NOT NULL,
//!     data           BLOB    NOT NULL,      -- the JSON payload, byte for byte
//!     metadata       TEXT    NOT NULL,      -- JSON of `Metadata`
//!     recorded_at    INTEGER NOT NULL,      -- commit time, nanoseconds since the Unix epoch
//!     UNIQUE (stream, version)
//! );
//! -- category-filtered $all reads; the rowid (position) is every index's implicit last key,
//! -- so this index is ordered by (category, position)
//! CREATE INDEX events_category ON events (category);
//! CREATE TABLE checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID;
//! ```
//! Checkpoint positions are stored as the two's-complement `i64` of the `u64`, so any
//! [`Position`] round-trips.
//!
//! # Shutdown
//! Dropping the store closes the command channel; the writer finishes every command already
//! queued, commits, and exits; `drop` waits for it (a few milliseconds at most, one batch), so
//! the file can be reopened as soon as the store is gone.

mod reader;
mod schema;
mod syncer;
mod writer;

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

use crate::{
    AllSlice, AppendResult, CurrentVersion, EventStore, Filter, Position, RecordedEvent, StoreError,
    StreamAppend, StreamName, encode_metadata, validate_request,
};
use reader::ReaderPool;
use syncer::Syncer;
use writer::{Command, Writer};

/// How durable an acknowledged append is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// The WAL is fsynced (`fdatasync`) after every commit, before any request of the batch is
    /// answered: an acknowledged append survives a process crash and a power loss. What SQLite's
    /// `synchronous=FULL` promises, done by the syncer thread. The default.
    #[default]
    Full,
    /// No fsync at commit (SQLite's `synchronous=NORMAL` alone): an acknowledged append survives
    /// a process crash but may be lost on power loss. For tests and throw-away data only.
    Normal,
}

/// Tuning for [`SqliteStore::open_with`]. The defaults suit the embedded server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Commit durability; [`Synchronous::Full`] unless you can lose acknowledged appends.
    pub synchronous: Synchronous,
    /// The most commands (appends, checkpoint saves) the writer puts in one transaction.
    pub max_batch_requests: usize,
    /// The most events the writer puts in one transaction (a single larger request still goes
    /// through, alone).
    pub max_batch_events: usize,
    /// WAL size, in pages, at which the writer checkpoints the WAL into the data file.
    pub wal_autocheckpoint_pages: u32,
    /// Page cache of the writer connection, in KiB.
    pub writer_cache_kib: u32,
    /// Page cache of each reader connection, in KiB.
    pub reader_cache_kib: u32,
    /// Bytes of the data file each reader maps into memory (0: no memory mapping).
    pub reader_mmap_bytes: u64,
    /// Idle reader connections kept open for reuse.
    pub max_idle_readers: usize,
}

impl SqliteOptions {
    /// The WAL size at which SQLite checkpoints it (`wal_autocheckpoint_pages` of SQLite's
    /// default 4 KiB): past it the writer also forces a checkpoint that truncates the WAL,
    /// should readers have kept SQLite from restarting it.
    pub(crate) fn wal_checkpoint_bytes(&self) -> u64 {
        u64::from(self.wal_autocheckpoint_pages.max(1)) * PAGE_BYTES
    }

    /// The most the WAL file holds under steady load, in bytes, but for the few batches that
    /// pass it while readers keep a restart waiting: twice the checkpoint size (a checkpoint that readers keep busy is tried again
    /// after each batch).
    pub fn wal_limit_bytes(&self) -> u64 {
        2 * self.wal_checkpoint_bytes()
    }
}

/// SQLite's page size as careflow creates its files.
const PAGE_BYTES: u64 = 4096;

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            max_batch_requests: 1024,
            max_batch_events: 8192,
            wal_autocheckpoint_pages: 8192,
            writer_cache_kib: 64 * 1024,
            reader_cache_kib: 16 * 1024,
            reader_mmap_bytes: 1 << 30,
            max_idle_readers: 4,
        }
    }
}

/// The SQLite event store. See the module docs for how it works.
pub struct SqliteStore {
    commands: Option<mpsc::Sender<Command>>,
    writer: Option<JoinHandle<()>>,
    head: watch::Receiver<Position>,
    readers: Arc<ReaderPool>,
    path: PathBuf,
    wal_limit_bytes: u64,
    syncer: Option<JoinHandle<()>>,
    /// Held (locked) for as long as the store is open; released when dropped.
    _lock: File,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).field("head", &*self.head.borrow()).finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in the SQLite file at `path`, with the default
    /// [`SqliteOptions`] (`synchronous=FULL`). Missing parent folders are created.
    ///
    /// Blocks while it opens the file and recovers the WAL: call it at startup, or from
    /// `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens the store with explicit options. Fails with [`StoreError::Unavailable`] when
    /// another store (in this process or another) has the file open.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(StoreError::backend)?;
        }
        let lock = lock_file(&path)?;
        let conn = schema::open_writer(&path, &options)?;
        let last_position = schema::last_position(&conn)?;
        let wal = match options.synchronous {
            Synchronous::Full => Some(open_wal(&path)?),
            Synchronous::Normal => None,
        };
        let (head_tx, head) = watch::channel(last_position);
        let failed = Arc::new(AtomicBool::new(false));
        let (synced, to_sync) = mpsc::channel();
        let syncer = Syncer::new(wal, head_tx, Arc::clone(&failed));
        let syncer = std::thread::Builder::new()
            .name("careflow-sqlite-syncer".into())
            .spawn(move || syncer.run(&to_sync))
            .map_err(StoreError::backend)?;
        // If the writer cannot start, dropping `synced` here stops the syncer.
        let (commands, receiver) = mpsc::channel();
        let writer = Writer::new(conn, synced, failed, last_position, &options);
        let writer = std::thread::Builder::new()
            .name("careflow-sqlite-writer".into())
            .spawn(move || writer.run(&receiver))
            .map_err(StoreError::backend)?;
        let readers = Arc::new(ReaderPool::new(path.clone(), &options));
        Ok(Self {
            commands: Some(commands),
            writer: Some(writer),
            syncer: Some(syncer),
            head,
            readers,
            path,
            wal_limit_bytes: options.wal_limit_bytes(),
            _lock: lock,
        })
    }

    /// The data file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The most the WAL file grows to under load ([`SqliteOptions::wal_limit_bytes`]).
    pub fn wal_limit_bytes(&self) -> u64 {
        self.wal_limit_bytes
    }

    /// Sends a command to the writer and waits for its reply.
    async fn send<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.commands.as_ref().ok_or_else(writer_gone)?.send(make(reply)).map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// Runs `read` with a pooled reader connection on the blocking pool (inline when there is
    /// no tokio runtime).
    async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        let job = move || readers.with(read);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(job)
                .await
                .map_err(|e| StoreError::Unavailable(format!("an event store read failed: {e}")))?,
            Err(_) => job(),
        }
    }
}

fn writer_gone() -> StoreError {
    StoreError::Unavailable("the SQLite writer has stopped".into())
}

/// Opens the WAL file (SQLite has created it by now) for the syncer's `fdatasync`, and makes
/// the folder entries of the data, WAL and lock files durable.
fn open_wal(path: &Path) -> Result<File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    let wal =
        OpenOptions::new().read(true).write(true).open(PathBuf::from(name)).map_err(StoreError::backend)?;
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(folder).and_then(|folder| folder.sync_all()).map_err(StoreError::backend)?;
    Ok(wal)
}

/// Takes the exclusive lock on `<path>.lock`. See "One process per data file".
fn lock_file(path: &Path) -> Result<File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(StoreError::backend)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::Unavailable(format!(
            "the event store {} is already open (lock file {} is held)",
            path.display(),
            lock_path.display()
        ))),
        Err(TryLockError::Error(e)) => Err(StoreError::backend(e)),
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Readers first, so the writer's connection is the last to close and can checkpoint
        // and remove the WAL.
        self.readers.close_idle();
        // Closing the channel lets the writer finish what is queued, then stop.
        self.commands = None;
        // The writer finishes the queue, then closes the syncer's channel; the syncer syncs and
        // answers what it has, then stops.
        for (name, thread) in [("writer", self.writer.take()), ("syncer", self.syncer.take())] {
            if let Some(thread) = thread
                && thread.join().is_err()
            {
                tracing::error!(path = %self.path.display(), "the SQLite {name} thread panicked");
            }
        }
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn append(&self, request: Vec<StreamAppend>) -> Result<AppendResult, StoreError> {
        validate_request(&request)?;
        let metadata = encode_metadata(&request)?;
        self.send(|reply| Command::Append { request, metadata, reply }).await
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
        let stream = stream.clone();
        self.read(move |conn| reader::read_stream(conn, &stream, from_version, max)).await
    }

    async fn read_all(&self, from: Position, max: usize, filter: &Filter) -> Result<AllSlice, StoreError> {
        let from = from.max(1);
        let head = *self.head.borrow();
        // Every position up to `head` is committed; examine [from, end).
        let end =
            from.saturating_add(u64::try_from(max).unwrap_or(u64::MAX)).min(head.saturating_add(1)).max(from);
        if end == from {
            return Ok(AllSlice { events: Vec::new(), next: from });
        }
        let filter = filter.clone();
        let events = self.read(move |conn| reader::read_all(conn, from, end, &filter)).await?;
        Ok(AllSlice { events, next: end })
    }

    async fn stream_version(&self, stream: &StreamName) -> Result<CurrentVersion, StoreError> {
        let stream = stream.clone();
        self.read(move |conn| reader::stream_version(conn, &stream)).await
    }

    async fn find_event(&self, id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        self.read(move |conn| reader::find_event(conn, id)).await
    }

    fn head(&self) -> watch::Receiver<Position> {
        let mut head = self.head.clone();
        head.mark_unchanged();
        head
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<Position>, StoreError> {
        let name = name.to_owned();
        self.read(move |conn| reader::load_checkpoint(conn, &name)).await
    }

    async fn save_checkpoint(&self, name: &str, position: Position) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.send(|reply| Command::SaveCheckpoint { name, position, reply }).await
    }
}
