//! Why the tasks context refuses a command. Messages name tasks, teams and states, never a
//! patient.

use chrono::{DateTime, Utc};

use super::TaskId;
use crate::decider::{Refusal, RefusalKind};
use crate::{OdsCode, RuleId, TeamId};

/// A command the tasks context refuses. Nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// No such team.
    #[error("team {team_id} does not exist")]
    TeamNotFound {
        /// The team.
        team_id: TeamId,
    },
    /// A team's organisation never changes.
    #[error("team {team_id} belongs to {organisation}: a team cannot move to another organisation")]
    TeamOrganisation {
        /// The team.
        team_id: TeamId,
        /// Its organisation.
        organisation: OdsCode,
    },
    /// No such task.
    #[error("task {task_id} does not exist")]
    TaskNotFound {
        /// The task.
        task_id: TaskId,
    },
    /// A task with this id exists.
    #[error("task {task_id} already exists")]
    TaskExists {
        /// The task.
        task_id: TaskId,
    },
    /// The actor is not a member of the team the command needs.
    #[error("only members of team {team_id} may {action}")]
    NotAMember {
        /// The team.
        team_id: TeamId,
        /// What was attempted.
        action: &'static str,
    },
    /// The task's state does not allow the move.
    #[error("task {task_id} is {state}: cannot {action}")]
    State {
        /// The task.
        task_id: TaskId,
        /// Its state (`OPEN`, `CLAIMED`, `HANDOFF_PENDING`, `COMPLETED`, `CANCELLED`).
        state: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// Someone else has claimed the task (only they or the team's lead unclaim it; any member
    /// may complete, cancel or hand off a claimed task, covering for a colleague).
    #[error("task {task_id} is CLAIMED by {by}: cannot {action}")]
    ClaimedByAnother {
        /// The task.
        task_id: TaskId,
        /// Who has it (a member of staff's user id, not a patient).
        by: String,
        /// What was attempted.
        action: &'static str,
    },
    /// A hand-off to the team that owns the task.
    #[error("task {task_id} already belongs to team {team_id}")]
    HandOffToSelf {
        /// The task.
        task_id: TaskId,
        /// The team.
        team_id: TeamId,
    },
    /// A person gave a due time already past.
    #[error("due {due} is in the past")]
    DueInThePast {
        /// The due time given.
        due: DateTime<Utc>,
    },
    /// The clock fired before the due time (another machine's clock runs ahead).
    #[error("task {task_id} is not due until {due}")]
    NotYetDue {
        /// The task.
        task_id: TaskId,
        /// Its due time.
        due: DateTime<Utc>,
    },
    /// A routing rule's team does not exist.
    #[error("routing rule {rule_id} names team {team_id}, which does not exist")]
    RuleTeamNotFound {
        /// The rule.
        rule_id: RuleId,
        /// The team.
        team_id: TeamId,
    },
}

impl Refusal for TaskError {
    fn kind(&self) -> RefusalKind {
        match self {
            Self::TeamNotFound { .. } | Self::TaskNotFound { .. } | Self::RuleTeamNotFound { .. } => {
                RefusalKind::NotFound
            }
            Self::TaskExists { .. } => RefusalKind::AlreadyExists,
            Self::NotAMember { .. } => RefusalKind::Forbidden,
            Self::TeamOrganisation { .. }
            | Self::State { .. }
            | Self::ClaimedByAnother { .. }
            | Self::HandOffToSelf { .. }
            | Self::DueInThePast { .. }
            | Self::NotYetDue { .. } => RefusalKind::Precondition,
        }
    }
}
