//! The tasks context: shared work across organisations (DESIGN.md §4, §5). Every hand-off
//! between a ward, a council's social care team, a community service and a care provider is a
//! task in the right team's inbox, with a deadline that nobody has to remember.
//!
//! | stream | holds |
//! | --- | --- |
//! | `team-<id>` | a team's configuration: organisation, name, kind, wards it covers, lead, members |
//! | `task-<uuid>` | one task, from creation to completion or cancellation |
//! | `rule-<id>` | a routing rule, every version of it (which team gets a workflow's task) |
//!
//! Rules: only the owning team's members (by configuration or by their token) and its lead act
//! on a task; a task may be raised for any team (a referral). A hand-off is offered to another
//! team, possibly of another organisation, and takes effect when that team accepts it. A task
//! not completed by its due time is marked overdue and escalated to the owning team's lead,
//! once: careflow's clock sends [`TaskCommand::MarkOverdue`] naming the due time it fires for,
//! so a late or repeated firing, or one for a due time since changed, does nothing. Illegal
//! moves are refused naming the task's state.

mod decide;
mod decider;
mod error;
pub mod routing;
#[cfg(test)]
mod scenarios;
mod state;
mod values;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use decide::Known;
pub use decide::decide;
pub use decider::{TaskStream, TaskStreamState, Tasks};
pub use error::TaskError;
pub use routing::{District, RoutingFacts, RoutingRule, route};
pub use state::{RuleState, Task, TaskState, TaskStatus, TeamState};
pub use values::{Priority, RaisedBy, TaskActor, TaskId, TaskKind, TaskLink, TeamKind, UserId};

use crate::beds::{Label, Note};
use crate::{NhsNumber, OdsCode, RuleId, TeamId, WardId};

/// A team's configuration, as set by an admin of its organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamConfig {
    /// The organisation the team belongs to; never changes.
    pub organisation: OdsCode,
    /// Its name.
    pub name: Label,
    /// What it does.
    pub kind: TeamKind,
    /// The wards it works for (a ward's own team, housekeeping); empty for others.
    pub wards: BTreeSet<WardId>,
    /// Its lead, to whom overdue tasks escalate.
    pub lead: Option<UserId>,
    /// Its members.
    pub members: BTreeSet<UserId>,
}

/// Every command of the tasks context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TaskCommand {
    /// Create or reconfigure a team.
    ConfigureTeam {
        /// The team.
        team_id: TeamId,
        /// Its configuration.
        config: TeamConfig,
    },
    /// Create a task in a team's inbox.
    Create {
        /// The new task's id.
        task_id: TaskId,
        /// The patient it is about, if any.
        nhs_number: Option<NhsNumber>,
        /// What to do.
        title: Label,
        /// What kind of work it is.
        kind: TaskKind,
        /// The team whose inbox it goes to.
        team_id: TeamId,
        /// How soon.
        priority: Priority,
        /// When it must be done by.
        due: Option<DateTime<Utc>>,
        /// What it is about.
        links: Vec<TaskLink>,
        /// More detail.
        note: Option<Note>,
        /// Who or what raised it.
        raised_by: RaisedBy,
        /// Who is creating it.
        by: TaskActor,
    },
    /// Claim a task: I am doing it.
    Claim {
        /// The task.
        task_id: TaskId,
        /// Who.
        by: TaskActor,
    },
    /// Put a claimed task back in the team's inbox.
    Unclaim {
        /// The task.
        task_id: TaskId,
        /// Who.
        by: TaskActor,
    },
    /// Offer a task to another team.
    HandOff {
        /// The task.
        task_id: TaskId,
        /// The receiving team.
        to_team: TeamId,
        /// What the receiving team needs to know.
        note: Option<Note>,
        /// Who.
        by: TaskActor,
    },
    /// Accept a task offered to one's team.
    AcceptHandOff {
        /// The task.
        task_id: TaskId,
        /// Who (a member of the receiving team).
        by: TaskActor,
    },
    /// Comment on a task.
    Comment {
        /// The task.
        task_id: TaskId,
        /// The comment.
        text: Note,
        /// Who.
        by: TaskActor,
    },
    /// Complete a task.
    Complete {
        /// The task.
        task_id: TaskId,
        /// What came of it.
        outcome: Note,
        /// Who.
        by: TaskActor,
    },
    /// Cancel a task that no longer applies.
    Cancel {
        /// The task.
        task_id: TaskId,
        /// Why.
        reason: Note,
        /// Who.
        by: TaskActor,
    },
    /// The clock: the task's due time has passed. Does nothing unless the task is still open,
    /// still due at `due`, and not yet marked overdue.
    MarkOverdue {
        /// The task.
        task_id: TaskId,
        /// The due time the clock fires for.
        due: DateTime<Utc>,
    },
    /// Set (create or change) a routing rule: a new version of it.
    SetRoutingRule {
        /// The rule.
        rule_id: RuleId,
        /// What it says.
        rule: RoutingRule,
    },
}

impl TaskCommand {
    /// The task the command acts on, if it acts on one.
    pub fn task_id(&self) -> Option<TaskId> {
        match self {
            Self::Create { task_id, .. }
            | Self::Claim { task_id, .. }
            | Self::Unclaim { task_id, .. }
            | Self::HandOff { task_id, .. }
            | Self::AcceptHandOff { task_id, .. }
            | Self::Comment { task_id, .. }
            | Self::Complete { task_id, .. }
            | Self::Cancel { task_id, .. }
            | Self::MarkOverdue { task_id, .. } => Some(*task_id),
            Self::ConfigureTeam { .. } | Self::SetRoutingRule { .. } => None,
        }
    }
}

/// Every event of the tasks context. Serialized with its type name in `type`. `by: None` is
/// careflow itself (a workflow or the clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[allow(missing_docs)] // fields are named for what they hold
pub enum TaskEvent {
    /// A team was created or reconfigured.
    TeamConfigured { team_id: TeamId, config: TeamConfig, at: DateTime<Utc> },
    /// A task was created in a team's inbox.
    TaskCreated {
        task_id: TaskId,
        nhs_number: Option<NhsNumber>,
        title: Label,
        kind: TaskKind,
        team_id: TeamId,
        organisation: OdsCode,
        priority: Priority,
        due: Option<DateTime<Utc>>,
        links: Vec<TaskLink>,
        note: Option<Note>,
        raised_by: RaisedBy,
        at: DateTime<Utc>,
    },
    /// Someone took the task on.
    TaskClaimed { task_id: TaskId, by: UserId, at: DateTime<Utc> },
    /// The task went back to the team's inbox.
    TaskUnclaimed { task_id: TaskId, by: UserId, at: DateTime<Utc> },
    /// The task was offered to another team.
    TaskHandOffOffered {
        task_id: TaskId,
        from_team: TeamId,
        from_organisation: OdsCode,
        to_team: TeamId,
        to_organisation: OdsCode,
        note: Option<Note>,
        by: Option<UserId>,
        at: DateTime<Utc>,
    },
    /// The receiving team accepted the task: it is theirs now.
    TaskHandOffAccepted {
        task_id: TaskId,
        from_team: TeamId,
        team_id: TeamId,
        organisation: OdsCode,
        by: UserId,
        at: DateTime<Utc>,
    },
    /// A comment.
    TaskCommented { task_id: TaskId, text: Note, by: Option<UserId>, at: DateTime<Utc> },
    /// The task was done.
    TaskCompleted { task_id: TaskId, outcome: Note, by: Option<UserId>, at: DateTime<Utc> },
    /// The task no longer applies.
    TaskCancelled { task_id: TaskId, reason: Note, by: Option<UserId>, at: DateTime<Utc> },
    /// The task passed its due time undone.
    TaskOverdue { task_id: TaskId, due: DateTime<Utc>, at: DateTime<Utc> },
    /// The overdue task was escalated to its team's lead (`None`: the team has no lead).
    TaskEscalated { task_id: TaskId, team_id: TeamId, lead: Option<UserId>, at: DateTime<Utc> },
    /// A routing rule was set, at this version (1 for a new rule).
    RoutingRuleSet { rule_id: RuleId, version: u32, rule: RoutingRule, at: DateTime<Utc> },
}

impl TaskEvent {
    /// The schema version of the events' data.
    pub const SCHEMA_VERSION: u32 = 1;

    /// The event's type name, as stored.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::TeamConfigured { .. } => "TeamConfigured",
            Self::TaskCreated { .. } => "TaskCreated",
            Self::TaskClaimed { .. } => "TaskClaimed",
            Self::TaskUnclaimed { .. } => "TaskUnclaimed",
            Self::TaskHandOffOffered { .. } => "TaskHandOffOffered",
            Self::TaskHandOffAccepted { .. } => "TaskHandOffAccepted",
            Self::TaskCommented { .. } => "TaskCommented",
            Self::TaskCompleted { .. } => "TaskCompleted",
            Self::TaskCancelled { .. } => "TaskCancelled",
            Self::TaskOverdue { .. } => "TaskOverdue",
            Self::TaskEscalated { .. } => "TaskEscalated",
            Self::RoutingRuleSet { .. } => "RoutingRuleSet",
        }
    }

    /// The task the event is about, if it is about one.
    pub fn task_id(&self) -> Option<TaskId> {
        match self {
            Self::TaskCreated { task_id, .. }
            | Self::TaskClaimed { task_id, .. }
            | Self::TaskUnclaimed { task_id, .. }
            | Self::TaskHandOffOffered { task_id, .. }
            | Self::TaskHandOffAccepted { task_id, .. }
            | Self::TaskCommented { task_id, .. }
            | Self::TaskCompleted { task_id, .. }
            | Self::TaskCancelled { task_id, .. }
            | Self::TaskOverdue { task_id, .. }
            | Self::TaskEscalated { task_id, .. } => Some(*task_id),
            Self::TeamConfigured { .. } | Self::RoutingRuleSet { .. } => None,
        }
    }

    /// The stream the event belongs to.
    pub fn stream(&self) -> TaskStream {
        match self {
            Self::TeamConfigured { team_id, .. } => TaskStream::Team(team_id.clone()),
            Self::RoutingRuleSet { rule_id, .. } => TaskStream::Rule(rule_id.clone()),
            Self::TaskCreated { task_id, .. }
            | Self::TaskClaimed { task_id, .. }
            | Self::TaskUnclaimed { task_id, .. }
            | Self::TaskHandOffOffered { task_id, .. }
            | Self::TaskHandOffAccepted { task_id, .. }
            | Self::TaskCommented { task_id, .. }
            | Self::TaskCompleted { task_id, .. }
            | Self::TaskCancelled { task_id, .. }
            | Self::TaskOverdue { task_id, .. }
            | Self::TaskEscalated { task_id, .. } => TaskStream::Task(*task_id),
        }
    }
}
