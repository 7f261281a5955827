//! Runs a projection: subscribe to `$all` from its checkpoint, apply batches, stop cleanly.
//!
//! A read model stored outside the process (Redis) can be lost behind the projection's back:
//! flushed, or restarted without persistence. The projection reports that as
//! [`ProjectionError::ModelLost`], either from `apply` (its checkpoint compare-and-set failed) or
//! from [`Projection::verify`], which [`ProjectionRunner::run`] calls on a timer while it waits;
//! the runner then resets the projection and replays from position 1. In `run`, a transient
//! [`ProjectionError::Storage`] failure is retried with backoff rather than ending the runner.
//!
//! The checkpoint moves past events the projection does not read: when the subscription reports
//! progress (an empty batch, see [`Subscription::next_batch`]), the runner applies it with no
//! events, at most once per [`Projection::progress_every`] (a Redis model pays a write for
//! each), and at the latest that long after the last progress it held back. When the
//! subscription catches up, the runner tells the projection ([`Projection::caught_up`]): a
//! model rebuilt aside goes live then.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use careflow_eventstore::{EventStore, Filter, Position, RecordedEvent, StoreError, Subscription};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;

/// Largest batch handed to a projection at once.
const BATCH: usize = 1024;

/// How often `run` checks, by default, that the read model is still there.
const VERIFY_EVERY: Duration = Duration::from_secs(5);

/// First and longest wait before retrying a batch whose storage failed.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_LONGEST: Duration = Duration::from_secs(5);

/// Rebuilds `catch_up` attempts in a row before it gives up on a model that keeps vanishing.
const MAX_REBUILDS: usize = 3;

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
    /// Forgets everything, back to checkpoint 0 (for a rebuild).
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

/// Feeds a projection from the event store.
pub struct ProjectionRunner {
    store: Arc<dyn EventStore>,
    projection: Arc<dyn Projection>,
    verify_every: Duration,
}

/// What woke `run` up.
enum Wake {
    Stop,
    Verify,
    /// Time to apply the progress held back.
    Progress,
    Batch(Result<(Vec<RecordedEvent>, Option<Position>), StoreError>),
}

impl ProjectionRunner {
    /// A runner for `projection` over `store`.
    pub fn new(store: Arc<dyn EventStore>, projection: Arc<dyn Projection>) -> Self {
        Self { store, projection, verify_every: VERIFY_EVERY }
    }

    /// How often [`run`](Self::run) calls [`Projection::verify`] (default 5 s; at least 1 ms).
    #[must_use]
    pub fn verify_every(mut self, period: Duration) -> Self {
        self.verify_every = period.max(Duration::from_millis(1));
        self
    }

    /// Applies everything committed so far; returns the checkpoint reached. For tests and
    /// start-up: no waiting. A lost model is reset and replayed (a few times at most).
    pub async fn catch_up(&self) -> Result<Position, ProjectionError> {
        let mut rebuilds = 0;
        loop {
            match self.catch_up_once().await {
                Err(ProjectionError::ModelLost(why)) if rebuilds < MAX_REBUILDS => {
                    rebuilds += 1;
                    tracing::warn!(projection = self.projection.name(), %why, "read model lost; rebuilding");
                    self.projection.reset().await?;
                }
                outcome => return outcome,
            }
        }
    }

    /// Forgets the read model and replays from position 1.
    pub async fn rebuild(&self) -> Result<Position, ProjectionError> {
        self.projection.reset().await?;
        self.catch_up().await
    }

    /// Runs until `shutdown` resolves (finishing the batch in hand) or the store fails. While
    /// waiting it verifies the model now and then; a lost model is reset and replayed, and a
    /// batch whose storage fails is retried with backoff.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ProjectionError> {
        let mut subscription = match self.subscribe().await {
            Err(ProjectionError::ModelLost(why)) => {
                tracing::warn!(projection = self.projection.name(), %why, "read model lost; rebuilding");
                self.projection.reset().await?;
                self.subscribe().await?
            }
            subscribed => subscribed?,
        };
        let mut verify = tokio::time::interval_at(Instant::now() + self.verify_every, self.verify_every);
        verify.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let progress_every = self.projection.progress_every();
        // Progress held back by the throttle, and when the next progress may be applied.
        let mut held: Option<Position> = None;
        let mut progress_at = Instant::now();
        tokio::pin!(shutdown);
        loop {
            let wake = tokio::select! {
                biased;
                () = &mut shutdown => Wake::Stop,
                () = tokio::time::sleep_until(progress_at), if held.is_some() => Wake::Progress,
                _ = verify.tick() => Wake::Verify,
                batch = subscription.next_batch(BATCH) => Wake::Batch(batch),
            };
            let outcome = match wake {
                Wake::Stop => return Ok(()),
                Wake::Verify => self.projection.verify().await,
                Wake::Progress => match held.take() {
                    Some(through) => {
                        progress_at = Instant::now() + progress_every;
                        match self.apply(shutdown.as_mut(), &[], through, None).await {
                            Ok(false) => return Ok(()),
                            Ok(true) => Ok(()),
                            Err(error) => Err(error),
                        }
                    }
                    None => Ok(()),
                },
                Wake::Batch(batch) => {
                    let (events, caught_up) = batch?;
                    let through = subscription.delivered_through();
                    if events.is_empty() && caught_up.is_none() {
                        // Progress only: apply it unless one was applied too recently.
                        let now = Instant::now();
                        if now < progress_at {
                            held = Some(through);
                            continue;
                        }
                        progress_at = now + progress_every;
                    }
                    held = None;
                    match self.apply(shutdown.as_mut(), &events, through, caught_up).await {
                        Ok(false) => return Ok(()),
                        Ok(true) => Ok(()),
                        Err(error) => Err(error),
                    }
                }
            };
            match outcome {
                Ok(()) => {}
                Err(ProjectionError::Storage(why)) => {
                    // Only `verify` gets here (`apply` is retried): check again at the next tick.
                    tracing::warn!(projection = self.projection.name(), %why, "cannot verify the read model");
                }
                Err(ProjectionError::ModelLost(why)) => {
                    tracing::warn!(projection = self.projection.name(), %why, "read model lost; rebuilding");
                    if !self.retrying(shutdown.as_mut(), || self.projection.reset()).await? {
                        return Ok(());
                    }
                    held = None;
                    subscription = self.subscribe().await?;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Applies one batch (retrying storage failures) and, when the subscription has just caught
    /// up, says so to the projection. `Ok(false)` when `shutdown` resolved first.
    async fn apply(
        &self,
        mut shutdown: Pin<&mut (impl Future<Output = ()> + Send)>,
        events: &[RecordedEvent],
        through: Position,
        caught_up: Option<Position>,
    ) -> Result<bool, ProjectionError> {
        let name = self.projection.name();
        let span =
            tracing::debug_span!("projection batch", projection = name, events = events.len(), through);
        let applied = self
            .retrying(shutdown.as_mut(), || self.projection.apply(events, through))
            .instrument(span)
            .await?;
        if !applied || caught_up.is_none() {
            return Ok(applied);
        }
        let live = self.retrying(shutdown.as_mut(), || self.projection.caught_up(through)).await?;
        if live {
            tracing::info!(projection = name, position = through, "caught up");
        }
        Ok(live)
    }

    /// Runs `op` until it does not fail with [`ProjectionError::Storage`], waiting longer after
    /// each failure. `Ok(false)` when `shutdown` resolved first.
    async fn retrying<F>(
        &self,
        mut shutdown: Pin<&mut (impl Future<Output = ()> + Send)>,
        mut op: impl FnMut() -> F,
    ) -> Result<bool, ProjectionError>
    where
        F: Future<Output = Result<(), ProjectionError>> + Send,
    {
        let mut wait = RETRY_FIRST;
        loop {
            match op().await {
                Ok(()) => return Ok(true),
                Err(ProjectionError::Storage(why)) => {
                    tracing::warn!(
                        projection = self.projection.name(),
                        %why,
                        retry_in_ms = wait.as_millis(),
                        "read model storage failed; retrying"
                    );
                    tokio::select! {
                        biased;
                        () = shutdown.as_mut() => return Ok(false),
                        () = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(RETRY_LONGEST);
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn catch_up_once(&self) -> Result<Position, ProjectionError> {
        let mut subscription = self.subscribe().await?;
        loop {
            let (events, caught_up) = subscription.next_batch(BATCH).await?;
            if events.is_empty() && caught_up.is_none() {
                // Progress only: the caught-up batch, which always comes, records it.
                continue;
            }
            let through = subscription.delivered_through();
            self.projection.apply(&events, through).await?;
            if caught_up.is_some() {
                self.projection.caught_up(through).await?;
                return Ok(through);
            }
        }
    }

    async fn subscribe(&self) -> Result<Subscription, ProjectionError> {
        let from = self.projection.checkpoint().await? + 1;
        Ok(Subscription::new(self.store.clone(), from, self.projection.filter()))
    }
}
