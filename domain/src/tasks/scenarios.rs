//! Given/when/then scenarios for every tasks command, legal and illegal.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::decider::{Decider, Loaded, Owner, Refusal, RefusalKind};
use crate::{NhsNumber, OdsCode};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).single().expect("valid")
}

fn ods(code: &str) -> OdsCode {
    OdsCode::parse(code).expect("ods")
}

fn team_id(id: &str) -> TeamId {
    TeamId::parse(id).expect("team")
}

fn user(id: &str) -> UserId {
    UserId::parse(id).expect("user")
}

fn task_id() -> TaskId {
    TaskId(Uuid::from_u128(7))
}

fn note(text: &str) -> Note {
    Note::parse(text).expect("note")
}

fn person(id: &str) -> TaskActor {
    TaskActor::Person { user_id: user(id), teams: Vec::new() }
}

fn team(org: &str, lead: &str, members: &[&str]) -> TeamConfig {
    TeamConfig {
        organisation: ods(org),
        name: Label::parse("Hospital social work team").expect("label"),
        kind: TeamKind::SocialCare,
        wards: BTreeSet::new(),
        lead: Some(user(lead)),
        members: members.iter().map(|m| user(m)).collect(),
    }
}

/// The council's team (RYC: lead `lead.ryc`, member `sw.ryc`) and the community team (RXA:
/// member `cn.rxa`).
fn teams() -> Vec<TaskEvent> {
    vec![
        TaskEvent::TeamConfigured {
            team_id: team_id("council"),
            config: team("RYC", "lead.ryc", &["sw.ryc"]),
            at: at(),
        },
        TaskEvent::TeamConfigured {
            team_id: team_id("community"),
            config: team("RXA", "lead.rxa", &["cn.rxa"]),
            at: at(),
        },
    ]
}

fn create() -> TaskCommand {
    TaskCommand::Create {
        task_id: task_id(),
        nhs_number: NhsNumber::from_first_nine(999_300_001),
        title: Label::parse("Complete a trusted assessment").expect("label"),
        kind: TaskKind::TrustedAssessment,
        team_id: team_id("council"),
        priority: Priority::Urgent,
        due: Some(at() + Duration::hours(24)),
        links: Vec::new(),
        note: None,
        raised_by: RaisedBy::Person { user_id: user("nurse.rxa"), organisation: ods("RXA") },
        by: person("nurse.rxa"),
    }
}

fn created() -> Vec<TaskEvent> {
    let mut history = teams();
    history.extend(when(&history, &create()).expect("created"));
    history
}

fn loaded(history: &[TaskEvent], command: &TaskCommand) -> Loaded<Tasks> {
    let mut loaded = Loaded::<Tasks>::new();
    // Load as the handler does: ask for streams until nothing new is named.
    loop {
        let missing = loaded.missing(command);
        if missing.is_empty() {
            return loaded;
        }
        for stream in missing {
            loaded.load(&stream, history.iter().filter(|e| e.stream() == stream));
        }
    }
}

fn when(history: &[TaskEvent], command: &TaskCommand) -> Result<Vec<TaskEvent>, TaskError> {
    Tasks::decide(&loaded(history, command), command, at())
}

fn then(history: &mut Vec<TaskEvent>, command: TaskCommand) -> Vec<TaskEvent> {
    let events = when(history, &command).expect("accepted");
    history.extend(events.clone());
    events
}

fn status(history: &[TaskEvent]) -> TaskStatus {
    let mut state = TaskState::default();
    history.iter().filter(|e| e.task_id() == Some(task_id())).for_each(|e| state.evolve(e));
    state.task.expect("task").status
}

#[test]
fn a_task_is_created_in_the_teams_inbox_owned_by_its_organisation() {
    let history = created();
    let [TaskEvent::TaskCreated { organisation, team_id: owner, .. }] = &history[2..] else {
        panic!("{history:?}")
    };
    assert_eq!((organisation, owner), (&ods("RYC"), &team_id("council")));
    assert_eq!(status(&history), TaskStatus::Open);
    assert_eq!(when(&history, &create()), Err(TaskError::TaskExists { task_id: task_id() }));
    // A referral from anyone whose role may create tasks: the policy sees a new resource.
    assert_eq!(Tasks::owners(&loaded(&teams(), &create()), &create()), vec![Owner::New]);
}

#[test]
fn creating_for_a_missing_team_or_with_a_past_due_time_is_refused() {
    let mut command = create();
    if let TaskCommand::Create { team_id: t, .. } = &mut command {
        *t = team_id("nobody");
    }
    assert_eq!(when(&teams(), &command), Err(TaskError::TeamNotFound { team_id: team_id("nobody") }));
    let past = at() - Duration::minutes(1);
    let mut command = create();
    if let TaskCommand::Create { due, .. } = &mut command {
        *due = Some(past);
    }
    assert_eq!(when(&teams(), &command), Err(TaskError::DueInThePast { due: past }));
    // careflow's workflows may be late: their due times stand.
    if let TaskCommand::Create { by, .. } = &mut command {
        *by = TaskActor::System;
    }
    assert!(when(&teams(), &command).is_ok());
}

#[test]
fn members_claim_and_unclaim_and_others_are_refused() {
    let mut history = created();
    let claim = |who: &str| TaskCommand::Claim { task_id: task_id(), by: person(who) };
    let refused = when(&history, &claim("cn.rxa")).expect_err("not a member");
    assert_eq!(refused, TaskError::NotAMember { team_id: team_id("council"), action: "claim it" });
    assert_eq!(refused.kind(), RefusalKind::Forbidden);
    // A token naming the team makes one a member.
    let by_token = TaskActor::Person { user_id: user("agency.sw"), teams: vec![team_id("council")] };
    assert!(when(&history, &TaskCommand::Claim { task_id: task_id(), by: by_token }).is_ok());

    then(&mut history, claim("sw.ryc"));
    assert_eq!(status(&history), TaskStatus::Claimed { by: user("sw.ryc") });
    assert_eq!(when(&history, &claim("sw.ryc")), Ok(Vec::new()), "claiming again changes nothing");
    assert!(matches!(when(&history, &claim("lead.ryc")), Err(TaskError::ClaimedByAnother { .. })));

    let unclaim = |who: &str| TaskCommand::Unclaim { task_id: task_id(), by: person(who) };
    let colleague = TaskActor::Person { user_id: user("other.ryc"), teams: vec![team_id("council")] };
    assert!(matches!(
        when(&history, &TaskCommand::Unclaim { task_id: task_id(), by: colleague }),
        Err(TaskError::ClaimedByAnother { .. })
    ));
    assert!(when(&history, &unclaim("lead.ryc")).is_ok(), "the lead may take it back");
    then(&mut history, unclaim("sw.ryc"));
    assert_eq!(status(&history), TaskStatus::Open);
    assert_eq!(when(&history, &unclaim("sw.ryc")), Ok(Vec::new()));
}

#[test]
fn a_hand_off_takes_effect_when_the_receiving_team_accepts() {
    let mut history = created();
    then(&mut history, TaskCommand::Claim { task_id: task_id(), by: person("sw.ryc") });
    let hand_off = TaskCommand::HandOff {
        task_id: task_id(),
        to_team: team_id("community"),
        note: Some(note("needs a nursing assessment first")),
        by: person("sw.ryc"),
    };
    // Only the owning organisation may offer it on.
    assert_eq!(Tasks::owners(&loaded(&history, &hand_off), &hand_off), vec![Owner::Organisation(ods("RYC"))]);
    let offered = then(&mut history, hand_off.clone());
    let [TaskEvent::TaskHandOffOffered { from_organisation, to_organisation, .. }] = offered.as_slice()
    else {
        panic!("{offered:?}")
    };
    assert_eq!((from_organisation, to_organisation), (&ods("RYC"), &ods("RXA")));
    assert_eq!(when(&history, &hand_off), Ok(Vec::new()), "offering again changes nothing");

    // While pending, nobody claims or completes it; the receiving team may comment.
    let refused = when(&history, &TaskCommand::Claim { task_id: task_id(), by: person("sw.ryc") });
    assert_eq!(
        refused.map_err(|e| e.to_string()),
        Err(format!("task {} is HANDOFF_PENDING: cannot claim it", task_id()))
    );
    let comment = TaskCommand::Comment {
        task_id: task_id(),
        text: note("we can see her tomorrow"),
        by: person("cn.rxa"),
    };
    assert!(when(&history, &comment).is_ok());
    assert_eq!(
        Tasks::owners(&loaded(&history, &comment), &comment),
        vec![Owner::AnyOf(vec![ods("RYC"), ods("RXA")])]
    );

    let accept = |who: &str| TaskCommand::AcceptHandOff { task_id: task_id(), by: person(who) };
    assert_eq!(
        when(&history, &accept("sw.ryc")),
        Err(TaskError::NotAMember { team_id: team_id("community"), action: "accept the hand-off" })
    );
    assert_eq!(
        Tasks::owners(&loaded(&history, &accept("cn.rxa")), &accept("cn.rxa")),
        vec![Owner::Organisation(ods("RXA"))]
    );
    then(&mut history, accept("cn.rxa"));
    assert_eq!(status(&history), TaskStatus::Open);
    // Now it is the community team's: the council's member no longer acts on it.
    assert!(matches!(
        when(&history, &TaskCommand::Claim { task_id: task_id(), by: person("sw.ryc") }),
        Err(TaskError::NotAMember { .. })
    ));
    assert!(matches!(when(&history, &accept("cn.rxa")), Err(TaskError::State { state: "OPEN", .. })));
    let to_self = TaskCommand::HandOff {
        task_id: task_id(),
        to_team: team_id("community"),
        note: None,
        by: person("cn.rxa"),
    };
    assert!(matches!(when(&history, &to_self), Err(TaskError::HandOffToSelf { .. })));
    let to_nobody = TaskCommand::HandOff {
        task_id: task_id(),
        to_team: team_id("nobody"),
        note: None,
        by: person("cn.rxa"),
    };
    assert!(matches!(when(&history, &to_nobody), Err(TaskError::TeamNotFound { .. })));
}

#[test]
fn completed_and_cancelled_tasks_refuse_every_move_naming_their_state() {
    let mut history = created();
    let complete =
        TaskCommand::Complete { task_id: task_id(), outcome: note("assessed"), by: person("sw.ryc") };
    then(&mut history, complete.clone());
    assert_eq!(status(&history), TaskStatus::Completed);
    for (command, action) in [
        (complete, "complete it"),
        (TaskCommand::Claim { task_id: task_id(), by: person("sw.ryc") }, "claim it"),
        (TaskCommand::Cancel { task_id: task_id(), reason: note("x"), by: person("sw.ryc") }, "cancel it"),
        (TaskCommand::Comment { task_id: task_id(), text: note("x"), by: person("sw.ryc") }, "comment on it"),
        (
            TaskCommand::HandOff {
                task_id: task_id(),
                to_team: team_id("community"),
                note: None,
                by: person("sw.ryc"),
            },
            "hand it off",
        ),
    ] {
        assert_eq!(
            when(&history, &command),
            Err(TaskError::State { task_id: task_id(), state: "COMPLETED", action })
        );
    }
    // careflow's workflows completing or cancelling a finished task do nothing.
    let system_cancel =
        TaskCommand::Cancel { task_id: task_id(), reason: note("pathway changed"), by: TaskActor::System };
    assert_eq!(when(&history, &system_cancel), Ok(Vec::new()));

    let mut history = created();
    then(
        &mut history,
        TaskCommand::Cancel { task_id: task_id(), reason: note("duplicate"), by: person("lead.ryc") },
    );
    assert_eq!(status(&history), TaskStatus::Cancelled);
    let claim = TaskCommand::Claim { task_id: task_id(), by: person("sw.ryc") };
    assert_eq!(
        when(&history, &claim),
        Err(TaskError::State { task_id: task_id(), state: "CANCELLED", action: "claim it" })
    );
}

#[test]
fn careflow_completes_a_task_offered_on_and_leaves_finished_ones_alone() {
    let mut history = created();
    then(
        &mut history,
        TaskCommand::HandOff {
            task_id: task_id(),
            to_team: team_id("community"),
            note: None,
            by: person("sw.ryc"),
        },
    );
    let done = TaskCommand::Complete {
        task_id: task_id(),
        outcome: note("the bed was cleaned"),
        by: TaskActor::System,
    };
    let person_done = TaskCommand::Complete { task_id: task_id(), outcome: note("x"), by: person("sw.ryc") };
    assert!(matches!(when(&history, &person_done), Err(TaskError::State { state: "HANDOFF_PENDING", .. })));
    then(&mut history, done.clone());
    assert_eq!(status(&history), TaskStatus::Completed);
    assert_eq!(when(&history, &done), Ok(Vec::new()));
    let mut history = created();
    then(
        &mut history,
        TaskCommand::Cancel { task_id: task_id(), reason: note("no longer needed"), by: person("sw.ryc") },
    );
    assert_eq!(when(&history, &done), Ok(Vec::new()), "a cancelled task stays cancelled");
}

#[test]
fn a_missing_task_is_not_found_and_has_no_owner() {
    let claim = TaskCommand::Claim { task_id: task_id(), by: person("sw.ryc") };
    assert_eq!(when(&teams(), &claim), Err(TaskError::TaskNotFound { task_id: task_id() }));
    assert_eq!(Tasks::owners(&loaded(&teams(), &claim), &claim), Vec::new());
}

#[test]
fn an_overdue_task_is_marked_and_escalated_to_its_lead_once() {
    let mut history = created();
    let due = at() + Duration::hours(24);
    let overdue = TaskCommand::MarkOverdue { task_id: task_id(), due };
    // Fired early (another machine's clock runs ahead): refused, so the clock tries again.
    assert_eq!(when(&history, &overdue), Err(TaskError::NotYetDue { task_id: task_id(), due }));
    let late =
        Tasks::decide(&loaded(&history, &overdue), &overdue, due + Duration::seconds(1)).expect("fires");
    assert_eq!(
        late,
        vec![
            TaskEvent::TaskOverdue { task_id: task_id(), due, at: due + Duration::seconds(1) },
            TaskEvent::TaskEscalated {
                task_id: task_id(),
                team_id: team_id("council"),
                lead: Some(user("lead.ryc")),
                at: due + Duration::seconds(1)
            },
        ]
    );
    history.extend(late);
    let again = Tasks::decide(&loaded(&history, &overdue), &overdue, due + Duration::hours(1));
    assert_eq!(again, Ok(Vec::new()), "once");
    // For a due time the task no longer has, or a task done meanwhile: nothing.
    let mut history = created();
    let other = TaskCommand::MarkOverdue { task_id: task_id(), due: due - Duration::hours(1) };
    assert_eq!(Tasks::decide(&loaded(&history, &other), &other, due), Ok(Vec::new()));
    then(
        &mut history,
        TaskCommand::Complete { task_id: task_id(), outcome: note("done"), by: person("sw.ryc") },
    );
    assert_eq!(
        Tasks::decide(&loaded(&history, &overdue), &overdue, due + Duration::hours(1)),
        Ok(Vec::new())
    );
}

#[test]
fn teams_keep_their_organisation_and_reconfiguring_alike_changes_nothing() {
    let history = teams();
    let same = TaskCommand::ConfigureTeam {
        team_id: team_id("council"),
        config: team("RYC", "lead.ryc", &["sw.ryc"]),
    };
    assert_eq!(when(&history, &same), Ok(Vec::new()));
    assert_eq!(Tasks::owners(&loaded(&history, &same), &same), vec![Owner::Organisation(ods("RYC"))]);
    let grown = TaskCommand::ConfigureTeam {
        team_id: team_id("council"),
        config: team("RYC", "lead.ryc", &["sw.ryc", "sw2.ryc"]),
    };
    assert_eq!(when(&history, &grown).map(|e| e.len()), Ok(1));
    let moved =
        TaskCommand::ConfigureTeam { team_id: team_id("council"), config: team("RXA", "lead.ryc", &[]) };
    assert!(matches!(when(&history, &moved), Err(TaskError::TeamOrganisation { .. })));
    let new = TaskCommand::ConfigureTeam { team_id: team_id("new"), config: team("RXA", "lead.rxa", &[]) };
    assert_eq!(Tasks::owners(&loaded(&history, &new), &new), vec![Owner::New]);
}

#[test]
fn routing_rules_are_versioned_and_owned_by_the_receiving_teams_organisation() {
    let mut history = teams();
    let rule = RoutingRule {
        name: Label::parse("Bradford discharges").expect("label"),
        task_kind: TaskKind::TrustedAssessment,
        pathways: [1, 2, 3]
            .into_iter()
            .map(|p| crate::beds::Pathway::try_from(p).expect("pathway"))
            .collect(),
        districts: ["BD1", "BD7"].into_iter().map(|d| District::parse(d).expect("district")).collect(),
        hospitals: BTreeSet::new(),
        team_id: team_id("council"),
        rank: 10,
        enabled: true,
    };
    let rule_id = RuleId::parse("d2a-bradford").expect("rule");
    let set = TaskCommand::SetRoutingRule { rule_id: rule_id.clone(), rule: rule.clone() };
    assert_eq!(Tasks::owners(&loaded(&history, &set), &set), vec![Owner::Organisation(ods("RYC"))]);
    let events = then(&mut history, set.clone());
    assert!(matches!(events.as_slice(), [TaskEvent::RoutingRuleSet { version: 1, .. }]));
    assert_eq!(when(&history, &set), Ok(Vec::new()), "the same rule again is not a new version");
    let mut wider = rule.clone();
    wider.districts.clear();
    let events = then(&mut history, TaskCommand::SetRoutingRule { rule_id: rule_id.clone(), rule: wider });
    assert!(matches!(events.as_slice(), [TaskEvent::RoutingRuleSet { version: 2, .. }]));
    // Pointing the council's rule at another organisation's team needs the council too: the
    // rule is the council's while it routes to the council's team.
    let mut taken = rule.clone();
    taken.team_id = team_id("community");
    let take = TaskCommand::SetRoutingRule { rule_id: rule_id.clone(), rule: taken };
    assert_eq!(
        Tasks::owners(&loaded(&history, &take), &take),
        vec![Owner::Organisation(ods("RXA")), Owner::Organisation(ods("RYC"))]
    );
    let mut elsewhere = rule;
    elsewhere.team_id = team_id("nobody");
    assert!(matches!(
        when(&history, &TaskCommand::SetRoutingRule { rule_id, rule: elsewhere }),
        Err(TaskError::RuleTeamNotFound { .. })
    ));
}

#[test]
fn events_round_trip_through_json_with_their_type() {
    for event in created() {
        let json = serde_json::to_value(&event).expect("json");
        assert_eq!(json["type"], event.event_type());
        assert_eq!(serde_json::from_value::<TaskEvent>(json).expect("back"), event);
    }
}
