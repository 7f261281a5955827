//! Virtual-ward escalation through its runner, and missed readings on the one clock (paused
//! time): a medium NEWS2 gives the ward's team an urgent task, a second medium nothing, a high
//! one an immediate task that supersedes it; a missed reading gives a contact task that the
//! next reading cancels; the discharge cancels what is open; the clock marks a reading missed
//! when the plan says, moves with each reading and stops at the discharge.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use careflow_domain::beds::{Label, PatientName};
use careflow_domain::tasks::{TaskEvent, TeamConfig, TeamKind, UserId};
use careflow_domain::virtualwards::{
    AdmissionId, AdmissionRoute, MonitoringPlan, Observations, Parameter, ReadingId, ReadingSource,
    Spo2Scale, VirtualWardEvent, VirtualWardOutcome, news2,
};
use careflow_domain::{NhsNumber, OdsCode, TeamId, WardId};
use careflow_eventstore::EventStore;
use careflow_eventstore::memory::MemoryStore;
use careflow_proto::tasks::v1 as tasks;
use careflow_workflows::clock::{Scheduler, TokioClock, WallClock};
use careflow_workflows::commands::Command;
use careflow_workflows::runner::ProcessRunner;
use careflow_workflows::virtualwards::{VirtualWardDeadlines, VirtualWardFlows};
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use uuid::Uuid;

use crate::support::{Recorder, at, record, until_received};

const ADMISSION: AdmissionId = AdmissionId(Uuid::from_u128(41));

fn ward() -> WardId {
    WardId::parse("RXA-VW-RESP").unwrap()
}

fn plan() -> MonitoringPlan {
    MonitoringPlan::new(Parameter::ALL.into_iter().collect(), 60, Spo2Scale::Scale1, Vec::new()).unwrap()
}

async fn event(store: &MemoryStore, event: VirtualWardEvent) {
    let stream = match event.admission_id() {
        Some(id) => format!("vw-admission-{id}"),
        None => format!("virtualward-{}", ward()),
    };
    record(store, &stream, event.event_type(), &event).await;
}

async fn team(store: &MemoryStore) {
    let event = TaskEvent::TeamConfigured {
        team_id: TeamId::parse("RXA-VW-TEAM").unwrap(),
        config: TeamConfig {
            organisation: OdsCode::parse("RXA").unwrap(),
            name: Label::parse("Virtual ward team").unwrap(),
            kind: TeamKind::VirtualWard,
            wards: [ward()].into(),
            lead: None,
            members: BTreeSet::new(),
        },
        at: at(0),
    };
    record(store, "team-RXA-VW-TEAM", event.event_type(), &event).await;
}

async fn admitted(store: &MemoryStore) {
    let nhs = (0..).find_map(|j| NhsNumber::from_first_nine(999_600_000 + j)).unwrap();
    event(
        store,
        VirtualWardEvent::AdmittedToVirtualWard {
            admission_id: ADMISSION,
            ward_id: ward(),
            organisation: OdsCode::parse("RXA").unwrap(),
            nhs_number: nhs,
            patient: PatientName::parse("Ada", "Testperson").unwrap(),
            route: AdmissionRoute::StepUp,
            plan: plan(),
            by: UserId::parse("vw.clinician").unwrap(),
            at: at(0),
            next_due: plan().missed_at(at(0), 0),
        },
    )
    .await;
}

fn observations(rr: u16, spo2: u8, pulse: u16) -> Observations {
    Observations {
        respiration_rate: Some(rr),
        spo2: Some(spo2),
        on_oxygen: Some(false),
        systolic_bp: Some(120),
        pulse: Some(pulse),
        consciousness: Some(news2::Acvpu::Alert),
        temperature: Some(news2::Temperature::celsius(37.0).unwrap()),
    }
}

async fn reading(store: &MemoryStore, n: u128, minutes: i64, observations: Observations) {
    let taken_at = at(minutes);
    event(
        store,
        VirtualWardEvent::ObservationsRecorded {
            admission_id: ADMISSION,
            reading_id: ReadingId(Uuid::from_u128(n)),
            taken_at,
            source: ReadingSource::Device,
            observations,
            spo2_scale: Spo2Scale::Scale1,
            news2: news2::score(&observations, Spo2Scale::Scale1),
            latest: true,
            at: taken_at,
            next_due: plan().missed_at(taken_at, 0),
        },
    )
    .await;
}

async fn missed(store: &MemoryStore, due: DateTime<Utc>) {
    event(
        store,
        VirtualWardEvent::ReadingMissed {
            admission_id: ADMISSION,
            due,
            missed: 1,
            next_due: plan().missed_at(at(0), 1),
        },
    )
    .await;
}

async fn discharged(store: &MemoryStore, minutes: i64) {
    event(
        store,
        VirtualWardEvent::DischargedFromVirtualWard {
            admission_id: ADMISSION,
            ward_id: ward(),
            outcome: VirtualWardOutcome::Completed,
            note: None,
            by: UserId::parse("vw.clinician").unwrap(),
            at: at(minutes),
        },
    )
    .await;
}

fn start(
    store: &Arc<MemoryStore>,
    recorder: &Arc<Recorder>,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let runner =
        ProcessRunner::new(store.clone() as Arc<dyn EventStore>, recorder.clone(), VirtualWardFlows::new());
    (stop, tokio::spawn(async move { runner.run(stopped).await.unwrap() }))
}

/// What a command is, briefly: a creation's kind and priority, or a cancellation's task.
fn what(command: &Command) -> String {
    match command {
        Command::CreateTask(r) => format!(
            "create {} {} team {}",
            tasks::TaskKind::try_from(r.kind).unwrap().as_str_name(),
            tasks::Priority::try_from(r.priority).unwrap().as_str_name(),
            r.team_id
        ),
        Command::CancelTask(r) => format!("cancel {}", r.task_id),
        other => panic!("not a task command: {other:?}"),
    }
}

/// The id the recorder gave the `n`-th command it answered.
fn task_id(n: u128) -> String {
    Uuid::from_u128(n).to_string()
}

#[tokio::test(start_paused = true)]
async fn news2_escalates_once_per_risk_and_missed_readings_are_chased_until_one_arrives() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(Arc::new(TokioClock::starting_at(at(0))));
    team(&store).await;
    admitted(&store).await;
    let (stop, handle) = start(&store, &recorder);

    // Low (0): nothing. Medium (RR 22 → 2, SpO2 94 → 1, pulse 112 → 2 = 5): an urgent task.
    reading(&store, 1, 10, observations(16, 97, 72)).await;
    reading(&store, 2, 20, observations(22, 94, 112)).await;
    until_received(&recorder, 1).await;
    // Medium again: nothing new. High (RR 25 → 3, SpO2 91 → 3, pulse 112 → 2 = 8): an
    // immediate task, and the urgent one is cancelled.
    reading(&store, 3, 30, observations(22, 94, 112)).await;
    reading(&store, 4, 40, observations(25, 91, 112)).await;
    until_received(&recorder, 3).await;
    // High again: nothing new.
    reading(&store, 5, 50, observations(25, 91, 112)).await;
    // A reading missed: a contact task; the next reading (low) cancels it.
    missed(&store, at(125)).await;
    until_received(&recorder, 4).await;
    reading(&store, 6, 130, observations(16, 97, 72)).await;
    until_received(&recorder, 5).await;
    // The discharge cancels the escalation still open.
    discharged(&store, 140).await;
    until_received(&recorder, 6).await;
    tokio::time::sleep(Duration::from_secs(60)).await;

    let team = "team RXA-VW-TEAM";
    let commands: Vec<String> = recorder.commands().iter().map(what).collect();
    assert_eq!(
        commands,
        [
            format!("create TASK_KIND_NEWS2_ESCALATION PRIORITY_URGENT {team}"),
            format!("create TASK_KIND_NEWS2_ESCALATION PRIORITY_IMMEDIATE {team}"),
            format!("cancel {}", task_id(1)),
            format!("create TASK_KIND_MISSED_READING PRIORITY_URGENT {team}"),
            format!("cancel {}", task_id(4)),
            format!("cancel {}", task_id(2)),
        ]
    );
    let Command::CreateTask(high) = &recorder.commands()[1] else { unreachable!() };
    assert_eq!(high.links[0].kind, "vw_admission");
    assert_eq!(high.links[0].id, ADMISSION.to_string());
    assert_eq!(high.rule_id, "careflow.news2-escalation");
    assert!(high.title.contains("NEWS2 8"), "{}", high.title);
    assert!(!high.title.contains("Testperson"), "no names in titles");
    stop.send_replace(true);
    handle.await.unwrap();

    // A restart sends nothing again.
    let before = recorder.commands().len();
    let (stop, handle) = start(&store, &recorder);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(recorder.commands().len(), before);
    stop.send_replace(true);
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_clock_marks_a_reading_missed_when_the_plan_says_and_moves_with_each_reading() {
    let store = Arc::new(MemoryStore::new());
    let clock = TokioClock::starting_at(at(0));
    let recorder = Recorder::new(Arc::new(clock));
    admitted(&store).await;
    let (stop, stopped) = watch::channel(false);
    let scheduler = Scheduler::new(
        store.clone() as Arc<dyn EventStore>,
        recorder.clone(),
        Arc::new(clock),
        vec![Arc::new(VirtualWardDeadlines)],
    );
    let handle = tokio::spawn(async move { scheduler.run(stopped).await.unwrap() });

    // Every 60 minutes, 15 minutes' grace: a reading at 0:50 moves the deadline to 2:05.
    tokio::time::sleep(Duration::from_secs(50 * 60)).await;
    reading(&store, 1, 50, observations(16, 97, 72)).await;
    until_received(&recorder, 1).await;
    let received = recorder.received.lock().unwrap().clone();
    let Command::MarkReadingMissed(first) = &received[0].command else { panic!("{:?}", received[0]) };
    assert_eq!(first.due, at(125).to_rfc3339());
    assert!(received[0].at >= at(125) && received[0].at < at(125) + chrono::Duration::seconds(2));
    // Marked missed (as the services answer): the next falls due an interval later, and fires.
    let missed_again = |due, next| VirtualWardEvent::ReadingMissed {
        admission_id: ADMISSION,
        due,
        missed: 1,
        next_due: next,
    };
    event(&store, missed_again(at(125), at(185))).await;
    until_received(&recorder, 2).await;
    let Command::MarkReadingMissed(second) = &recorder.commands()[1] else {
        panic!("{:?}", recorder.commands())
    };
    assert_eq!(second.due, at(185).to_rfc3339());
    // Marked missed again, then discharged before the next is due: it never fires.
    event(&store, missed_again(at(185), at(245))).await;
    discharged(&store, 190).await;
    tokio::time::sleep(Duration::from_secs(6 * 3600)).await;
    assert_eq!(recorder.commands().len(), 2, "{:?}", recorder.commands());
    assert!(clock.now() > at(400));
    stop.send_replace(true);
    handle.await.unwrap();
}
