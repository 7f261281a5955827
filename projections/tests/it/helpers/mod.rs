//! Typed helpers shared by the projection tests: an event store with a configured ward, and
//! the events of an admission.

#![allow(dead_code)] // each test binary uses some of them
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

pub mod redis;

use std::sync::Arc;

use careflow_domain::beds::{BedEvent, Label, PatientName};
use careflow_domain::{BedId, NhsNumber, SiteId, StayId, WardId};
use careflow_eventstore::memory::MemoryStore;
use careflow_eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamName};
use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

pub fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, minute, 0).single().expect("valid time")
}

pub fn nhs() -> NhsNumber {
    NhsNumber::parse("9990000018").expect("valid test number")
}

/// Appends one event of any context, of `event_type`, to `stream`.
pub async fn record(store: &MemoryStore, stream: String, event_type: &str, event: &impl serde::Serialize) {
    let metadata = Metadata::new(Uuid::nil(), at(0));
    let new = NewEvent::json(Uuid::new_v4(), event_type, 1, event, metadata).expect("encode");
    let append = StreamAppend {
        stream: StreamName::new(stream).expect("stream name"),
        expected: ExpectedVersion::Any,
        events: vec![new],
    };
    store.append(vec![append]).await.expect("append");
}

pub async fn append(store: &MemoryStore, events: Vec<BedEvent>) {
    let mut request: Vec<StreamAppend> = Vec::new();
    for event in events {
        let stream = StreamName::new(event.stream().name()).expect("stream name");
        let metadata = Metadata::new(Uuid::nil(), at(0));
        let new = NewEvent::json(Uuid::new_v4(), event.event_type(), 1, &event, metadata).expect("encode");
        match request.iter_mut().find(|a| a.stream == stream) {
            Some(append) => append.events.push(new),
            None => request.push(StreamAppend { stream, expected: ExpectedVersion::Any, events: vec![new] }),
        }
    }
    store.append(request).await.expect("append");
}

pub fn ids() -> (SiteId, WardId, BedId, BedId, StayId) {
    (
        SiteId::parse("RXA01").unwrap(),
        WardId::parse("RXA01-AMU").unwrap(),
        BedId::parse("RXA01-AMU-B01").unwrap(),
        BedId::parse("RXA01-AMU-B02").unwrap(),
        StayId(Uuid::from_u128(7)),
    )
}

pub async fn configured_store() -> Arc<MemoryStore> {
    let (site, ward, b1, b2, _) = ids();
    let store = Arc::new(MemoryStore::new());
    append(
        &store,
        vec![
            BedEvent::SiteRegistered {
                site_id: site.clone(),
                name: Label::parse("Northgate General").unwrap(),
                organisation: Some(careflow_domain::OdsCode::parse("RXA").unwrap()),
                at: at(0),
            },
            BedEvent::WardConfigured {
                ward_id: ward.clone(),
                site_id: site.clone(),
                name: Label::parse("Acute Medical Unit").unwrap(),
                specialty: None,
                organisation: Some(careflow_domain::OdsCode::parse("RXA").unwrap()),
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
                organisation: Some(careflow_domain::OdsCode::parse("RXA").unwrap()),
                at: at(0),
            }],
        )
        .await;
    }
    store
}

pub async fn admit(store: &MemoryStore) {
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
                organisation: Some(careflow_domain::OdsCode::parse("RXA").unwrap()),
                at: at(5),
            },
            BedEvent::BedOccupied { bed_id: b1, stay_id: stay, nhs_number: nhs(), patient, at: at(5) },
            BedEvent::InpatientStayOpened { nhs_number: nhs(), stay_id: stay, at: at(5) },
        ],
    )
    .await;
}

/// A fuller day after [`admit`]: discharge planning for the first patient; a second patient
/// admitted to bed 2, discharged and the bed cleaned then blocked; a second ward and site.
pub async fn busy_day(store: &MemoryStore) {
    let (site, ward, _, b2, stay) = ids();
    let second = StayId(Uuid::from_u128(8));
    let nhs2 = NhsNumber::parse("9990000026").expect("valid test number");
    let patient2 = PatientName::parse("Arthur", "Pendle").unwrap();
    let date = |day| chrono::NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
    append(store, vec![BedEvent::ExpectedDischargeDateSet { stay_id: stay, date: date(6), at: at(10) }])
        .await;
    append(
        store,
        vec![BedEvent::BedReserved {
            bed_id: b2.clone(),
            for_nhs_number: Some(nhs2),
            note: None,
            at: at(11),
        }],
    )
    .await;
    append(
        store,
        vec![
            BedEvent::PatientAdmitted {
                stay_id: second,
                nhs_number: nhs2,
                patient: patient2.clone(),
                bed_id: b2.clone(),
                ward_id: ward.clone(),
                site_id: site.clone(),
                organisation: Some(careflow_domain::OdsCode::parse("RXA").unwrap()),
                at: at(12),
            },
            BedEvent::BedOccupied {
                bed_id: b2.clone(),
                stay_id: second,
                nhs_number: nhs2,
                patient: patient2,
                at: at(12),
            },
        ],
    )
    .await;
    append(
        store,
        vec![BedEvent::PatientMedicallyOptimised {
            stay_id: stay,
            discharge_ready_date: date(4),
            pathway: careflow_domain::beds::Pathway::HomeWithSupport,
            at: at(13),
        }],
    )
    .await;
    append(
        store,
        vec![
            BedEvent::PatientDischarged {
                stay_id: second,
                nhs_number: nhs2,
                bed_id: b2.clone(),
                destination: careflow_domain::beds::DischargeDestination::UsualResidence,
                pathway: careflow_domain::beds::Pathway::Home,
                at: at(20),
            },
            BedEvent::BedVacated {
                bed_id: b2.clone(),
                stay_id: second,
                because: careflow_domain::beds::VacatedBecause::Discharged,
                at: at(20),
            },
            BedEvent::InpatientStayClosed { nhs_number: nhs2, stay_id: second, at: at(20) },
        ],
    )
    .await;
    append(store, vec![BedEvent::BedCleaned { bed_id: b2.clone(), at: at(25) }]).await;
    append(
        store,
        vec![BedEvent::BedBlocked {
            bed_id: b2,
            reason: careflow_domain::beds::BlockReason::Maintenance,
            note: None,
            at: at(26),
        }],
    )
    .await;
    let (other_site, other_ward) = (SiteId::parse("RXB02").unwrap(), WardId::parse("RXB02-CCU").unwrap());
    append(
        store,
        vec![
            BedEvent::SiteRegistered {
                site_id: other_site.clone(),
                name: Label::parse("Southfield Community").unwrap(),
                organisation: Some(careflow_domain::OdsCode::parse("RXA").unwrap()),
                at: at(30),
            },
            BedEvent::WardConfigured {
                ward_id: other_ward.clone(),
                site_id: other_site.clone(),
                name: Label::parse("Coronary Care").unwrap(),
                specialty: Some(Label::parse("Cardiology").unwrap()),
                organisation: Some(careflow_domain::OdsCode::parse("RXA").unwrap()),
                at: at(30),
            },
            BedEvent::BedAdded {
                bed_id: BedId::parse("RXB02-CCU-B01").unwrap(),
                ward_id: other_ward,
                site_id: other_site,
                label: Label::parse("Side room").unwrap(),
                organisation: Some(careflow_domain::OdsCode::parse("RXA").unwrap()),
                at: at(31),
            },
        ],
    )
    .await;
}

/// An event of another context (a task), which the bed board does not read.
pub async fn other_context(store: &MemoryStore, n: usize) {
    let metadata = Metadata::new(Uuid::nil(), at(0));
    let new = NewEvent::json(Uuid::new_v4(), "TaskCreated", 1, &serde_json::json!({ "n": n }), metadata)
        .expect("encode");
    let stream = StreamName::new(format!("task-{n}")).expect("stream name");
    store
        .append(vec![StreamAppend { stream, expected: ExpectedVersion::Any, events: vec![new] }])
        .await
        .expect("append");
}

/// Blocks (even `n`) or unblocks (odd `n`) the second bed: a bed event that can be repeated.
pub async fn toggle_second_bed(store: &MemoryStore, n: usize) {
    let (_, _, _, b2, _) = ids();
    let event = if n.is_multiple_of(2) {
        BedEvent::BedBlocked {
            bed_id: b2,
            reason: careflow_domain::beds::BlockReason::Maintenance,
            note: None,
            at: at(40),
        }
    } else {
        BedEvent::BedUnblocked { bed_id: b2, to: careflow_domain::beds::BedStatus::Available, at: at(41) }
    };
    append(store, vec![event]).await;
}

/// Two contexts writing interleaved: beds now and then, tasks in between, a task last.
pub async fn two_contexts_write(store: &MemoryStore, rounds: usize) {
    for n in 0..rounds {
        if n.is_multiple_of(3) {
            toggle_second_bed(store, n / 3).await;
        }
        other_context(store, n).await;
    }
}
