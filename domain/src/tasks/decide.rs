//! `decide` for the tasks context: what a command does to a task, a team or a routing rule,
//! given what is known of them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::state::RuleState;
use super::{Task, TaskActor, TaskCommand, TaskError, TaskEvent, TaskId, TaskStatus, TeamConfig, UserId};
use crate::TeamId;

/// What a tasks decision knows: the task (if the command names one), every team it read, and
/// the routing rule (if the command sets one).
#[derive(Debug, Default)]
pub struct Known<'a> {
    /// The task (`None`: not found).
    pub task: Option<&'a Task>,
    /// The teams read, by id (absent: not found).
    pub teams: HashMap<&'a TeamId, &'a TeamConfig>,
    /// The routing rule's state.
    pub rule: Option<&'a RuleState>,
}

fn person(actor: &TaskActor) -> Option<&UserId> {
    match actor {
        TaskActor::Person { user_id, .. } => Some(user_id),
        TaskActor::System => None,
    }
}

impl<'a> Known<'a> {
    fn team(&self, team_id: &TeamId) -> Result<&'a TeamConfig, TaskError> {
        self.teams.get(team_id).copied().ok_or_else(|| TaskError::TeamNotFound { team_id: team_id.clone() })
    }

    fn task(&self, task_id: TaskId) -> Result<&'a Task, TaskError> {
        self.task.filter(|task| task.task_id == task_id).ok_or(TaskError::TaskNotFound { task_id })
    }

    /// The task's owning team, which `by` must be a member of to take `action`.
    fn member(&self, task: &Task, by: &TaskActor, action: &'static str) -> Result<&'a TeamConfig, TaskError> {
        let team = self.team(&task.team_id)?;
        if team.admits(&task.team_id, by) {
            Ok(team)
        } else {
            Err(TaskError::NotAMember { team_id: task.team_id.clone(), action })
        }
    }
}

fn state(task: &Task, action: &'static str) -> TaskError {
    TaskError::State { task_id: task.task_id, state: task.status.as_str(), action }
}

/// Decides a tasks command. See the module docs of [`crate::tasks`] for the rules.
pub fn decide(
    known: &Known<'_>,
    command: &TaskCommand,
    at: DateTime<Utc>,
) -> Result<Vec<TaskEvent>, TaskError> {
    match command {
        TaskCommand::ConfigureTeam { team_id, config } => {
            if let Some(existing) = known.teams.get(team_id) {
                if existing.organisation != config.organisation {
                    return Err(TaskError::TeamOrganisation {
                        team_id: team_id.clone(),
                        organisation: existing.organisation.clone(),
                    });
                }
                if *existing == config {
                    return Ok(Vec::new());
                }
            }
            Ok(vec![TaskEvent::TeamConfigured { team_id: team_id.clone(), config: config.clone(), at }])
        }
        TaskCommand::Create {
            task_id,
            nhs_number,
            title,
            kind,
            team_id,
            priority,
            due,
            links,
            note,
            raised_by,
            by,
        } => {
            if known.task.is_some() {
                return Err(TaskError::TaskExists { task_id: *task_id });
            }
            let team = known.team(team_id)?;
            if let (Some(due), Some(_)) = (due, person(by))
                && *due < at
            {
                return Err(TaskError::DueInThePast { due: *due });
            }
            Ok(vec![TaskEvent::TaskCreated {
                task_id: *task_id,
                nhs_number: *nhs_number,
                title: title.clone(),
                kind: *kind,
                team_id: team_id.clone(),
                organisation: team.organisation.clone(),
                priority: *priority,
                due: *due,
                links: links.clone(),
                note: note.clone(),
                raised_by: raised_by.clone(),
                at,
            }])
        }
        TaskCommand::Claim { task_id, by } => {
            let task = known.task(*task_id)?;
            let action = "claim it";
            known.member(task, by, action)?;
            let Some(user) = person(by) else {
                return Err(TaskError::NotAMember { team_id: task.team_id.clone(), action });
            };
            match &task.status {
                TaskStatus::Open => {
                    Ok(vec![TaskEvent::TaskClaimed { task_id: *task_id, by: user.clone(), at }])
                }
                TaskStatus::Claimed { by: holder } if holder == user => Ok(Vec::new()),
                TaskStatus::Claimed { by: holder } => {
                    Err(TaskError::ClaimedByAnother { task_id: *task_id, by: holder.to_string(), action })
                }
                TaskStatus::HandOffPending { .. } | TaskStatus::Completed | TaskStatus::Cancelled => {
                    Err(state(task, action))
                }
            }
        }
        TaskCommand::Unclaim { task_id, by } => {
            let task = known.task(*task_id)?;
            let action = "unclaim it";
            let team = known.member(task, by, action)?;
            match &task.status {
                TaskStatus::Open => Ok(Vec::new()),
                TaskStatus::Claimed { by: holder } => {
                    let lead = team.lead.as_ref();
                    match person(by) {
                        Some(user) if user == holder || Some(user) == lead => {
                            Ok(vec![TaskEvent::TaskUnclaimed { task_id: *task_id, by: user.clone(), at }])
                        }
                        Some(_) => Err(TaskError::ClaimedByAnother {
                            task_id: *task_id,
                            by: holder.to_string(),
                            action,
                        }),
                        None => Err(TaskError::NotAMember { team_id: task.team_id.clone(), action }),
                    }
                }
                TaskStatus::HandOffPending { .. } | TaskStatus::Completed | TaskStatus::Cancelled => {
                    Err(state(task, action))
                }
            }
        }
        TaskCommand::HandOff { task_id, to_team, note, by } => {
            let task = known.task(*task_id)?;
            let action = "hand it off";
            known.member(task, by, action)?;
            match &task.status {
                TaskStatus::Open | TaskStatus::Claimed { .. } => {}
                TaskStatus::HandOffPending { to_team: pending, .. } if pending == to_team => {
                    return Ok(Vec::new());
                }
                TaskStatus::HandOffPending { .. } | TaskStatus::Completed | TaskStatus::Cancelled => {
                    return Err(state(task, action));
                }
            }
            if *to_team == task.team_id {
                return Err(TaskError::HandOffToSelf { task_id: *task_id, team_id: to_team.clone() });
            }
            let receiving = known.team(to_team)?;
            Ok(vec![TaskEvent::TaskHandOffOffered {
                task_id: *task_id,
                from_team: task.team_id.clone(),
                from_organisation: task.organisation.clone(),
                to_team: to_team.clone(),
                to_organisation: receiving.organisation.clone(),
                note: note.clone(),
                by: person(by).cloned(),
                at,
            }])
        }
        TaskCommand::AcceptHandOff { task_id, by } => {
            let task = known.task(*task_id)?;
            let action = "accept the hand-off";
            let TaskStatus::HandOffPending { to_team, to_organisation, .. } = &task.status else {
                return Err(state(task, action));
            };
            let receiving = known.team(to_team)?;
            let user = match person(by) {
                Some(user) if receiving.admits(to_team, by) => user,
                _ => return Err(TaskError::NotAMember { team_id: to_team.clone(), action }),
            };
            Ok(vec![TaskEvent::TaskHandOffAccepted {
                task_id: *task_id,
                from_team: task.team_id.clone(),
                team_id: to_team.clone(),
                organisation: to_organisation.clone(),
                by: user.clone(),
                at,
            }])
        }
        TaskCommand::Comment { task_id, text, by } => {
            let task = known.task(*task_id)?;
            let action = "comment on it";
            let receiving = match &task.status {
                TaskStatus::HandOffPending { to_team, .. } => {
                    known.team(to_team).ok().filter(|team| team.admits(to_team, by)).is_some()
                }
                _ => false,
            };
            if !receiving {
                known.member(task, by, action)?;
            }
            if task.status.is_closed() {
                return Err(state(task, action));
            }
            Ok(vec![TaskEvent::TaskCommented {
                task_id: *task_id,
                text: text.clone(),
                by: person(by).cloned(),
                at,
            }])
        }
        TaskCommand::Complete { task_id, outcome, by } => {
            let task = known.task(*task_id)?;
            let action = "complete it";
            known.member(task, by, action)?;
            match &task.status {
                TaskStatus::Open | TaskStatus::Claimed { .. } => Ok(vec![TaskEvent::TaskCompleted {
                    task_id: *task_id,
                    outcome: outcome.clone(),
                    by: person(by).cloned(),
                    at,
                }]),
                // careflow completes what a workflow sees done (a bed cleaned), even while the task
                // is offered to another team; a task finished already is left as it is.
                TaskStatus::HandOffPending { .. } if person(by).is_none() => {
                    Ok(vec![TaskEvent::TaskCompleted {
                        task_id: *task_id,
                        outcome: outcome.clone(),
                        by: None,
                        at,
                    }])
                }
                TaskStatus::Completed | TaskStatus::Cancelled if person(by).is_none() => Ok(Vec::new()),
                TaskStatus::HandOffPending { .. } | TaskStatus::Completed | TaskStatus::Cancelled => {
                    Err(state(task, action))
                }
            }
        }
        TaskCommand::Cancel { task_id, reason, by } => {
            let task = known.task(*task_id)?;
            let action = "cancel it";
            known.member(task, by, action)?;
            match &task.status {
                TaskStatus::Open | TaskStatus::Claimed { .. } | TaskStatus::HandOffPending { .. } => {
                    Ok(vec![TaskEvent::TaskCancelled {
                        task_id: *task_id,
                        reason: reason.clone(),
                        by: person(by).cloned(),
                        at,
                    }])
                }
                // A workflow cancels what no longer applies: finished already is fine.
                TaskStatus::Completed | TaskStatus::Cancelled if person(by).is_none() => Ok(Vec::new()),
                TaskStatus::Completed | TaskStatus::Cancelled => Err(state(task, action)),
            }
        }
        TaskCommand::MarkOverdue { task_id, due } => {
            let task = known.task(*task_id)?;
            if task.status.is_closed() || task.overdue || task.due != Some(*due) {
                return Ok(Vec::new());
            }
            if at < *due {
                return Err(TaskError::NotYetDue { task_id: *task_id, due: *due });
            }
            let lead = known.teams.get(&task.team_id).and_then(|team| team.lead.clone());
            Ok(vec![
                TaskEvent::TaskOverdue { task_id: *task_id, due: *due, at },
                TaskEvent::TaskEscalated { task_id: *task_id, team_id: task.team_id.clone(), lead, at },
            ])
        }
        TaskCommand::SetRoutingRule { rule_id, rule } => {
            if !known.teams.contains_key(&rule.team_id) {
                return Err(TaskError::RuleTeamNotFound {
                    rule_id: rule_id.clone(),
                    team_id: rule.team_id.clone(),
                });
            }
            let current = known.rule.cloned().unwrap_or_default();
            if current.rule.as_ref() == Some(rule) {
                return Ok(Vec::new());
            }
            Ok(vec![TaskEvent::RoutingRuleSet {
                rule_id: rule_id.clone(),
                version: current.version + 1,
                rule: rule.clone(),
                at,
            }])
        }
    }
}
