//! The one clock: a timer engine for every deadline in the product (task due times now;
//! missed virtual-ward readings and brokerage offer windows later).
//!
//! A deadline is recorded as an event in its owning stream (a task's `TaskCreated` carries its
//! due time). A [`Deadlines`] source says which events set and clear deadlines; the
//! [`Scheduler`] follows the log, keeps every pending deadline in memory, and when one falls
//! due sends the owning context's command with a command id derived from the deadline (its key
//! and due time). So it takes effect exactly once:
//! - across restarts: the pending set is rebuilt from the log, and a deadline fired before a
//!   crash is fired again with the same command id, which the services answer with the first
//!   outcome;
//! - with two schedulers running: both send the same command id;
//! - when the work was done meanwhile: the context's decision is that there is nothing to do.
//!
//! A command the services answer "not yet due" (this machine's clock runs ahead of theirs) or
//! cannot carry out now is tried again later; nothing is dropped but what they refuse for good.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use careflow_domain::tasks::TaskEvent;
use careflow_eventstore::{EventStore, Filter, RecordedEvent, StoreError, Subscription};
use careflow_proto::tasks::v1 as tasks;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use tokio::sync::watch;
use tonic::Code;

use crate::commands::{Command, SendError, Sender, command_id, stopped};

/// Wall-clock time, for deciding what is due.
pub trait WallClock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl WallClock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves with tokio's (paused, in tests): `start` plus the time tokio says has
/// passed since it was made.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: DateTime<Utc>,
    at: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `start` now.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self { start, at: tokio::time::Instant::now() }
    }
}

impl WallClock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.at.elapsed()).unwrap_or(chrono::Duration::MAX);
        self.start + elapsed
    }
}

/// A deadline: when `due`, send `command`.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadline {
    /// Names the deadline (one pending deadline per key).
    pub key: String,
    /// When it falls due.
    pub due: DateTime<Utc>,
    /// What to send then.
    pub command: Command,
}

/// What an event does to the pending deadlines.
#[derive(Debug, Clone, PartialEq)]
pub enum DeadlineChange {
    /// Sets (or moves) a deadline.
    Set(Box<Deadline>),
    /// Clears the deadline with this key (done, cancelled, fired).
    Clear(String),
}

/// A context's deadlines: which events set and clear them.
pub trait Deadlines: Send + Sync + 'static {
    /// The stream categories whose events set or clear deadlines.
    fn categories(&self) -> &'static [&'static str];
    /// What `event` does to the deadlines (it may be of a type the source ignores).
    fn scan(&self, event: &RecordedEvent) -> Result<Vec<DeadlineChange>, StoreError>;
}

/// Task due times: a task not completed by its due time is marked overdue (and escalated).
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskDeadlines;

impl TaskDeadlines {
    fn key(task_id: &impl std::fmt::Display) -> String {
        format!("task-overdue/{task_id}")
    }
}

impl Deadlines for TaskDeadlines {
    fn categories(&self) -> &'static [&'static str] {
        &["task"]
    }

    fn scan(&self, event: &RecordedEvent) -> Result<Vec<DeadlineChange>, StoreError> {
        let event: TaskEvent = event.decode()?;
        Ok(match event {
            TaskEvent::TaskCreated { task_id, due: Some(due), .. } => {
                let key = Self::key(&task_id);
                let command = Command::MarkTaskOverdue(tasks::MarkTaskOverdueRequest {
                    command_id: command_id(&key, &due.to_rfc3339()),
                    task_id: task_id.to_string(),
                    due: due.to_rfc3339(),
                });
                vec![DeadlineChange::Set(Box::new(Deadline { key, due, command }))]
            }
            TaskEvent::TaskOverdue { task_id, .. }
            | TaskEvent::TaskCompleted { task_id, .. }
            | TaskEvent::TaskCancelled { task_id, .. } => vec![DeadlineChange::Clear(Self::key(&task_id))],
            TaskEvent::TaskCreated { due: None, .. }
            | TaskEvent::TeamConfigured { .. }
            | TaskEvent::TaskClaimed { .. }
            | TaskEvent::TaskUnclaimed { .. }
            | TaskEvent::TaskHandOffOffered { .. }
            | TaskEvent::TaskHandOffAccepted { .. }
            | TaskEvent::TaskCommented { .. }
            | TaskEvent::TaskEscalated { .. }
            | TaskEvent::RoutingRuleSet { .. } => Vec::new(),
        })
    }
}

/// The deadlines not yet fired, in due order.
#[derive(Debug, Default)]
struct Pending {
    by_due: BTreeMap<(DateTime<Utc>, String), Command>,
    due_of: HashMap<String, DateTime<Utc>>,
    /// Failed attempts per key, for backoff.
    attempts: HashMap<String, u32>,
}

impl Pending {
    fn set(&mut self, deadline: Deadline) {
        self.clear(&deadline.key);
        self.due_of.insert(deadline.key.clone(), deadline.due);
        self.by_due.insert((deadline.due, deadline.key), deadline.command);
    }

    fn clear(&mut self, key: &str) {
        if let Some(due) = self.due_of.remove(key) {
            self.by_due.remove(&(due, key.to_owned()));
        }
        self.attempts.remove(key);
    }

    /// Moves a deadline to `at` (to try again), keeping its command.
    fn retry_at(&mut self, key: &str, at: DateTime<Utc>) {
        let Some(due) = self.due_of.get(key).copied() else { return };
        if let Some(command) = self.by_due.remove(&(due, key.to_owned())) {
            self.due_of.insert(key.to_owned(), at);
            self.by_due.insert((at, key.to_owned()), command);
        }
    }

    fn next_due(&self) -> Option<DateTime<Utc>> {
        self.by_due.keys().next().map(|(due, _)| *due)
    }

    /// Up to `max` deadlines due at `now`, earliest first.
    fn due(&self, now: DateTime<Utc>, max: usize) -> Vec<(String, DateTime<Utc>, Command)> {
        self.by_due
            .iter()
            .take_while(|((due, _), _)| *due <= now)
            .take(max)
            .map(|((due, key), command)| (key.clone(), *due, command.clone()))
            .collect()
    }
}

/// How many deadlines are fired at once.
const FIRING_CONCURRENCY: usize = 64;

/// How many due deadlines one round takes.
const ROUND: usize = 4096;

/// The longest wait before a failed firing is tried again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Fires deadlines as they fall due. See the module docs.
pub struct Scheduler {
    store: Arc<dyn EventStore>,
    sender: Arc<dyn Sender>,
    clock: Arc<dyn WallClock>,
    sources: Vec<Arc<dyn Deadlines>>,
    fired: Arc<AtomicU64>,
    pending: Arc<AtomicU64>,
}

impl Scheduler {
    /// A scheduler of `sources`' deadlines in `store`, sending with `sender`, on `clock`.
    pub fn new(
        store: Arc<dyn EventStore>,
        sender: Arc<dyn Sender>,
        clock: Arc<dyn WallClock>,
        sources: Vec<Arc<dyn Deadlines>>,
    ) -> Self {
        Self { store, sender, clock, sources, fired: Arc::default(), pending: Arc::default() }
    }

    /// Every deadline the services have answered (carried out, or found nothing to do): a
    /// counter for metrics and benchmarks.
    pub fn fired(&self) -> Arc<AtomicU64> {
        self.fired.clone()
    }

    /// How many deadlines are pending now.
    pub fn pending(&self) -> Arc<AtomicU64> {
        self.pending.clone()
    }

    fn filter(&self) -> Filter {
        let categories: Vec<&str> =
            self.sources.iter().flat_map(|s| s.categories().iter().copied()).collect();
        Filter::categories(categories)
    }

    fn scan(&self, pending: &mut Pending, event: &RecordedEvent) {
        let category = event.stream.category();
        for source in self.sources.iter().filter(|s| s.categories().contains(&category)) {
            match source.scan(event) {
                Ok(changes) => {
                    for change in changes {
                        match change {
                            DeadlineChange::Set(deadline) => pending.set(*deadline),
                            DeadlineChange::Clear(key) => pending.clear(&key),
                        }
                    }
                }
                // An event no deadline source can read sets no deadline; say so, go on.
                Err(error) => {
                    tracing::error!(position = event.position, %error, "cannot read an event for deadlines")
                }
            }
        }
    }

    /// Follows the log and fires what falls due until `stop` turns true. Fires nothing until
    /// it has read the whole log once (so what was done meanwhile is known).
    pub async fn run(self, stop: watch::Receiver<bool>) -> Result<(), StoreError> {
        let mut subscription = Subscription::new(self.store.clone(), 1, self.filter());
        let mut pending = Pending::default();
        let mut caught_up = false;
        loop {
            let now = self.clock.now();
            let wait = match (caught_up, pending.next_due()) {
                (true, Some(due)) => Some((due - now).to_std().unwrap_or(Duration::ZERO)),
                _ => None,
            };
            tokio::select! {
                biased;
                () = stopped(stop.clone()) => return Ok(()),
                () = tokio::time::sleep(wait.unwrap_or(Duration::ZERO)), if wait.is_some() => {
                    self.fire_due(&mut pending, &stop).await;
                }
                batch = subscription.next_batch(1024) => {
                    let (events, caught) = batch?;
                    for event in &events {
                        self.scan(&mut pending, event);
                    }
                    if caught.is_some() {
                        caught_up = true;
                        tracing::info!(pending = pending.due_of.len(), "the clock has read the log");
                    }
                }
            }
            self.pending.store(pending.due_of.len() as u64, Ordering::Relaxed);
        }
    }

    async fn fire_due(&self, pending: &mut Pending, stop: &watch::Receiver<bool>) {
        let now = self.clock.now();
        let due = pending.due(now, ROUND);
        let sender = &self.sender;
        let results: Vec<(String, Result<(), SendError>)> = stream::iter(due)
            .map(|(key, _, command)| async move {
                let result = sender.send(&command).await.map(|_| ());
                (key, result)
            })
            .buffer_unordered(FIRING_CONCURRENCY)
            .collect()
            .await;
        let now = self.clock.now();
        for (key, result) in results {
            match result {
                Ok(()) => {
                    self.fired.fetch_add(1, Ordering::Relaxed);
                    pending.clear(&key);
                }
                Err(SendError::Refused { code: Code::FailedPrecondition, message })
                    if message.contains("not due") =>
                {
                    tracing::debug!(%key, "fired before its due time by the services' clock; again in a second");
                    pending.retry_at(&key, now + chrono::Duration::seconds(1));
                }
                Err(SendError::Refused { code, message }) => {
                    tracing::warn!(%key, ?code, %message, "a deadline's command was refused; dropped");
                    pending.clear(&key);
                }
                Err(SendError::Transient { code, message }) => {
                    let attempts = pending.attempts.entry(key.clone()).or_insert(0);
                    *attempts += 1;
                    let backoff = Duration::from_millis(100 * 2u64.pow((*attempts).min(9))).min(MAX_BACKOFF);
                    tracing::warn!(%key, ?code, %message, ?backoff, "a deadline could not be fired; retrying");
                    let at =
                        now + chrono::Duration::from_std(backoff).unwrap_or(chrono::Duration::seconds(30));
                    pending.retry_at(&key, at);
                }
            }
        }
        if *stop.borrow() {
            tracing::debug!("stopping with deadlines pending; they fire on the next start");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadline(key: &str, minute: i64) -> Deadline {
        let due = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(minute);
        let command = Command::MarkTaskOverdue(tasks::MarkTaskOverdueRequest {
            command_id: command_id(key, &due.to_rfc3339()),
            task_id: key.into(),
            due: due.to_rfc3339(),
        });
        Deadline { key: key.into(), due, command }
    }

    #[test]
    fn pending_deadlines_come_due_in_order_and_move_when_set_again() {
        let mut pending = Pending::default();
        pending.set(deadline("b", 20));
        pending.set(deadline("a", 10));
        pending.set(deadline("c", 30));
        pending.set(deadline("c", 5));
        let at = |m| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(m);
        let keys = |p: &Pending, m| p.due(at(m), 10).into_iter().map(|(k, _, _)| k).collect::<Vec<_>>();
        assert_eq!(keys(&pending, 20), ["c", "a", "b"]);
        pending.clear("a");
        assert_eq!(keys(&pending, 20), ["c", "b"]);
        pending.retry_at("c", at(25));
        assert_eq!(keys(&pending, 20), ["b"]);
        assert_eq!(pending.next_due(), Some(at(20)));
        assert_eq!(pending.due_of.len(), 2);
    }

    #[test]
    fn a_deadlines_command_id_depends_only_on_its_key_and_due_time() {
        assert_eq!(deadline("a", 10).command, deadline("a", 10).command);
        assert_ne!(deadline("a", 10).command.command_id(), deadline("a", 11).command.command_id());
    }
}
