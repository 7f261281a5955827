//! The task read models (DESIGN.md §6) as one document [`Fold`]: every team with its counts,
//! each team's inbox, each person's tasks, and every task with its full history.
//!
//! | key | document |
//! | --- | --- |
//! | `teams` | [`TaskDoc::Teams`]: every team's id |
//! | `team:{id}` | [`TaskDoc::Team`]: configuration, open and overdue counts, completions per day |
//! | `inbox:{team}` | [`TaskDoc::Inbox`]: the team's open tasks and those offered to it, in work order |
//! | `mine:{user}` | [`TaskDoc::Mine`]: the tasks a person has claimed, and those escalated to them |
//! | `task:{id}` | [`TaskDoc::Task`]: one task as it is now, with every step of its history |
//! | `rule:{id}` | [`TaskDoc::Rule`]: a routing rule's latest version |
//! | `bed:{id}` | [`TaskDoc::Bed`]: a bed's ward, and since when it awaits cleaning after a discharge |
//! | `turnaround:{ward}` | [`TaskDoc::Turnaround`]: the ward's bed turnaround, discharge → cleaned |
//!
//! Reads the `team`, `task` and `rule` streams, and the `bed` streams for the turnaround. Work order: overdue first, then priority
//! (immediate, urgent, routine), then the earliest due (none last), then the oldest.

use std::collections::BTreeSet;

use careflow_domain::beds::{BedEvent, VacatedBecause};
use careflow_domain::tasks::{RaisedBy, TaskEvent};
use careflow_eventstore::{Filter, RecordedEvent};

use crate::ProjectionError;
use crate::documents::{Docs, Fold, decode};

mod model;

pub use model::{
    Escalation, HistoryEntry, MyTasks, RuleView, TaskDoc, TaskRow, TaskStatusView, TaskView, TeamView,
    Turnaround,
};

/// The model's name.
pub const NAME: &str = "tasks";

/// How many days of completion counts a team keeps.
pub const COMPLETION_DAYS: usize = 31;

/// How many escalations a person's list keeps (the most recent).
pub const MAX_ESCALATIONS: usize = 100;

/// How many steps a task's history keeps: its creation and the most recent others.
pub const MAX_HISTORY: usize = 500;

/// The key of every team's id.
pub const TEAMS_KEY: &str = "teams";

/// A team's key.
pub fn team_key(team_id: &str) -> String {
    format!("team:{team_id}")
}

/// A team's inbox's key.
pub fn inbox_key(team_id: &str) -> String {
    format!("inbox:{team_id}")
}

/// A person's tasks' key.
pub fn mine_key(user_id: &str) -> String {
    format!("mine:{user_id}")
}

/// A task's key.
pub fn task_key(task_id: &str) -> String {
    format!("task:{task_id}")
}

/// A routing rule's key.
pub fn rule_key(rule_id: &str) -> String {
    format!("rule:{rule_id}")
}

/// A ward's turnaround's key.
pub fn turnaround_key(ward_id: &str) -> String {
    format!("turnaround:{ward_id}")
}

fn bed_key(bed_id: &str) -> String {
    format!("bed:{bed_id}")
}

/// The task fold.
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskBoard;

fn team(docs: &Docs<TaskDoc>, team_id: &str) -> Option<TeamView> {
    match docs.get(&team_key(team_id)) {
        Some(TaskDoc::Team(team)) => Some((**team).clone()),
        _ => None,
    }
}

fn change_team(docs: &mut Docs<TaskDoc>, team_id: &str, change: impl FnOnce(&mut TeamView)) {
    if let Some(TaskDoc::Team(team)) = docs.get_mut(&team_key(team_id)) {
        change(team);
    }
}

/// Puts `row` in (or, `None`, takes task `task_id` out of) a list kept in work order.
fn place(rows: &mut Vec<TaskRow>, task_id: &str, row: Option<&TaskRow>) {
    rows.retain(|r| r.task_id != task_id);
    if let Some(row) = row {
        let at = rows.partition_point(|r| r.work_order() < row.work_order());
        rows.insert(at, row.clone());
    }
}

fn inbox(docs: &mut Docs<TaskDoc>, team_id: &str, task_id: &str, row: Option<&TaskRow>) {
    let key = inbox_key(team_id);
    if row.is_none() && docs.get(&key).is_none() {
        return;
    }
    if let TaskDoc::Inbox { rows } = docs.entry(&key, || TaskDoc::Inbox { rows: Vec::new() }) {
        place(rows, task_id, row);
    }
}

fn mine(docs: &mut Docs<TaskDoc>, user_id: &str, change: impl FnOnce(&mut MyTasks)) {
    let key = mine_key(user_id);
    if let TaskDoc::Mine(mine) = docs.entry(&key, || TaskDoc::Mine(Box::default())) {
        change(mine);
    }
}

/// The task's row in every list that shows it: the owning team's inbox while it is open, the
/// receiving team's while it is offered, its claimer's list while claimed.
fn file(docs: &mut Docs<TaskDoc>, before: Option<&TaskRow>, after: &TaskRow) {
    let open = |row: &TaskRow| !matches!(row.status, TaskStatusView::Completed | TaskStatusView::Cancelled);
    let id = after.task_id.clone();
    if let Some(before) = before {
        if before.team_id != after.team_id || !open(after) {
            inbox(docs, &before.team_id, &id, None);
        }
        let still_offered = |to: &str| open(after) && after.offered_to.as_deref() == Some(to);
        if let Some(to) = before.offered_to.as_deref().filter(|to| !still_offered(to)) {
            inbox(docs, to, &id, None);
        }
        if let Some(user) =
            before.claimed_by.as_deref().filter(|u| after.claimed_by.as_deref() != Some(u) || !open(after))
        {
            mine(docs, user, |m| place(&mut m.claimed, &id, None));
        }
    }
    if open(after) {
        inbox(docs, &after.team_id, &id, Some(after));
        if let Some(to) = &after.offered_to {
            inbox(docs, to, &id, Some(after));
        }
        if let Some(user) = &after.claimed_by {
            mine(docs, user, |m| place(&mut m.claimed, &id, Some(after)));
        }
    }
    // Counts follow the owning team.
    let counted = |row: &TaskRow| (open(row), open(row) && row.overdue);
    let (was_open, was_overdue) = before.map_or((false, false), counted);
    let (is_open, is_overdue) = counted(after);
    let old_team = before.map_or(after.team_id.as_str(), |b| b.team_id.as_str()).to_owned();
    if before.is_some() {
        change_team(docs, &old_team, |t| {
            t.open -= u32::from(was_open).min(t.open);
            t.overdue -= u32::from(was_overdue).min(t.overdue);
        });
    }
    change_team(docs, &after.team_id, |t| {
        t.open += u32::from(is_open);
        t.overdue += u32::from(is_overdue);
    });
}

impl TaskBoard {
    /// A bed's ward (from its configuration), when it is left after a discharge and when it is
    /// cleaned: the ward's turnaround.
    fn bed(docs: &mut Docs<TaskDoc>, event: &RecordedEvent) -> Result<(), ProjectionError> {
        let decoded: std::sync::Arc<BedEvent> = decode(event)?;
        match &*decoded {
            BedEvent::BedAdded { bed_id, ward_id, .. } => {
                docs.put(
                    bed_key(bed_id.as_str()),
                    TaskDoc::Bed { ward_id: ward_id.to_string(), vacated_at: None },
                );
            }
            BedEvent::BedVacated { bed_id, because: VacatedBecause::Discharged, at, .. } => {
                if let Some(TaskDoc::Bed { vacated_at, .. }) = docs.get_mut(&bed_key(bed_id.as_str())) {
                    *vacated_at = Some(*at);
                }
            }
            BedEvent::BedCleaned { bed_id, at } => {
                let key = bed_key(bed_id.as_str());
                let Some(TaskDoc::Bed { ward_id, vacated_at: Some(vacated_at) }) = docs.get(&key).cloned()
                else {
                    return Ok(());
                };
                docs.put(key, TaskDoc::Bed { ward_id: ward_id.clone(), vacated_at: None });
                let seconds = (*at - vacated_at).num_seconds().max(0);
                let turnaround =
                    docs.entry(&turnaround_key(&ward_id), || TaskDoc::Turnaround(Turnaround::default()));
                if let TaskDoc::Turnaround(t) = turnaround {
                    t.count += 1;
                    t.total_seconds += seconds;
                    t.longest_seconds = t.longest_seconds.max(seconds);
                    t.last_seconds = Some(seconds);
                    t.last_at = Some(*at);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn configure(docs: &mut Docs<TaskDoc>, event: &TaskEvent) {
        let TaskEvent::TeamConfigured { team_id, config, .. } = event else { return };
        let id = team_id.to_string();
        let existing = team(docs, &id);
        let view = TeamView {
            team_id: id.clone(),
            organisation: config.organisation.to_string(),
            name: config.name.to_string(),
            kind: config.kind,
            wards: config.wards.iter().map(ToString::to_string).collect(),
            lead: config.lead.as_ref().map(ToString::to_string),
            members: config.members.iter().map(ToString::to_string).collect(),
            open: existing.as_ref().map_or(0, |t| t.open),
            overdue: existing.as_ref().map_or(0, |t| t.overdue),
            completed: existing.map(|t| t.completed).unwrap_or_default(),
        };
        docs.put(team_key(&id), TaskDoc::Team(Box::new(view)));
        if let TaskDoc::Teams { team_ids } =
            docs.entry(TEAMS_KEY, || TaskDoc::Teams { team_ids: BTreeSet::new() })
        {
            team_ids.insert(id);
        }
    }

    fn task(docs: &mut Docs<TaskDoc>, recorded: &RecordedEvent, event: &TaskEvent) {
        let Some(task_id) = event.task_id().map(|t| t.to_string()) else { return };
        let key = task_key(&task_id);
        let mut view = match (docs.get(&key), event) {
            (Some(TaskDoc::Task(view)), _) => (**view).clone(),
            (_, TaskEvent::TaskCreated { .. }) => match created(event) {
                Some(view) => view,
                None => return,
            },
            // An event of a task never created: nothing to show it in.
            _ => return,
        };
        let before = docs.get(&key).is_some().then(|| view.row.clone());
        let mut entry = HistoryEntry {
            position: recorded.position,
            at: recorded.recorded_at,
            event_type: event.event_type().to_owned(),
            by: None,
            from_organisation: None,
            to_organisation: None,
            detail: None,
        };
        let row = &mut view.row;
        match event {
            TaskEvent::TaskCreated { at, raised_by, organisation, .. } => {
                entry.at = *at;
                entry.by = match raised_by {
                    RaisedBy::Person { user_id, .. } => Some(user_id.to_string()),
                    RaisedBy::Rule { rule, version } => Some(format!("rule {rule} v{version}")),
                };
                entry.to_organisation = Some(organisation.to_string());
            }
            TaskEvent::TaskClaimed { by, at, .. } => {
                (entry.at, entry.by) = (*at, Some(by.to_string()));
                row.status = TaskStatusView::Claimed;
                row.claimed_by = Some(by.to_string());
            }
            TaskEvent::TaskUnclaimed { by, at, .. } => {
                (entry.at, entry.by) = (*at, Some(by.to_string()));
                row.status = TaskStatusView::Open;
                row.claimed_by = None;
            }
            TaskEvent::TaskHandOffOffered {
                to_team,
                from_organisation,
                to_organisation,
                note,
                by,
                at,
                ..
            } => {
                (entry.at, entry.by) = (*at, by.as_ref().map(ToString::to_string));
                entry.from_organisation = Some(from_organisation.to_string());
                entry.to_organisation = Some(to_organisation.to_string());
                entry.detail = Some(match note {
                    Some(note) => format!("offered to {to_team}: {note}"),
                    None => format!("offered to {to_team}"),
                });
                row.status = TaskStatusView::HandoffPending;
                row.offered_to = Some(to_team.to_string());
                view.teams.insert(to_team.to_string());
            }
            TaskEvent::TaskHandOffAccepted { from_team, team_id, organisation, by, at, .. } => {
                (entry.at, entry.by) = (*at, Some(by.to_string()));
                entry.from_organisation = Some(row.organisation.clone());
                entry.to_organisation = Some(organisation.to_string());
                entry.detail = Some(format!("accepted by {team_id} from {from_team}"));
                row.team_id = team_id.to_string();
                row.organisation = organisation.to_string();
                row.status = TaskStatusView::Open;
                row.offered_to = None;
                row.claimed_by = None;
            }
            TaskEvent::TaskCommented { text, by, at, .. } => {
                (entry.at, entry.by) = (*at, by.as_ref().map(ToString::to_string));
                entry.detail = Some(text.to_string());
            }
            TaskEvent::TaskCompleted { outcome, by, at, .. } => {
                (entry.at, entry.by) = (*at, by.as_ref().map(ToString::to_string));
                entry.detail = Some(outcome.to_string());
                view.outcome = Some(outcome.to_string());
                row.status = TaskStatusView::Completed;
                let day = at.date_naive();
                change_team(docs, &row.team_id, |t| {
                    *t.completed.entry(day).or_insert(0) += 1;
                    while t.completed.len() > COMPLETION_DAYS {
                        t.completed.pop_first();
                    }
                });
            }
            TaskEvent::TaskCancelled { reason, by, at, .. } => {
                (entry.at, entry.by) = (*at, by.as_ref().map(ToString::to_string));
                entry.detail = Some(reason.to_string());
                row.status = TaskStatusView::Cancelled;
            }
            TaskEvent::TaskOverdue { due, at, .. } => {
                entry.at = *at;
                entry.detail = Some(format!("due {due}"));
                row.overdue = true;
            }
            TaskEvent::TaskEscalated { team_id, lead, at, .. } => {
                entry.at = *at;
                entry.detail = Some(match lead {
                    Some(lead) => format!("escalated to {lead}, lead of {team_id}"),
                    None => format!("escalated to {team_id}, which has no lead"),
                });
                if let Some(lead) = lead {
                    let escalation = Escalation {
                        task_id: task_id.clone(),
                        team_id: team_id.to_string(),
                        title: row.title.clone(),
                        due: row.due,
                        at: *at,
                    };
                    mine(docs, lead.as_str(), |m| {
                        m.escalated.retain(|e| e.task_id != escalation.task_id);
                        m.escalated.insert(0, escalation);
                        m.escalated.truncate(MAX_ESCALATIONS);
                    });
                }
            }
            TaskEvent::TeamConfigured { .. } | TaskEvent::RoutingRuleSet { .. } => return,
        }
        row.updated_at = entry.at;
        view.teams.insert(row.team_id.clone());
        view.history.push(entry);
        if view.history.len() > MAX_HISTORY {
            // Keep the creation (who raised it, for whom) and the most recent steps.
            view.history.remove(1);
        }
        let after = view.row.clone();
        file(docs, before.as_ref(), &after);
        docs.put(key, TaskDoc::Task(Box::new(view)));
    }
}

/// A new task's view, from its creation (`None` for any other event).
fn created(event: &TaskEvent) -> Option<TaskView> {
    let TaskEvent::TaskCreated {
        task_id,
        nhs_number,
        title,
        kind,
        team_id,
        organisation,
        priority,
        due,
        links,
        note,
        raised_by,
        at,
    } = event
    else {
        return None;
    };
    Some(TaskView {
        row: TaskRow {
            task_id: task_id.to_string(),
            nhs_number: nhs_number.map(|n| n.to_string()),
            title: title.to_string(),
            kind: *kind,
            team_id: team_id.to_string(),
            organisation: organisation.to_string(),
            priority: *priority,
            due: *due,
            overdue: false,
            status: TaskStatusView::Open,
            claimed_by: None,
            offered_to: None,
            created_at: *at,
            updated_at: *at,
        },
        links: links.clone(),
        note: note.as_ref().map(ToString::to_string),
        raised_by: raised_by.clone(),
        outcome: None,
        teams: BTreeSet::from([team_id.to_string()]),
        history: Vec::new(),
    })
}

impl Fold for TaskBoard {
    type Doc = TaskDoc;

    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self) -> Filter {
        Filter::categories(["team", "task", "rule", "bed"])
    }

    fn apply(&self, docs: &mut Docs<TaskDoc>, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if event.stream.category() == "bed" {
            return Self::bed(docs, event);
        }
        let decoded = decode::<TaskEvent>(event)?;
        match &*decoded {
            TaskEvent::TeamConfigured { .. } => Self::configure(docs, &decoded),
            TaskEvent::RoutingRuleSet { rule_id, version, rule, at } => docs.put(
                rule_key(rule_id.as_str()),
                TaskDoc::Rule(Box::new(RuleView {
                    rule_id: rule_id.to_string(),
                    version: *version,
                    rule: rule.clone(),
                    at: *at,
                })),
            ),
            _ => Self::task(docs, event, &decoded),
        }
        Ok(())
    }
}
