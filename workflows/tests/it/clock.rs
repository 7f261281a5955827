//! The one clock, on paused time: deadlines fire when due and only then, once per deadline
//! even with two schedulers, never for work done meanwhile, and again after a failure.

use std::sync::Arc;
use std::time::Duration;

use careflow_domain::beds::{Label, Note};
use careflow_domain::tasks::{Priority, RaisedBy, TaskEvent, TaskId, TaskKind, UserId};
use careflow_domain::{OdsCode, TeamId};
use careflow_eventstore::EventStore;
use careflow_eventstore::memory::MemoryStore;
use careflow_workflows::clock::{Scheduler, TaskDeadlines, TokioClock, WallClock};
use careflow_workflows::commands::Command;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use uuid::Uuid;

use crate::support::{Recorder, at, record, until_received};

fn task(n: u128) -> TaskId {
    TaskId(Uuid::from_u128(n))
}

async fn created(store: &MemoryStore, n: u128, due: DateTime<Utc>) {
    let event = TaskEvent::TaskCreated {
        task_id: task(n),
        nhs_number: None,
        title: Label::parse("Chase the pharmacy").unwrap(),
        kind: TaskKind::General,
        team_id: TeamId::parse("RXA-AMU").unwrap(),
        organisation: OdsCode::parse("RXA").unwrap(),
        priority: Priority::Routine,
        due: Some(due),
        links: Vec::new(),
        note: None,
        raised_by: RaisedBy::Person {
            user_id: UserId::parse("nurse").unwrap(),
            organisation: OdsCode::parse("RXA").unwrap(),
        },
        at: at(0),
    };
    record(store, &format!("task-{}", task(n)), event.event_type(), &event).await;
}

async fn completed(store: &MemoryStore, n: u128) {
    let event = TaskEvent::TaskCompleted {
        task_id: task(n),
        outcome: Note::parse("done").unwrap(),
        by: None,
        at: at(1),
    };
    record(store, &format!("task-{}", task(n)), event.event_type(), &event).await;
}

fn fired_for(command: &Command) -> String {
    match command {
        Command::MarkTaskOverdue(r) => r.task_id.clone(),
        other => panic!("not a timer command: {other:?}"),
    }
}

fn start(
    store: &Arc<MemoryStore>,
    recorder: &Arc<Recorder>,
    clock: TokioClock,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let scheduler = Scheduler::new(
        store.clone() as Arc<dyn EventStore>,
        recorder.clone(),
        Arc::new(clock),
        vec![Arc::new(TaskDeadlines)],
    );
    let handle = tokio::spawn(async move { scheduler.run(stopped).await.unwrap() });
    (stop, handle)
}

#[tokio::test(start_paused = true)]
async fn deadlines_fire_when_due_and_never_for_work_done_meanwhile() {
    let store = Arc::new(MemoryStore::new());
    let clock = TokioClock::starting_at(at(0));
    let recorder = Recorder::new(Arc::new(clock));
    created(&store, 1, at(30)).await;
    created(&store, 2, at(60)).await;
    created(&store, 3, at(90)).await;
    completed(&store, 2).await;
    let (stop, handle) = start(&store, &recorder, clock);

    until_received(&recorder, 2).await;
    // One more deadline, set while the clock runs.
    created(&store, 4, clock.now() + chrono::Duration::minutes(5)).await;
    until_received(&recorder, 3).await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let received = recorder.received.lock().unwrap().clone();
    let fired: Vec<String> = received.iter().map(|r| fired_for(&r.command)).collect();
    assert_eq!(
        fired,
        [task(1).to_string(), task(3).to_string(), task(4).to_string()],
        "once each, in due order, not task 2"
    );
    for (received, due) in received.iter().zip([at(30), at(90)]) {
        assert!(received.at >= due, "fired at {} for {due}", received.at);
        assert!(received.at < due + chrono::Duration::seconds(2), "fired late, at {} for {due}", received.at);
    }
    stop.send_replace(true);
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn two_schedulers_send_the_same_command_for_each_deadline() {
    let store = Arc::new(MemoryStore::new());
    let clock = TokioClock::starting_at(at(0));
    let recorder = Recorder::new(Arc::new(clock));
    for n in 1..=20 {
        created(&store, n, at(i64::try_from(n).unwrap())).await;
    }
    let (stop_a, a) = start(&store, &recorder, clock);
    let (stop_b, b) = start(&store, &recorder, clock);
    until_received(&recorder, 40).await;
    // Both fired every deadline, with one command id per deadline: the services carry each
    // out once and answer the copy with the first outcome.
    assert_eq!(recorder.distinct(), 20);
    stop_a.send_replace(true);
    stop_b.send_replace(true);
    a.await.unwrap();
    b.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_deadline_the_services_cannot_take_now_is_fired_again_until_they_do() {
    let store = Arc::new(MemoryStore::new());
    let clock = TokioClock::starting_at(at(0));
    let recorder = Recorder::new(Arc::new(clock));
    recorder.failing_first(3);
    created(&store, 1, at(10)).await;
    let (stop, handle) = start(&store, &recorder, clock);
    until_received(&recorder, 4).await;
    tokio::time::sleep(Duration::from_secs(600)).await;
    let commands = recorder.commands();
    assert_eq!(commands.len(), 4, "three failures, then carried out, then no more");
    assert!(commands.windows(2).all(|w| w[0] == w[1]), "the same command, the same id, each time");
    stop.send_replace(true);
    handle.await.unwrap();
}
