//! The virtual-ward models: the wards and their beds taken, each ward's census (the latest
//! NEWS2, the trend, missed readings, open tasks), each admission's chart in time order; rows
//! leave the census at discharge; rebuilt from zero alike.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;

use careflow_domain::beds::{Label, PatientName};
use careflow_domain::tasks::UserId;
use careflow_domain::tasks::{Priority, RaisedBy, TaskEvent, TaskId, TaskKind, TaskLink};
use careflow_domain::virtualwards::{
    AdmissionId, AdmissionRoute, CarePathway, MonitoringPlan, Observations, Parameter, ReadingId,
    ReadingSource, Risk, Spo2Scale, VirtualWardEvent, VirtualWardOutcome, news2,
};
use careflow_domain::{OdsCode, RuleId, SiteId, TeamId, WardId};
use careflow_eventstore::memory::MemoryStore;
use careflow_projections::ProjectionRunner;
use careflow_projections::documents::{DocumentReader, MemoryDocuments};
use careflow_projections::virtual_wards::{
    CensusRow, ChartView, VirtualWardDoc, VirtualWardModel, WARDS_KEY, census_key, chart_key, row_key,
};
use uuid::Uuid;

use crate::helpers::{nhs, record};

/// 08:00 on 2 November 2026, plus `minutes`.
fn at(minutes: u32) -> chrono::DateTime<chrono::Utc> {
    crate::helpers::at(0) + chrono::Duration::minutes(i64::from(minutes))
}

const WARD: &str = "RXA01-VW-RESP";

fn admission(n: u128) -> AdmissionId {
    AdmissionId(Uuid::from_u128(n))
}

async fn event(store: &MemoryStore, event: VirtualWardEvent) {
    let stream = match &event {
        VirtualWardEvent::VirtualWardConfigured { .. }
        | VirtualWardEvent::VirtualWardChanged { .. }
        | VirtualWardEvent::VirtualBedTaken { .. }
        | VirtualWardEvent::VirtualBedFreed { .. } => format!("virtualward-{WARD}"),
        other => format!("vw-admission-{}", other.admission_id().unwrap()),
    };
    record(store, stream, event.event_type(), &event).await;
}

fn plan() -> MonitoringPlan {
    MonitoringPlan::new(Parameter::ALL.into_iter().collect(), 240, Spo2Scale::Scale1, Vec::new()).unwrap()
}

async fn admitted(store: &MemoryStore, n: u128) {
    event(
        store,
        VirtualWardEvent::AdmittedToVirtualWard {
            admission_id: admission(n),
            ward_id: WardId::parse(WARD).unwrap(),
            organisation: OdsCode::parse("RXA").unwrap(),
            nhs_number: nhs(),
            patient: PatientName::parse("Ada", "Testperson").unwrap(),
            route: AdmissionRoute::StepUp,
            plan: plan(),
            by: UserId::parse("vw.clinician").unwrap(),
            at: at(0),
            next_due: plan().missed_at(at(0), 0),
        },
    )
    .await;
    event(
        store,
        VirtualWardEvent::VirtualBedTaken {
            ward_id: WardId::parse(WARD).unwrap(),
            admission_id: admission(n),
            nhs_number: nhs(),
            at: at(0),
        },
    )
    .await;
}

async fn reading(store: &MemoryStore, n: u128, minute: u32, pulse: u16, latest: bool) {
    let observations = Observations { pulse: Some(pulse), spo2: Some(97), ..Default::default() };
    event(
        store,
        VirtualWardEvent::ObservationsRecorded {
            admission_id: admission(n),
            reading_id: ReadingId(Uuid::new_v4()),
            taken_at: at(minute),
            source: ReadingSource::Device,
            observations,
            spo2_scale: Spo2Scale::Scale1,
            news2: news2::score(&observations, Spo2Scale::Scale1),
            latest,
            at: at(minute),
            next_due: plan().missed_at(at(minute), 0),
        },
    )
    .await;
}

async fn model(store: &Arc<MemoryStore>) -> Arc<MemoryDocuments<VirtualWardModel>> {
    let model = Arc::new(MemoryDocuments::new(VirtualWardModel));
    ProjectionRunner::new(store.clone(), model.clone()).catch_up().await.unwrap();
    model
}

async fn row(model: &MemoryDocuments<VirtualWardModel>, n: u128) -> Option<CensusRow> {
    match model.get(&row_key(&admission(n).to_string())).await.unwrap() {
        Some(VirtualWardDoc::Row(row)) => Some(*row),
        _ => None,
    }
}

async fn chart(model: &MemoryDocuments<VirtualWardModel>, n: u128) -> ChartView {
    match model.get(&chart_key(&admission(n).to_string())).await.unwrap() {
        Some(VirtualWardDoc::Chart(chart)) => *chart,
        other => panic!("no chart: {other:?}"),
    }
}

#[tokio::test]
async fn the_census_and_charts_follow_readings_tasks_and_discharges_and_rebuild_alike() {
    let store = Arc::new(MemoryStore::new());
    event(
        &store,
        VirtualWardEvent::VirtualWardConfigured {
            ward_id: WardId::parse(WARD).unwrap(),
            site_id: SiteId::parse("RXA01").unwrap(),
            organisation: OdsCode::parse("RXA").unwrap(),
            name: Label::parse("Respiratory virtual ward").unwrap(),
            pathway: CarePathway::Respiratory,
            beds: 10,
            at: at(0),
        },
    )
    .await;
    admitted(&store, 1).await;
    admitted(&store, 2).await;
    // Pulse 72 (0), 115 (2), 135 (3): the trend rises; a reading taken earlier arrives late.
    reading(&store, 1, 10, 72, true).await;
    reading(&store, 1, 30, 115, true).await;
    reading(&store, 1, 20, 135, false).await;
    reading(&store, 1, 40, 135, true).await;
    let task = TaskId(Uuid::from_u128(77));
    let created = TaskEvent::TaskCreated {
        task_id: task,
        nhs_number: Some(nhs()),
        title: Label::parse("Review: a NEWS2 parameter scored 3").unwrap(),
        kind: TaskKind::News2Escalation,
        team_id: TeamId::parse("RXA-VW-TEAM").unwrap(),
        organisation: OdsCode::parse("RXA").unwrap(),
        priority: Priority::Routine,
        due: Some(at(160)),
        links: vec![TaskLink::VirtualWardAdmission(admission(1).0)],
        note: None,
        raised_by: RaisedBy::Rule { rule: RuleId::parse("careflow.news2-escalation").unwrap(), version: 1 },
        at: at(41),
    };
    record(&store, format!("task-{task}"), created.event_type(), &created).await;
    event(
        &store,
        VirtualWardEvent::ReadingMissed {
            admission_id: admission(2),
            due: at(300),
            missed: 1,
            next_due: at(540),
        },
    )
    .await;
    let live = model(&store).await;

    let one = row(&live, 1).await.unwrap();
    let latest = one.latest.clone().unwrap();
    assert_eq!(
        (latest.total, latest.risk, latest.complete, latest.taken_at),
        (3, Risk::LowMedium, false, at(40))
    );
    assert_eq!(one.trend, [0, 2, 3], "the latest readings only");
    assert_eq!(one.open_tasks.len(), 1);
    assert_eq!(one.open_tasks[0].kind, TaskKind::News2Escalation);
    let taken: Vec<_> = chart(&live, 1).await.readings.iter().map(|p| p.taken_at).collect();
    assert_eq!(taken, [at(10), at(20), at(30), at(40)], "the chart in time order, the late one included");
    assert_eq!(row(&live, 2).await.unwrap().missed, 1);
    let Some(VirtualWardDoc::Wards { rows }) = live.get(WARDS_KEY).await.unwrap() else { panic!("no wards") };
    assert_eq!((rows[0].beds, rows[0].occupied), (10, 2));

    // The task done, a reading after the missed one, a discharge.
    let done = TaskEvent::TaskCancelled {
        task_id: task,
        reason: careflow_domain::beds::Note::parse("seen").unwrap(),
        by: None,
        at: at(50),
    };
    record(&store, format!("task-{task}"), done.event_type(), &done).await;
    reading(&store, 2, 310, 80, true).await;
    event(
        &store,
        VirtualWardEvent::DischargedFromVirtualWard {
            admission_id: admission(1),
            ward_id: WardId::parse(WARD).unwrap(),
            outcome: VirtualWardOutcome::AdmittedToHospital,
            note: None,
            by: UserId::parse("vw.clinician").unwrap(),
            at: at(400),
        },
    )
    .await;
    event(
        &store,
        VirtualWardEvent::VirtualBedFreed {
            ward_id: WardId::parse(WARD).unwrap(),
            admission_id: admission(1),
            at: at(400),
        },
    )
    .await;
    ProjectionRunner::new(store.clone(), live.clone()).catch_up().await.unwrap();
    assert_eq!(row(&live, 1).await, None, "off the census");
    assert_eq!(chart(&live, 1).await.discharged, Some((VirtualWardOutcome::AdmittedToHospital, at(400))));
    assert_eq!(row(&live, 2).await.unwrap().missed, 0);
    let Some(VirtualWardDoc::Census { ward, admissions }) = live.get(&census_key(WARD)).await.unwrap() else {
        panic!("no census")
    };
    assert_eq!((ward.occupied, admissions), (1, vec![admission(2).to_string()]));

    // Rebuilt from zero: the same documents.
    let rebuilt = model(&store).await;
    assert_eq!(rebuilt.len(), live.len());
    for key in [
        WARDS_KEY.to_owned(),
        census_key(WARD),
        row_key(&admission(2).to_string()),
        chart_key(&admission(1).to_string()),
        chart_key(&admission(2).to_string()),
        format!("task:{task}"),
    ] {
        assert_eq!(rebuilt.get(&key).await.unwrap(), live.get(&key).await.unwrap(), "{key}");
    }
}
