//! The event store conformance suite (DESIGN.md §3): one set of cases, run against every
//! backend. Adding a backend is one line at the bottom: `conformance_suite!(name, factory);`
//! where `factory` is an `async fn() -> Option<TestStore>` giving a fresh, empty store (`None`:
//! the backend's server is absent and the test is skipped).

// Test code throughout (helpers included): a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use careflow_eventstore::EventStore;
use careflow_eventstore::memory::MemoryStore;
use careflow_eventstore::postgres::PostgresStore;
use careflow_eventstore::sqlite::SqliteStore;

/// A fresh store for one test, with whatever must live as long as it (a temporary folder, a
/// database schema), dropped after it.
pub struct TestStore {
    /// The store under test.
    pub store: Arc<dyn EventStore>,
    _guard: Box<dyn std::any::Any + Send>,
}

async fn memory_store() -> Option<TestStore> {
    Some(TestStore { store: Arc::new(MemoryStore::new()), _guard: Box::new(()) })
}

async fn sqlite_store() -> Option<TestStore> {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = SqliteStore::open(dir.path().join("events.sqlite")).expect("open the SQLite store");
    Some(TestStore { store: Arc::new(store), _guard: Box::new(dir) })
}

/// `None` (the test is skipped, with a message) when PostgreSQL is absent outside CI.
async fn postgres_store() -> Option<TestStore> {
    let schema = common::pg::fresh_schema().await?;
    let store = PostgresStore::connect(schema.options.clone()).await.expect("connect to PostgreSQL");
    Some(TestStore { store: Arc::new(store), _guard: Box::new(schema) })
}

/// Runs every case of [`cases`] against the backend that `$factory` makes.
macro_rules! conformance_suite {
    ($backend:ident, $factory:path) => {
        conformance_suite!(@cases $backend, $factory, [
            append_to_new_stream_with_no_stream,
            expected_any,
            expected_no_stream,
            expected_stream_exists,
            expected_exact,
            rejected_multi_stream_append_writes_nothing,
            multi_stream_append_is_atomic_and_contiguous,
            stream_without_events_is_only_checked,
            idempotent_retry_returns_the_original_result,
            idempotent_retry_of_a_multi_stream_append,
            partial_id_overlap_is_a_conflict,
            id_stored_on_another_stream_is_a_conflict,
            invalid_requests_are_rejected,
            events_round_trip,
            read_stream_from_a_version_with_max,
            read_all_from_a_position_with_max,
            read_all_filters_by_category,
            read_all_filters_by_event_type,
            find_event,
            stream_version,
            checkpoints,
            head_watch_advances,
            subscription_catches_up_then_goes_live,
            subscription_from_a_position_with_a_filter,
            concurrent_mixed_requests,
            concurrent_writers_and_live_subscriber,
        ]);
    };
    (@cases $backend:ident, $factory:path, [$($case:ident),* $(,)?]) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(test_store) = $factory().await else { return };
                    super::cases::$case(test_store.store.clone()).await;
                }
            )*
        }
    };
}

conformance_suite!(memory, memory_store);
conformance_suite!(sqlite, sqlite_store);
conformance_suite!(postgres, postgres_store);

/// The cases. Each takes a fresh, empty store.
mod cases {
    use super::*;

    use careflow_eventstore::{
        AllSlice, AppendResult, CurrentVersion, ExpectedVersion, Filter, NewEvent, RecordedEvent, StoreError,
        StreamAppend, StreamName, StreamWritten, Subscription, SubscriptionMessage, read_full_stream,
    };
    use common::{check_log, event, fill, placements, replay, stream, to};
    use uuid::Uuid;

    use ExpectedVersion::{Any, Exact, NoStream, StreamExists};

    type Store = Arc<dyn EventStore>;

    fn ids(events: &[RecordedEvent]) -> Vec<Uuid> {
        events.iter().map(|e| e.id).collect()
    }

    async fn all(store: &Store) -> Vec<RecordedEvent> {
        replay(store.as_ref(), 1000).await
    }

    /// Asserts a `WrongExpectedVersion` naming this stream, expectation and actual version.
    fn assert_wrong_version(
        result: Result<AppendResult, StoreError>,
        stream_name: &str,
        expected: ExpectedVersion,
        actual: CurrentVersion,
    ) {
        match result {
            Err(StoreError::WrongExpectedVersion { stream: s, expected: e, actual: a }) => {
                assert_eq!((s.as_str(), e, a), (stream_name, expected, actual));
            }
            other => panic!("expected WrongExpectedVersion on {stream_name}, got {other:?}"),
        }
    }

    pub async fn append_to_new_stream_with_no_stream(store: Store) {
        let events = vec![event("BedCreated"), event("BedOpened")];
        let request = vec![to("bed-1", NoStream, events.clone())];
        let result = store.append(request).await.unwrap();
        assert_eq!(
            result,
            AppendResult {
                streams: vec![StreamWritten { stream: stream("bed-1"), version: CurrentVersion::Version(1) }],
                first_position: 1,
                last_position: 2,
            }
        );
        let read = read_full_stream(store.as_ref(), &stream("bed-1")).await.unwrap();
        assert_eq!(ids(&read), events.iter().map(|e| e.id).collect::<Vec<_>>());
        assert_eq!(read.iter().map(|e| (e.version, e.position)).collect::<Vec<_>>(), vec![(0, 1), (1, 2)]);
    }

    pub async fn expected_any(store: Store) {
        let first = store.append(vec![to("bed-1", Any, vec![event("A")])]).await.unwrap();
        assert_eq!(first.streams[0].version, CurrentVersion::Version(0));
        let second = store.append(vec![to("bed-1", Any, vec![event("B")])]).await.unwrap();
        assert_eq!(second.streams[0].version, CurrentVersion::Version(1));
        assert_eq!((second.first_position, second.last_position), (2, 2));
    }

    pub async fn expected_no_stream(store: Store) {
        store.append(vec![to("bed-1", NoStream, vec![event("A")])]).await.unwrap();
        let again = store.append(vec![to("bed-1", NoStream, vec![event("B")])]).await;
        assert_wrong_version(again, "bed-1", NoStream, CurrentVersion::Version(0));
        assert_eq!(all(&store).await.len(), 1);
    }

    pub async fn expected_stream_exists(store: Store) {
        let missing = store.append(vec![to("bed-1", StreamExists, vec![event("A")])]).await;
        assert_wrong_version(missing, "bed-1", StreamExists, CurrentVersion::NoStream);
        assert!(all(&store).await.is_empty());
        fill(store.as_ref(), "bed-1", 2).await;
        let ok = store.append(vec![to("bed-1", StreamExists, vec![event("B")])]).await.unwrap();
        assert_eq!(ok.streams[0].version, CurrentVersion::Version(2));
    }

    pub async fn expected_exact(store: Store) {
        let missing = store.append(vec![to("bed-1", Exact(0), vec![event("A")])]).await;
        assert_wrong_version(missing, "bed-1", Exact(0), CurrentVersion::NoStream);
        fill(store.as_ref(), "bed-1", 3).await;
        for wrong in [0, 1, 3, u64::MAX] {
            let result = store.append(vec![to("bed-1", Exact(wrong), vec![event("A")])]).await;
            assert_wrong_version(result, "bed-1", Exact(wrong), CurrentVersion::Version(2));
        }
        let ok = store.append(vec![to("bed-1", Exact(2), vec![event("B"), event("C")])]).await.unwrap();
        assert_eq!(ok.streams[0].version, CurrentVersion::Version(4));
        assert_eq!((ok.first_position, ok.last_position), (4, 5));
        assert_eq!(all(&store).await.len(), 5);
    }

    pub async fn rejected_multi_stream_append_writes_nothing(store: Store) {
        fill(store.as_ref(), "bed-1", 1).await;
        fill(store.as_ref(), "stay-1", 2).await;
        let before = all(&store).await;
        let request = vec![
            to("bed-1", Exact(0), vec![event("A")]),
            to("patient-1", NoStream, vec![event("B")]),
            to("stay-1", Exact(0), vec![event("C")]),
            to("task-1", Any, vec![event("D")]),
        ];
        let result = store.append(request).await;
        assert_wrong_version(result, "stay-1", Exact(0), CurrentVersion::Version(1));
        assert_eq!(all(&store).await, before);
        assert_eq!(store.stream_version(&stream("patient-1")).await.unwrap(), CurrentVersion::NoStream);
        assert_eq!(store.stream_version(&stream("task-1")).await.unwrap(), CurrentVersion::NoStream);
        assert_eq!(*store.head().borrow(), 3);
        // The store is still usable, and positions continue without a gap.
        let next = store.append(vec![to("task-1", NoStream, vec![event("D")])]).await.unwrap();
        assert_eq!(next.first_position, 4);
    }

    pub async fn multi_stream_append_is_atomic_and_contiguous(store: Store) {
        fill(store.as_ref(), "bed-1", 2).await;
        let request = vec![
            to("stay-9", NoStream, vec![event("StayOpened"), event("PatientAdmitted")]),
            to("bed-1", Exact(1), vec![event("BedOccupied")]),
            to("patient-9", Any, vec![event("Admitted")]),
        ];
        let result = store.append(request.clone()).await.unwrap();
        assert_eq!(
            result,
            AppendResult {
                streams: vec![
                    StreamWritten { stream: stream("stay-9"), version: CurrentVersion::Version(1) },
                    StreamWritten { stream: stream("bed-1"), version: CurrentVersion::Version(2) },
                    StreamWritten { stream: stream("patient-9"), version: CurrentVersion::Version(0) },
                ],
                first_position: 3,
                last_position: 6,
            }
        );
        let log = all(&store).await;
        check_log(&log);
        for (id, stream_name, version, position) in placements(&request, &result) {
            let stored = &log[position as usize - 1];
            assert_eq!((stored.id, &stored.stream, stored.version), (id, &stream_name, version));
        }
        // One commit: the whole append has one recorded_at.
        assert!(log[2..].iter().all(|e| e.recorded_at == log[2].recorded_at));
    }

    pub async fn stream_without_events_is_only_checked(store: Store) {
        fill(store.as_ref(), "bed-1", 1).await;
        let ok = store
            .append(vec![to("bed-1", Exact(0), vec![]), to("stay-1", NoStream, vec![event("A")])])
            .await
            .unwrap();
        assert_eq!(
            ok.streams[0],
            StreamWritten { stream: stream("bed-1"), version: CurrentVersion::Version(0) }
        );
        assert_eq!((ok.first_position, ok.last_position), (2, 2));
        let missing =
            store.append(vec![to("ward-1", StreamExists, vec![]), to("stay-1", Any, vec![event("B")])]).await;
        assert_wrong_version(missing, "ward-1", StreamExists, CurrentVersion::NoStream);
        let none_yet = store
            .append(vec![to("ward-1", NoStream, vec![]), to("stay-1", Any, vec![event("B")])])
            .await
            .unwrap();
        assert_eq!(none_yet.streams[0].version, CurrentVersion::NoStream);
        assert_eq!(all(&store).await.len(), 3);
    }

    pub async fn idempotent_retry_returns_the_original_result(store: Store) {
        fill(store.as_ref(), "bed-1", 1).await;
        let request = vec![to("bed-1", Exact(0), vec![event("A"), event("B")])];
        let original = store.append(request.clone()).await.unwrap();
        let head = *store.head().borrow();
        let before = all(&store).await;
        assert_eq!(store.append(request.clone()).await.unwrap(), original);
        assert_eq!(all(&store).await, before);
        assert_eq!(*store.head().borrow(), head);
        // Still the original result after the stream has moved on (the expectation no longer
        // holds, but this is a retry).
        fill(store.as_ref(), "bed-1", 2).await;
        assert_eq!(store.append(request.clone()).await.unwrap(), original);
        // And with a different expectation: idempotency is by event id.
        let mut relaxed = request.clone();
        relaxed[0].expected = Any;
        assert_eq!(store.append(relaxed).await.unwrap(), original);
        assert_eq!(all(&store).await.len(), 5);
    }

    pub async fn idempotent_retry_of_a_multi_stream_append(store: Store) {
        let request = vec![
            to("stay-1", NoStream, vec![event("A")]),
            to("bed-1", NoStream, vec![event("B"), event("C")]),
            to("ward-1", Any, vec![]),
        ];
        let original = store.append(request.clone()).await.unwrap();
        fill(store.as_ref(), "bed-1", 1).await;
        assert_eq!(store.append(request).await.unwrap(), original);
        assert_eq!(all(&store).await.len(), 4);
    }

    pub async fn partial_id_overlap_is_a_conflict(store: Store) {
        let stored = event("A");
        store.append(vec![to("bed-1", NoStream, vec![stored.clone()])]).await.unwrap();
        let fresh = event("B");
        let request = vec![to("bed-1", Any, vec![stored.clone(), fresh.clone()])];
        match store.append(request).await {
            Err(StoreError::EventIdConflict { event_id }) => assert_eq!(event_id, fresh.id),
            other => panic!("expected EventIdConflict, got {other:?}"),
        }
        // Across streams of one request, too.
        let request =
            vec![to("bed-1", Any, vec![stored.clone()]), to("stay-1", NoStream, vec![fresh.clone()])];
        assert!(matches!(store.append(request).await, Err(StoreError::EventIdConflict { .. })));
        assert_eq!(ids(&all(&store).await), vec![stored.id]);
        assert_eq!(store.find_event(fresh.id).await.unwrap(), None);
    }

    pub async fn id_stored_on_another_stream_is_a_conflict(store: Store) {
        let stored = event("A");
        store.append(vec![to("bed-1", NoStream, vec![stored.clone()])]).await.unwrap();
        match store.append(vec![to("bed-2", Any, vec![stored.clone()])]).await {
            Err(StoreError::EventIdConflict { event_id }) => assert_eq!(event_id, stored.id),
            other => panic!("expected EventIdConflict, got {other:?}"),
        }
        assert_eq!(store.stream_version(&stream("bed-2")).await.unwrap(), CurrentVersion::NoStream);
        assert_eq!(all(&store).await.len(), 1);
    }

    pub async fn invalid_requests_are_rejected(store: Store) {
        let shared = event("A");
        let mut untyped = event("B");
        untyped.event_type = String::new();
        let invalid: Vec<Vec<StreamAppend>> = vec![
            vec![],
            vec![to("bed-1", Any, vec![])],
            vec![to("bed-1", Any, vec![event("A")]), to("bed-1", Any, vec![event("B")])],
            vec![to("bed-1", Any, vec![shared.clone(), shared.clone()])],
            vec![to("bed-1", Any, vec![shared.clone()]), to("bed-2", Any, vec![shared.clone()])],
            vec![to("bed-1", Any, vec![untyped])],
        ];
        for request in invalid {
            let result = store.append(request.clone()).await;
            assert!(matches!(result, Err(StoreError::InvalidAppend(_))), "{request:?} gave {result:?}");
        }
        assert!(all(&store).await.is_empty());
        assert_eq!(*store.head().borrow(), 0);
    }

    pub async fn events_round_trip(store: Store) {
        let mut odd = event("Odd");
        odd.data = vec![0, 159, 146, 150, b'{', 0xff]; // not JSON, not UTF-8: bytes are bytes
        odd.schema_version = u32::MAX;
        let mut bare = event("Bare");
        bare.metadata.causation_id = None;
        bare.metadata.command_id = None;
        bare.metadata.actor = None;
        bare.metadata.traceparent = None;
        let unicode = NewEvent::json(
            Uuid::now_v7(),
            "NoteAdded",
            2,
            &serde_json::json!({ "note": "Patient prefers \"Mrs Ní Bhriain\" — 日本語 🏥" }),
            common::metadata(),
        )
        .unwrap();
        let sent = vec![odd, bare, unicode];
        let long_stream = format!("stay-{}", "x".repeat(careflow_eventstore::MAX_STREAM_NAME_LEN - 5));
        let result = store.append(vec![to(&long_stream, NoStream, sent.clone())]).await.unwrap();
        let read = read_full_stream(store.as_ref(), &stream(&long_stream)).await.unwrap();
        assert_eq!(read.len(), 3);
        for ((stored, new), version) in read.iter().zip(&sent).zip(0..) {
            assert_eq!(stored.id, new.id);
            assert_eq!(stored.event_type, new.event_type);
            assert_eq!(stored.schema_version, new.schema_version);
            assert_eq!(stored.data, new.data);
            assert_eq!(stored.metadata, new.metadata);
            assert_eq!(stored.stream.as_str(), long_stream);
            assert_eq!(stored.version, version);
            assert_eq!(stored.position, result.first_position + version);
        }
        assert_eq!(
            read[2].decode::<serde_json::Value>().unwrap()["note"],
            "Patient prefers \"Mrs Ní Bhriain\" — 日本語 🏥"
        );
        assert!(matches!(read[0].decode::<serde_json::Value>(), Err(StoreError::Decode { position: 1, .. })));
    }

    pub async fn read_stream_from_a_version_with_max(store: Store) {
        fill(store.as_ref(), "bed-1", 3).await;
        fill(store.as_ref(), "bed-2", 2).await;
        fill(store.as_ref(), "bed-1", 4).await;
        let bed = stream("bed-1");
        let versions = |events: Vec<RecordedEvent>| events.iter().map(|e| e.version).collect::<Vec<_>>();
        assert_eq!(versions(store.read_stream(&bed, 0, 100).await.unwrap()), (0..7).collect::<Vec<_>>());
        assert_eq!(versions(store.read_stream(&bed, 2, 3).await.unwrap()), vec![2, 3, 4]);
        assert_eq!(versions(store.read_stream(&bed, 5, 10).await.unwrap()), vec![5, 6]);
        assert!(store.read_stream(&bed, 7, 10).await.unwrap().is_empty());
        assert!(store.read_stream(&bed, u64::MAX, usize::MAX).await.unwrap().is_empty());
        assert!(store.read_stream(&bed, 0, 0).await.unwrap().is_empty());
        assert_eq!(versions(store.read_stream(&bed, 6, usize::MAX).await.unwrap()), vec![6]);
        assert!(store.read_stream(&stream("bed-9"), 0, 10).await.unwrap().is_empty());
        let positions: Vec<_> =
            store.read_stream(&bed, 0, 100).await.unwrap().iter().map(|e| e.position).collect();
        assert_eq!(positions, vec![1, 2, 3, 6, 7, 8, 9]);
        assert_eq!(read_full_stream(store.as_ref(), &stream("bed-2")).await.unwrap().len(), 2);
    }

    pub async fn read_all_from_a_position_with_max(store: Store) {
        let empty = store.read_all(0, 10, &Filter::all()).await.unwrap();
        assert_eq!(empty, AllSlice { events: vec![], next: 1 });
        assert_eq!(store.read_all(5, 10, &Filter::all()).await.unwrap().next, 5);
        fill(store.as_ref(), "bed-1", 5).await;
        fill(store.as_ref(), "stay-1", 5).await;
        let positions = |slice: &AllSlice| slice.events.iter().map(|e| e.position).collect::<Vec<_>>();
        let slice = store.read_all(1, 4, &Filter::all()).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![1, 2, 3, 4], 5));
        let slice = store.read_all(0, 2, &Filter::all()).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![1, 2], 3));
        let slice = store.read_all(8, 100, &Filter::all()).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![8, 9, 10], 11));
        let slice = store.read_all(11, 100, &Filter::all()).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![], 11));
        let slice = store.read_all(50, 100, &Filter::all()).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![], 50));
        let slice = store.read_all(3, 0, &Filter::all()).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![], 3));
        let slice = store.read_all(10, usize::MAX, &Filter::all()).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![10], 11));
        let slice = store.read_all(u64::MAX, usize::MAX, &Filter::all()).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![], u64::MAX));
        // Paging reassembles the whole log in order.
        for page in [1, 3, 7, 10, 11] {
            let events = replay(store.as_ref(), page).await;
            assert_eq!(events.len(), 10, "page {page}");
            check_log(&events);
        }
    }

    pub async fn read_all_filters_by_category(store: Store) {
        for name in ["bed-1", "stay-1", "bed-2", "task-1", "bed-1", "bedroom-1", "bed"] {
            fill(store.as_ref(), name, 1).await;
        }
        let positions = |slice: &AllSlice| slice.events.iter().map(|e| e.position).collect::<Vec<_>>();
        let beds = Filter::categories(["bed"]);
        let slice = store.read_all(1, 100, &beds).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![1, 3, 5, 7], 8));
        // `next` moves past positions that do not match.
        let slice = store.read_all(1, 2, &beds).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![1], 3));
        let slice = store.read_all(2, 1, &beds).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![], 3));
        let slice = store.read_all(4, 3, &Filter::categories(["stay", "task"])).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![4], 7));
        let slice = store.read_all(1, 100, &Filter::categories(["ward"])).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![], 8));
        let slice = store.read_all(1, 100, &Filter::categories(["bedroom", "stay"])).await.unwrap();
        assert_eq!(positions(&slice), vec![2, 6]);
    }

    pub async fn read_all_filters_by_event_type(store: Store) {
        let request = vec![
            to("bed-1", Any, vec![event("BedCleaned"), event("BedBlocked")]),
            to("stay-1", Any, vec![event("PatientAdmitted"), event("BedCleaned")]),
        ];
        store.append(request).await.unwrap();
        let positions = |slice: &AllSlice| slice.events.iter().map(|e| e.position).collect::<Vec<_>>();
        let cleaned = Filter { categories: vec![], event_types: vec!["BedCleaned".into()] };
        let slice = store.read_all(1, 100, &cleaned).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![1, 4], 5));
        let two =
            Filter { categories: vec![], event_types: vec!["BedBlocked".into(), "PatientAdmitted".into()] };
        assert_eq!(positions(&store.read_all(1, 100, &two).await.unwrap()), vec![2, 3]);
        let both = Filter { categories: vec!["stay".into()], event_types: vec!["BedCleaned".into()] };
        let slice = store.read_all(1, 100, &both).await.unwrap();
        assert_eq!((positions(&slice), slice.next), (vec![4], 5));
        let none = Filter { categories: vec![], event_types: vec!["bedcleaned".into()] };
        assert!(store.read_all(1, 100, &none).await.unwrap().events.is_empty());
    }

    pub async fn find_event(store: Store) {
        let wanted = event("A");
        store.append(vec![to("bed-1", Any, vec![event("X"), wanted.clone()])]).await.unwrap();
        let found = store.find_event(wanted.id).await.unwrap().expect("stored event");
        assert_eq!((found.position, found.version, found.stream.as_str()), (2, 1, "bed-1"));
        assert_eq!(
            (found.event_type.as_str(), &found.data, &found.metadata),
            ("A", &wanted.data, &wanted.metadata)
        );
        assert_eq!(Some(found), store.read_stream(&stream("bed-1"), 1, 1).await.unwrap().pop());
        assert_eq!(store.find_event(Uuid::now_v7()).await.unwrap(), None);
        assert_eq!(store.find_event(Uuid::nil()).await.unwrap(), None);
    }

    pub async fn stream_version(store: Store) {
        let bed = stream("bed-1");
        assert_eq!(store.stream_version(&bed).await.unwrap(), CurrentVersion::NoStream);
        fill(store.as_ref(), "bed-1", 3).await;
        assert_eq!(store.stream_version(&bed).await.unwrap(), CurrentVersion::Version(2));
        fill(store.as_ref(), "bed-10", 1).await;
        assert_eq!(store.stream_version(&bed).await.unwrap(), CurrentVersion::Version(2));
        assert_eq!(store.stream_version(&stream("bed-10")).await.unwrap(), CurrentVersion::Version(0));
    }

    pub async fn checkpoints(store: Store) {
        assert_eq!(store.load_checkpoint("bed-board").await.unwrap(), None);
        store.save_checkpoint("bed-board", 0).await.unwrap();
        assert_eq!(store.load_checkpoint("bed-board").await.unwrap(), Some(0));
        store.save_checkpoint("bed-board", 42).await.unwrap();
        store.save_checkpoint("capacity", 7).await.unwrap();
        assert_eq!(store.load_checkpoint("bed-board").await.unwrap(), Some(42));
        assert_eq!(store.load_checkpoint("capacity").await.unwrap(), Some(7));
        store.save_checkpoint("bed-board", 41).await.unwrap();
        assert_eq!(store.load_checkpoint("bed-board").await.unwrap(), Some(41));
        store.save_checkpoint("odd name: ' \" ; --", u64::MAX).await.unwrap();
        assert_eq!(store.load_checkpoint("odd name: ' \" ; --").await.unwrap(), Some(u64::MAX));
        store.save_checkpoint("", 1).await.unwrap();
        assert_eq!(store.load_checkpoint("").await.unwrap(), Some(1));
        assert_eq!(store.load_checkpoint("Bed-Board").await.unwrap(), None);
        // Checkpoints are not events.
        assert!(all(&store).await.is_empty());
    }

    pub async fn head_watch_advances(store: Store) {
        let mut head = store.head();
        assert_eq!(*head.borrow_and_update(), 0);
        let result = fill(store.as_ref(), "bed-1", 3).await;
        assert_eq!(result.last_position, 3);
        assert_eq!(*head.wait_for(|h| *h >= 3).await.unwrap(), 3);
        let waiter = tokio::spawn({
            let mut head = store.head();
            async move { *head.wait_for(|h| *h >= 5).await.unwrap() }
        });
        fill(store.as_ref(), "bed-2", 2).await;
        assert_eq!(waiter.await.unwrap(), 5);
        // A rejected append does not move it.
        let _ = store.append(vec![to("bed-2", NoStream, vec![event("A")])]).await;
        assert_eq!(*store.head().borrow(), 5);
        // Everything up to the head is readable.
        assert_eq!(replay(store.as_ref(), 2).await.len(), 5);
    }

    pub async fn subscription_catches_up_then_goes_live(store: Store) {
        fill(store.as_ref(), "bed-1", 2).await;
        fill(store.as_ref(), "stay-1", 1).await;
        let mut subscription = Subscription::new(store.clone(), 1, Filter::all());
        for position in 1..=3 {
            match subscription.next().await.unwrap() {
                SubscriptionMessage::Event(e) => assert_eq!(e.position, position),
                other => panic!("expected event {position}, got {other:?}"),
            }
        }
        assert_eq!(subscription.next().await.unwrap(), SubscriptionMessage::CaughtUp(3));
        let live = tokio::spawn(async move {
            let mut seen = Vec::new();
            while seen.len() < 4 {
                match subscription.next().await.unwrap() {
                    SubscriptionMessage::Event(e) => seen.push(e.position),
                    other => panic!("only events after catching up, got {other:?}"),
                }
            }
            seen
        });
        fill(store.as_ref(), "bed-1", 1).await;
        fill(store.as_ref(), "bed-2", 2).await;
        fill(store.as_ref(), "bed-3", 1).await;
        assert_eq!(live.await.unwrap(), vec![4, 5, 6, 7]);
        // Batches too.
        let mut batched = Subscription::new(store.clone(), 0, Filter::all());
        let (events, marker) = batched.next_batch(100).await.unwrap();
        assert_eq!((events.len(), marker), (7, None));
        assert_eq!(batched.next_batch(100).await.unwrap(), (vec![], Some(7)));
        assert_eq!(batched.next_position(), 8);
    }

    pub async fn subscription_from_a_position_with_a_filter(store: Store) {
        for name in ["bed-1", "stay-1", "bed-2", "stay-2", "bed-3"] {
            fill(store.as_ref(), name, 1).await;
        }
        let mut subscription = Subscription::new(store.clone(), 2, Filter::categories(["bed"]));
        let mut got = Vec::new();
        loop {
            match subscription.next().await.unwrap() {
                SubscriptionMessage::Event(e) => got.push(e.position),
                SubscriptionMessage::CaughtUp(at) => {
                    assert_eq!(at, 5);
                    break;
                }
            }
        }
        assert_eq!(got, vec![3, 5]);
        fill(store.as_ref(), "stay-3", 1).await;
        fill(store.as_ref(), "bed-4", 1).await;
        match subscription.next().await.unwrap() {
            SubscriptionMessage::Event(e) => assert_eq!((e.position, e.stream.as_str()), (7, "bed-4")),
            other => panic!("expected bed-4, got {other:?}"),
        }
    }

    /// Many requests at once, so backends that batch put them in one transaction: rejected
    /// ones (wrong version, id conflicts halfway through a request) must not disturb the rest.
    pub async fn concurrent_mixed_requests(store: Store) {
        let stored = event("Stored");
        store.append(vec![to("bed-0", NoStream, vec![stored.clone()])]).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..60_usize {
            let store = store.clone();
            let stored = stored.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("bed-{}", i + 1);
                let (request, should_succeed) = match i % 4 {
                    0 => (vec![to(&name, NoStream, vec![event("A"), event("B")])], true),
                    // Half stored: a conflict after one insert went through.
                    1 => (vec![to(&name, Any, vec![event("A"), stored])], false),
                    // Wrong version on the second stream.
                    2 => (
                        vec![to(&name, NoStream, vec![event("A")]), to("bed-0", Exact(5), vec![event("B")])],
                        false,
                    ),
                    _ => (
                        vec![
                            to(&name, Any, vec![event("A")]),
                            to(&format!("stay-{i}"), NoStream, vec![event("B")]),
                        ],
                        true,
                    ),
                };
                let result = store.append(request.clone()).await;
                assert_eq!(result.is_ok(), should_succeed, "request {i}: {result:?}");
                result.ok().map(|r| placements(&request, &r))
            }));
        }
        let mut acknowledged = Vec::new();
        for task in tasks {
            acknowledged.extend(task.await.unwrap().into_iter().flatten());
        }
        let log = all(&store).await;
        check_log(&log);
        assert_eq!(log.len(), 1 + acknowledged.len());
        for (id, stream_name, version, position) in acknowledged {
            let stored = &log[position as usize - 1];
            assert_eq!((stored.id, &stored.stream, stored.version), (id, &stream_name, version));
        }
    }

    /// DESIGN.md §3: concurrent writers on different and on the same streams (exact expected
    /// versions, retried on conflict) while a live subscriber runs from position 1. The
    /// subscriber and a full replay each see exactly the acknowledged events, once each, in
    /// gap-free position order, with gap-free stream versions.
    pub async fn concurrent_writers_and_live_subscriber(store: Store) {
        const TASKS: usize = 8;
        const APPENDS: usize = 200;
        let mut subscription = Subscription::new(store.clone(), 1, Filter::all());
        assert_eq!(subscription.next().await.unwrap(), SubscriptionMessage::CaughtUp(0));
        let sentinel = event("Sentinel");
        let sentinel_id = sentinel.id;
        let subscriber = tokio::spawn({
            let sentinel = sentinel.id;
            async move {
                let mut seen = Vec::new();
                loop {
                    match subscription.next().await.unwrap() {
                        SubscriptionMessage::Event(e) if e.id == sentinel => return seen,
                        SubscriptionMessage::Event(e) => seen.push(e),
                        other => panic!("a second caught-up marker: {other:?}"),
                    }
                }
            }
        });
        let writers: Vec<_> = (0..TASKS)
            .map(|task| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut acknowledged = Vec::new();
                    let mut conflicts = 0;
                    let mut versions: HashMap<StreamName, CurrentVersion> = HashMap::new();
                    for i in 0..APPENDS {
                        // Even tasks: their own streams, sometimes two at once. Odd tasks:
                        // three streams shared by all odd tasks.
                        let names: Vec<String> = if task % 2 == 0 {
                            let own = |k: usize| format!("bed-t{task}s{}", k % 5);
                            if i % 10 == 9 { vec![own(i), own(i + 1)] } else { vec![own(i)] }
                        } else {
                            vec![format!("ward-shared{}", i % 3)]
                        };
                        loop {
                            let mut request = Vec::new();
                            for name in &names {
                                let name = stream(name);
                                let current = match versions.get(&name) {
                                    Some(v) => *v,
                                    None => store.stream_version(&name).await.unwrap(),
                                };
                                request.push(StreamAppend {
                                    stream: name,
                                    expected: current.expected(),
                                    events: vec![event("Moved")],
                                });
                            }
                            match store.append(request.clone()).await {
                                Ok(result) => {
                                    for written in &result.streams {
                                        versions.insert(written.stream.clone(), written.version);
                                    }
                                    acknowledged.extend(placements(&request, &result));
                                    break;
                                }
                                Err(StoreError::WrongExpectedVersion { stream, actual, .. }) => {
                                    conflicts += 1;
                                    versions.insert(stream, actual);
                                }
                                Err(other) => panic!("append failed: {other}"),
                            }
                        }
                    }
                    (acknowledged, conflicts)
                })
            })
            .collect();
        let mut acknowledged = Vec::new();
        for writer in writers {
            let (acks, _conflicts) = writer.await.unwrap();
            acknowledged.extend(acks);
        }
        let last = store.append(vec![to("sentinel-1", Any, vec![sentinel])]).await.unwrap();
        let seen = subscriber.await.unwrap();

        let expected_events = 4 * (APPENDS + APPENDS / 10) + 4 * APPENDS;
        assert_eq!(acknowledged.len(), expected_events);
        assert_eq!(last.first_position as usize, expected_events + 1);
        let by_id: BTreeMap<Uuid, (StreamName, u64, u64)> =
            acknowledged.iter().map(|(id, s, v, p)| (*id, (s.clone(), *v, *p))).collect();
        assert_eq!(by_id.len(), expected_events, "acknowledged ids are unique");

        let check = |events: &[RecordedEvent], who: &str| {
            assert_eq!(events.len(), expected_events, "{who} event count");
            check_log(events);
            for e in events {
                assert_eq!(
                    by_id.get(&e.id),
                    Some(&(e.stream.clone(), e.version, e.position)),
                    "{who}: {e:?}"
                );
            }
        };
        check(&seen, "subscriber");
        let mut replayed = replay(store.as_ref(), 97).await;
        assert_eq!(replayed.pop().map(|e| e.id), Some(sentinel_id));
        check(&replayed, "replay");
        assert_eq!(seen, replayed);
    }
}
