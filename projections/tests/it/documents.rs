//! Document read models: the patient summary fold (demographics, flags, location, timeline,
//! search indexes), run by one host beside the bed board, in memory and in Redis (a reader in
//! another process, change feeds, a lost model rebuilt aside).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use careflow_domain::beds::{BedEvent, DischargeDestination, Note, Pathway, PatientName};
use careflow_domain::flags::{FlagEvent, FlagId, FlagKind, FlagSource, FrailtyScore, Severity};
use careflow_domain::patients::{Demographics, DemographicsChange, Gender, PatientEvent, Postcode};
use careflow_domain::{NhsNumber, OdsCode};
use careflow_eventstore::memory::MemoryStore;
use careflow_eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamName};
use careflow_projections::bed_board::{BedBoardReader, MemoryBedBoard};
use careflow_projections::documents::redis::{RedisDocumentReader, RedisDocuments};
use careflow_projections::documents::{DocChange, DocumentReader, MemoryDocuments};
use careflow_projections::patient_summary::{
    PatientDoc, PatientSummaries, PatientSummary, name_key, patient_key, postcode_key,
};
use careflow_projections::{Projection, ProjectionHost, ProjectionRunner};
use chrono::NaiveDate;
use serde::Serialize;
use uuid::Uuid;

use crate::helpers::redis::{TestRedis, eventually};
use crate::helpers::{admit, at, configured_store, ids, nhs};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

async fn append_to(store: &MemoryStore, stream: String, event_type: &str, event: &impl Serialize) {
    let metadata = Metadata::new(Uuid::nil(), at(0));
    let new = NewEvent::json(Uuid::new_v4(), event_type, 1, event, metadata).unwrap();
    let append = StreamAppend {
        stream: StreamName::new(stream).unwrap(),
        expected: ExpectedVersion::Any,
        events: vec![new],
    };
    store.append(vec![append]).await.unwrap();
}

async fn patient_event(store: &MemoryStore, event: PatientEvent) {
    append_to(store, format!("patient-{}", event.nhs_number()), event.event_type(), &event).await;
}

async fn flag_event(store: &MemoryStore, event: FlagEvent) {
    append_to(store, format!("flags-{}", event.nhs_number()), event.event_type(), &event).await;
}

fn demographics() -> Demographics {
    Demographics {
        name: PatientName::parse("Queenie", "Nettlefold").unwrap(),
        date_of_birth: Some(date(1941, 3, 9)),
        gender: Gender::Female,
        postcode: Some(Postcode::parse("LS6 2QB").unwrap()),
        gp_practice: Some(OdsCode::parse("B86001").unwrap()),
    }
}

fn frailty(flag: u128, score: u8) -> FlagEvent {
    FlagEvent::FlagRaised {
        nhs_number: nhs(),
        flag_id: FlagId(Uuid::from_u128(flag)),
        kind: FlagKind::Frailty,
        frailty_score: Some(FrailtyScore::new(score).unwrap()),
        severity: Severity::High,
        reason: Note::parse("CFS on admission").unwrap(),
        review_on: None,
        source: FlagSource::Person {
            user_id: "nurse.one".into(),
            organisation: OdsCode::parse("RXA").unwrap(),
        },
        at: at(20),
    }
}

/// A patient's life across three contexts: registered, admitted (beds), flagged, moved to a new
/// postcode, a flag resolved and another raised, then discharged.
async fn patient_journey(store: &MemoryStore) {
    patient_event(
        store,
        PatientEvent::PatientRegistered { nhs_number: nhs(), demographics: demographics(), at: at(1) },
    )
    .await;
    admit(store).await;
    flag_event(store, frailty(1, 7)).await;
    let moved = DemographicsChange {
        postcode: Some(Postcode::parse("LS7 3JB").unwrap()),
        ..DemographicsChange::default()
    };
    patient_event(
        store,
        PatientEvent::PatientDemographicsUpdated { nhs_number: nhs(), change: moved, at: at(30) },
    )
    .await;
    flag_event(
        store,
        FlagEvent::FlagResolved {
            nhs_number: nhs(),
            flag_id: FlagId(Uuid::from_u128(1)),
            reason: Note::parse("Reassessed").unwrap(),
            at: at(40),
        },
    )
    .await;
    flag_event(store, frailty(2, 8)).await;
}

async fn discharge(store: &MemoryStore) {
    let (_, _, bed, _, stay) = ids();
    let event = BedEvent::PatientDischarged {
        stay_id: stay,
        nhs_number: nhs(),
        bed_id: bed,
        destination: DischargeDestination::CareHome,
        pathway: Pathway::CareHome,
        at: at(50),
    };
    append_to(store, event.stream().name(), event.event_type(), &event).await;
}

fn summary_of(doc: Option<PatientDoc>) -> PatientSummary {
    match doc {
        Some(PatientDoc::Summary(summary)) => *summary,
        other => panic!("not a summary: {other:?}"),
    }
}

fn index_of(doc: Option<PatientDoc>) -> Vec<String> {
    match doc {
        Some(PatientDoc::Index { nhs_numbers }) => nhs_numbers.into_iter().collect(),
        None => Vec::new(),
        other => panic!("not an index: {other:?}"),
    }
}

#[tokio::test]
async fn the_summary_follows_a_patient_across_contexts() {
    let store = configured_store().await;
    patient_journey(&store).await;
    let summaries = Arc::new(MemoryDocuments::new(PatientSummaries));
    ProjectionRunner::new(store.clone(), summaries.clone()).catch_up().await.unwrap();
    let key = patient_key(&nhs().to_string());

    let patient = summary_of(summaries.get(&key).await.unwrap());
    let demographics = patient.demographics.clone().unwrap();
    assert_eq!(
        (demographics.family_name.as_str(), demographics.postcode.as_deref()),
        ("Nettlefold", Some("LS7 3JB"))
    );
    let (site, ward, bed, _, stay) = ids();
    let here = patient.stay.clone().unwrap();
    assert_eq!(
        (here.stay_id, here.site_id, here.ward_id, here.bed_id),
        (stay.to_string(), site.to_string(), ward.to_string(), bed.to_string())
    );
    assert_eq!(patient.flags.len(), 2, "active and past flags");
    assert!(!patient.flags[0].is_active() && patient.flags[1].is_active());
    assert_eq!(patient.flags[1].frailty_score, Some(8));
    assert_eq!(patient.active_flag_kinds(), [FlagKind::Frailty]);
    let timeline: Vec<&str> = patient.timeline.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        timeline,
        [
            "PatientRegistered",
            "PatientAdmitted",
            "FlagRaised",
            "PatientDemographicsUpdated",
            "FlagResolved",
            "FlagRaised"
        ]
    );
    assert!(patient.timeline.windows(2).all(|w| w[0].position < w[1].position));
    assert_eq!(patient.caring_organisations(), ["RXA", "B86001"], "the stay's trust and the GP practice");

    // Found by name and date of birth, and by the new postcode only.
    let nhs = nhs().to_string();
    assert_eq!(
        index_of(summaries.get(&name_key(" nettlefold ", date(1941, 3, 9))).await.unwrap()),
        [nhs.as_str()]
    );
    assert_eq!(index_of(summaries.get(&postcode_key("LS7 3JB")).await.unwrap()), [nhs.as_str()]);
    assert!(
        summaries.get(&postcode_key("LS6 2QB")).await.unwrap().is_none(),
        "the old postcode's entry is gone"
    );

    discharge(&store).await;
    ProjectionRunner::new(store.clone(), summaries.clone()).catch_up().await.unwrap();
    let patient = summary_of(summaries.get(&key).await.unwrap());
    assert!(patient.stay.is_none(), "no location once discharged");
    assert_eq!(patient.caring_organisations(), ["B86001"]);
    assert_eq!(patient.timeline.last().unwrap().summary, "Discharged: CARE_HOME, pathway 3");
}

#[tokio::test]
async fn one_host_keeps_the_bed_board_and_the_summaries_from_one_subscription() {
    let store = configured_store().await;
    let board = Arc::new(MemoryBedBoard::new());
    let summaries = Arc::new(MemoryDocuments::new(PatientSummaries));
    let host = ProjectionHost::new(store.clone()).with(board.clone()).with(summaries.clone());
    let mut changes = summaries.changes();
    patient_journey(&store).await;
    let head = *store.head().borrow();
    assert_eq!(host.catch_up().await.unwrap(), head);
    assert_eq!(Projection::checkpoint(board.as_ref()).await.unwrap(), head);
    assert_eq!(DocumentReader::checkpoint(summaries.as_ref()), head);
    let (_, _, bed, _, _) = ids();
    assert!(board.bed(bed.as_str()).await.unwrap().unwrap().patient.is_some());
    // The change feed named the summary.
    let mut keys = Vec::new();
    while let Ok(DocChange::Changed { key, .. }) = changes.try_recv() {
        keys.push(key);
    }
    assert!(keys.contains(&patient_key(&nhs().to_string())), "{keys:?}");
    // A read-your-writes wait.
    assert!(summaries.wait_for(head, Duration::from_millis(10)).await);
    assert!(!summaries.wait_for(head + 1, Duration::from_millis(10)).await);
}

/// Every document key the memory model holds, with the document.
async fn all_docs(memory: &MemoryDocuments<PatientSummaries>, keys: &[String]) -> Vec<Option<PatientDoc>> {
    memory.get_many(keys).await.unwrap()
}

fn keys_of_journey() -> Vec<String> {
    let nhs = nhs().to_string();
    vec![
        patient_key(&nhs),
        name_key("Nettlefold", date(1941, 3, 9)),
        postcode_key("LS7 3JB"),
        postcode_key("LS6 2QB"),
        format!("stay:{}", ids().4),
    ]
}

#[tokio::test]
async fn redis_keeps_the_same_documents_for_readers_in_other_processes() {
    let Some(redis) = TestRedis::start().await else { return };
    let store = configured_store().await;
    patient_journey(&store).await;
    let memory = Arc::new(MemoryDocuments::new(PatientSummaries));
    ProjectionRunner::new(store.clone(), memory.clone()).catch_up().await.unwrap();

    let reader =
        RedisDocumentReader::<PatientDoc>::connect(&redis.config(), "patient_summary").await.unwrap();
    // Nothing built yet: an error saying so, not "no such patient".
    let early = reader.get(&patient_key(&nhs().to_string())).await.unwrap_err();
    assert!(early.to_string().contains("being built"), "{early}");

    let writer = Arc::new(RedisDocuments::connect(&redis.config(), PatientSummaries).await.unwrap());
    let head = ProjectionRunner::new(store.clone(), writer.clone()).catch_up().await.unwrap();
    assert!(reader.wait_for(head, Duration::from_secs(5)).await, "the reader learns the checkpoint");
    let keys = keys_of_journey();
    assert_eq!(reader.get_many(&keys).await.unwrap(), all_docs(&memory, &keys).await);

    // Live: a change reaches the reader's feed with its document, then the checkpoint.
    let mut changes = reader.changes();
    discharge(&store).await;
    let head = ProjectionRunner::new(store.clone(), writer.clone()).catch_up().await.unwrap();
    assert!(reader.wait_for(head, Duration::from_secs(5)).await);
    let change = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let DocChange::Changed { key, doc, .. } = changes.recv().await.unwrap()
                && key == patient_key(&nhs().to_string())
            {
                return doc;
            }
        }
    })
    .await
    .unwrap();
    assert!(
        summary_of(change.as_deref().cloned()).stay.is_none(),
        "the change carries the discharged summary"
    );

    // A writer restarted later loads the model back and goes on from its checkpoint.
    drop(writer);
    let again = Arc::new(RedisDocuments::connect(&redis.config(), PatientSummaries).await.unwrap());
    assert_eq!(Projection::checkpoint(again.as_ref()).await.unwrap(), head);
    flag_event(
        &store,
        FlagEvent::FlagResolved {
            nhs_number: nhs(),
            flag_id: FlagId(Uuid::from_u128(2)),
            reason: Note::parse("Died in care").unwrap(),
            at: at(55),
        },
    )
    .await;
    let head = ProjectionRunner::new(store.clone(), again.clone()).catch_up().await.unwrap();
    assert!(reader.wait_for(head, Duration::from_secs(5)).await);
    let patient = summary_of(reader.get(&patient_key(&nhs().to_string())).await.unwrap());
    assert!(patient.active_flag_kinds().is_empty(), "applied on top of the loaded model");
    let keys = keys_of_journey();
    ProjectionRunner::new(store.clone(), memory.clone()).catch_up().await.unwrap();
    assert_eq!(reader.get_many(&keys).await.unwrap(), all_docs(&memory, &keys).await);
}

#[tokio::test]
async fn a_model_lost_in_redis_is_rebuilt_and_readers_are_told_to_resync() {
    let Some(redis) = TestRedis::start().await else { return };
    let store = configured_store().await;
    patient_journey(&store).await;
    let writer = Arc::new(RedisDocuments::connect(&redis.config(), PatientSummaries).await.unwrap());
    let runner = ProjectionRunner::new(store.clone(), writer.clone()).verify_every(Duration::from_millis(20));
    runner.catch_up().await.unwrap();
    let reader =
        RedisDocumentReader::<PatientDoc>::connect(&redis.config(), "patient_summary").await.unwrap();
    let mut changes = reader.changes();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(runner.run(async {
        let _ = stopped.await;
    }));

    redis.flush().await;
    // Noticed while idle, rebuilt from the log, swapped in: the reader hears of it.
    let key = patient_key(&nhs().to_string());
    eventually("the summary is back", || async { matches!(reader.get(&key).await, Ok(Some(_))) }).await;
    let resync = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if changes.recv().await.unwrap() == DocChange::Resync {
                return;
            }
        }
    })
    .await;
    assert!(resync.is_ok(), "subscribers are told to re-read");
    assert_eq!(reader.checkpoint(), *store.head().borrow());
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

#[test]
fn nhs_numbers_in_keys_are_the_ten_digits() {
    let spaced = NhsNumber::parse("999 000 0018").unwrap();
    assert_eq!(patient_key(&spaced.to_string()), "patient:9990000018");
}

#[tokio::test]
async fn a_rebuild_from_zero_gives_the_live_model() {
    let store = configured_store().await;
    let summaries = Arc::new(MemoryDocuments::new(PatientSummaries));
    let runner = ProjectionRunner::new(store.clone(), summaries.clone());
    // Live: batch by batch as the events come.
    patient_event(
        &store,
        PatientEvent::PatientRegistered { nhs_number: nhs(), demographics: demographics(), at: at(1) },
    )
    .await;
    runner.catch_up().await.unwrap();
    admit(&store).await;
    runner.catch_up().await.unwrap();
    patient_journey_after_registration(&store).await;
    runner.catch_up().await.unwrap();
    discharge(&store).await;
    runner.catch_up().await.unwrap();
    let keys = keys_of_journey();
    let live = all_docs(&summaries, &keys).await;
    let count = summaries.len();
    assert_eq!(runner.rebuild().await.unwrap(), *store.head().borrow());
    assert_eq!(all_docs(&summaries, &keys).await, live);
    assert_eq!(summaries.len(), count, "no document more or less");
}

async fn patient_journey_after_registration(store: &MemoryStore) {
    flag_event(store, frailty(1, 7)).await;
    let moved = DemographicsChange {
        postcode: Some(Postcode::parse("LS7 3JB").unwrap()),
        ..DemographicsChange::default()
    };
    patient_event(
        store,
        PatientEvent::PatientDemographicsUpdated { nhs_number: nhs(), change: moved, at: at(30) },
    )
    .await;
}

#[tokio::test]
async fn a_generation_abandoned_by_a_second_reset_is_deleted() {
    let Some(redis) = TestRedis::start().await else { return };
    let store = configured_store().await;
    patient_journey(&store).await;
    let writer = Arc::new(RedisDocuments::connect(&redis.config(), PatientSummaries).await.unwrap());
    let runner = ProjectionRunner::new(store.clone(), writer.clone());
    runner.catch_up().await.unwrap();
    writer.reset().await.unwrap();
    let first = store.read_all(1, 3, &writer.filter()).await.unwrap();
    writer.apply(&first.events, first.next - 1).await.unwrap();
    let aside = |g: u64| format!("{}patient_summary@{g}:", redis.prefix());
    let next = format!("{}patient_summary:next", redis.prefix());
    let abandoned: u64 =
        redis::cmd("GET").arg(&next).query_async(&mut redis.connection().await).await.unwrap();
    assert!(redis.keys().await.iter().any(|k| k.starts_with(&aside(abandoned))), "built aside");
    writer.reset().await.unwrap();
    assert!(
        !redis.keys().await.iter().any(|k| k.starts_with(&aside(abandoned))),
        "the abandoned generation's keys are gone"
    );
    runner.catch_up().await.unwrap();
    let reader =
        RedisDocumentReader::<PatientDoc>::connect(&redis.config(), "patient_summary").await.unwrap();
    assert!(reader.get(&patient_key(&nhs().to_string())).await.unwrap().is_some());
}
