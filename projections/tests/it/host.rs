//! The projection host: several projections from one subscription, each from its own
//! checkpoint, with a lost one rebuilt while the others keep their models.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::helpers;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use careflow_eventstore::{EventStore, Filter, Position, RecordedEvent};
use careflow_projections::bed_board::{BedBoardReader, MemoryBedBoard};
use careflow_projections::{Projection, ProjectionError, ProjectionHost, ProjectionRunner};
use helpers::{admit, busy_day, configured_store, other_context, two_contexts_write};
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_secs(10);

/// Another context's read model: counts task events, each once.
#[derive(Default)]
struct TaskCount {
    /// Checkpoint and count.
    state: Mutex<(Position, usize)>,
    resets: AtomicUsize,
}

impl TaskCount {
    fn get(&self) -> (Position, usize) {
        *self.state.lock().unwrap()
    }
}

#[async_trait]
impl Projection for TaskCount {
    fn name(&self) -> &str {
        "task_count"
    }

    fn filter(&self) -> Filter {
        Filter::categories(["task"])
    }

    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        Ok(self.get().0)
    }

    async fn apply(&self, events: &[RecordedEvent], through: Position) -> Result<(), ProjectionError> {
        let mut state = self.state.lock().unwrap();
        if through <= state.0 {
            return Ok(());
        }
        assert!(events.iter().all(|e| e.stream.category() == "task"), "only task events");
        state.1 += events.iter().filter(|e| e.position > state.0).count();
        state.0 = through;
        Ok(())
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        self.resets.fetch_add(1, Ordering::SeqCst);
        *self.state.lock().unwrap() = (0, 0);
        Ok(())
    }
}

/// A memory bed board that is lost at the next verify when told to.
#[derive(Default)]
struct Losing {
    board: MemoryBedBoard,
    lose: AtomicBool,
    resets: AtomicUsize,
}

#[async_trait]
impl Projection for Losing {
    fn name(&self) -> &str {
        "losing"
    }

    fn filter(&self) -> Filter {
        self.board.filter()
    }

    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        Projection::checkpoint(&self.board).await
    }

    async fn apply(&self, events: &[RecordedEvent], through: Position) -> Result<(), ProjectionError> {
        self.board.apply(events, through).await
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        self.resets.fetch_add(1, Ordering::SeqCst);
        self.board.reset().await
    }

    async fn verify(&self) -> Result<(), ProjectionError> {
        if self.lose.swap(false, Ordering::SeqCst) {
            return Err(ProjectionError::ModelLost("flushed".into()));
        }
        Ok(())
    }
}

async fn tasks_in(store: &careflow_eventstore::memory::MemoryStore) -> usize {
    store.read_all(1, 100_000, &Filter::categories(["task"])).await.unwrap().events.len()
}

/// Polls `condition` until it holds; fails the test after [`DEADLINE`].
async fn eventually<F: Future<Output = bool>>(what: &str, mut condition: impl FnMut() -> F) {
    let deadline = Instant::now() + DEADLINE;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn fresh_board(store: &Arc<careflow_eventstore::memory::MemoryStore>) -> MemoryBedBoard {
    let board = Arc::new(MemoryBedBoard::new());
    ProjectionRunner::new(store.clone(), board.clone()).catch_up().await.unwrap();
    Arc::into_inner(board).unwrap()
}

#[tokio::test]
async fn one_subscription_feeds_every_projection_from_its_own_checkpoint() {
    let store = configured_store().await;
    admit(&store).await;
    // One bed board is ahead of the others before the host starts.
    let ahead = Arc::new(MemoryBedBoard::new());
    ProjectionRunner::new(store.clone(), ahead.clone()).catch_up().await.unwrap();
    busy_day(&store).await;
    two_contexts_write(&store, 20).await;
    let behind = Arc::new(MemoryBedBoard::new());
    let tasks = Arc::new(TaskCount::default());
    let host =
        ProjectionHost::new(store.clone()).with(ahead.clone()).with(behind.clone()).with(tasks.clone());
    let head = *store.head().borrow();
    assert_eq!(host.catch_up().await.unwrap(), head);
    let fresh = fresh_board(&store).await;
    for board in [&ahead, &behind] {
        assert_eq!(Projection::checkpoint(&**board).await.unwrap(), head);
        assert_eq!(board.bed_board("RXA01-AMU").await.unwrap(), fresh.bed_board("RXA01-AMU").await.unwrap());
        assert_eq!(board.sites().await.unwrap(), fresh.sites().await.unwrap());
    }
    assert_eq!(tasks.get(), (head, tasks_in(&store).await), "every task event counted once");

    // Live: both contexts write, every model follows, each to the head.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(host.run(async {
        let _ = stopped.await;
    }));
    two_contexts_write(&store, 20).await;
    for n in 200..205 {
        other_context(&store, n).await;
    }
    let head = *store.head().borrow();
    assert!(ahead.wait_for(head, DEADLINE).await && behind.wait_for(head, DEADLINE).await);
    eventually("the task count reaches the head", || async { tasks.get().0 == head }).await;
    assert_eq!(tasks.get().1, tasks_in(&store).await);
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_lost_model_is_rebuilt_while_the_others_keep_theirs() {
    let store = configured_store().await;
    admit(&store).await;
    two_contexts_write(&store, 20).await;
    let losing = Arc::new(Losing::default());
    let tasks = Arc::new(TaskCount::default());
    let host = ProjectionHost::new(store.clone())
        .with(losing.clone())
        .with(tasks.clone())
        .verify_every(Duration::from_millis(10));
    host.catch_up().await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(host.run(async {
        let _ = stopped.await;
    }));

    let mut changes = losing.board.changes();
    losing.lose.store(true, Ordering::SeqCst);
    // The feed first says to re-read (the model was reset), then the replay's changes come.
    let rebuilt = tokio::time::timeout(DEADLINE, async {
        loop {
            if let Ok(change) = changes.recv().await {
                return change;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(rebuilt.ward_id, "RXA01-AMU", "the lost board is replayed");
    two_contexts_write(&store, 10).await;
    let head = *store.head().borrow();
    assert!(losing.board.wait_for(head, DEADLINE).await);
    eventually("the task count reaches the head", || async { tasks.get().0 == head }).await;
    assert_eq!(losing.resets.load(Ordering::SeqCst), 1);
    assert_eq!(tasks.resets.load(Ordering::SeqCst), 0, "the other model was not reset");
    assert_eq!(tasks.get().1, tasks_in(&store).await, "and the replay did not count anything twice");
    let fresh = fresh_board(&store).await;
    assert_eq!(
        losing.board.bed_board("RXA01-AMU").await.unwrap(),
        fresh.bed_board("RXA01-AMU").await.unwrap()
    );
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}

/// Records the decoded value it got for each event.
struct Decoding {
    categories: Vec<&'static str>,
    seen: Mutex<Vec<(Position, Arc<serde_json::Value>)>>,
}

#[async_trait]
impl Projection for Decoding {
    fn name(&self) -> &str {
        "decoding"
    }
    fn filter(&self) -> Filter {
        Filter::categories(self.categories.clone())
    }
    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        Ok(self.seen.lock().unwrap().last().map_or(0, |(p, _)| *p))
    }
    async fn apply(&self, events: &[RecordedEvent], _: Position) -> Result<(), ProjectionError> {
        let mut seen = self.seen.lock().unwrap();
        for event in events {
            seen.push((event.position, event.decode_shared::<serde_json::Value>()?));
        }
        Ok(())
    }
    async fn reset(&self) -> Result<(), ProjectionError> {
        self.seen.lock().unwrap().clear();
        Ok(())
    }
}

#[tokio::test]
async fn an_event_two_models_read_is_decoded_once() {
    let store = configured_store().await;
    admit(&store).await;
    let beds = Arc::new(Decoding { categories: vec!["bed"], seen: Mutex::default() });
    let stays = Arc::new(Decoding { categories: vec!["bed", "stay"], seen: Mutex::default() });
    ProjectionHost::new(store.clone()).with(beds.clone()).with(stays.clone()).catch_up().await.unwrap();
    let (beds, stays) = (beds.seen.lock().unwrap(), stays.seen.lock().unwrap());
    assert!(!beds.is_empty() && stays.len() > beds.len(), "each got its own events");
    for (position, decoded) in beds.iter() {
        let (_, other) = stays.iter().find(|(p, _)| p == position).unwrap();
        assert!(Arc::ptr_eq(decoded, other), "event {position} decoded once for both");
    }
}
