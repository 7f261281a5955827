//! The [`Projection`] port, and a runner for one projection: subscribe to `$all` from its
//! checkpoint, apply batches, stop cleanly (a [`ProjectionHost`] with one projection; the host
//! runs several from one subscription).
//!
//! A read model stored outside the process (Redis) can be lost behind the projection's back:
//! flushed, or restarted without persistence. The projection reports that as
//! [`ProjectionError::ModelLost`], either from `apply` (its checkpoint compare-and-set failed) or
//! from [`Projection::verify`], which [`ProjectionRunner::run`] calls on a timer while it waits;
//! the runner then resets the projection and replays from position 1. In `run`, a transient
//! [`ProjectionError::Storage`] failure is retried with backoff rather than ending the runner.
//!
//! The checkpoint moves past events the projection does not read: when the subscription reports
//! progress (an empty batch, see
//! [`Subscription::next_batch`](careflow_eventstore::Subscription::next_batch)), the runner applies it with no
//! events, at most once per [`Projection::progress_every`] (a Redis model pays a write for
//! each), and at the latest that long after the last progress it held back. When the
//! subscription catches up, the runner tells the projection ([`Projection::caught_up`]): a
//! model rebuilt aside goes live then.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use careflow_eventstore::{EventStore, Filter, Position, RecordedEvent, StoreError};

use crate::host::ProjectionHost;

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
    /// The stored read model is no longer the one this projection built (its storage was
    /// flushed or restarted): it must be rebuilt from position 1.
    #[error("read model lost: {0}")]
    ModelLost(String),
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
    /// Starts the model over at checkpoint 0 (for a rebuild). A model read by other processes
    /// may go on serving its last complete state to readers until [`caught_up`](Self::caught_up)
    /// (Redis builds the new one aside).
    async fn reset(&self) -> Result<(), ProjectionError>;
    /// Checks, while idle, that the stored model is still the one this projection built;
    /// [`ProjectionError::ModelLost`] makes the runner rebuild it. A model held in the process
    /// cannot be lost behind its back: the default says all is well.
    async fn verify(&self) -> Result<(), ProjectionError> {
        Ok(())
    }
    /// Says that everything committed up to `position` is applied: the subscription has caught
    /// up. A model rebuilt aside (after [`reset`](Self::reset)) may go live now; the default
    /// does nothing.
    async fn caught_up(&self, position: Position) -> Result<(), ProjectionError> {
        let _ = position;
        Ok(())
    }
    /// How often, at most, the runner applies a batch with no events just to move the
    /// checkpoint past events the projection does not read. The default, zero, applies every
    /// one at once (cheap for a model held in the process).
    fn progress_every(&self) -> Duration {
        Duration::ZERO
    }
}

/// Feeds one projection from the event store: a [`ProjectionHost`] with a single projection.
pub struct ProjectionRunner {
    host: ProjectionHost,
}

impl ProjectionRunner {
    /// A runner for `projection` over `store`.
    pub fn new(store: Arc<dyn EventStore>, projection: Arc<dyn Projection>) -> Self {
        Self { host: ProjectionHost::new(store).with(projection) }
    }

    /// How often [`run`](Self::run) calls [`Projection::verify`] (default 5 s; at least 1 ms).
    #[must_use]
    pub fn verify_every(self, period: Duration) -> Self {
        Self { host: self.host.verify_every(period) }
    }

    /// Applies everything committed so far; returns the checkpoint reached. For tests and
    /// start-up: no waiting. A lost model is reset and replayed (a few times at most).
    pub async fn catch_up(&self) -> Result<Position, ProjectionError> {
        self.host.catch_up().await
    }

    /// Forgets the read model and replays from position 1.
    pub async fn rebuild(&self) -> Result<Position, ProjectionError> {
        self.host.rebuild().await
    }

    /// Runs until `shutdown` resolves (finishing the batch in hand) or the store fails. While
    /// waiting it verifies the model now and then; a lost model is reset and replayed, and a
    /// batch whose storage fails is retried with backoff.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ProjectionError> {
        self.host.run(shutdown).await
    }
}
