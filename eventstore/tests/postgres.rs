//! What the PostgreSQL backend promises beyond the conformance suite: gap-free positions with
//! several processes and a transaction held open, readers never stalled by unrelated
//! transactions, wake-ups by `NOTIFY` with a polling fallback, group commit, the constraints,
//! migrations, and transient failures (connections terminated, a server starting up or
//! refusing connections) answered as unavailable, with the store recovering by itself. Runs against the real server (see `common::pg`); skipped with a message when
//! there is none outside CI.

// Test code throughout (helpers included): a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use careflow_eventstore::postgres::{PostgresOptions, PostgresStore, migrate};
use careflow_eventstore::{
    EventStore, ExpectedVersion, Filter, Position, RecordedEvent, StoreError, Subscription,
    SubscriptionMessage,
};
use common::{check_log, event, fill, metadata, replay, to};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

/// Generous: only a broken store gets near it.
const DEADLINE: Duration = Duration::from_secs(20);

/// A plain connection with the store's schema first on `search_path`.
async fn raw_client(options: &PostgresOptions) -> Client {
    let mut config: tokio_postgres::Config = options.url.parse().unwrap();
    config.options(format!("-c search_path={}", options.schema));
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Appends `count` events to `stream_name` by hand, following the documented write protocol
/// (lock the head, number from it, write the head back), holding the transaction open for
/// `hold` after the inserts: a slow writer in some other process. Sends the notification only
/// when `notify` is set. Returns the positions written.
async fn append_by_hand(
    client: &mut Client,
    options: &PostgresOptions,
    stream_name: &str,
    count: i64,
    hold: Duration,
    notify: bool,
) -> (Position, Position) {
    let tx = client.transaction().await.unwrap();
    let head: i64 = tx.query_one("SELECT position FROM log_head FOR UPDATE", &[]).await.unwrap().get(0);
    let last_version: Option<i64> = tx
        .query_one("SELECT max(version) FROM events WHERE stream = $1", &[&stream_name])
        .await
        .unwrap()
        .get(0);
    let metadata = serde_json::to_string(&metadata()).unwrap();
    for i in 0..count {
        tx.execute(
            "INSERT INTO events (position, event_id, stream, category, version, event_type, schema_version, \
             data, metadata) VALUES ($1, $2, $3, $4, $5, 'HeldOpen', 1, $6, $7::text::json)",
            &[
                &(head + 1 + i),
                &Uuid::now_v7(),
                &stream_name,
                &careflow_eventstore::category_of(stream_name),
                &(last_version.map_or(0, |v| v + 1) + i),
                &b"{}".as_slice(),
                &metadata,
            ],
        )
        .await
        .unwrap();
    }
    // The point of the test: a writer that is slow to commit.
    tokio::time::sleep(hold).await;
    tx.execute("UPDATE log_head SET position = $1", &[&(head + count)]).await.unwrap();
    if notify {
        let channel = format!("careflow_events:{}", options.schema);
        tx.execute("SELECT pg_notify($1, $2)", &[&channel, &(head + count).to_string()]).await.unwrap();
    }
    tx.commit().await.unwrap();
    ((head + 1) as Position, (head + count) as Position)
}

async fn connect(options: &PostgresOptions) -> Arc<PostgresStore> {
    Arc::new(PostgresStore::connect(options.clone()).await.unwrap())
}

/// Waits (with a deadline) until `store`'s head watch reaches `position`.
async fn head_reaches(store: &PostgresStore, position: Position) {
    let mut head = store.head();
    tokio::time::timeout(DEADLINE, head.wait_for(|h| *h >= position))
        .await
        .unwrap_or_else(|_| panic!("head stuck at {} below {position}", *store.head().borrow()))
        .unwrap();
}

/// Collects `expected` events from a live subscription.
async fn collect(store: Arc<dyn EventStore>, expected: usize) -> Vec<RecordedEvent> {
    let mut subscription = Subscription::new(store, 1, Filter::all());
    let mut seen = Vec::with_capacity(expected);
    while seen.len() < expected {
        match subscription.next().await.unwrap() {
            SubscriptionMessage::Event(event) => seen.push(event),
            SubscriptionMessage::CaughtUp(_) => {}
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_append_and_unrelated_long_transaction_leave_no_gap_and_do_not_stall_readers() {
    let Some(schema) = common::pg::fresh_schema().await else { return };
    let options = schema.options.clone();
    // Two stores on one schema: two processes.
    let (a, b) = (connect(&options).await, connect(&options).await);

    const WRITERS_PER_STORE: usize = 4;
    const APPENDS: usize = 25;
    const HELD: i64 = 3;
    // Each append writes 2 events.
    let expected = 2 * WRITERS_PER_STORE * 2 * APPENDS + HELD as usize;
    let subscriber = tokio::spawn(collect(a.clone(), expected));

    // A long transaction that has nothing to do with the log, open throughout.
    let unrelated = raw_client(&options).await;
    unrelated.batch_execute("CREATE TABLE unrelated (n int)").await.unwrap();
    unrelated.batch_execute("BEGIN; INSERT INTO unrelated VALUES (1)").await.unwrap();

    let (first_ack, mut acked_once) = tokio::sync::mpsc::channel::<()>(2 * WRITERS_PER_STORE);
    let mut writers = Vec::new();
    for (s, store) in [a.clone(), b.clone()].into_iter().enumerate() {
        for w in 0..WRITERS_PER_STORE {
            let store = store.clone();
            let first_ack = first_ack.clone();
            writers.push(tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..APPENDS {
                    let own = format!("own-s{s}w{w}");
                    let shared = format!("shared-{}", i % 3);
                    let request = vec![
                        to(&own, ExpectedVersion::Any, vec![event("Written")]),
                        to(&shared, ExpectedVersion::Any, vec![event("Written")]),
                    ];
                    let result = store.append(request.clone()).await.unwrap();
                    acked.extend(common::placements(&request, &result));
                    let _ = first_ack.try_send(());
                }
                acked
            }));
        }
    }
    // Once the writers are under way, a writer in a third process holds its append open for
    // 400 ms.
    let mut slow = raw_client(&options).await;
    acked_once.recv().await.unwrap();
    let held = append_by_hand(&mut slow, &options, "held-1", HELD, Duration::from_millis(400), true).await;

    let mut acknowledged = HashMap::new();
    for writer in writers {
        for (id, stream, version, position) in writer.await.unwrap() {
            assert!(acknowledged.insert(id, (stream, version, position)).is_none());
        }
    }
    // The held transaction really was held while the others were writing.
    let positions = || acknowledged.values().map(|(_, _, position)| *position);
    assert!(positions().min() < Some(held.0) && positions().max() > Some(held.1), "no overlap: {held:?}");
    // Every event reaches the subscriber while the unrelated transaction is still open.
    let seen = tokio::time::timeout(DEADLINE, subscriber).await.expect("the subscriber is stalled").unwrap();
    unrelated.batch_execute("COMMIT").await.unwrap();

    assert_eq!(seen.len(), expected);
    check_log(&seen);
    for e in &seen {
        match acknowledged.get(&e.id) {
            Some(placed) => assert_eq!(placed, &(e.stream.clone(), e.version, e.position), "{e:?}"),
            None => {
                assert_eq!(e.stream.as_str(), "held-1");
                assert!((held.0..=held.1).contains(&e.position));
            }
        }
    }
    let replayed = replay(b.as_ref(), 53).await;
    assert_eq!(seen, replayed, "a replay from another process sees the same log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_processes_are_woken_by_notify_and_polling_covers_a_lost_notification() {
    let Some(schema) = common::pg::fresh_schema().await else { return };
    let mut options = schema.options.clone();
    let writer = connect(&options).await;

    // Polling effectively off: only the notification can move this one.
    options.poll_interval = Duration::from_secs(3600);
    let by_notify = connect(&options).await;
    // A store that polls often.
    options.poll_interval = Duration::from_millis(50);
    let by_polling = connect(&options).await;

    let result =
        writer.append(vec![to("bed-1", ExpectedVersion::NoStream, vec![event("Added")])]).await.unwrap();
    head_reaches(&by_notify, result.last_position).await;

    // A commit whose notification is lost: the polling store still sees it.
    let mut hand = raw_client(&options).await;
    let (_, last) = append_by_hand(&mut hand, &options, "bed-2", 2, Duration::ZERO, false).await;
    head_reaches(&by_polling, last).await;
    let slice = by_polling.read_all(1, 10, &Filter::all()).await.unwrap();
    assert_eq!(slice.events.len(), 3);
    assert_eq!(slice.next, 4);
    // ... and reads never depend on the watch: they read the head in the same snapshot.
    assert_eq!(by_notify.read_all(1, 10, &Filter::all()).await.unwrap(), slice);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_transactions() {
    let Some(schema) = common::pg::fresh_schema().await else { return };
    let store = connect(&schema.options).await;
    const APPENDS: usize = 64;
    let appends: Vec<_> = (0..APPENDS)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let request = vec![to(&format!("bed-{i}"), ExpectedVersion::NoStream, vec![event("Added")])];
                store.append(request).await.unwrap()
            })
        })
        .collect();
    for append in appends {
        append.await.unwrap();
    }
    // `recorded_at` is the transaction's start time: one value per transaction.
    let client = raw_client(&schema.options).await;
    let transactions: i64 =
        client.query_one("SELECT count(DISTINCT recorded_at) FROM events", &[]).await.unwrap().get(0);
    let events: i64 = client.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0);
    assert_eq!(events, APPENDS as i64);
    assert!(
        transactions <= (APPENDS / 2) as i64,
        "{APPENDS} concurrent appends took {transactions} transactions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constraints_back_the_protocol_and_retries_work_across_processes() {
    let Some(schema) = common::pg::fresh_schema().await else { return };
    let (a, b) = (connect(&schema.options).await, connect(&schema.options).await);
    let request = vec![
        to("stay-1", ExpectedVersion::NoStream, vec![event("Opened"), event("Noted")]),
        to("bed-1", ExpectedVersion::Any, vec![event("Occupied")]),
    ];
    let original = a.append(request.clone()).await.unwrap();
    // The same request retried through another process gets the original answer.
    assert_eq!(b.append(request.clone()).await.unwrap(), original);
    // A's cached versions are stale once B has written: A must notice.
    b.append(vec![to("stay-1", ExpectedVersion::Exact(1), vec![event("Noted")])]).await.unwrap();
    match a.append(vec![to("stay-1", ExpectedVersion::Exact(1), vec![event("Noted")])]).await {
        Err(StoreError::WrongExpectedVersion { actual, .. }) => {
            assert_eq!(actual, careflow_eventstore::CurrentVersion::Version(2));
        }
        other => panic!("expected a version conflict, got {other:?}"),
    }

    // The unique constraints stop a writer that ignores the protocol.
    let client = raw_client(&schema.options).await;
    let stored = &replay(a.as_ref(), 10).await[0];
    let duplicate_version = client
        .execute(
            "INSERT INTO events (position, event_id, stream, category, version, event_type, schema_version, \
             data, metadata) VALUES (1000, $1, 'stay-1', 'stay', 0, 'Rogue', 1, '\\x7b7d', '{}')",
            &[&Uuid::now_v7()],
        )
        .await
        .unwrap_err();
    assert_eq!(duplicate_version.code(), Some(&SqlState::UNIQUE_VIOLATION), "{duplicate_version}");
    let duplicate_id = client
        .execute(
            "INSERT INTO events (position, event_id, stream, category, version, event_type, schema_version, \
             data, metadata) VALUES (1001, $1, 'other-1', 'other', 0, 'Rogue', 1, '\\x7b7d', '{}')",
            &[&stored.id],
        )
        .await
        .unwrap_err();
    assert_eq!(duplicate_id.code(), Some(&SqlState::UNIQUE_VIOLATION), "{duplicate_id}");
    let ids: HashSet<Uuid> = replay(b.as_ref(), 10).await.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_needs_a_migrated_schema_and_migrate_is_idempotent() {
    let Some(url) = common::pg::url().await else { return };
    let schema = common::pg::TestSchema {
        options: PostgresOptions::new(url).with_schema(format!("t_{}", Uuid::new_v4().simple())),
    };
    let options = schema.options.clone();
    match PostgresStore::connect(options.clone()).await {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("careflow migrate"), "{message}"),
        other => panic!("expected the store to refuse an unmigrated schema, got {other:?}"),
    }
    let applied = migrate(&options).await.unwrap();
    let all: Vec<i32> = careflow_eventstore::postgres::MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(applied.iter().map(|m| m.version).collect::<Vec<_>>(), all);
    assert!(migrate(&options).await.unwrap().is_empty(), "a second run applies nothing");
    let store = PostgresStore::connect(options.clone()).await.unwrap();
    assert_eq!(*store.head().borrow(), 0);

    let bad = options.clone().with_schema("Robert'); DROP TABLE events;--");
    match PostgresStore::connect(bad).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("invalid schema name"), "{message}")
        }
        other => panic!("expected an invalid schema name error, got {other:?}"),
    }
}

/// The `application_name`s of a store's connections in `options`' schema.
fn applications(options: &PostgresOptions) -> Vec<String> {
    ["writer", "reader", "listener"]
        .iter()
        .map(|role| format!("careflow-{role}/{}", options.schema))
        .collect()
}

/// Terminates every connection of the stores on `options`' schema (no other test's); returns
/// how many there were.
async fn terminate_store_connections(admin: &Client, options: &PostgresOptions) -> i64 {
    admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ANY($1)",
            &[&applications(options)],
        )
        .await
        .unwrap()
        .get(0)
}

/// Retries `attempt` until it succeeds (within [`DEADLINE`]), accepting only
/// [`StoreError::Unavailable`] meanwhile: never a backend error.
async fn once_available<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(StoreError::Unavailable(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(error) => panic!("{what}: expected success or unavailable, got {error:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_give_unavailable_and_the_store_recovers() {
    let Some(schema) = common::pg::fresh_schema().await else { return };
    let options = schema.options.clone();
    let store = connect(&options).await;
    fill(store.as_ref(), "bed-1", 2).await;
    let admin = raw_client(&options).await;

    // 1. An append in flight when its connection is terminated ("terminating connection due to
    //    administrator command", as in a PostgreSQL restart): hold the log head so that the
    //    writer's append waits on it, then terminate the store's connections.
    let mut holder = raw_client(&options).await;
    let held = holder.transaction().await.unwrap();
    held.query_one("SELECT position FROM log_head FOR UPDATE", &[]).await.unwrap();
    let request = vec![to("bed-1", ExpectedVersion::Any, vec![event("Held")])];
    let id = request[0].events[0].id;
    let pending = tokio::spawn({
        let (store, request) = (Arc::clone(&store), request.clone());
        async move { store.append(request).await }
    });
    let writer = format!("careflow-writer/{}", options.schema);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let waiting = admin
            .query(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
                &[&writer],
            )
            .await
            .unwrap();
        if !waiting.is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the writer never waited on the log head");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(terminate_store_connections(&admin, &options).await >= 2, "writer and a reader");
    held.rollback().await.unwrap();
    match pending.await.unwrap() {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("57P01"), "{message}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
    // Nothing of it was written.
    let head: i64 = admin.query_one("SELECT position FROM log_head", &[]).await.unwrap().get(0);
    assert_eq!(head, 2);
    let stored: i64 =
        admin.query_one("SELECT count(*) FROM events WHERE event_id = $1", &[&id]).await.unwrap().get(0);
    assert_eq!(stored, 0);

    // 2. The writer reconnects for the next batch: the retry goes through at once, once.
    let result = store.append(request.clone()).await.unwrap();
    assert_eq!((result.first_position, result.last_position), (3, 3));
    assert_eq!(store.append(request.clone()).await.unwrap(), result);
    let found = once_available("find the event", || store.find_event(id)).await;
    assert_eq!(found.map(|e| e.position), Some(3));

    // 3. Idle connections terminated: every answer until the store has reconnected is a
    //    success or unavailable, never a backend error, and the store is whole afterwards.
    assert!(terminate_store_connections(&admin, &options).await >= 1);
    let more = vec![to("bed-2", ExpectedVersion::NoStream, vec![event("After")])];
    let after = once_available("append after a restart", || store.append(more.clone())).await;
    assert_eq!(after.last_position, 4);
    let events = once_available("replay", || async {
        let slice = store.read_all(1, 100, &Filter::all()).await?;
        Ok(slice.events)
    })
    .await;
    check_log(&events);
    assert_eq!(events.len(), 4);
    head_reaches(&store, 4).await;
    once_available("save a checkpoint", || store.save_checkpoint("bed-board", 4)).await;
}

/// A stand-in for PostgreSQL: answers each connection's startup message with `reply` (raw
/// protocol bytes), or closes the connection at once when `reply` is empty.
async fn stand_in_server(reply: Vec<u8>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                if reply.is_empty() {
                    return None;
                }
                let mut length = [0u8; 4];
                socket.read_exact(&mut length).await.ok()?;
                let mut startup = vec![0u8; (u32::from_be_bytes(length) as usize).saturating_sub(4)];
                socket.read_exact(&mut startup).await.ok()?;
                socket.write_all(&reply).await.ok()?;
                socket.shutdown().await.ok()
            });
        }
    });
    addr
}

/// A protocol `ErrorResponse` with severity FATAL, `code` and `message`.
fn fatal(code: &str, message: &str) -> Vec<u8> {
    let mut fields = Vec::new();
    for (tag, value) in [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', code), (b'M', message)] {
        fields.push(tag);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut reply = vec![b'E'];
    reply.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    reply.extend_from_slice(&fields);
    reply
}

#[tokio::test]
async fn a_server_starting_up_refusing_or_dropping_connections_is_unavailable() {
    let options = |addr: std::net::SocketAddr| {
        let mut options = PostgresOptions::new(format!("postgres://postgres@{addr}/postgres"));
        options.connect_timeout = Duration::from_secs(5);
        options
    };
    let starting = stand_in_server(fatal("57P03", "the database system is starting up")).await;
    match PostgresStore::connect(options(starting)).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("starting up") && message.contains("57P03"), "{message}")
        }
        other => panic!("a server starting up: expected unavailable, got {other:?}"),
    }
    let full = stand_in_server(fatal("53300", "sorry, too many clients already")).await;
    assert!(matches!(PostgresStore::connect(options(full)).await, Err(StoreError::Unavailable(_))));
    let dropping = stand_in_server(Vec::new()).await;
    match PostgresStore::connect(options(dropping)).await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("a dropped connection: expected unavailable, got {other:?}"),
    }
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    match PostgresStore::connect(options(refused)).await {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("refused"), "{message}"),
        other => panic!("a refused connection: expected unavailable, got {other:?}"),
    }
    // A server that refuses the credentials is no passing condition.
    let denied =
        stand_in_server(fatal("28P01", "password authentication failed for user \"postgres\"")).await;
    assert!(matches!(PostgresStore::connect(options(denied)).await, Err(StoreError::Backend(_))));
}
