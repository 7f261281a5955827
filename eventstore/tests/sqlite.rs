//! What only the SQLite backend has to show: data and positions survive closing and reopening,
//! one store per data file, queued work finishes on drop, bad files fail cleanly, a full disk
//! refuses writes as unavailable until space is freed.

mod common;

use std::sync::Arc;

use careflow_eventstore::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use careflow_eventstore::{
    CurrentVersion, EventStore, ExpectedVersion, Filter, StoreError, Subscription, SubscriptionMessage,
};
use common::{check_log, event, fill, placements, replay, stream, to};
use futures::FutureExt;

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(dir.path().join("events.sqlite")).expect("open the store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_reopen_and_positions_continue() {
    let dir = tempfile::tempdir().unwrap();
    let (before, version) = {
        let store = open(&dir);
        fill(&store, "bed-1", 3).await;
        let result = store
            .append(vec![
                to("bed-2", ExpectedVersion::NoStream, vec![event("A")]),
                to("bed-1", ExpectedVersion::Exact(2), vec![event("B")]),
            ])
            .await
            .unwrap();
        store.save_checkpoint("bed-board", 4).await.unwrap();
        (replay(&store, 100).await, result.streams[1].version)
    };
    let store = open(&dir);
    assert_eq!(*store.head().borrow(), 5);
    let after = replay(&store, 100).await;
    assert_eq!(after, before);
    check_log(&after);
    assert_eq!(store.stream_version(&stream("bed-1")).await.unwrap(), version);
    assert_eq!(store.load_checkpoint("bed-board").await.unwrap(), Some(4));
    // Expectations are checked against what was stored before the restart.
    let stale = store.append(vec![to("bed-1", ExpectedVersion::Exact(2), vec![event("C")])]).await;
    assert!(matches!(
        stale,
        Err(StoreError::WrongExpectedVersion { actual: CurrentVersion::Version(3), .. })
    ));
    let next = store.append(vec![to("bed-1", ExpectedVersion::Exact(3), vec![event("C")])]).await.unwrap();
    assert_eq!((next.first_position, next.streams[0].version), (6, CurrentVersion::Version(4)));
    check_log(&replay(&store, 100).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_retry_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let request = vec![
        to("stay-1", ExpectedVersion::NoStream, vec![event("A"), event("B")]),
        to("bed-1", ExpectedVersion::NoStream, vec![event("C")]),
    ];
    let original = {
        let store = open(&dir);
        fill(&store, "ward-1", 2).await;
        store.append(request.clone()).await.unwrap()
    };
    let store = open(&dir);
    assert_eq!(store.append(request.clone()).await.unwrap(), original);
    assert_eq!(replay(&store, 100).await.len(), 5);
    // A partial overlap is still a conflict after the restart.
    let mut partial = request.clone();
    partial[1].events.push(event("D"));
    assert!(matches!(store.append(partial).await, Err(StoreError::EventIdConflict { .. })));
    assert_eq!(*store.head().borrow(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_store_per_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let second = SqliteStore::open(dir.path().join("events.sqlite"));
    assert!(matches!(second, Err(StoreError::Unavailable(_))), "{second:?}");
    fill(&store, "bed-1", 1).await;
    drop(store);
    // Dropping releases the file at once.
    let store = open(&dir);
    assert_eq!(*store.head().borrow(), 1);
    // Another file in the same folder is another store.
    let other = SqliteStore::open(dir.path().join("other.sqlite")).unwrap();
    assert_eq!(*other.head().borrow(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_appends_finish_when_the_store_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let requests: Vec<_> =
        (0..20).map(|i| vec![to(&format!("bed-{i}"), ExpectedVersion::NoStream, vec![event("A")])]).collect();
    for request in &requests {
        // Polling once hands the request to the writer; the caller then walks away.
        assert!(store.append(request.clone()).now_or_never().is_none());
    }
    drop(store);
    let store = open(&dir);
    let log = replay(&store, 100).await;
    check_log(&log);
    assert_eq!(log.len(), requests.len());
    for request in &requests {
        assert!(store.find_event(request[0].events[0].id).await.unwrap().is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_resumes_from_a_checkpoint_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        fill(&store, "bed-1", 4).await;
        store.save_checkpoint("board", 2).await.unwrap();
    }
    let store: Arc<dyn EventStore> = Arc::new(open(&dir));
    let from = store.load_checkpoint("board").await.unwrap().unwrap() + 1;
    let mut subscription = Subscription::new(store.clone(), from, Filter::all());
    let mut positions = Vec::new();
    while let SubscriptionMessage::Event(e) = subscription.next().await.unwrap() {
        positions.push(e.position);
    }
    assert_eq!(positions, vec![3, 4]);
    let result = fill(store.as_ref(), "bed-2", 1).await;
    match subscription.next().await.unwrap() {
        SubscriptionMessage::Event(e) => assert_eq!(e.position, result.last_position),
        other => panic!("expected the live event, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_and_many_streams() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        synchronous: Synchronous::Normal,
        max_batch_requests: 3,
        max_batch_events: 4,
        max_idle_readers: 1,
        ..SqliteOptions::default()
    };
    let store =
        Arc::new(SqliteStore::open_with(dir.path().join("nested/folder/events.sqlite"), options).unwrap());
    assert!(store.path().ends_with("nested/folder/events.sqlite"));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                // Requests larger than a batch still go through, alone.
                let events = (0..(i % 7) + 1).map(|_| event("A")).collect::<Vec<_>>();
                let request = vec![to(&format!("bed-{}", i % 13), ExpectedVersion::Any, events)];
                let result = store.append(request.clone()).await.unwrap();
                placements(&request, &result)
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    let log = replay(store.as_ref(), 33).await;
    check_log(&log);
    assert_eq!(log.len(), acknowledged.len());
    for (id, stream_name, version, position) in acknowledged {
        let e = &log[position as usize - 1];
        assert_eq!((e.id, &e.stream, e.version), (id, &stream_name, version));
    }
}

#[test]
fn a_file_that_is_not_a_store_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.sqlite");
    std::fs::write(&garbage, vec![0x5a_u8; 64 * 1024]).unwrap();
    assert!(matches!(SqliteStore::open(&garbage), Err(StoreError::Backend(_))));
    // A folder where the file should be.
    let folder = dir.path().join("folder.sqlite");
    std::fs::create_dir(&folder).unwrap();
    assert!(SqliteStore::open(&folder).is_err());
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    drop(SqliteStore::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let error = SqliteStore::open(&path).unwrap_err();
    assert!(error.to_string().contains("backend") || matches!(error, StoreError::Backend(_)), "{error}");
    let source = std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default();
    assert!(source.contains("99"), "{source}");
}

#[test]
fn works_without_a_tokio_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let result = futures::executor::block_on(fill(&store, "bed-1", 2));
    assert_eq!(result.last_position, 2);
    let events = futures::executor::block_on(store.read_stream(&stream("bed-1"), 0, 10)).unwrap();
    assert_eq!(events.len(), 2);
}

/// A small tmpfs mounted for one test, unmounted when dropped. `None` (after saying why) where
/// mounting is not allowed (not root, no CAP_SYS_ADMIN): the writer's own unit test covers
/// SQLITE_FULL there with `max_page_count`.
struct SmallDisk {
    mount_point: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: u64) -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mount_point = dir.path().join("disk");
        std::fs::create_dir(&mount_point).expect("a mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&mount_point)
            .output();
        match mounted {
            Ok(output) if output.status.success() => Some(Self { mount_point, _dir: dir }),
            Ok(output) => {
                eprintln!(
                    "skipping: cannot mount a tmpfs: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
                None
            }
            Err(error) => {
                eprintln!("skipping: cannot run mount: {error}");
                None
            }
        }
    }

    /// Fills the disk with `<disk>/filler` until a write fails.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.mount_point.join("filler")).expect("a filler file");
        let chunk = vec![0u8; 4096];
        while filler.write_all(&chunk).is_ok() {}
        let _ = filler.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.mount_point.join("filler")).expect("the filler file removed");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let unmounted = std::process::Command::new("umount").arg(&self.mount_point).status();
        if !unmounted.is_ok_and(|s| s.success()) {
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.mount_point).status();
        }
    }
}

/// An event whose payload takes `bytes` bytes: more than the room a full disk has left.
fn big_event(bytes: usize) -> careflow_eventstore::NewEvent {
    careflow_eventstore::NewEvent::json(
        uuid::Uuid::now_v7(),
        "Big",
        1,
        &"x".repeat(bytes),
        common::metadata(),
    )
    .expect("an encodable payload")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_as_unavailable_and_they_resume_once_space_is_freed() {
    let Some(disk) = SmallDisk::mount(8 * 1024 * 1024) else { return };
    let store = SqliteStore::open(disk.mount_point.join("events.sqlite")).unwrap();
    fill(&store, "bed-1", 3).await;
    store.save_checkpoint("bed-board", 3).await.unwrap();

    disk.fill();
    let request = vec![to("bed-2", ExpectedVersion::NoStream, vec![big_event(256 * 1024)])];
    let id = request[0].events[0].id;
    for attempt in 0..3 {
        match store.append(request.clone()).await {
            Err(StoreError::Unavailable(condition)) => assert!(condition.contains("full"), "{condition}"),
            other => panic!("attempt {attempt}: expected unavailable, got {other:?}"),
        }
    }
    // Nothing of the refused append was written, and reads still work.
    assert_eq!(*store.head().borrow(), 3);
    assert_eq!(store.find_event(id).await.unwrap(), None);
    assert_eq!(store.stream_version(&stream("bed-2")).await.unwrap(), CurrentVersion::NoStream);
    assert_eq!(replay(&store, 100).await.len(), 3);

    disk.free();
    let result = store.append(request.clone()).await.unwrap();
    assert_eq!((result.first_position, result.last_position), (4, 4));
    // The same request again is a retry: the original result, nothing written twice.
    assert_eq!(store.append(request).await.unwrap(), result);
    fill(&store, "bed-1", 1).await;
    let events = replay(&store, 100).await;
    check_log(&events);
    assert_eq!(events.len(), 5);
    assert_eq!(store.load_checkpoint("bed-board").await.unwrap(), Some(3));
    drop(store);
    // And it all survives a reopen.
    let store = SqliteStore::open(disk.mount_point.join("events.sqlite")).unwrap();
    assert_eq!(replay(&store, 100).await, events);
}

/// Under steady appends with readers always at work (projections, gateways), the WAL stays
/// bounded: SQLite's own checkpoints cannot restart a WAL that some reader is always reading,
/// so it would grow by every commit's pages for as long as the load lasts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_under_steady_load_with_readers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let options = SqliteOptions { wal_autocheckpoint_pages: 64, ..SqliteOptions::default() };
    let store = Arc::new(SqliteStore::open_with(&path, options).unwrap());
    let bound = store.wal_limit_bytes();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..2 {
        let (store, stop) = (store.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                store.read_all(1, 200, &Filter::all()).await.unwrap();
            }
        }));
    }
    let wal = dir.path().join("events.sqlite-wal");
    let mut largest = 0;
    for i in 0..3000u32 {
        let name = format!("bed-{}", i % 50);
        let expected = if i < 50 { ExpectedVersion::NoStream } else { ExpectedVersion::Any };
        store.append(vec![to(&name, expected, vec![event("BedCleaned")])]).await.unwrap();
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    // The limit, and the few commits that pass it while readers keep the restart waiting
    // (unbounded, it grew to 12.5 MB here).
    assert!(largest <= bound + bound / 4, "the WAL grew to {largest} bytes (bound {bound})");
    assert_eq!(*store.head().borrow(), 3000);
}
