//! careflow-eventstore: the event store contract of DESIGN.md §3 and its backends.
//!
//! It stores type-agnostic events (a type name, a schema version, JSON data and [`Metadata`]) in
//! named streams and one gap-free global log (`$all`). It knows no domain type: services and
//! projections encode and decode their own events.
//!
//! - [`EventStore`] is the port every backend implements: atomic multi-stream [`append`] with
//!   expected versions, idempotency by event id, stream and `$all` reads, named checkpoints, and a
//!   [`watch`] of the committed head position.
//! - [`Subscription`] is built on top of any backend: catch-up from a position, a caught-up
//!   marker, then live, without gaps or duplicates (positions are gap-free and only become visible
//!   in commit order, so "read from the next position" is all a subscriber needs).
//! - Backends: [`memory::MemoryStore`] (tests), [`sqlite::SqliteStore`] (embedded default,
//!   WAL, one writer thread with group commit, `synchronous=FULL`) and
//!   [`postgres::PostgresStore`] (production: any number of processes on one schema, positions
//!   from a locked log head, group commit, `LISTEN`/`NOTIFY` with polling; schema by
//!   [`postgres::migrate`]).
//!
//! [`append`]: EventStore::append

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use uuid::Uuid;

pub mod bench;
mod decoded;
pub mod memory;
mod metadata_codec;
pub mod postgres;
pub mod sqlite;
mod subscription;
pub mod trace;

pub use subscription::{Subscription, SubscriptionMessage};

/// A position in the global log. The first event is at position 1; position 0 means "before
/// the first event", so a checkpoint of 0 is a projection that has applied nothing.
pub type Position = u64;

/// The longest stream name accepted.
pub const MAX_STREAM_NAME_LEN: usize = 200;

/// A validated stream name, `<category>-<id>` (e.g. `bed-RXA01-W1-B01`).
///
/// The category is the part before the first `-`; a name without `-` is its own category.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamName(Arc<str>);

impl StreamName {
    /// Parses a stream name: 1 to [`MAX_STREAM_NAME_LEN`] characters from `[A-Za-z0-9._:@-]`,
    /// not starting with `$` (reserved for system streams such as `$all`).
    pub fn new(name: impl Into<String>) -> Result<Self, StoreError> {
        let name = name.into();
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@');
        if name.is_empty() || name.len() > MAX_STREAM_NAME_LEN || !name.chars().all(valid_char) {
            return Err(StoreError::InvalidStreamName { name });
        }
        Ok(Self(name.into()))
    }

    /// Builds `<category>-<id>`.
    pub fn of(category: &str, id: &str) -> Result<Self, StoreError> {
        Self::new(format!("{category}-{id}"))
    }

    /// The category: everything before the first `-`.
    pub fn category(&self) -> &str {
        category_of(&self.0)
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The category of a stream name: everything before the first `-`.
pub fn category_of(stream: &str) -> &str {
    stream.split_once('-').map_or(stream, |(category, _)| category)
}

impl TryFrom<String> for StreamName {
    type Error = StoreError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<StreamName> for String {
    fn from(value: StreamName) -> Self {
        value.0.to_string()
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

/// What the writer believes about a stream before appending to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist (have no events).
    NoStream,
    /// The stream must have at least one event.
    StreamExists,
    /// The stream's last event must have this version (0-based).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream currently at `actual` satisfies this expectation.
    pub fn accepts(self, actual: CurrentVersion) -> bool {
        match (self, actual) {
            (Self::Any, _) => true,
            (Self::NoStream, CurrentVersion::NoStream) => true,
            (Self::NoStream, CurrentVersion::Version(_)) => false,
            (Self::StreamExists, CurrentVersion::NoStream) => false,
            (Self::StreamExists, CurrentVersion::Version(_)) => true,
            (Self::Exact(_), CurrentVersion::NoStream) => false,
            (Self::Exact(expected), CurrentVersion::Version(actual)) => expected == actual,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no stream"),
            Self::StreamExists => f.write_str("stream exists"),
            Self::Exact(version) => write!(f, "version {version}"),
        }
    }
}

/// Where a stream is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CurrentVersion {
    /// The stream has no events.
    NoStream,
    /// The version of the stream's last event.
    Version(u64),
}

impl CurrentVersion {
    /// The version the next appended event will get.
    pub fn next(self) -> u64 {
        match self {
            Self::NoStream => 0,
            Self::Version(version) => version + 1,
        }
    }

    /// The expected version that matches exactly this state.
    pub fn expected(self) -> ExpectedVersion {
        match self {
            Self::NoStream => ExpectedVersion::NoStream,
            Self::Version(version) => ExpectedVersion::Exact(version),
        }
    }
}

impl fmt::Display for CurrentVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoStream => f.write_str("no stream"),
            Self::Version(version) => write!(f, "version {version}"),
        }
    }
}

/// Who caused an event: the authenticated user, their role and organisation (ODS code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The user id from the token's subject.
    pub user_id: String,
    /// The user's role (e.g. `ward_nurse`).
    pub role: String,
    /// The ODS code of the user's organisation.
    pub organisation: String,
}

/// Metadata stored with every event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Ties together everything caused by one user action.
    pub correlation_id: Uuid,
    /// The command or event that caused this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// The client command id the event was written for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<Uuid>,
    /// A digest of the command (what was asked, by whom), so that a command id reused for a
    /// different command can be told from a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_digest: Option<Uuid>,
    /// Who caused the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// When the fact happened in the world (as the command said), not when it was stored.
    pub occurred_at: DateTime<Utc>,
    /// W3C trace context `traceparent`, when the command came in with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

impl Metadata {
    /// Metadata with a correlation id and the moment only: no command, actor or trace.
    pub fn new(correlation_id: Uuid, occurred_at: DateTime<Utc>) -> Self {
        Self {
            correlation_id,
            causation_id: None,
            command_id: None,
            command_digest: None,
            actor: None,
            occurred_at,
            traceparent: None,
        }
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Unique id; appending an id that is already stored is an idempotent no-op.
    pub id: Uuid,
    /// The event type, e.g. `PatientAdmitted`.
    pub event_type: String,
    /// Schema version of `data`, for upcasting.
    pub schema_version: u32,
    /// JSON-encoded payload.
    pub data: Vec<u8>,
    /// Metadata.
    pub metadata: Metadata,
}

impl NewEvent {
    /// Encodes `data` as JSON.
    pub fn json<T: Serialize>(
        id: Uuid,
        event_type: impl Into<String>,
        schema_version: u32,
        data: &T,
        metadata: Metadata,
    ) -> Result<Self, StoreError> {
        let data = serde_json::to_vec(data).map_err(|e| StoreError::Encode(e.to_string()))?;
        Ok(Self { id, event_type: event_type.into(), schema_version, data, metadata })
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Position in `$all` (1-based, gap-free, commit order).
    pub position: Position,
    /// The stream it belongs to.
    pub stream: StreamName,
    /// Version within the stream (0-based, gap-free).
    pub version: u64,
    /// Unique event id.
    pub id: Uuid,
    /// Event type.
    pub event_type: String,
    /// Schema version of `data`.
    pub schema_version: u32,
    /// JSON payload.
    pub data: Vec<u8>,
    /// Metadata.
    pub metadata: Metadata,
    /// When the store committed it.
    pub recorded_at: DateTime<Utc>,
    /// The payload as first decoded by [`RecordedEvent::decode_shared`], shared by every clone.
    pub(crate) decoded: decoded::Decoded,
}

impl RecordedEvent {
    /// Decodes the JSON payload.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, StoreError> {
        serde_json::from_slice(&self.data).map_err(|e| StoreError::Decode {
            position: self.position,
            // serde's message can quote the payload (a name): only where and what kind of error.
            message: format!("{:?} error at line {}, column {}", e.classify(), e.line(), e.column()),
        })
    }
}

/// Events for one stream within an atomic append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAppend {
    /// The stream.
    pub stream: StreamName,
    /// What the stream must look like for the append to go ahead.
    pub expected: ExpectedVersion,
    /// The events, in order. May be empty: the expectation is then only checked.
    pub events: Vec<NewEvent>,
}

/// What one stream looks like after an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamWritten {
    /// The stream.
    pub stream: StreamName,
    /// The stream's version after the append (its last event's version).
    pub version: CurrentVersion,
}

/// The result of an atomic append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// Each stream of the request, in request order.
    pub streams: Vec<StreamWritten>,
    /// Position of the first event written.
    pub first_position: Position,
    /// Position of the last event written; read models that reach it reflect the append.
    pub last_position: Position,
}

/// Which events a `$all` read or subscription returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only these stream categories (empty: all).
    pub categories: Vec<String>,
    /// Only these event types (empty: all).
    pub event_types: Vec<String>,
}

impl Filter {
    /// Every event.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only events of streams in these categories.
    pub fn categories<I, S>(categories: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self { categories: categories.into_iter().map(Into::into).collect(), event_types: Vec::new() }
    }

    /// Whether the filter keeps this event.
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        (self.categories.is_empty() || self.categories.iter().any(|c| c == event.stream.category()))
            && (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
    }

    /// Whether the filter keeps everything.
    pub fn is_all(&self) -> bool {
        self.categories.is_empty() && self.event_types.is_empty()
    }
}

/// A slice of `$all`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllSlice {
    /// Matching events, in position order.
    pub events: Vec<RecordedEvent>,
    /// Where to continue reading: one past the last position examined (matching or not).
    pub next: Position,
}

/// Errors of the event store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A stream was not where the writer expected; nothing was written.
    #[error("wrong expected version on stream {stream}: expected {expected}, actual {actual}")]
    WrongExpectedVersion {
        /// The stream whose expectation failed.
        stream: StreamName,
        /// What the writer expected.
        expected: ExpectedVersion,
        /// What the stream is.
        actual: CurrentVersion,
    },
    /// Some but not all events of a request were already stored, or an id was stored on another
    /// stream: the request is not a retry of an earlier one. Nothing was written.
    #[error("event {event_id} is already stored as part of a different append")]
    EventIdConflict {
        /// The id that clashes.
        event_id: Uuid,
    },
    /// The append request itself is malformed (no events, a stream twice, an id twice).
    #[error("invalid append: {0}")]
    InvalidAppend(String),
    /// A stream name that does not fit [`StreamName::new`]. The message names its category
    /// only: a stream name can hold an NHS number, and errors are logged.
    #[error("invalid stream name in category {:?}", category_of(name))]
    InvalidStreamName {
        /// The rejected name.
        name: String,
    },
    /// A payload could not be encoded.
    #[error("cannot encode event: {0}")]
    Encode(String),
    /// A stored payload could not be decoded.
    #[error("cannot decode event at position {position}: {message}")]
    Decode {
        /// The event's position.
        position: Position,
        /// What went wrong.
        message: String,
    },
    /// The store cannot serve the request now but may later: it is shutting down, its writer
    /// has stopped, its database is restarting or unreachable, its disk is full. Retryable:
    /// nothing of a refused append was written, so the caller retries it with the same event
    /// ids (the one exception, a PostgreSQL connection lost during `COMMIT`, is safe to retry
    /// too: a retry of a committed append gets its original result). The message names the
    /// condition, never the request's data.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// The backend failed in a way a retry will not mend (a bug, corrupt data, a constraint
    /// the protocol does not expect).
    #[error("event store backend error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(error))
    }
}

/// The event store port. Every backend passes the same conformance suite.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends to one or more streams atomically: all expectations hold and every event is
    /// written, or nothing is. Re-appending events whose ids are all stored (same streams)
    /// returns the original result and writes nothing.
    async fn append(&self, request: Vec<StreamAppend>) -> Result<AppendResult, StoreError>;

    /// Reads up to `max` events of a stream, forwards from `from_version`.
    async fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Reads `$all` forwards from position `from` (inclusive), examining at most `max`
    /// positions and returning those that match `filter`.
    async fn read_all(&self, from: Position, max: usize, filter: &Filter) -> Result<AllSlice, StoreError>;

    /// The current version of a stream.
    async fn stream_version(&self, stream: &StreamName) -> Result<CurrentVersion, StoreError>;

    /// Finds a stored event by id.
    async fn find_event(&self, id: Uuid) -> Result<Option<RecordedEvent>, StoreError>;

    /// The last committed position, updated after each commit; every position up to it is
    /// readable.
    fn head(&self) -> watch::Receiver<Position>;

    /// Loads a named checkpoint.
    async fn load_checkpoint(&self, name: &str) -> Result<Option<Position>, StoreError>;

    /// Saves a named checkpoint (durably).
    async fn save_checkpoint(&self, name: &str, position: Position) -> Result<(), StoreError>;
}

/// Reads a whole stream forwards (in pages).
pub async fn read_full_stream<S: EventStore + ?Sized>(
    store: &S,
    stream: &StreamName,
) -> Result<Vec<RecordedEvent>, StoreError> {
    const PAGE: usize = 1024;
    let mut events = Vec::new();
    loop {
        let page = store.read_stream(stream, events.len() as u64, PAGE).await?;
        let done = page.len() < PAGE;
        events.extend(page);
        if done {
            return Ok(events);
        }
    }
}

/// Checks the shape of an append request: at least one event, no stream twice, no event id
/// twice. Backends call it before touching storage.
pub fn validate_request(request: &[StreamAppend]) -> Result<(), StoreError> {
    if request.iter().all(|s| s.events.is_empty()) {
        return Err(StoreError::InvalidAppend("the request has no events".into()));
    }
    let mut streams = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    for append in request {
        if !streams.insert(&append.stream) {
            return Err(StoreError::InvalidAppend(format!("stream {} appears twice", append.stream)));
        }
        for event in &append.events {
            if !ids.insert(event.id) {
                return Err(StoreError::InvalidAppend(format!("event id {} appears twice", event.id)));
            }
            if event.event_type.is_empty() {
                return Err(StoreError::InvalidAppend("an event has an empty type".into()));
            }
        }
    }
    Ok(())
}

/// The JSON of each event's [`Metadata`], in request order: what the SQL backends store.
/// Encoded on the caller's task, to keep their single writer's work small.
pub(crate) fn encode_metadata(request: &[StreamAppend]) -> Result<Vec<String>, StoreError> {
    request
        .iter()
        .flat_map(|append| &append.events)
        .map(|event| serde_json::to_string(&event.metadata).map_err(|e| StoreError::Encode(e.to_string())))
        .collect()
}

/// Where an already-stored event sits, for answering a retried append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAt {
    /// Its stream.
    pub stream: StreamName,
    /// Its version in the stream.
    pub version: u64,
    /// Its position in `$all`.
    pub position: Position,
}

/// Idempotency, shared by the backends. Given where each event id of `request` is already
/// stored (`lookup`), returns:
/// - `Ok(None)` when none is stored: a new append;
/// - `Ok(Some(original result))` when all are stored on the streams the request names: a retry;
/// - `Err(EventIdConflict)` otherwise.
///
/// `current` gives the current version of streams that the request lists without events.
pub fn retry_result(
    request: &[StreamAppend],
    mut lookup: impl FnMut(Uuid) -> Result<Option<StoredAt>, StoreError>,
    mut current: impl FnMut(&StreamName) -> Result<CurrentVersion, StoreError>,
) -> Result<Option<AppendResult>, StoreError> {
    let mut found_any = false;
    let mut missing = None;
    let mut streams = Vec::with_capacity(request.len());
    let (mut first, mut last) = (Position::MAX, 0);
    for append in request {
        let mut version = None;
        for event in &append.events {
            match lookup(event.id)? {
                Some(at) if at.stream == append.stream => {
                    found_any = true;
                    first = first.min(at.position);
                    last = last.max(at.position);
                    version = Some(version.map_or(at.version, |v: u64| v.max(at.version)));
                }
                Some(_) => return Err(StoreError::EventIdConflict { event_id: event.id }),
                None => missing = missing.or(Some(event.id)),
            }
        }
        streams.push((append, version));
    }
    match (found_any, missing) {
        (false, _) => Ok(None),
        (true, Some(event_id)) => Err(StoreError::EventIdConflict { event_id }),
        (true, None) => {
            let streams = streams
                .into_iter()
                .map(|(append, version)| {
                    let version = match version {
                        Some(v) => CurrentVersion::Version(v),
                        None => current(&append.stream)?,
                    };
                    Ok(StreamWritten { stream: append.stream.clone(), version })
                })
                .collect::<Result<_, StoreError>>()?;
            Ok(Some(AppendResult { streams, first_position: first, last_position: last }))
        }
    }
}
