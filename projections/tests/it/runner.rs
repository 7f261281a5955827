//! The runner's recovery, with a projection that fails on cue: a batch whose storage fails is
//! retried, and a model reported lost (while idle, or by a batch) is reset and replayed.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::helpers;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use careflow_domain::beds::{BedEvent, BlockReason};
use careflow_eventstore::{EventStore, Filter, Position, RecordedEvent};
use careflow_projections::bed_board::{BedBoardReader, MemoryBedBoard};
use careflow_projections::{Projection, ProjectionError, ProjectionRunner};
use helpers::{admit, append, at, configured_store, ids, other_context};

const DEADLINE: Duration = Duration::from_secs(10);

/// A memory board whose storage fails, or is lost, when told to.
#[derive(Default)]
struct Flaky {
    board: MemoryBedBoard,
    failing_applies: AtomicUsize,
    lost_at_next_verify: AtomicBool,
    lost_at_next_apply: AtomicBool,
    resets: AtomicUsize,
}

#[async_trait]
impl Projection for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }

    fn filter(&self) -> Filter {
        self.board.filter()
    }

    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        Projection::checkpoint(&self.board).await
    }

    async fn apply(&self, events: &[RecordedEvent], through: Position) -> Result<(), ProjectionError> {
        if self.failing_applies.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
        {
            return Err(ProjectionError::Storage("down".into()));
        }
        if self.lost_at_next_apply.swap(false, Ordering::SeqCst) {
            return Err(ProjectionError::ModelLost("flushed".into()));
        }
        self.board.apply(events, through).await
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        self.resets.fetch_add(1, Ordering::SeqCst);
        self.board.reset().await
    }

    async fn verify(&self) -> Result<(), ProjectionError> {
        if self.lost_at_next_verify.swap(false, Ordering::SeqCst) {
            return Err(ProjectionError::ModelLost("flushed".into()));
        }
        Ok(())
    }
}

#[tokio::test]
async fn run_retries_failed_storage_and_rebuilds_a_lost_model() {
    let store = configured_store().await;
    admit(&store).await;
    let flaky = Arc::new(Flaky::default());
    flaky.failing_applies.store(2, Ordering::SeqCst);
    let runner = ProjectionRunner::new(store.clone(), flaky.clone()).verify_every(Duration::from_millis(10));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(runner.run(async {
        let _ = stopped.await;
    }));
    let head = *store.head().borrow();
    assert!(flaky.board.wait_for(head, DEADLINE).await, "applied after two failed tries");
    assert_eq!(flaky.failing_applies.load(Ordering::SeqCst), 0);

    // Lost while idle: noticed by verify, reset, replayed.
    let mut changes = flaky.board.changes();
    flaky.lost_at_next_verify.store(true, Ordering::SeqCst);
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
    assert_eq!(flaky.resets.load(Ordering::SeqCst), 1);
    assert_eq!(rebuilt.ward_id, "RXA01-AMU");
    assert!(flaky.board.wait_for(head, DEADLINE).await);

    // Lost, as found by the next batch: reset and replayed, that batch included.
    flaky.lost_at_next_apply.store(true, Ordering::SeqCst);
    let (_, _, _, b2, _) = ids();
    append(
        &store,
        vec![BedEvent::BedBlocked { bed_id: b2, reason: BlockReason::Maintenance, note: None, at: at(40) }],
    )
    .await;
    let head = *store.head().borrow();
    assert!(flaky.board.wait_for(head, DEADLINE).await);
    assert_eq!(flaky.resets.load(Ordering::SeqCst), 2);

    let fresh = Arc::new(MemoryBedBoard::new());
    ProjectionRunner::new(store.clone(), fresh.clone()).catch_up().await.unwrap();
    assert_eq!(
        flaky.board.bed_board("RXA01-AMU").await.unwrap(),
        fresh.bed_board("RXA01-AMU").await.unwrap()
    );

    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn catch_up_rebuilds_a_lost_model_and_stops_on_a_storage_failure() {
    let store = configured_store().await;
    admit(&store).await;
    let flaky = Arc::new(Flaky::default());
    let runner = ProjectionRunner::new(store.clone(), flaky.clone());
    flaky.lost_at_next_apply.store(true, Ordering::SeqCst);
    assert_eq!(runner.catch_up().await.unwrap(), *store.head().borrow());
    assert_eq!(flaky.resets.load(Ordering::SeqCst), 1);

    // Storage errors end catch_up (it is for start-up and tests: the caller decides).
    flaky.failing_applies.store(1, Ordering::SeqCst);
    admit(&store).await;
    assert!(matches!(runner.catch_up().await, Err(ProjectionError::Storage(_))));
}

/// A memory board that holds progress back as a Redis one does, and counts empty batches.
struct Throttled {
    board: MemoryBedBoard,
    empty_applies: AtomicUsize,
}

#[async_trait]
impl Projection for Throttled {
    fn name(&self) -> &str {
        "throttled"
    }

    fn filter(&self) -> Filter {
        self.board.filter()
    }

    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        Projection::checkpoint(&self.board).await
    }

    async fn apply(&self, events: &[RecordedEvent], through: Position) -> Result<(), ProjectionError> {
        if events.is_empty() {
            self.empty_applies.fetch_add(1, Ordering::SeqCst);
        }
        self.board.apply(events, through).await
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        self.board.reset().await
    }

    fn progress_every(&self) -> Duration {
        Duration::from_secs(1)
    }
}

#[tokio::test]
async fn progress_past_other_contexts_is_throttled_and_never_dropped() {
    let store = configured_store().await;
    let throttled = Arc::new(Throttled { board: MemoryBedBoard::new(), empty_applies: AtomicUsize::new(0) });
    let runner = ProjectionRunner::new(store.clone(), throttled.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(runner.run(async {
        let _ = stopped.await;
    }));
    assert!(throttled.board.wait_for(*store.head().borrow(), DEADLINE).await);
    let caught_up = throttled.empty_applies.load(Ordering::SeqCst);
    let started = tokio::time::Instant::now();
    for n in 0..50 {
        other_context(&store, n).await;
        tokio::task::yield_now().await;
    }
    let head = *store.head().borrow();
    assert!(throttled.board.wait_for(head, DEADLINE).await, "the held progress was applied");
    let progress = throttled.empty_applies.load(Ordering::SeqCst) - caught_up;
    let allowed = 2 + usize::try_from(started.elapsed().as_secs()).unwrap();
    assert!(progress <= allowed, "{progress} checkpoint-only batches for 50 commits (at most {allowed})");
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}
