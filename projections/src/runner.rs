//! Runs a projection: subscribe to `$all` from its checkpoint, apply batches, stop cleanly.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use careflow_eventstore::{EventStore, Filter, Position, RecordedEvent, StoreError, Subscription};
use tracing::Instrument;

/// Largest batch handed to a projection at once.
const BATCH: usize = 1024;

/// Why a projection failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// Reading the event store failed.
    #[error("event store failure")]
    Store(#[from] StoreError),
    /// An event could not be decoded.
    #[error("cannot decode event at position {position}: {message}")]
    Decode {
        /// Its position.
        position: Position,
        /// What went wrong.
        message: String,
    },
    /// The read model's storage failed.
    #[error("read model storage failure: {0}")]
    Storage(String),
}

/// A projection: a read model kept from events.
///
/// `apply` must be idempotent (events at or below the checkpoint change nothing) and must store
/// the new checkpoint with the changes atomically.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// The projection's name (its checkpoint's name).
    fn name(&self) -> &str;
    /// The events it needs.
    fn filter(&self) -> Filter;
    /// The last position applied.
    async fn checkpoint(&self) -> Result<Position, ProjectionError>;
    /// Applies `events` (in order) and records that everything up to `through` is applied.
    async fn apply(&self, events: &[RecordedEvent], through: Position) -> Result<(), ProjectionError>;
    /// Forgets everything, back to checkpoint 0 (for a rebuild).
    async fn reset(&self) -> Result<(), ProjectionError>;
}

/// Feeds a projection from the event store.
pub struct ProjectionRunner {
    store: Arc<dyn EventStore>,
    projection: Arc<dyn Projection>,
}

impl ProjectionRunner {
    /// A runner for `projection` over `store`.
    pub fn new(store: Arc<dyn EventStore>, projection: Arc<dyn Projection>) -> Self {
        Self { store, projection }
    }

    /// Applies everything committed so far; returns the checkpoint reached. For tests and
    /// start-up: no waiting.
    pub async fn catch_up(&self) -> Result<Position, ProjectionError> {
        let mut subscription = self.subscribe().await?;
        loop {
            let (events, caught_up) = subscription.next_batch(BATCH).await?;
            let through = subscription.delivered_through();
            self.projection.apply(&events, through).await?;
            if caught_up.is_some() {
                return Ok(through);
            }
        }
    }

    /// Forgets the read model and replays from position 1.
    pub async fn rebuild(&self) -> Result<Position, ProjectionError> {
        self.projection.reset().await?;
        self.catch_up().await
    }

    /// Runs until `shutdown` resolves (finishing the batch in hand) or the store fails.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ProjectionError> {
        let mut subscription = self.subscribe().await?;
        tokio::pin!(shutdown);
        loop {
            let batch = tokio::select! {
                biased;
                () = &mut shutdown => return Ok(()),
                batch = subscription.next_batch(BATCH) => batch?,
            };
            let (events, caught_up) = batch;
            let through = subscription.delivered_through();
            let span = tracing::debug_span!(
                "projection batch",
                projection = self.projection.name(),
                events = events.len(),
                through
            );
            self.projection.apply(&events, through).instrument(span).await?;
            if caught_up.is_some() {
                tracing::info!(projection = self.projection.name(), position = through, "caught up");
            }
        }
    }

    async fn subscribe(&self) -> Result<Subscription, ProjectionError> {
        let from = self.projection.checkpoint().await? + 1;
        Ok(Subscription::new(self.store.clone(), from, self.projection.filter()))
    }
}
