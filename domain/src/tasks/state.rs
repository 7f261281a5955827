//! The folded state of the tasks context's streams: a team, a task, a routing rule.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{
    Priority, RaisedBy, RoutingRule, TaskActor, TaskEvent, TaskId, TaskKind, TaskLink, TeamConfig, UserId,
};
use crate::beds::Label;
use crate::{NhsNumber, OdsCode, TeamId};

/// A team, as configured (`None`: no such team).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamState {
    /// Its configuration.
    pub config: Option<TeamConfig>,
}

impl TeamState {
    /// Folds one event of the team's stream in.
    pub fn evolve(&mut self, event: &TaskEvent) {
        if let TaskEvent::TeamConfigured { config, .. } = event {
            self.config = Some(config.clone());
        }
    }
}

impl TeamConfig {
    /// Whether `actor` may act for the team: careflow itself, the lead, a configured member, or
    /// someone whose token names the team.
    pub fn admits(&self, team_id: &TeamId, actor: &TaskActor) -> bool {
        match actor {
            TaskActor::System => true,
            TaskActor::Person { user_id, teams } => {
                self.lead.as_ref() == Some(user_id)
                    || self.members.contains(user_id)
                    || teams.contains(team_id)
            }
        }
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskStatus {
    /// In the team's inbox, nobody on it.
    Open,
    /// Someone is on it.
    Claimed {
        /// Who.
        by: UserId,
    },
    /// Offered to another team, awaiting its acceptance.
    HandOffPending {
        /// The receiving team.
        to_team: TeamId,
        /// Its organisation.
        to_organisation: OdsCode,
        /// Who had claimed it before the offer, if anyone.
        claimed_by: Option<UserId>,
    },
    /// Done.
    Completed,
    /// No longer applies.
    Cancelled,
}

impl TaskStatus {
    /// The upper-case name used in messages and APIs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Claimed { .. } => "CLAIMED",
            Self::HandOffPending { .. } => "HANDOFF_PENDING",
            Self::Completed => "COMPLETED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Whether the task is finished (completed or cancelled).
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task, as folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Its id.
    pub task_id: TaskId,
    /// The patient, if any.
    pub nhs_number: Option<NhsNumber>,
    /// What to do.
    pub title: Label,
    /// What kind of work.
    pub kind: TaskKind,
    /// The owning team.
    pub team_id: TeamId,
    /// The owning team's organisation.
    pub organisation: OdsCode,
    /// How soon.
    pub priority: Priority,
    /// When it is due.
    pub due: Option<DateTime<Utc>>,
    /// What it is about.
    pub links: Vec<TaskLink>,
    /// Who or what raised it.
    pub raised_by: RaisedBy,
    /// Where it is in its life.
    pub status: TaskStatus,
    /// Whether it passed its due time undone (and was escalated).
    pub overdue: bool,
}

/// A task's stream, folded (`None`: no such task).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskState {
    /// The task.
    pub task: Option<Task>,
}

impl TaskState {
    /// Folds one event of the task's stream in.
    pub fn evolve(&mut self, event: &TaskEvent) {
        if let TaskEvent::TaskCreated {
            task_id,
            nhs_number,
            title,
            kind,
            team_id,
            organisation,
            priority,
            due,
            links,
            raised_by,
            ..
        } = event
        {
            self.task = Some(Task {
                task_id: *task_id,
                nhs_number: *nhs_number,
                title: title.clone(),
                kind: *kind,
                team_id: team_id.clone(),
                organisation: organisation.clone(),
                priority: *priority,
                due: *due,
                links: links.clone(),
                raised_by: raised_by.clone(),
                status: TaskStatus::Open,
                overdue: false,
            });
            return;
        }
        let Some(task) = self.task.as_mut() else { return };
        match event {
            TaskEvent::TaskClaimed { by, .. } => task.status = TaskStatus::Claimed { by: by.clone() },
            TaskEvent::TaskUnclaimed { .. } => task.status = TaskStatus::Open,
            TaskEvent::TaskHandOffOffered { to_team, to_organisation, .. } => {
                let claimed_by = match &task.status {
                    TaskStatus::Claimed { by } => Some(by.clone()),
                    _ => None,
                };
                task.status = TaskStatus::HandOffPending {
                    to_team: to_team.clone(),
                    to_organisation: to_organisation.clone(),
                    claimed_by,
                };
            }
            TaskEvent::TaskHandOffAccepted { team_id, organisation, .. } => {
                task.team_id = team_id.clone();
                task.organisation = organisation.clone();
                task.status = TaskStatus::Open;
            }
            TaskEvent::TaskCompleted { .. } => task.status = TaskStatus::Completed,
            TaskEvent::TaskCancelled { .. } => task.status = TaskStatus::Cancelled,
            TaskEvent::TaskOverdue { .. } => task.overdue = true,
            TaskEvent::TaskCommented { .. }
            | TaskEvent::TaskEscalated { .. }
            | TaskEvent::TaskCreated { .. }
            | TaskEvent::TeamConfigured { .. }
            | TaskEvent::RoutingRuleSet { .. } => {}
        }
    }
}

/// A routing rule's stream, folded: its latest version (0 and `None`: no such rule).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleState {
    /// The latest version.
    pub version: u32,
    /// What it says now.
    pub rule: Option<RoutingRule>,
}

impl RuleState {
    /// Folds one event of the rule's stream in.
    pub fn evolve(&mut self, event: &TaskEvent) {
        if let TaskEvent::RoutingRuleSet { version, rule, .. } = event {
            self.version = *version;
            self.rule = Some(rule.clone());
        }
    }
}
