//! Helpers shared by the event store tests: building events and requests, and checking the log.
#![allow(dead_code)] // each test binary uses its own share of the helpers

use std::collections::{BTreeMap, HashSet};

use careflow_eventstore::{
    Actor, AppendResult, EventStore, ExpectedVersion, Filter, Metadata, NewEvent, Position, RecordedEvent,
    StreamAppend, StreamName,
};
use chrono::{TimeZone, Utc};
use uuid::Uuid;

/// A stream name from a literal known to be valid.
pub fn stream(name: &str) -> StreamName {
    StreamName::new(name).expect("valid stream name")
}

/// Metadata with every field set.
pub fn metadata() -> Metadata {
    Metadata {
        correlation_id: Uuid::now_v7(),
        causation_id: Some(Uuid::now_v7()),
        command_id: Some(Uuid::now_v7()),
        command_digest: None,
        actor: Some(Actor {
            user_id: "nurse.okafor".into(),
            role: "ward_nurse".into(),
            organisation: "RXA".into(),
        }),
        occurred_at: Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53).single().expect("valid time")
            + chrono::Duration::nanoseconds(123_456_789),
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
    }
}

/// An event of type `event_type` with a fresh id and a small JSON payload.
pub fn event(event_type: &str) -> NewEvent {
    event_with_id(Uuid::now_v7(), event_type)
}

/// An event with a given id.
pub fn event_with_id(id: Uuid, event_type: &str) -> NewEvent {
    NewEvent::json(id, event_type, 1, &serde_json::json!({ "bed": "RXA01-AMU-B01", "n": 7 }), metadata())
        .expect("encodable payload")
}

/// One stream's part of an append.
pub fn to(stream_name: &str, expected: ExpectedVersion, events: Vec<NewEvent>) -> StreamAppend {
    StreamAppend { stream: stream(stream_name), expected, events }
}

/// Appends `count` events of type `Noted` to `stream_name` with `Any`, one append.
pub async fn fill(store: &dyn EventStore, stream_name: &str, count: usize) -> AppendResult {
    let events = (0..count).map(|_| event("Noted")).collect();
    store.append(vec![to(stream_name, ExpectedVersion::Any, events)]).await.expect("append")
}

/// Reads the whole of `$all` in pages of `page` positions.
pub async fn replay(store: &dyn EventStore, page: usize) -> Vec<RecordedEvent> {
    let mut events = Vec::new();
    let mut from = 1;
    loop {
        let slice = store.read_all(from, page, &Filter::all()).await.expect("read_all");
        assert!(slice.next >= from, "next {} went back from {from}", slice.next);
        if slice.next == from {
            return events;
        }
        events.extend(slice.events);
        from = slice.next;
    }
}

/// Asserts the log invariants: positions 1..=n without gap or repeat, ids unique, each stream's
/// versions 0..=k without gap in position order. Returns the events per stream.
pub fn check_log(events: &[RecordedEvent]) -> BTreeMap<StreamName, Vec<&RecordedEvent>> {
    let mut ids = HashSet::new();
    let mut streams: BTreeMap<StreamName, Vec<&RecordedEvent>> = BTreeMap::new();
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event.position, index as Position + 1, "positions must be gap-free and in order");
        assert!(ids.insert(event.id), "event {} appears twice", event.id);
        let versions = streams.entry(event.stream.clone()).or_default();
        assert_eq!(event.version, versions.len() as u64, "stream {} versions must be gap-free", event.stream);
        versions.push(event);
    }
    streams
}

/// Where each event of an acknowledged append is, derived from its result: streams in request
/// order, positions contiguous from `first_position`.
pub fn placements(request: &[StreamAppend], result: &AppendResult) -> Vec<(Uuid, StreamName, u64, Position)> {
    let mut placed = Vec::new();
    let mut position = result.first_position;
    for (append, written) in request.iter().zip(&result.streams) {
        assert_eq!(append.stream, written.stream);
        let last = match written.version {
            careflow_eventstore::CurrentVersion::Version(v) => v,
            careflow_eventstore::CurrentVersion::NoStream => {
                assert!(append.events.is_empty());
                continue;
            }
        };
        let first = last + 1 - append.events.len() as u64;
        for (offset, event) in append.events.iter().enumerate() {
            placed.push((event.id, append.stream.clone(), first + offset as u64, position));
            position += 1;
        }
    }
    assert_eq!(position, result.last_position + 1, "an append's positions must be contiguous");
    placed
}

/// PostgreSQL for tests: the real server, a fresh schema per test, dropped afterwards.
///
/// The server is `CAREFLOW_TEST_DATABASE_URL`, or else the database `careflow_test` (created on
/// first use) on `postgres@127.0.0.1:5432`. When the server cannot be reached the tests are
/// skipped with a message, except under CI (`CI` set), where that is a failure.
pub mod pg {
    use careflow_eventstore::postgres::{PostgresOptions, drop_schema, migrate};
    use tokio_postgres::NoTls;
    use tokio_postgres::error::SqlState;

    const SERVER: &str = "postgres://postgres@127.0.0.1:5432";
    const DATABASE: &str = "careflow_test";

    /// A schema that is dropped (with everything in it) when this is dropped.
    pub struct TestSchema {
        /// Options pointing at the fresh, migrated schema.
        pub options: PostgresOptions,
    }

    impl Drop for TestSchema {
        fn drop(&mut self) {
            let options = self.options.clone();
            // Drop may run on a runtime thread: do the async cleanup on a thread of its own.
            let cleanup = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                runtime.block_on(drop_schema(&options)).ok()
            });
            let _ = cleanup.join();
        }
    }

    /// The test database's URL, or `None` (after saying why) when there is no server and we
    /// are not under CI.
    pub async fn url() -> Option<String> {
        if let Ok(url) = std::env::var("CAREFLOW_TEST_DATABASE_URL") {
            return Some(url);
        }
        let admin = format!("{SERVER}/postgres");
        let connected =
            tokio::time::timeout(std::time::Duration::from_secs(5), tokio_postgres::connect(&admin, NoTls))
                .await;
        let (client, connection) = match connected {
            Ok(Ok(pair)) => pair,
            Ok(Err(error)) => return unreachable(&error.to_string()),
            Err(_) => return unreachable("timed out"),
        };
        tokio::spawn(connection);
        match client.batch_execute(&format!("CREATE DATABASE {DATABASE}")).await {
            Ok(()) => {}
            // Already there, or created just now by a concurrent test.
            Err(e)
                if matches!(
                    e.code(),
                    Some(&SqlState::DUPLICATE_DATABASE) | Some(&SqlState::UNIQUE_VIOLATION)
                ) => {}
            Err(e) => panic!("cannot create the test database: {e}"),
        }
        Some(format!("{SERVER}/{DATABASE}"))
    }

    fn unreachable(why: &str) -> Option<String> {
        assert!(
            std::env::var_os("CI").is_none(),
            "PostgreSQL is required under CI but {SERVER} is unreachable: {why}"
        );
        eprintln!(
            "skipping: PostgreSQL is not reachable at {SERVER} ({why}); set CAREFLOW_TEST_DATABASE_URL"
        );
        None
    }

    /// A fresh, migrated schema, or `None` when PostgreSQL is absent (see [`url`]).
    pub async fn fresh_schema() -> Option<TestSchema> {
        let url = url().await?;
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut options = PostgresOptions::new(url).with_schema(schema);
        options.readers = 2;
        migrate(&options).await.expect("migrate the test schema");
        Some(TestSchema { options })
    }
}
