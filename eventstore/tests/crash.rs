//! Durability under `kill -9` (DESIGN.md §3, §8): nothing acknowledged is lost, nothing is
//! half-written, positions and versions stay gap-free.
//!
//! Each parent test re-runs this test binary as a child (`crash_child`, with
//! `CAREFLOW_CRASH_CHILD_DIR` set for SQLite, or `CAREFLOW_CRASH_CHILD_PG` for PostgreSQL). The
//! child appends from several tasks and prints a `TRY` line before each append and an `ACK` line
//! after each acknowledged one. The parent SIGKILLs the child after a random number of `ACK`s,
//! over many rounds on the same store, then opens the store and checks it. With PostgreSQL the
//! client process dies mid-transaction (the server rolls back what it had not committed).
//!
//! Rounds: `CAREFLOW_CRASH_ROUNDS` (default 24 for SQLite, 12 for PostgreSQL).

// Test code throughout (helpers included): a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use careflow_eventstore::postgres::{PostgresOptions, PostgresStore};
use careflow_eventstore::sqlite::SqliteStore;
use careflow_eventstore::{CurrentVersion, EventStore, ExpectedVersion, StreamAppend, StreamName};
use common::{check_log, event, replay, stream};
use rand::Rng;
use uuid::Uuid;

const CHILD_DIR_ENV: &str = "CAREFLOW_CRASH_CHILD_DIR";
/// `<schema> <url>` of the PostgreSQL store the child appends to.
const CHILD_PG_ENV: &str = "CAREFLOW_CRASH_CHILD_PG";
const ROUNDS_ENV: &str = "CAREFLOW_CRASH_ROUNDS";
/// Appending tasks in the child.
const APPENDERS: usize = 4;
/// A child that is never killed stops by itself after this many appends per task.
const MAX_APPENDS_PER_TASK: usize = 20_000;

fn store_path(dir: &Path) -> PathBuf {
    dir.join("events.sqlite")
}

// ---------------------------------------------------------------- child

/// The child's side; does nothing unless run by the parent test.
#[test]
fn crash_child() {
    let (dir, pg) = (std::env::var_os(CHILD_DIR_ENV), std::env::var(CHILD_PG_ENV).ok());
    if dir.is_none() && pg.is_none() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async move {
        // libtest has printed "test crash_child ... " without a newline: end that line first.
        say("\n".into());
        let store: Arc<dyn EventStore> = match (dir, pg) {
            (Some(dir), _) => Arc::new(SqliteStore::open(store_path(Path::new(&dir))).unwrap()),
            (None, Some(pg)) => {
                let (schema, url) = pg.split_once(' ').unwrap();
                Arc::new(PostgresStore::connect(PostgresOptions::new(url).with_schema(schema)).await.unwrap())
            }
            (None, None) => unreachable!("checked above"),
        };
        let tasks: Vec<_> =
            (0..APPENDERS).map(|task| tokio::spawn(append_forever(store.clone(), task))).collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// Prints one whole line with one write, so lines from several tasks never interleave.
fn say(line: String) {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes()).unwrap();
    out.flush().unwrap();
}

async fn append_forever(store: Arc<dyn EventStore>, task: usize) {
    // Streams this task owns, appended to with exact expected versions (learned from the store
    // at first use, as a previous child may have been killed mid-append).
    let mut versions: HashMap<StreamName, CurrentVersion> = HashMap::new();
    for i in 0..MAX_APPENDS_PER_TASK {
        let own = |k: usize| stream(&format!("own-t{task}k{}", k % 8));
        let shared = |k: usize| stream(&format!("shared-{}", k % 4));
        let plan: Vec<(StreamName, bool, usize)> = match i % 4 {
            0 | 1 => vec![(own(i), true, 1)],
            2 => vec![(own(i), true, 1 + i % 3), (own(i + 3), true, 1), (shared(i), false, 2)],
            _ => vec![(shared(i), false, 1 + i % 2), (stream(&format!("bed-t{task}i{i}")), false, 1)],
        };
        let mut request = Vec::new();
        for (name, exact, count) in plan {
            let expected = if exact {
                let current = match versions.get(&name) {
                    Some(v) => *v,
                    None => store.stream_version(&name).await.unwrap(),
                };
                current.expected()
            } else {
                ExpectedVersion::Any
            };
            request.push(StreamAppend {
                stream: name,
                expected,
                events: (0..count).map(|_| event("Crashed")).collect(),
            });
        }
        let ids: Vec<String> = request.iter().flat_map(|a| &a.events).map(|e| e.id.to_string()).collect();
        say(format!("TRY {}\n", ids.join(",")));
        let result = store.append(request.clone()).await.unwrap();
        let mut line = format!("ACK {} {}", result.first_position, result.last_position);
        for (append, written) in request.iter().zip(&result.streams) {
            versions.insert(written.stream.clone(), written.version);
            let CurrentVersion::Version(version) = written.version else {
                panic!("{written:?} has no version")
            };
            let ids: Vec<String> = append.events.iter().map(|e| e.id.to_string()).collect();
            line.push_str(&format!(" {}={}={}", append.stream, version, ids.join(",")));
        }
        line.push('\n');
        say(line);
    }
}

// ---------------------------------------------------------------- parent

/// Kills the child if the parent test fails before it does.
struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An acknowledged event: its stream, version and position as the child was told.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Placed {
    stream: String,
    version: u64,
    position: u64,
}

#[derive(Default)]
struct Seen {
    /// Every attempted append, as its event ids.
    tried: Vec<Vec<Uuid>>,
    acknowledged: HashMap<Uuid, Placed>,
}

impl Seen {
    /// Records one complete line of the child's output.
    fn line(&mut self, line: &str) -> bool {
        if let Some(ids) = line.strip_prefix("TRY ") {
            self.tried.push(ids.split(',').map(|id| id.parse().unwrap()).collect());
            false
        } else if let Some(ack) = line.strip_prefix("ACK ") {
            let mut parts = ack.split(' ');
            let first: u64 = parts.next().unwrap().parse().unwrap();
            let last: u64 = parts.next().unwrap().parse().unwrap();
            let mut position = first;
            for part in parts {
                let mut fields = part.split('=');
                let (stream, version, ids) =
                    (fields.next().unwrap(), fields.next().unwrap(), fields.next().unwrap());
                let ids: Vec<Uuid> = ids.split(',').map(|id| id.parse().unwrap()).collect();
                let last_version: u64 = version.parse().unwrap();
                for (offset, id) in ids.iter().enumerate() {
                    let version = last_version + 1 - ids.len() as u64 + offset as u64;
                    let placed = Placed { stream: stream.to_owned(), version, position };
                    assert!(self.acknowledged.insert(*id, placed).is_none(), "{id} acknowledged twice");
                    position += 1;
                }
            }
            assert_eq!(position, last + 1, "acknowledged positions are contiguous: {line}");
            true
        } else {
            assert!(!line.contains("TRY ") && !line.contains("ACK "), "a mangled line: {line}");
            false
        }
    }
}

/// Runs one child (told where its store is by `env`) until it has acknowledged `acks` appends,
/// kills it, and reads what it printed.
fn round(env: (&str, &std::ffi::OsStr), acks: usize, seen: &mut Seen) -> usize {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(env.0, env.1)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut child = Killer(child);
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut counted = 0;
    let mut line = String::new();
    while counted < acks {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 || !line.ends_with('\n') {
            let status = child.0.wait().unwrap();
            panic!("the child stopped by itself ({status}) after {counted} acknowledged appends");
        }
        if seen.line(line.trim_end()) {
            counted += 1;
        }
    }
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    // Whatever it printed before it died counts too. A cut-off last line is ignored.
    loop {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 || !line.ends_with('\n') {
            return counted;
        }
        if seen.line(line.trim_end()) {
            counted += 1;
        }
    }
}

fn is_child() -> bool {
    std::env::var_os(CHILD_DIR_ENV).is_some() || std::env::var_os(CHILD_PG_ENV).is_some()
}

/// Runs the rounds, the child's store named by `env`.
fn crash_rounds(env: (&str, &std::ffi::OsStr), default_rounds: usize) -> (usize, Seen) {
    let rounds = std::env::var(ROUNDS_ENV).ok().and_then(|r| r.parse().ok()).unwrap_or(default_rounds);
    let mut seen = Seen::default();
    let mut rng = rand::rng();
    for round_number in 0..rounds {
        // Now and then kill it while it is still starting (opening, recovering the WAL).
        let acks = if round_number % 6 == 5 { 0 } else { rng.random_range(1..=250) };
        round(env, acks, &mut seen);
    }
    (rounds, seen)
}

/// Checks the store after the crashes against what the children were told.
async fn verify(store: &dyn EventStore, rounds: usize, seen: &Seen) {
    let log = replay(store, 1000).await;
    check_log(&log);
    assert_eq!(*store.head().borrow(), log.len() as u64);
    let stored: HashMap<Uuid, Placed> = log
        .iter()
        .map(|e| (e.id, Placed { stream: e.stream.to_string(), version: e.version, position: e.position }))
        .collect();
    // Every acknowledged event is there, where the child was told it is.
    for (id, placed) in &seen.acknowledged {
        assert_eq!(stored.get(id), Some(placed), "acknowledged event {id} lost or moved");
    }
    // Every append is all or nothing, and nothing is stored that was never tried.
    let mut tried_ids = HashSet::new();
    for ids in &seen.tried {
        let present = ids.iter().filter(|id| stored.contains_key(id)).count();
        assert!(present == 0 || present == ids.len(), "append {ids:?} is half written ({present} stored)");
        tried_ids.extend(ids.iter().copied());
    }
    assert!(stored.keys().all(|id| tried_ids.contains(id)), "an event that was never appended is stored");
    // The store carries on.
    let result = store
        .append(vec![StreamAppend {
            stream: stream("after-crash"),
            expected: ExpectedVersion::NoStream,
            events: vec![event("Fine")],
        }])
        .await
        .unwrap();
    assert_eq!(result.first_position, log.len() as u64 + 1);
    eprintln!(
        "crash test: {rounds} rounds, {} appends tried, {} events acknowledged, {} stored",
        seen.tried.len(),
        seen.acknowledged.len(),
        log.len()
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn crash_kills_appenders_and_keeps_every_acknowledged_event() {
    if is_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (rounds, seen) = crash_rounds((CHILD_DIR_ENV, dir.path().as_os_str()), 24);
    runtime().block_on(async {
        let store = SqliteStore::open(store_path(dir.path())).unwrap();
        verify(&store, rounds, &seen).await;
    });
}

#[test]
fn crash_kills_postgres_appenders_and_keeps_every_acknowledged_event() {
    if is_child() {
        return;
    }
    let runtime = runtime();
    let Some(schema) = runtime.block_on(common::pg::fresh_schema()) else { return };
    let options = schema.options.clone();
    let target = format!("{} {}", options.schema, options.url);
    let (rounds, seen) = crash_rounds((CHILD_PG_ENV, target.as_ref()), 12);
    runtime.block_on(async {
        let store = PostgresStore::connect(options).await.unwrap();
        verify(&store, rounds, &seen).await;
    });
    drop(schema);
}
