//! In-memory event store, for unit tests and as the reference the other backends must match.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::watch;
use uuid::Uuid;

use crate::{
    AllSlice, AppendResult, CurrentVersion, EventStore, Filter, Position, RecordedEvent, StoreError,
    StoredAt, StreamAppend, StreamName, StreamWritten, retry_result, validate_request,
};

/// An event store held in memory. Nothing survives the process.
pub struct MemoryStore {
    inner: Mutex<Inner>,
    head: watch::Sender<Position>,
}

#[derive(Default)]
struct Inner {
    /// `events[i]` has position `i + 1`.
    events: Vec<RecordedEvent>,
    /// Indexes into `events`, per stream, in version order.
    streams: HashMap<StreamName, Vec<usize>>,
    ids: HashMap<Uuid, usize>,
    checkpoints: HashMap<String, Position>,
}

impl Inner {
    fn version(&self, stream: &StreamName) -> CurrentVersion {
        match self.streams.get(stream).map(Vec::len) {
            None | Some(0) => CurrentVersion::NoStream,
            Some(n) => CurrentVersion::Version(n as u64 - 1),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self { inner: Mutex::new(Inner::default()), head: watch::channel(0).0 }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated: appends mutate only
        // after every check has passed. So a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn append(&self, request: Vec<StreamAppend>) -> Result<AppendResult, StoreError> {
        validate_request(&request)?;
        let mut inner = self.lock();
        let retried = retry_result(
            &request,
            |id| {
                Ok(inner.ids.get(&id).map(|&i| {
                    let e = &inner.events[i];
                    StoredAt { stream: e.stream.clone(), version: e.version, position: e.position }
                }))
            },
            |stream| Ok(inner.version(stream)),
        )?;
        if let Some(result) = retried {
            return Ok(result);
        }
        for append in &request {
            let actual = inner.version(&append.stream);
            if !append.expected.accepts(actual) {
                return Err(StoreError::WrongExpectedVersion {
                    stream: append.stream.clone(),
                    expected: append.expected,
                    actual,
                });
            }
        }
        let recorded_at = Utc::now();
        let first_position = inner.events.len() as Position + 1;
        let mut streams = Vec::with_capacity(request.len());
        for append in request {
            let mut version = inner.version(&append.stream);
            for event in append.events {
                let index = inner.events.len();
                let next = version.next();
                inner.events.push(RecordedEvent {
                    position: index as Position + 1,
                    stream: append.stream.clone(),
                    version: next,
                    id: event.id,
                    event_type: event.event_type,
                    schema_version: event.schema_version,
                    data: event.data,
                    metadata: event.metadata,
                    recorded_at,
                    decoded: Default::default(),
                });
                inner.ids.insert(event.id, index);
                inner.streams.entry(append.stream.clone()).or_default().push(index);
                version = CurrentVersion::Version(next);
            }
            streams.push(StreamWritten { stream: append.stream, version });
        }
        let last_position = inner.events.len() as Position;
        drop(inner);
        self.head.send_replace(last_position);
        Ok(AppendResult { streams, first_position, last_position })
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let inner = self.lock();
        let Some(indexes) = inner.streams.get(stream) else {
            return Ok(Vec::new());
        };
        let from = usize::try_from(from_version).unwrap_or(usize::MAX);
        Ok(indexes.iter().skip(from).take(max).map(|&i| inner.events[i].clone()).collect())
    }

    async fn read_all(&self, from: Position, max: usize, filter: &Filter) -> Result<AllSlice, StoreError> {
        let inner = self.lock();
        let start = usize::try_from(from.max(1) - 1).unwrap_or(usize::MAX).min(inner.events.len());
        let end = start.saturating_add(max).min(inner.events.len());
        let events = inner.events[start..end].iter().filter(|e| filter.matches(e)).cloned().collect();
        Ok(AllSlice { events, next: (end as Position + 1).max(from) })
    }

    async fn stream_version(&self, stream: &StreamName) -> Result<CurrentVersion, StoreError> {
        Ok(self.lock().version(stream))
    }

    async fn find_event(&self, id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        let inner = self.lock();
        Ok(inner.ids.get(&id).map(|&i| inner.events[i].clone()))
    }

    fn head(&self) -> watch::Receiver<Position> {
        self.head.subscribe()
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<Position>, StoreError> {
        Ok(self.lock().checkpoints.get(name).copied())
    }

    async fn save_checkpoint(&self, name: &str, position: Position) -> Result<(), StoreError> {
        self.lock().checkpoints.insert(name.to_owned(), position);
        Ok(())
    }
}
