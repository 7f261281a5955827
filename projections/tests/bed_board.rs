//! The bed board projection against a real (in-memory) event store: catch-up, idempotency,
//! rebuild, capacity and change notifications.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use careflow_domain::beds::{BedEvent, BedStatus, BlockReason, Label, Pathway, PatientName, VacatedBecause};
use careflow_domain::{BedId, NhsNumber, SiteId, StayId, WardId};
use careflow_eventstore::memory::MemoryStore;
use careflow_eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamName};
use careflow_projections::bed_board::{BedBoardReader, Capacity, MemoryBedBoard};
use careflow_projections::{Projection, ProjectionRunner};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, minute, 0).single().expect("valid time")
}

fn nhs() -> NhsNumber {
    NhsNumber::parse("9990000018").expect("valid test number")
}

async fn append(store: &MemoryStore, events: Vec<BedEvent>) {
    let mut request: Vec<StreamAppend> = Vec::new();
    for event in events {
        let stream = StreamName::new(event.stream().name()).expect("stream name");
        let metadata = Metadata {
            correlation_id: Uuid::nil(),
            causation_id: None,
            command_id: None,
            actor: None,
            occurred_at: at(0),
            traceparent: None,
        };
        let new = NewEvent::json(Uuid::new_v4(), event.event_type(), 1, &event, metadata).expect("encode");
        match request.iter_mut().find(|a| a.stream == stream) {
            Some(append) => append.events.push(new),
            None => request.push(StreamAppend { stream, expected: ExpectedVersion::Any, events: vec![new] }),
        }
    }
    store.append(request).await.expect("append");
}

fn ids() -> (SiteId, WardId, BedId, BedId, StayId) {
    (
        SiteId::parse("RXA01").unwrap(),
        WardId::parse("RXA01-AMU").unwrap(),
        BedId::parse("RXA01-AMU-B01").unwrap(),
        BedId::parse("RXA01-AMU-B02").unwrap(),
        StayId(Uuid::from_u128(7)),
    )
}

async fn configured_store() -> Arc<MemoryStore> {
    let (site, ward, b1, b2, _) = ids();
    let store = Arc::new(MemoryStore::new());
    append(
        &store,
        vec![
            BedEvent::SiteRegistered {
                site_id: site.clone(),
                name: Label::parse("Northgate General").unwrap(),
                at: at(0),
            },
            BedEvent::WardConfigured {
                ward_id: ward.clone(),
                site_id: site.clone(),
                name: Label::parse("Acute Medical Unit").unwrap(),
                specialty: None,
                at: at(0),
            },
        ],
    )
    .await;
    for bed in [b1, b2] {
        append(
            &store,
            vec![BedEvent::BedAdded {
                bed_id: bed,
                ward_id: ward.clone(),
                site_id: site.clone(),
                label: Label::parse("Bay 1").unwrap(),
                at: at(0),
            }],
        )
        .await;
    }
    store
}

async fn admit(store: &MemoryStore) {
    let (site, ward, b1, _, stay) = ids();
    let patient = PatientName::parse("Edith", "Marchbank").unwrap();
    append(
        store,
        vec![
            BedEvent::PatientAdmitted {
                stay_id: stay,
                nhs_number: nhs(),
                patient: patient.clone(),
                bed_id: b1.clone(),
                ward_id: ward,
                site_id: site,
                at: at(5),
            },
            BedEvent::BedOccupied { bed_id: b1, stay_id: stay, nhs_number: nhs(), patient, at: at(5) },
            BedEvent::InpatientStayOpened { nhs_number: nhs(), stay_id: stay, at: at(5) },
        ],
    )
    .await;
}

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
