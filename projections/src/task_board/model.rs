//! The task models' documents: what each key holds (see the parent module's table).

use std::collections::{BTreeMap, BTreeSet};

use careflow_domain::tasks::{Priority, RaisedBy, RoutingRule, TaskKind, TaskLink, TeamKind};
use careflow_eventstore::Position;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One document of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "doc", rename_all = "snake_case")]
pub enum TaskDoc {
    /// Every team's id.
    Teams {
        /// The ids.
        team_ids: BTreeSet<String>,
    },
    /// A team.
    Team(Box<TeamView>),
    /// A team's inbox.
    Inbox {
        /// Open tasks, and tasks offered to the team, in work order.
        rows: Vec<TaskRow>,
    },
    /// A person's tasks.
    Mine(Box<MyTasks>),
    /// A task.
    Task(Box<TaskView>),
    /// A routing rule's latest version.
    Rule(Box<RuleView>),
    /// A bed, for the turnaround.
    Bed {
        /// Its ward.
        ward_id: String,
        /// When it was left by a discharged patient, until it is cleaned.
        vacated_at: Option<DateTime<Utc>>,
    },
    /// A ward's bed turnaround.
    Turnaround(Turnaround),
}

/// A ward's bed turnaround: how long beds take from a patient's discharge to being cleaned
/// (and available again).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turnaround {
    /// Beds turned around.
    pub count: u32,
    /// Their turnaround times added up, in seconds.
    pub total_seconds: i64,
    /// The longest, in seconds.
    pub longest_seconds: i64,
    /// The latest, in seconds.
    pub last_seconds: Option<i64>,
    /// When the latest bed was cleaned.
    pub last_at: Option<DateTime<Utc>>,
}

impl Turnaround {
    /// The mean turnaround in seconds, if any bed was turned around.
    pub fn mean_seconds(&self) -> Option<f64> {
        (self.count > 0).then(|| self.total_seconds as f64 / f64::from(self.count))
    }
}

/// A team as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamView {
    /// Its id.
    pub team_id: String,
    /// Its organisation.
    pub organisation: String,
    /// Its name.
    pub name: String,
    /// What it does.
    pub kind: TeamKind,
    /// The wards it works for.
    pub wards: Vec<String>,
    /// Its lead.
    pub lead: Option<String>,
    /// Its members.
    pub members: Vec<String>,
    /// Open tasks it owns.
    pub open: u32,
    /// Of those, overdue.
    pub overdue: u32,
    /// Tasks it completed, per day (UTC), the last [`COMPLETION_DAYS`](super::COMPLETION_DAYS) days with any.
    pub completed: BTreeMap<NaiveDate, u32>,
}

impl TeamView {
    /// Whether `user_id` is the team's lead or a configured member.
    pub fn has_member(&self, user_id: &str) -> bool {
        self.lead.as_deref() == Some(user_id) || self.members.iter().any(|m| m == user_id)
    }

    /// Tasks completed on `day`.
    pub fn completed_on(&self, day: NaiveDate) -> u32 {
        self.completed.get(&day).copied().unwrap_or(0)
    }
}

/// Where a task is in its life, as shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatusView {
    /// In the inbox, nobody on it.
    Open,
    /// Someone is on it.
    Claimed,
    /// Offered to another team.
    HandoffPending,
    /// Done.
    Completed,
    /// No longer applies.
    Cancelled,
}

/// A task in an inbox or a person's list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    /// The task.
    pub task_id: String,
    /// The patient, if any.
    pub nhs_number: Option<String>,
    /// What to do.
    pub title: String,
    /// What kind of work.
    pub kind: TaskKind,
    /// The owning team.
    pub team_id: String,
    /// Its organisation.
    pub organisation: String,
    /// How soon.
    pub priority: Priority,
    /// When it is due.
    pub due: Option<DateTime<Utc>>,
    /// Whether it passed its due time undone.
    pub overdue: bool,
    /// Where it is in its life.
    pub status: TaskStatusView,
    /// Who has claimed it.
    pub claimed_by: Option<String>,
    /// The team it is offered to, while a hand-off is pending.
    pub offered_to: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl TaskRow {
    pub(super) fn work_order(&self) -> (bool, Priority, bool, Option<DateTime<Utc>>, DateTime<Utc>, String) {
        (!self.overdue, self.priority, self.due.is_none(), self.due, self.created_at, self.task_id.clone())
    }
}

/// One step of a task's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Its global position.
    pub position: Position,
    /// When.
    pub at: DateTime<Utc>,
    /// The event type.
    pub event_type: String,
    /// Who (`None`: careflow itself).
    pub by: Option<String>,
    /// From which organisation (a hand-off's sender, or the actor's).
    pub from_organisation: Option<String>,
    /// To which organisation (a hand-off's receiver).
    pub to_organisation: Option<String>,
    /// What happened, in a few words (a comment's text, an outcome, a reason).
    pub detail: Option<String>,
}

/// A task as shown, with its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    /// Its row (as in an inbox).
    pub row: TaskRow,
    /// What it is about.
    pub links: Vec<TaskLink>,
    /// More detail.
    pub note: Option<String>,
    /// Who or what raised it.
    pub raised_by: RaisedBy,
    /// The outcome, once completed.
    pub outcome: Option<String>,
    /// Every team that has owned it or been offered it (for access).
    pub teams: BTreeSet<String>,
    /// Its creation and the most recent [`MAX_HISTORY`](super::MAX_HISTORY) − 1 steps, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// A task escalated to a team's lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// The task.
    pub task_id: String,
    /// Its team.
    pub team_id: String,
    /// What to do.
    pub title: String,
    /// When it was due.
    pub due: Option<DateTime<Utc>>,
    /// When it was escalated.
    pub at: DateTime<Utc>,
}

/// A person's tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MyTasks {
    /// The tasks they have claimed, in work order.
    pub claimed: Vec<TaskRow>,
    /// Overdue tasks escalated to them as a team's lead, newest first.
    pub escalated: Vec<Escalation>,
}

/// A routing rule as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleView {
    /// Its id.
    pub rule_id: String,
    /// Its latest version.
    pub version: u32,
    /// What it says.
    pub rule: RoutingRule,
    /// When it was set.
    pub at: DateTime<Utc>,
}
