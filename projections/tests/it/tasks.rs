//! The task read models: inboxes in work order, a person's tasks, a task's history across a
//! hand-off between organisations, per-team counts, escalations; rebuilt from zero alike.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::sync::Arc;

use careflow_domain::beds::{Label, Note};
use careflow_domain::tasks::{Priority, RaisedBy, TaskEvent, TaskId, TaskKind, TeamConfig, TeamKind, UserId};
use careflow_domain::{OdsCode, TeamId};
use careflow_eventstore::memory::MemoryStore;
use careflow_eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamName};
use careflow_projections::ProjectionRunner;
use careflow_projections::documents::{DocumentReader, MemoryDocuments};
use careflow_projections::task_board::{
    TaskBoard, TaskDoc, TaskRow, TaskStatusView, TaskView, TeamView, inbox_key, mine_key, task_key, team_key,
};
use chrono::Duration;
use uuid::Uuid;

use crate::helpers::at;

async fn record(store: &MemoryStore, event: TaskEvent) {
    let metadata = Metadata::new(Uuid::nil(), at(0));
    let new = NewEvent::json(Uuid::new_v4(), event.event_type(), 1, &event, metadata).unwrap();
    let name = match event.stream() {
        careflow_domain::tasks::TaskStream::Team(id) => format!("team-{id}"),
        careflow_domain::tasks::TaskStream::Task(id) => format!("task-{id}"),
        careflow_domain::tasks::TaskStream::Rule(id) => format!("rule-{id}"),
    };
    let append = StreamAppend {
        stream: StreamName::new(name).unwrap(),
        expected: ExpectedVersion::Any,
        events: vec![new],
    };
    store.append(vec![append]).await.unwrap();
}

fn team(id: &str) -> TeamId {
    TeamId::parse(id).unwrap()
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn task(n: u128) -> TaskId {
    TaskId(Uuid::from_u128(n))
}

fn configured(id: &str, org: &str, lead: &str) -> TaskEvent {
    TaskEvent::TeamConfigured {
        team_id: team(id),
        config: TeamConfig {
            organisation: OdsCode::parse(org).unwrap(),
            name: Label::parse(id).unwrap(),
            kind: TeamKind::SocialCare,
            wards: BTreeSet::new(),
            lead: Some(user(lead)),
            members: BTreeSet::from([user("sw.one")]),
        },
        at: at(0),
    }
}

fn created(n: u128, priority: Priority, due_in_minutes: Option<i64>, minute: u32) -> TaskEvent {
    TaskEvent::TaskCreated {
        task_id: task(n),
        nhs_number: None,
        title: Label::parse(&format!("task {n}")).unwrap(),
        kind: TaskKind::General,
        team_id: team("council"),
        organisation: OdsCode::parse("RYC").unwrap(),
        priority,
        due: due_in_minutes.map(|m| at(minute) + Duration::minutes(m)),
        links: Vec::new(),
        note: None,
        raised_by: RaisedBy::Person {
            user_id: user("nurse.rxa"),
            organisation: OdsCode::parse("RXA").unwrap(),
        },
        at: at(minute),
    }
}

async fn board(store: &Arc<MemoryStore>) -> Arc<MemoryDocuments<TaskBoard>> {
    let board = Arc::new(MemoryDocuments::new(TaskBoard));
    catch_up(store, &board).await;
    board
}

/// Brings a live model up to date from its own checkpoint.
async fn catch_up(store: &Arc<MemoryStore>, board: &Arc<MemoryDocuments<TaskBoard>>) {
    ProjectionRunner::new(store.clone(), board.clone()).catch_up().await.unwrap();
}

async fn inbox(board: &MemoryDocuments<TaskBoard>, team_id: &str) -> Vec<TaskRow> {
    match board.get(&inbox_key(team_id)).await.unwrap() {
        Some(TaskDoc::Inbox { rows }) => rows,
        None => Vec::new(),
        other => panic!("not an inbox: {other:?}"),
    }
}

async fn team_view(board: &MemoryDocuments<TaskBoard>, team_id: &str) -> TeamView {
    match board.get(&team_key(team_id)).await.unwrap() {
        Some(TaskDoc::Team(team)) => *team,
        other => panic!("not a team: {other:?}"),
    }
}

async fn task_view(board: &MemoryDocuments<TaskBoard>, n: u128) -> TaskView {
    match board.get(&task_key(&task(n).to_string())).await.unwrap() {
        Some(TaskDoc::Task(task)) => *task,
        other => panic!("not a task: {other:?}"),
    }
}

fn ids(rows: &[TaskRow]) -> Vec<String> {
    rows.iter().map(|r| r.title.clone()).collect()
}

#[tokio::test]
async fn an_inbox_lists_open_work_overdue_first_then_by_priority_and_due() {
    let store = Arc::new(MemoryStore::new());
    record(&store, configured("council", "RYC", "lead.ryc")).await;
    record(&store, created(1, Priority::Routine, Some(600), 1)).await;
    record(&store, created(2, Priority::Urgent, Some(120), 2)).await;
    record(&store, created(3, Priority::Urgent, Some(60), 3)).await;
    record(&store, created(4, Priority::Immediate, None, 4)).await;
    record(&store, created(5, Priority::Routine, None, 5)).await;
    let board_now = board(&store).await;
    assert_eq!(ids(&inbox(&board_now, "council").await), ["task 4", "task 3", "task 2", "task 1", "task 5"]);

    // Task 1 passes its due time: overdue goes first, and the lead hears of it.
    let due = at(1) + Duration::minutes(600);
    record(&store, TaskEvent::TaskOverdue { task_id: task(1), due, at: due }).await;
    record(
        &store,
        TaskEvent::TaskEscalated {
            task_id: task(1),
            team_id: team("council"),
            lead: Some(user("lead.ryc")),
            at: due,
        },
    )
    .await;
    let board_now = board(&store).await;
    let rows = inbox(&board_now, "council").await;
    assert_eq!(ids(&rows), ["task 1", "task 4", "task 3", "task 2", "task 5"]);
    assert!(rows[0].overdue);
    let counts = team_view(&board_now, "council").await;
    assert_eq!((counts.open, counts.overdue), (5, 1));
    match board_now.get(&mine_key("lead.ryc")).await.unwrap() {
        Some(TaskDoc::Mine(mine)) => assert_eq!(
            mine.escalated.iter().map(|e| e.task_id.clone()).collect::<Vec<_>>(),
            [task(1).to_string()]
        ),
        other => panic!("{other:?}"),
    }

    // Claimed, then completed: in the claimer's list, then in nobody's; counted as done today.
    record(&store, TaskEvent::TaskClaimed { task_id: task(1), by: user("sw.one"), at: at(30) }).await;
    let board_now = board(&store).await;
    match board_now.get(&mine_key("sw.one")).await.unwrap() {
        Some(TaskDoc::Mine(mine)) => assert_eq!(ids(&mine.claimed), ["task 1"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(inbox(&board_now, "council").await[0].claimed_by.as_deref(), Some("sw.one"));
    let outcome = Note::parse("assessed at home").unwrap();
    record(
        &store,
        TaskEvent::TaskCompleted { task_id: task(1), outcome, by: Some(user("sw.one")), at: at(40) },
    )
    .await;
    record(
        &store,
        TaskEvent::TaskCancelled {
            task_id: task(5),
            reason: Note::parse("duplicate").unwrap(),
            by: None,
            at: at(41),
        },
    )
    .await;
    let board_now = board(&store).await;
    assert_eq!(ids(&inbox(&board_now, "council").await), ["task 4", "task 3", "task 2"]);
    let counts = team_view(&board_now, "council").await;
    assert_eq!((counts.open, counts.overdue, counts.completed_on(at(40).date_naive())), (3, 0, 1));
    match board_now.get(&mine_key("sw.one")).await.unwrap() {
        Some(TaskDoc::Mine(mine)) => assert!(mine.claimed.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_hand_off_moves_the_task_between_organisations_inboxes_with_its_history() {
    let store = Arc::new(MemoryStore::new());
    let live = board(&store).await;
    record(&store, configured("council", "RYC", "lead.ryc")).await;
    record(&store, configured("community", "RXA", "lead.rxa")).await;
    record(&store, created(1, Priority::Urgent, Some(60), 1)).await;
    record(&store, TaskEvent::TaskClaimed { task_id: task(1), by: user("sw.one"), at: at(2) }).await;
    record(
        &store,
        TaskEvent::TaskHandOffOffered {
            task_id: task(1),
            from_team: team("council"),
            from_organisation: OdsCode::parse("RYC").unwrap(),
            to_team: team("community"),
            to_organisation: OdsCode::parse("RXA").unwrap(),
            note: Some(Note::parse("needs nursing first").unwrap()),
            by: Some(user("sw.one")),
            at: at(3),
        },
    )
    .await;
    catch_up(&store, &live).await;
    let board_now = &live;
    let offered = inbox(board_now, "community").await;
    assert_eq!(offered.len(), 1, "offered: in the receiving team's inbox");
    assert_eq!(
        (offered[0].status, offered[0].offered_to.as_deref()),
        (TaskStatusView::HandoffPending, Some("community"))
    );
    assert_eq!(inbox(board_now, "council").await.len(), 1, "and still the sender's until accepted");

    record(
        &store,
        TaskEvent::TaskHandOffAccepted {
            task_id: task(1),
            from_team: team("council"),
            team_id: team("community"),
            organisation: OdsCode::parse("RXA").unwrap(),
            by: user("cn.one"),
            at: at(4),
        },
    )
    .await;
    catch_up(&store, &live).await;
    let board_now = &live;
    assert!(inbox(board_now, "council").await.is_empty());
    let rows = inbox(board_now, "community").await;
    assert_eq!((rows.len(), rows[0].organisation.as_str(), rows[0].status), (1, "RXA", TaskStatusView::Open));
    assert_eq!(
        (team_view(board_now, "council").await.open, team_view(board_now, "community").await.open),
        (0, 1)
    );
    let view = task_view(board_now, 1).await;
    type Step<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let steps: Vec<Step<'_>> = view
        .history
        .iter()
        .map(|h| {
            (
                h.event_type.as_str(),
                h.by.as_deref(),
                h.from_organisation.as_deref(),
                h.to_organisation.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("TaskCreated", Some("nurse.rxa"), None, Some("RYC")),
            ("TaskClaimed", Some("sw.one"), None, None),
            ("TaskHandOffOffered", Some("sw.one"), Some("RYC"), Some("RXA")),
            ("TaskHandOffAccepted", Some("cn.one"), Some("RYC"), Some("RXA")),
        ]
    );
    assert_eq!(view.teams.iter().map(String::as_str).collect::<Vec<_>>(), ["community", "council"]);
    match board_now.get(&mine_key("sw.one")).await.unwrap() {
        Some(TaskDoc::Mine(mine)) => assert!(mine.claimed.is_empty(), "the claim ended with the hand-off"),
        other => panic!("{other:?}"),
    }

    // Rebuilt from zero: the same documents as the live model kept step by step.
    let again = board(&store).await;
    for key in [
        inbox_key("community"),
        inbox_key("council"),
        team_key("council"),
        task_key(&task(1).to_string()),
        mine_key("sw.one"),
    ] {
        assert_eq!(again.get(&key).await.unwrap(), board_now.get(&key).await.unwrap(), "{key}");
    }
}

#[tokio::test]
async fn a_wards_turnaround_runs_from_a_discharge_to_the_bed_cleaned() {
    use careflow_domain::beds::{BedEvent, VacatedBecause};
    use careflow_domain::{BedId, SiteId, StayId, WardId};
    use careflow_projections::task_board::turnaround_key;

    let t = |minutes: i64| at(0) + Duration::minutes(minutes);
    let store = Arc::new(MemoryStore::new());
    let (bed, ward) = (BedId::parse("RXA01-AMU-B01").unwrap(), WardId::parse("RXA01-AMU").unwrap());
    let on_bed = |event: BedEvent| {
        let store = store.clone();
        async move {
            let metadata = Metadata::new(Uuid::nil(), at(0));
            let new = NewEvent::json(Uuid::new_v4(), event.event_type(), 1, &event, metadata).unwrap();
            let stream = StreamName::new(format!("bed-{}", "RXA01-AMU-B01")).unwrap();
            store
                .append(vec![StreamAppend { stream, expected: ExpectedVersion::Any, events: vec![new] }])
                .await
                .unwrap();
        }
    };
    on_bed(BedEvent::BedAdded {
        bed_id: bed.clone(),
        ward_id: ward.clone(),
        site_id: SiteId::parse("RXA01").unwrap(),
        label: Label::parse("Bay 1 Bed 1").unwrap(),
        organisation: None,
        at: t(0),
    })
    .await;
    let stay = StayId(Uuid::from_u128(1));
    // A transfer out leaves the bed to clean too, but the turnaround counts discharges.
    on_bed(BedEvent::BedVacated {
        bed_id: bed.clone(),
        stay_id: stay,
        because: VacatedBecause::Transferred,
        at: t(1),
    })
    .await;
    on_bed(BedEvent::BedCleaned { bed_id: bed.clone(), at: t(5) }).await;
    on_bed(BedEvent::BedVacated {
        bed_id: bed.clone(),
        stay_id: stay,
        because: VacatedBecause::Discharged,
        at: t(10),
    })
    .await;
    on_bed(BedEvent::BedCleaned { bed_id: bed.clone(), at: t(55) }).await;
    on_bed(BedEvent::BedVacated {
        bed_id: bed.clone(),
        stay_id: stay,
        because: VacatedBecause::Discharged,
        at: t(56),
    })
    .await;
    on_bed(BedEvent::BedCleaned { bed_id: bed, at: t(71) }).await;
    let board_now = board(&store).await;
    match board_now.get(&turnaround_key("RXA01-AMU")).await.unwrap() {
        Some(TaskDoc::Turnaround(t)) => {
            assert_eq!((t.count, t.longest_seconds, t.last_seconds), (2, 45 * 60, Some(15 * 60)));
            assert_eq!(t.mean_seconds(), Some(30.0 * 60.0));
        }
        other => panic!("{other:?}"),
    }
}

/// The task models in Redis, read by another process's reader, match the memory models
/// document for document (every kind: teams, inboxes, a person's tasks, tasks, counts by day).
#[tokio::test]
async fn the_task_models_in_redis_match_memory() {
    use careflow_projections::documents::redis::{RedisDocumentReader, RedisDocuments};
    use careflow_projections::task_board::{NAME, TEAMS_KEY};

    let Some(redis) = crate::helpers::redis::TestRedis::start().await else { return };
    let store = Arc::new(MemoryStore::new());
    record(&store, configured("council", "RYC", "lead.ryc")).await;
    record(&store, created(1, Priority::Urgent, Some(60), 1)).await;
    record(&store, created(2, Priority::Routine, None, 2)).await;
    record(&store, TaskEvent::TaskClaimed { task_id: task(1), by: user("sw.one"), at: at(3) }).await;
    let due = at(1) + Duration::minutes(60);
    record(&store, TaskEvent::TaskOverdue { task_id: task(2), due, at: due }).await;
    record(
        &store,
        TaskEvent::TaskEscalated {
            task_id: task(2),
            team_id: team("council"),
            lead: Some(user("lead.ryc")),
            at: due,
        },
    )
    .await;
    let outcome = Note::parse("done").unwrap();
    record(
        &store,
        TaskEvent::TaskCompleted { task_id: task(1), outcome, by: Some(user("sw.one")), at: at(50) },
    )
    .await;
    let memory = board(&store).await;
    let writer = Arc::new(RedisDocuments::connect(&redis.config(), TaskBoard).await.unwrap());
    ProjectionRunner::new(store.clone(), writer).catch_up().await.unwrap();
    let reader = RedisDocumentReader::<TaskDoc>::connect(&redis.config(), NAME).await.unwrap();
    let keys = [
        TEAMS_KEY.to_owned(),
        team_key("council"),
        inbox_key("council"),
        mine_key("sw.one"),
        mine_key("lead.ryc"),
        task_key(&task(1).to_string()),
        task_key(&task(2).to_string()),
    ];
    for key in keys {
        let (in_memory, in_redis) = (memory.get(&key).await.unwrap(), reader.get(&key).await.unwrap());
        assert!(in_memory.is_some(), "{key}");
        assert_eq!(in_redis, in_memory, "{key}");
    }
}

#[tokio::test]
async fn a_task_cancelled_while_offered_leaves_the_receiving_inbox_too() {
    let store = Arc::new(MemoryStore::new());
    record(&store, configured("council", "RYC", "lead.ryc")).await;
    record(&store, configured("community", "RXA", "lead.rxa")).await;
    record(&store, created(1, Priority::Urgent, None, 1)).await;
    record(
        &store,
        TaskEvent::TaskHandOffOffered {
            task_id: task(1),
            from_team: team("council"),
            from_organisation: OdsCode::parse("RYC").unwrap(),
            to_team: team("community"),
            to_organisation: OdsCode::parse("RXA").unwrap(),
            note: None,
            by: Some(user("sw.one")),
            at: at(2),
        },
    )
    .await;
    let reason = Note::parse("no longer needed").unwrap();
    record(
        &store,
        TaskEvent::TaskCancelled { task_id: task(1), reason, by: Some(user("sw.one")), at: at(3) },
    )
    .await;
    let board_now = board(&store).await;
    assert!(inbox(&board_now, "community").await.is_empty());
    assert!(inbox(&board_now, "council").await.is_empty());
}
