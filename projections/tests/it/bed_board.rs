//! The bed board projection against a real (in-memory) event store: catch-up, idempotency,
//! rebuild, capacity and change notifications.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::helpers;

use std::sync::Arc;
use std::time::Duration;

use careflow_domain::beds::{BedEvent, BedStatus, BlockReason, Pathway, VacatedBecause};
use careflow_eventstore::EventStore;
use careflow_projections::bed_board::{BedBoardReader, Capacity, MemoryBedBoard};
use careflow_projections::{Projection, ProjectionRunner};
use chrono::NaiveDate;
use helpers::{admit, append, at, configured_store, ids, other_context, two_contexts_write};

#[tokio::test]
async fn catch_up_builds_the_board_with_patient_and_discharge_details() {
    let store = configured_store().await;
    admit(&store).await;
    let (_, ward, b1, _, stay) = ids();
    let drd = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
    append(
        &store,
        vec![BedEvent::PatientMedicallyOptimised {
            stay_id: stay,
            discharge_ready_date: drd,
            pathway: Pathway::HomeWithSupport,
            at: at(9),
        }],
    )
    .await;
    let board = Arc::new(MemoryBedBoard::new());
    let reached = ProjectionRunner::new(store.clone(), board.clone()).catch_up().await.unwrap();
    assert_eq!(reached, *store.head().borrow());

    let beds = board.bed_board(ward.as_str()).await.unwrap().expect("ward exists");
    assert_eq!(beds.len(), 2);
    let bed = beds.iter().find(|b| b.bed_id == b1.as_str()).unwrap();
    assert_eq!(bed.status, BedStatus::Occupied);
    assert_eq!(bed.since, at(5));
    assert_eq!(bed.patient.as_ref().map(|p| p.nhs_number.as_str()), Some("9990000018"));
    assert!(bed.medically_optimised);
    assert_eq!((bed.discharge_ready_date, bed.pathway), (Some(drd), Some(1)));
    assert_eq!(
        board.ward_capacity(ward.as_str()).await.unwrap(),
        Some(Capacity {
            total: 2,
            occupied: 1,
            available: 1,
            medically_optimised_in_bed: 1,
            ..Capacity::default()
        })
    );
    assert_eq!(board.site_capacity("RXA01").await.unwrap().map(|c| c.total), Some(2));
    assert_eq!(board.bed_board("NOPE").await.unwrap(), None);
}

#[tokio::test]
async fn applying_the_same_events_twice_changes_nothing() {
    let store = configured_store().await;
    admit(&store).await;
    let board = MemoryBedBoard::new();
    let all = store.read_all(1, 1000, &board.filter()).await.unwrap();
    board.apply(&all.events, all.next - 1).await.unwrap();
    let once = board.bed_board("RXA01-AMU").await.unwrap();
    board.apply(&all.events, all.next - 1).await.unwrap();
    board.apply(&all.events[..2], 2).await.unwrap();
    assert_eq!(board.bed_board("RXA01-AMU").await.unwrap(), once);
    assert_eq!(Projection::checkpoint(&board).await.unwrap(), all.next - 1);
}

#[tokio::test]
async fn rebuild_from_zero_gives_the_same_board() {
    let store = configured_store().await;
    admit(&store).await;
    let (_, _, b1, b2, stay) = ids();
    append(
        &store,
        vec![BedEvent::BedBlocked { bed_id: b2, reason: BlockReason::Maintenance, note: None, at: at(20) }],
    )
    .await;
    let board = Arc::new(MemoryBedBoard::new());
    let runner = ProjectionRunner::new(store.clone(), board.clone());
    runner.catch_up().await.unwrap();
    append(
        &store,
        vec![BedEvent::BedVacated {
            bed_id: b1,
            stay_id: stay,
            because: VacatedBecause::Discharged,
            at: at(30),
        }],
    )
    .await;
    runner.catch_up().await.unwrap();
    let live = board.bed_board("RXA01-AMU").await.unwrap();
    runner.rebuild().await.unwrap();
    assert_eq!(board.bed_board("RXA01-AMU").await.unwrap(), live);
    let statuses: Vec<BedStatus> = live.unwrap().iter().map(|b| b.status).collect();
    assert_eq!(statuses, vec![BedStatus::AwaitingCleaning, BedStatus::Blocked]);
}

#[tokio::test]
async fn changes_are_pushed_and_wait_for_sees_the_checkpoint() {
    let store = configured_store().await;
    let board = Arc::new(MemoryBedBoard::new());
    let runner = ProjectionRunner::new(store.clone(), board.clone());
    runner.catch_up().await.unwrap();
    let mut changes = board.changes();
    admit(&store).await;
    let head = *store.head().borrow();
    assert!(!board.wait_for(head, Duration::ZERO).await);
    runner.catch_up().await.unwrap();
    assert!(board.wait_for(head, Duration::from_secs(1)).await);
    let change = changes.try_recv().expect("a change was pushed");
    assert_eq!(change.ward_id, "RXA01-AMU");
    assert_eq!(change.bed.status, BedStatus::Occupied);
    assert!(changes.try_recv().is_err(), "one bed changed, one push");
}

#[tokio::test]
async fn the_checkpoint_reaches_the_head_while_another_context_writes() {
    let store = configured_store().await;
    let board = Arc::new(MemoryBedBoard::new());
    let runner = ProjectionRunner::new(store.clone(), board.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(runner.run(async {
        let _ = stopped.await;
    }));
    assert!(board.wait_for(*store.head().borrow(), Duration::from_secs(10)).await);
    // Live, beds now and then and tasks in between, ending with a task the board does not read:
    // its checkpoint must still reach the head, or a read-your-writes wait would time out.
    two_contexts_write(&store, 30).await;
    let head = *store.head().borrow();
    assert!(board.wait_for(head, Duration::from_secs(10)).await, "the bed board reached {head}");
    // Then, with the board live at the head, only tasks: nothing the board reads.
    for n in 100..110 {
        other_context(&store, n).await;
    }
    let head = *store.head().borrow();
    assert!(board.wait_for(head, Duration::from_secs(10)).await, "the bed board reached {head}");
    assert_eq!(Projection::checkpoint(&*board).await.unwrap(), head);
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}
