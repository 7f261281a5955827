//! The projection host: runs every projection of a process from **one** `$all` subscription.
//!
//! The host subscribes once, from the lowest checkpoint of its projections, with a filter that
//! keeps what any of them reads (the union of their categories, or everything when one reads
//! event types or everything). Each batch is handed to every projection as the events its own
//! filter keeps, with the same `through`; a projection skips what lies at or below its own
//! checkpoint, so one that is ahead (or behind) is handled naturally, and each checkpoint stays
//! with its own model. A projection whose slice of a batch is empty gets progress instead (its
//! checkpoint moves past events it does not read), at most once per
//! [`Projection::progress_every`], and at the latest that long after the last it held back.
//!
//! Each event is decoded once for every projection that reads it, when they decode it with
//! [`RecordedEvent::decode_shared`](careflow_eventstore::RecordedEvent::decode_shared) (the
//! document folds do).
//!
//! A lost model ([`ProjectionError::ModelLost`], from `apply` or from
//! [`Projection::verify`], called on a timer while waiting) is reset on its own; the host then
//! reads the log again from the lowest checkpoint, which the other projections skip, so their
//! models are never blanked. In `run`, a transient [`ProjectionError::Storage`] failure is
//! retried with backoff rather than ending the host. When the subscription catches up, every
//! projection is told ([`Projection::caught_up`]).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use careflow_eventstore::{EventStore, Filter, Position, RecordedEvent, StoreError, Subscription, trace};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;

use crate::metrics::ProjectionMetrics;
use crate::runner::{Projection, ProjectionError};

/// Largest batch handed to the projections at once.
const BATCH: usize = 1024;

/// How often `run` checks, by default, that the read models are still there.
const VERIFY_EVERY: Duration = Duration::from_secs(5);

/// First and longest wait before retrying a batch whose storage failed.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_LONGEST: Duration = Duration::from_secs(5);

/// Rebuilds `catch_up` attempts in a row before it gives up on a model that keeps vanishing.
const MAX_REBUILDS: usize = 3;

/// Feeds every projection of a process from one subscription. See the module docs.
pub struct ProjectionHost {
    store: Arc<dyn EventStore>,
    projections: Vec<Hosted>,
    verify_every: Duration,
    metrics: ProjectionMetrics,
}

/// A projection and its filter (asked once).
struct Hosted {
    projection: Arc<dyn Projection>,
    filter: Filter,
}

/// Progress held back for one projection by its throttle.
#[derive(Clone, Copy)]
struct Throttle {
    every: Duration,
    /// Held progress, not yet applied.
    held: Option<Position>,
    /// When the next progress may be applied.
    next_at: Instant,
}

/// What woke `run` up.
enum Wake {
    Stop,
    Verify,
    /// Time to apply progress held back.
    Progress,
    Batch(Result<(Vec<RecordedEvent>, Option<Position>), StoreError>),
}

/// A failure of one projection, by index.
struct Failed {
    index: usize,
    error: ProjectionError,
}

impl ProjectionHost {
    /// A host over `store`, with no projection yet.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            projections: Vec::new(),
            verify_every: VERIFY_EVERY,
            metrics: ProjectionMetrics::default(),
        }
    }

    /// Records each batch applied in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: ProjectionMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Also runs `projection`.
    #[must_use]
    pub fn with(mut self, projection: Arc<dyn Projection>) -> Self {
        let filter = projection.filter();
        self.projections.push(Hosted { projection, filter });
        self
    }

    /// How often [`run`](Self::run) calls [`Projection::verify`] (default 5 s; at least 1 ms).
    #[must_use]
    pub fn verify_every(mut self, period: Duration) -> Self {
        self.verify_every = period.max(Duration::from_millis(1));
        self
    }

    /// The projections it runs, in the order they were added.
    pub fn projections(&self) -> impl Iterator<Item = &Arc<dyn Projection>> {
        self.projections.iter().map(|h| &h.projection)
    }

    /// Applies everything committed so far to every projection; returns the position reached.
    /// For tests and start-up: no waiting. A lost model is reset and replayed (a few times at
    /// most).
    pub async fn catch_up(&self) -> Result<Position, ProjectionError> {
        let mut rebuilds = 0;
        loop {
            match self.catch_up_once().await {
                Ok(position) => return Ok(position),
                Err(Failed { index, error: ProjectionError::ModelLost(why) }) if rebuilds < MAX_REBUILDS => {
                    rebuilds += 1;
                    let projection = &self.projections[index].projection;
                    tracing::warn!(projection = projection.name(), %why, "read model lost; rebuilding");
                    projection.reset().await?;
                }
                Err(Failed { error, .. }) => return Err(error),
            }
        }
    }

    /// Forgets every read model and replays from position 1.
    pub async fn rebuild(&self) -> Result<Position, ProjectionError> {
        for hosted in &self.projections {
            hosted.projection.reset().await?;
        }
        self.catch_up().await
    }

    /// Runs until `shutdown` resolves (finishing the batch in hand) or the store fails. While
    /// waiting it verifies the models now and then; a lost model is reset and replayed, and a
    /// batch whose storage fails is retried with backoff.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ProjectionError> {
        tokio::pin!(shutdown);
        let Some(mut subscription) = self.subscribe_resetting(shutdown.as_mut()).await? else {
            return Ok(());
        };
        let mut verify = tokio::time::interval_at(Instant::now() + self.verify_every, self.verify_every);
        verify.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let now = Instant::now();
        let mut throttles: Vec<Throttle> = self
            .projections
            .iter()
            .map(|h| Throttle { every: h.projection.progress_every(), held: None, next_at: now })
            .collect();
        loop {
            let due = throttles.iter().filter(|t| t.held.is_some()).map(|t| t.next_at).min();
            let wake = tokio::select! {
                biased;
                () = &mut shutdown => Wake::Stop,
                () = sleep_until(due), if due.is_some() => Wake::Progress,
                _ = verify.tick() => Wake::Verify,
                batch = subscription.next_batch(BATCH) => Wake::Batch(batch),
            };
            let outcome = match wake {
                Wake::Stop => return Ok(()),
                Wake::Verify => self.verify().await,
                Wake::Progress => {
                    let now = Instant::now();
                    let mut outcome = Ok(true);
                    for (index, throttle) in throttles.iter_mut().enumerate() {
                        let Some(through) = throttle.held.filter(|_| throttle.next_at <= now) else {
                            continue;
                        };
                        throttle.held = None;
                        throttle.next_at = now + throttle.every;
                        outcome = self.apply(shutdown.as_mut(), index, &[], through, None).await;
                        if !matches!(outcome, Ok(true)) {
                            break;
                        }
                    }
                    outcome
                }
                Wake::Batch(batch) => {
                    let (mut events, caught_up) = batch?;
                    share_decoding(&mut events, &self.projections);
                    let through = subscription.delivered_through();
                    let now = Instant::now();
                    let mut outcome = Ok(true);
                    for (index, hosted) in self.projections.iter().enumerate() {
                        let mine = hosted.slice(&events, subscription_filter_keeps_all(&self.projections));
                        let throttle = &mut throttles[index];
                        if mine.is_empty() && caught_up.is_none() {
                            // Progress only: apply it unless one was applied too recently.
                            if now < throttle.next_at {
                                throttle.held = Some(through);
                                continue;
                            }
                            throttle.next_at = now + throttle.every;
                        }
                        throttle.held = None;
                        outcome = self.apply(shutdown.as_mut(), index, &mine, through, caught_up).await;
                        if !matches!(outcome, Ok(true)) {
                            break;
                        }
                    }
                    outcome
                }
            };
            match outcome {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(Failed { index, error: ProjectionError::Storage(why) }) => {
                    // Only `verify` gets here (`apply` is retried): check again at the next tick.
                    let name = self.projections[index].projection.name();
                    tracing::warn!(projection = name, %why, "cannot verify the read model");
                }
                Err(Failed { index, error: ProjectionError::ModelLost(why) }) => {
                    if !self.reset(shutdown.as_mut(), index, &why).await? {
                        return Ok(());
                    }
                    for throttle in &mut throttles {
                        throttle.held = None;
                    }
                    match self.subscribe_resetting(shutdown.as_mut()).await? {
                        Some(again) => subscription = again,
                        None => return Ok(()),
                    }
                }
                Err(Failed { error, .. }) => return Err(error),
            }
        }
    }

    /// Subscribes, first resetting every model that turns out lost when asked its checkpoint
    /// (a Redis restart loses them all). `None` when `shutdown` resolved first.
    async fn subscribe_resetting(
        &self,
        mut shutdown: Pin<&mut (impl Future<Output = ()> + Send)>,
    ) -> Result<Option<Subscription>, ProjectionError> {
        loop {
            match self.subscribe().await {
                Ok(subscription) => return Ok(Some(subscription)),
                Err(Failed { index, error: ProjectionError::ModelLost(why) }) => {
                    if !self.reset(shutdown.as_mut(), index, &why).await? {
                        return Ok(None);
                    }
                }
                Err(Failed { error, .. }) => return Err(error),
            }
        }
    }

    /// Resets one lost model (retrying storage failures). `Ok(false)` when `shutdown` resolved
    /// first.
    async fn reset(
        &self,
        shutdown: Pin<&mut (impl Future<Output = ()> + Send)>,
        index: usize,
        why: &str,
    ) -> Result<bool, ProjectionError> {
        let projection = &self.projections[index].projection;
        tracing::warn!(projection = projection.name(), %why, "read model lost; rebuilding");
        self.retrying(shutdown, index, || projection.reset()).await
    }

    /// Verifies every model; the first failure is reported.
    async fn verify(&self) -> Result<bool, Failed> {
        for (index, hosted) in self.projections.iter().enumerate() {
            hosted.projection.verify().await.map_err(|error| Failed { index, error })?;
        }
        Ok(true)
    }

    /// Applies one projection's slice of a batch (retrying storage failures) and, when the
    /// subscription has just caught up, says so to it. `Ok(false)` when `shutdown` resolved
    /// first.
    async fn apply(
        &self,
        mut shutdown: Pin<&mut (impl Future<Output = ()> + Send)>,
        index: usize,
        events: &[RecordedEvent],
        through: Position,
        caught_up: Option<Position>,
    ) -> Result<bool, Failed> {
        let projection = &self.projections[index].projection;
        let name = projection.name();
        let span = batch_span(name, events, through);
        let applied = self
            .retrying(shutdown.as_mut(), index, || projection.apply(events, through))
            .instrument(span)
            .await
            .map_err(|error| Failed { index, error })?;
        if applied && let Some(newest) = events.last() {
            let lag = (chrono::Utc::now() - newest.recorded_at).to_std().unwrap_or_default();
            self.metrics.batch(name, events.len(), lag);
        }
        if !applied || caught_up.is_none() {
            return Ok(applied);
        }
        let live = self
            .retrying(shutdown.as_mut(), index, || projection.caught_up(through))
            .await
            .map_err(|error| Failed { index, error })?;
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
        index: usize,
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
                        projection = self.projections[index].projection.name(),
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

    async fn catch_up_once(&self) -> Result<Position, Failed> {
        let mut subscription = self.subscribe().await?;
        let keeps_all = subscription_filter_keeps_all(&self.projections);
        loop {
            let (mut events, caught_up) =
                subscription.next_batch(BATCH).await.map_err(|e| Failed { index: 0, error: e.into() })?;
            share_decoding(&mut events, &self.projections);
            if events.is_empty() && caught_up.is_none() {
                // Progress only: the caught-up batch, which always comes, records it.
                continue;
            }
            let through = subscription.delivered_through();
            for (index, hosted) in self.projections.iter().enumerate() {
                let mine = hosted.slice(&events, keeps_all);
                if mine.is_empty() && caught_up.is_none() {
                    continue;
                }
                let failed = |error| Failed { index, error };
                hosted.projection.apply(&mine, through).await.map_err(failed)?;
                if caught_up.is_some() {
                    hosted.projection.caught_up(through).await.map_err(failed)?;
                }
            }
            if caught_up.is_some() {
                return Ok(through);
            }
        }
    }

    /// One subscription for every projection, from the lowest checkpoint.
    async fn subscribe(&self) -> Result<Subscription, Failed> {
        let mut from = Position::MAX;
        for (index, hosted) in self.projections.iter().enumerate() {
            let checkpoint = hosted.projection.checkpoint().await.map_err(|error| Failed { index, error })?;
            from = from.min(checkpoint);
        }
        let from = if self.projections.is_empty() { 0 } else { from };
        Ok(Subscription::new(self.store.clone(), from + 1, union(self.projections.iter().map(|h| &h.filter))))
    }
}

impl Hosted {
    /// The events of a batch this projection reads: all of them when the subscription's filter
    /// is its own.
    fn slice<'a>(&self, events: &'a [RecordedEvent], subscription_is_mine: bool) -> Cow<'a, [RecordedEvent]> {
        if subscription_is_mine {
            Cow::Borrowed(events)
        } else {
            Cow::Owned(events.iter().filter(|e| self.filter.matches(e)).cloned().collect())
        }
    }
}

/// When several projections get a batch (or their own copies of it), makes every copy of an
/// event share one decoding: read models that read the same event decode it once
/// ([`RecordedEvent::decode_shared`]).
fn share_decoding(events: &mut [RecordedEvent], projections: &[Hosted]) {
    if projections.len() > 1 {
        events.iter_mut().for_each(RecordedEvent::share_decoding);
    }
}

/// Whether the subscription's filter is exactly each projection's own (a single projection, or
/// all with the same filter), so no batch needs sorting out.
fn subscription_filter_keeps_all(projections: &[Hosted]) -> bool {
    projections.windows(2).all(|pair| pair[0].filter == pair[1].filter)
}

/// A filter keeping every event any of `filters` keeps: their categories when none reads event
/// types or everything, else everything.
fn union<'a>(filters: impl Iterator<Item = &'a Filter>) -> Filter {
    let mut categories: Vec<String> = Vec::new();
    for filter in filters {
        if filter.categories.is_empty() || !filter.event_types.is_empty() {
            return Filter::all();
        }
        for category in &filter.categories {
            if !categories.contains(category) {
                categories.push(category.clone());
            }
        }
    }
    if categories.is_empty() { Filter::all() } else { Filter::categories(categories) }
}

/// Most traces a batch's span links to besides the one it continues.
const MAX_LINKS: usize = 32;

/// The span of one projection's batch: it continues the trace of the batch's first traced
/// event and links the others' (a batch applies events of many commands), so a mutation's trace
/// shows the batch that made it visible, and the changes it sends carry the trace on to the
/// subscription pushes.
fn batch_span(projection: &str, events: &[RecordedEvent], through: Position) -> tracing::Span {
    let span = tracing::info_span!("projection batch", projection, events = events.len(), through);
    if span.is_disabled() || !trace::enabled() {
        return span;
    }
    let mut traced = events.iter().filter_map(|e| e.metadata.traceparent.as_deref());
    trace::continue_trace(&span, traced.next());
    let mut seen: Vec<&str> = Vec::new();
    for traceparent in traced {
        if seen.len() == MAX_LINKS {
            break;
        }
        if !seen.contains(&traceparent) {
            seen.push(traceparent);
            trace::link(&span, traceparent);
        }
    }
    span
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
