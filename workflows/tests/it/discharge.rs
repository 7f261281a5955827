//! The discharge flows through their runner: medically optimised on pathway 1 routes a trusted
//! assessment by the council's rule; pathway 0 cancels it and gives the ward "discharge home
//! today"; the discharge completes that and gives housekeeping the bed; housekeeping
//! completing it marks the bed cleaned; admitting a patient at the end of life gives the ward
//! a care plan review. The checkpoint moves only after acknowledgement, and a restart sends
//! nothing twice.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use careflow_domain::beds::{BedEvent, DischargeDestination, Label, Note, Pathway, PatientName};
use careflow_domain::flags::{FlagEvent, FlagId, FlagKind, FlagSource, Severity};
use careflow_domain::patients::{Demographics, Gender, PatientEvent, Postcode};
use careflow_domain::tasks::{
    District, RoutingRule, TaskEvent, TaskId, TaskKind, TeamConfig, TeamKind, UserId,
};
use careflow_domain::{BedId, NhsNumber, OdsCode, RuleId, SiteId, StayId, TeamId, WardId};
use careflow_eventstore::EventStore;
use careflow_eventstore::memory::MemoryStore;
use careflow_workflows::clock::TokioClock;
use careflow_workflows::commands::Command;
use careflow_workflows::discharge::{DischargeFlows, one_working_day_after};
use careflow_workflows::runner::{ProcessRunner, RunnerCounts};
use chrono::{DateTime, Datelike, Utc, Weekday};
use tokio::sync::watch;
use uuid::Uuid;

use crate::support::{Recorder, at, record, until_received};

fn nhs(k: u32) -> NhsNumber {
    (0..).find_map(|j| NhsNumber::from_first_nine(999_400_000 + k * 100 + j)).unwrap()
}

fn ward() -> WardId {
    WardId::parse("RXA01-AMU").unwrap()
}

fn bed() -> BedId {
    BedId::parse("RXA01-AMU-B07").unwrap()
}

fn stay(n: u128) -> StayId {
    StayId(Uuid::from_u128(n))
}

async fn team(store: &MemoryStore, id: &str, org: &str, kind: TeamKind, wards: &[WardId]) {
    let event = TaskEvent::TeamConfigured {
        team_id: TeamId::parse(id).unwrap(),
        config: TeamConfig {
            organisation: OdsCode::parse(org).unwrap(),
            name: Label::parse(id).unwrap(),
            kind,
            wards: wards.iter().cloned().collect(),
            lead: None,
            members: BTreeSet::new(),
        },
        at: at(0),
    };
    record(store, &format!("team-{id}"), event.event_type(), &event).await;
}

async fn bradford_rule(store: &MemoryStore) {
    let event = TaskEvent::RoutingRuleSet {
        rule_id: RuleId::parse("d2a-bradford").unwrap(),
        version: 3,
        rule: RoutingRule {
            name: Label::parse("Bradford discharges").unwrap(),
            task_kind: TaskKind::TrustedAssessment,
            pathways: [1, 2, 3].into_iter().map(|p| Pathway::try_from(p).unwrap()).collect(),
            districts: BTreeSet::from([District::parse("BD7").unwrap()]),
            hospitals: BTreeSet::new(),
            team_id: TeamId::parse("RYC-HSWT").unwrap(),
            rank: 10,
            enabled: true,
        },
        at: at(0),
    };
    record(store, "rule-d2a-bradford", event.event_type(), &event).await;
}

async fn registered(store: &MemoryStore, k: u32) {
    let event = PatientEvent::PatientRegistered {
        nhs_number: nhs(k),
        demographics: Demographics {
            name: PatientName::parse("Ebenezer", "Thwaite").unwrap(),
            date_of_birth: None,
            gender: Gender::Male,
            postcode: Some(Postcode::parse("BD7 1DP").unwrap()),
            gp_practice: None,
        },
        at: at(1),
    };
    record(store, &format!("patient-{}", nhs(k)), event.event_type(), &event).await;
}

async fn on_stay(store: &MemoryStore, n: u128, event: BedEvent) {
    record(store, &format!("stay-{}", stay(n)), event.event_type(), &event).await;
}

async fn admitted(store: &MemoryStore, n: u128, k: u32) {
    let event = BedEvent::PatientAdmitted {
        stay_id: stay(n),
        nhs_number: nhs(k),
        patient: PatientName::parse("Ebenezer", "Thwaite").unwrap(),
        bed_id: bed(),
        ward_id: ward(),
        site_id: SiteId::parse("RXA01").unwrap(),
        organisation: Some(OdsCode::parse("RXA").unwrap()),
        at: at(2),
    };
    on_stay(store, n, event).await;
}

async fn optimised(store: &MemoryStore, n: u128, pathway: u8, minute: i64) {
    let event = BedEvent::PatientMedicallyOptimised {
        stay_id: stay(n),
        discharge_ready_date: at(0).date_naive(),
        pathway: Pathway::try_from(pathway).unwrap(),
        at: at(minute),
    };
    on_stay(store, n, event).await;
}

/// Everything the flows need configured: the council's team and rule, the ward's own team and
/// its housekeeping team.
async fn configured(store: &MemoryStore) {
    team(store, "RYC-HSWT", "RYC", TeamKind::SocialCare, &[]).await;
    team(store, "RXA-AMU", "RXA", TeamKind::Ward, &[ward()]).await;
    team(store, "RXA-HOUSEKEEPING", "RXA", TeamKind::Housekeeping, &[ward()]).await;
    bradford_rule(store).await;
}

fn start(
    store: &Arc<MemoryStore>,
    recorder: &Arc<Recorder>,
) -> (watch::Sender<bool>, Arc<RunnerCounts>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let runner =
        ProcessRunner::new(store.clone() as Arc<dyn EventStore>, recorder.clone(), DischargeFlows::new());
    let counts = runner.counts();
    let handle = tokio::spawn(async move { runner.run(stopped).await.unwrap() });
    (stop, counts, handle)
}

fn created(command: &Command) -> (&str, i32, &str, u32) {
    match command {
        Command::CreateTask(r) => (r.team_id.as_str(), r.kind, r.rule_id.as_str(), r.rule_version),
        other => panic!("not a creation: {other:?}"),
    }
}

#[test]
fn one_working_day_skips_the_weekend() {
    let monday: DateTime<Utc> = at(0);
    assert_eq!(one_working_day_after(monday).weekday(), Weekday::Tue);
    let friday = monday + chrono::Duration::days(4);
    assert_eq!((one_working_day_after(friday) - friday).num_days(), 3, "Friday to Monday");
    let saturday = monday + chrono::Duration::days(5);
    assert_eq!(one_working_day_after(saturday).weekday(), Weekday::Mon);
}

#[tokio::test(start_paused = true)]
async fn the_discharge_flows_hand_work_on_and_a_restart_doubles_nothing() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(Arc::new(TokioClock::starting_at(at(0))));
    configured(&store).await;
    registered(&store, 1).await;
    admitted(&store, 1, 1).await;
    let (stop, counts, handle) = start(&store, &recorder);

    // Pathway 1 in BD7: the council's trusted assessment, routed by its rule at its version,
    // due within a working day.
    optimised(&store, 1, 1, 60).await;
    until_received(&recorder, 1).await;
    let commands = recorder.commands();
    assert_eq!(created(&commands[0]), ("RYC-HSWT", 2, "d2a-bradford", 3));
    let Command::CreateTask(assessment) = &commands[0] else { unreachable!() };
    assert_eq!(assessment.nhs_number, nhs(1).to_string());
    assert_eq!(assessment.due, one_working_day_after(at(60)).to_rfc3339());
    let assessment_task = Uuid::from_u128(1).to_string();

    // Changed to pathway 0: the assessment is cancelled, the ward discharges home today.
    optimised(&store, 1, 0, 90).await;
    until_received(&recorder, 3).await;
    let commands = recorder.commands();
    match &commands[1] {
        Command::CancelTask(r) => assert_eq!(r.task_id, assessment_task),
        other => panic!("{other:?}"),
    }
    assert_eq!(created(&commands[2]), ("RXA-AMU", 3, "careflow.discharge-home", 1));
    let discharge_home = Uuid::from_u128(3).to_string();

    // Discharged: the ward's task is done; housekeeping gets the bed, without the patient.
    on_stay(
        &store,
        1,
        BedEvent::PatientDischarged {
            stay_id: stay(1),
            nhs_number: nhs(1),
            bed_id: bed(),
            destination: DischargeDestination::UsualResidence,
            pathway: Pathway::Home,
            at: at(120),
        },
    )
    .await;
    until_received(&recorder, 5).await;
    let commands = recorder.commands();
    match &commands[3] {
        Command::CompleteTask(r) => assert_eq!(r.task_id, discharge_home),
        other => panic!("{other:?}"),
    }
    assert_eq!(created(&commands[4]), ("RXA-HOUSEKEEPING", 4, "careflow.bed-turnaround", 1));
    let Command::CreateTask(cleaning) = &commands[4] else { unreachable!() };
    assert_eq!(cleaning.nhs_number, "", "housekeeping is not told who the patient was");

    // Housekeeping completes its task: the bed is marked cleaned.
    let cleaning_task = TaskId(Uuid::from_u128(5));
    let done = TaskEvent::TaskCompleted {
        task_id: cleaning_task,
        outcome: Note::parse("cleaned").unwrap(),
        by: Some(UserId::parse("hk.one").unwrap()),
        at: at(150),
    };
    record(&store, &format!("task-{cleaning_task}"), done.event_type(), &done).await;
    until_received(&recorder, 6).await;
    match &recorder.commands()[5] {
        Command::MarkBedCleaned(r) => assert_eq!(r.bed_id, bed().to_string()),
        other => panic!("{other:?}"),
    }

    // A patient with an end of life care plan is admitted: the ward reviews it.
    let flag = FlagEvent::FlagRaised {
        nhs_number: nhs(2),
        flag_id: FlagId(Uuid::from_u128(9)),
        kind: FlagKind::EndOfLifeCarePlan,
        frailty_score: None,
        severity: Severity::High,
        reason: Note::parse("ReSPECT form in place").unwrap(),
        review_on: None,
        source: FlagSource::Person {
            user_id: "gp.one".into(),
            organisation: OdsCode::parse("B83001").unwrap(),
        },
        at: at(160),
    };
    record(&store, &format!("flags-{}", nhs(2)), flag.event_type(), &flag).await;
    admitted(&store, 2, 2).await;
    until_received(&recorder, 7).await;
    assert_eq!(created(&recorder.commands()[6]), ("RXA-AMU", 5, "careflow.end-of-life-admission", 1));

    // Caught up and checkpointed past every event; a restart re-reads the log, sends nothing.
    let head = *store.head().borrow();
    for _ in 0..100 {
        if counts.checkpoint.load(Ordering::Relaxed) >= head {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    assert_eq!(counts.checkpoint.load(Ordering::Relaxed), head);
    stop.send_replace(true);
    handle.await.unwrap();
    let (stop, counts, handle) = start(&store, &recorder);
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    assert_eq!(recorder.commands().len(), 7, "nothing sent again");
    assert_eq!(counts.sent.load(Ordering::Relaxed), 0);
    stop.send_replace(true);
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_checkpoint_waits_for_the_services_and_the_command_is_sent_again_after_a_restart() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(Arc::new(TokioClock::starting_at(at(0))));
    configured(&store).await;
    registered(&store, 1).await;
    admitted(&store, 1, 1).await;
    let before = *store.head().borrow();
    optimised(&store, 1, 2, 60).await;
    recorder.failing_first(1_000);
    let (stop, counts, handle) = start(&store, &recorder);
    until_received(&recorder, 3).await;
    assert!(counts.checkpoint.load(Ordering::Relaxed) < before + 1, "not past the unacknowledged event");
    stop.send_replace(true);
    handle.await.unwrap();

    // The services are back: the same command, with the same id, goes again.
    recorder.failing_first(0);
    let first = recorder.commands()[0].clone();
    let (stop, _, handle) = start(&store, &recorder);
    let sent = recorder.commands().len();
    until_received(&recorder, sent + 1).await;
    assert_eq!(recorder.commands().last(), Some(&first));
    stop.send_replace(true);
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_pathway_changed_back_and_forth_gets_the_task_that_applies_each_time() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(Arc::new(TokioClock::starting_at(at(0))));
    configured(&store).await;
    registered(&store, 1).await;
    admitted(&store, 1, 1).await;
    // All three marks are in the log before the workflow reads them (it was down, say), and
    // the services' TaskCancelled events are not: what the workflow was told counts.
    optimised(&store, 1, 1, 60).await;
    optimised(&store, 1, 0, 61).await;
    optimised(&store, 1, 2, 62).await;
    let (stop, _, handle) = start(&store, &recorder);
    until_received(&recorder, 5).await;
    let names: Vec<&str> = recorder.commands().iter().map(Command::name).collect();
    assert_eq!(names, ["CreateTask", "CancelTask", "CreateTask", "CancelTask", "CreateTask"]);
    let commands = recorder.commands();
    assert_eq!(created(&commands[4]).1, 2, "a trusted assessment again, for pathway 2");
    stop.send_replace(true);
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_new_workflow_on_a_store_with_history_starts_at_its_head() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(Arc::new(TokioClock::starting_at(at(0))));
    configured(&store).await;
    registered(&store, 1).await;
    admitted(&store, 1, 1).await;
    optimised(&store, 1, 1, 60).await;
    let runner =
        ProcessRunner::new(store.clone() as Arc<dyn EventStore>, recorder.clone(), DischargeFlows::new());
    runner.start_at_head_if_new().await.unwrap();
    let (stop, stopped) = watch::channel(false);
    let handle = tokio::spawn(async move { runner.run(stopped).await.unwrap() });
    // The history called for a task before the workflow existed: nothing is sent for it; what
    // happens from now on is acted on (knowing the teams and rules of the history).
    optimised(&store, 1, 0, 90).await;
    until_received(&recorder, 1).await;
    assert_eq!(created(&recorder.commands()[0]), ("RXA-AMU", 3, "careflow.discharge-home", 1));
    stop.send_replace(true);
    handle.await.unwrap();
}

async fn on_request(store: &MemoryStore, event: careflow_domain::brokerage::BrokerageEvent) {
    let stream = format!("care-request-{}", event.request_id().unwrap());
    record(store, &stream, event.event_type(), &event).await;
}

fn placement(request: Uuid, provider: &str, k: u32) -> careflow_domain::brokerage::BrokerageEvent {
    use careflow_domain::brokerage::{BrokerageEvent, CareRequestId, CareType, OfferId, Pence};
    BrokerageEvent::PlacementAgreed {
        request_id: CareRequestId(request),
        offer_id: OfferId(Uuid::from_u128(77)),
        organisation: OdsCode::parse("LA001").unwrap(),
        nhs_number: nhs(k),
        provider: OdsCode::parse("VN001").unwrap(),
        provider_name: Label::parse(provider).unwrap(),
        care_type: CareType::Residential,
        weekly_price: Pence(90_000),
        start_date: at(0).date_naive() + chrono::Duration::days(2),
        rank: 1,
        of: 2,
        score: 8_500,
        by: UserId::parse("broker.la").unwrap(),
        at: at(200),
    }
}

/// Discharge to assess, last legs: a placement agreed gives the ward "discharge to <provider>
/// on <date>"; handed back, it is cancelled; agreed again, raised again; the discharge
/// completes it. A placement for a patient no longer in hospital raises nothing.
#[tokio::test(start_paused = true)]
async fn a_placement_agreed_gives_the_ward_its_discharge_and_a_hand_back_takes_it_away() {
    use careflow_domain::brokerage::{BrokerageEvent, CareRequestId};
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(Arc::new(TokioClock::starting_at(at(0))));
    configured(&store).await;
    registered(&store, 1).await;
    admitted(&store, 1, 1).await;
    let (_stop, _counts, _handle) = start(&store, &recorder);
    let request = Uuid::from_u128(500);

    on_request(&store, placement(request, "Oak House", 1)).await;
    until_received(&recorder, 1).await;
    let commands = recorder.commands();
    assert_eq!(created(&commands[0]), ("RXA-AMU", 8, "careflow.discharge-to-care", 1));
    let Command::CreateTask(task) = &commands[0] else { unreachable!() };
    let date = at(0).date_naive() + chrono::Duration::days(2);
    assert_eq!(task.title, format!("Discharge to Oak House on {date}"));
    assert_eq!(task.nhs_number, nhs(1).to_string());
    let links: Vec<(&str, &str)> = task.links.iter().map(|l| (l.kind.as_str(), l.id.as_str())).collect();
    assert!(links.contains(&("care_request", request.to_string().as_str())), "{links:?}");
    let first = Uuid::from_u128(1).to_string();

    // Handed back: cancelled. Agreed with another home: raised again.
    let back = BrokerageEvent::PlacementHandedBack {
        request_id: CareRequestId(request),
        provider: OdsCode::parse("VN001").unwrap(),
        nhs_number: nhs(1),
        reason: Note::parse("Cannot meet needs").unwrap(),
        by: UserId::parse("manager.vn").unwrap(),
        at: at(210),
    };
    on_request(&store, back).await;
    until_received(&recorder, 2).await;
    match &recorder.commands()[1] {
        Command::CancelTask(r) => assert_eq!(r.task_id, first),
        other => panic!("{other:?}"),
    }
    let mut again = placement(request, "Elm Lodge", 1);
    if let BrokerageEvent::PlacementAgreed { at: when, .. } = &mut again {
        *when = at(220);
    }
    on_request(&store, again).await;
    until_received(&recorder, 3).await;
    let Command::CreateTask(second) = &recorder.commands()[2] else { panic!("a creation") };
    assert!(second.title.starts_with("Discharge to Elm Lodge"), "{}", second.title);

    // Discharged to the home: the ward's task is done (and housekeeping gets the bed).
    on_stay(
        &store,
        1,
        BedEvent::PatientDischarged {
            stay_id: stay(1),
            nhs_number: nhs(1),
            bed_id: bed(),
            destination: DischargeDestination::CareHome,
            pathway: Pathway::try_from(3).unwrap(),
            at: at(300),
        },
    )
    .await;
    until_received(&recorder, 5).await;
    let commands = recorder.commands();
    match &commands[3] {
        Command::CompleteTask(r) => assert_eq!(r.task_id, Uuid::from_u128(3).to_string()),
        other => panic!("{other:?}"),
    }
    assert_eq!(created(&commands[4]).0, "RXA-HOUSEKEEPING");

    // A placement for someone already discharged (assessed at home): nothing for the ward.
    on_request(&store, placement(Uuid::from_u128(501), "Ash Court", 1)).await;
    registered(&store, 3).await;
    admitted(&store, 3, 3).await;
    optimised(&store, 3, 1, 400).await;
    until_received(&recorder, 6).await;
    let sixth = recorder.commands()[5].clone();
    assert_eq!(created(&sixth).2, "d2a-bradford", "the next command is the other patient's, not a ward task");
}
