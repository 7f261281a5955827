//! The tasks context as a [`Decider`]: its streams, what each command reads, and whose the
//! things it touches are.

use chrono::{DateTime, Utc};

use super::decide::Known;
use super::state::RuleState;
use super::{TaskCommand, TaskError, TaskEvent, TaskId, TaskState, TaskStatus, TeamState, decide};
use crate::decider::{Decider, Loaded, Owner};
use crate::{RuleId, TeamId};

/// A stream of the tasks context.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaskStream {
    /// `team-<id>`.
    Team(TeamId),
    /// `task-<uuid>`.
    Task(TaskId),
    /// `rule-<id>`: a routing rule.
    Rule(RuleId),
}

/// The state of a stream of the tasks context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskStreamState {
    /// A team.
    Team(TeamState),
    /// A task.
    Task(TaskState),
    /// A routing rule.
    Rule(RuleState),
}

/// The tasks context as a [`Decider`].
#[derive(Debug, Clone, Copy)]
pub struct Tasks;

fn task_of<'a>(loaded: &'a Loaded<Tasks>, command: &TaskCommand) -> Option<&'a super::Task> {
    let task_id = command.task_id()?;
    match loaded.get(&TaskStream::Task(task_id)) {
        Some(TaskStreamState::Task(state)) => state.task.as_ref(),
        _ => None,
    }
}

fn team_of<'a>(loaded: &'a Loaded<Tasks>, team_id: &TeamId) -> Option<&'a super::TeamConfig> {
    match loaded.get(&TaskStream::Team(team_id.clone())) {
        Some(TaskStreamState::Team(state)) => state.config.as_ref(),
        _ => None,
    }
}

/// The team a routing rule routes to now, if the rule exists.
fn current_rule_team(loaded: &Loaded<Tasks>, rule_id: &RuleId) -> Option<TeamId> {
    match loaded.get(&TaskStream::Rule(rule_id.clone())) {
        Some(TaskStreamState::Rule(RuleState { rule: Some(rule), .. })) => Some(rule.team_id.clone()),
        _ => None,
    }
}

impl Decider for Tasks {
    type Command = TaskCommand;
    type Event = TaskEvent;
    type Stream = TaskStream;
    type State = TaskStreamState;
    type Error = TaskError;

    const CONTEXT: &'static str = "tasks";
    const SCHEMA_VERSION: u32 = TaskEvent::SCHEMA_VERSION;
    const CATEGORIES: &'static [&'static str] = &["team", "task", "rule"];

    fn command_name(command: &TaskCommand) -> &'static str {
        match command {
            TaskCommand::ConfigureTeam { .. } => "ConfigureTeam",
            TaskCommand::Create { .. } => "CreateTask",
            TaskCommand::Claim { .. } => "ClaimTask",
            TaskCommand::Unclaim { .. } => "UnclaimTask",
            TaskCommand::HandOff { .. } => "HandOffTask",
            TaskCommand::AcceptHandOff { .. } => "AcceptHandOff",
            TaskCommand::Comment { .. } => "CommentOnTask",
            TaskCommand::Complete { .. } => "CompleteTask",
            TaskCommand::Cancel { .. } => "CancelTask",
            TaskCommand::MarkOverdue { .. } => "MarkTaskOverdue",
            TaskCommand::SetRoutingRule { .. } => "SetRoutingRule",
        }
    }

    fn stream_name(stream: &TaskStream) -> String {
        match stream {
            TaskStream::Team(id) => format!("team-{id}"),
            TaskStream::Task(id) => format!("task-{id}"),
            TaskStream::Rule(id) => format!("rule-{id}"),
        }
    }

    fn stream_of(event: &TaskEvent) -> TaskStream {
        event.stream()
    }

    fn event_type(event: &TaskEvent) -> &'static str {
        event.event_type()
    }

    fn initial(stream: &TaskStream) -> TaskStreamState {
        match stream {
            TaskStream::Team(_) => TaskStreamState::Team(TeamState::default()),
            TaskStream::Task(_) => TaskStreamState::Task(TaskState::default()),
            TaskStream::Rule(_) => TaskStreamState::Rule(RuleState::default()),
        }
    }

    fn evolve(state: &mut TaskStreamState, event: &TaskEvent) {
        match state {
            TaskStreamState::Team(team) => team.evolve(event),
            TaskStreamState::Task(task) => task.evolve(event),
            TaskStreamState::Rule(rule) => rule.evolve(event),
        }
    }

    fn streams(command: &TaskCommand, loaded: &Loaded<Self>) -> Vec<TaskStream> {
        let mut streams = Vec::new();
        match command {
            TaskCommand::ConfigureTeam { team_id, .. } => streams.push(TaskStream::Team(team_id.clone())),
            TaskCommand::SetRoutingRule { rule_id, rule } => {
                streams.push(TaskStream::Rule(rule_id.clone()));
                streams.push(TaskStream::Team(rule.team_id.clone()));
                // The team the rule routes to now: its organisation owns the rule.
                if let Some(current) = current_rule_team(loaded, rule_id) {
                    streams.push(TaskStream::Team(current));
                }
            }
            TaskCommand::Create { task_id, team_id, .. } => {
                streams.push(TaskStream::Task(*task_id));
                streams.push(TaskStream::Team(team_id.clone()));
            }
            TaskCommand::Claim { task_id, .. }
            | TaskCommand::Unclaim { task_id, .. }
            | TaskCommand::HandOff { task_id, .. }
            | TaskCommand::AcceptHandOff { task_id, .. }
            | TaskCommand::Comment { task_id, .. }
            | TaskCommand::Complete { task_id, .. }
            | TaskCommand::Cancel { task_id, .. }
            | TaskCommand::MarkOverdue { task_id, .. } => {
                streams.push(TaskStream::Task(*task_id));
                if let Some(task) = task_of(loaded, command) {
                    streams.push(TaskStream::Team(task.team_id.clone()));
                    if let TaskStatus::HandOffPending { to_team, .. } = &task.status {
                        streams.push(TaskStream::Team(to_team.clone()));
                    }
                }
                if let TaskCommand::HandOff { to_team, .. } = command {
                    streams.push(TaskStream::Team(to_team.clone()));
                }
            }
        }
        streams
    }

    /// Teams belong to their organisation; a task to its owning team's organisation (and,
    /// while a hand-off is pending, the receiving team's too, for comments and acceptance).
    /// Anyone whose role may create tasks may raise one for any team: a referral.
    fn owners(loaded: &Loaded<Self>, command: &TaskCommand) -> Vec<Owner> {
        let task = task_of(loaded, command);
        match command {
            TaskCommand::ConfigureTeam { team_id, .. } => {
                vec![
                    team_of(loaded, team_id)
                        .map_or(Owner::New, |t| Owner::Organisation(t.organisation.clone())),
                ]
            }
            // A rule belongs to the organisation of the team it routes to: changing it needs that
            // organisation, and so does pointing it at a team.
            TaskCommand::SetRoutingRule { rule_id, rule } => {
                let new = team_of(loaded, &rule.team_id)
                    .map_or(Owner::New, |t| Owner::Organisation(t.organisation.clone()));
                let current = current_rule_team(loaded, rule_id)
                    .and_then(|team| team_of(loaded, &team))
                    .map(|t| Owner::Organisation(t.organisation.clone()));
                std::iter::once(new).chain(current).collect()
            }
            TaskCommand::Create { .. } => vec![Owner::New],
            TaskCommand::AcceptHandOff { .. } => match task.map(|t| &t.status) {
                Some(TaskStatus::HandOffPending { to_organisation, .. }) => {
                    vec![Owner::Organisation(to_organisation.clone())]
                }
                _ => task.map(|t| Owner::Organisation(t.organisation.clone())).into_iter().collect(),
            },
            TaskCommand::Comment { .. } => match task {
                Some(task) => match &task.status {
                    TaskStatus::HandOffPending { to_organisation, .. } => {
                        vec![Owner::AnyOf(vec![task.organisation.clone(), to_organisation.clone()])]
                    }
                    _ => vec![Owner::Organisation(task.organisation.clone())],
                },
                None => Vec::new(),
            },
            TaskCommand::Claim { .. }
            | TaskCommand::Unclaim { .. }
            | TaskCommand::HandOff { .. }
            | TaskCommand::Complete { .. }
            | TaskCommand::Cancel { .. }
            | TaskCommand::MarkOverdue { .. } => {
                task.map(|t| Owner::Organisation(t.organisation.clone())).into_iter().collect()
            }
        }
    }

    fn decide(
        loaded: &Loaded<Self>,
        command: &TaskCommand,
        at: DateTime<Utc>,
    ) -> Result<Vec<TaskEvent>, TaskError> {
        let mut known = Known { task: task_of(loaded, command), ..Known::default() };
        let streams = Self::streams(command, loaded);
        for stream in &streams {
            match (loaded.get(stream), stream) {
                (Some(TaskStreamState::Team(TeamState { config: Some(config) })), TaskStream::Team(id)) => {
                    known.teams.insert(id, config);
                }
                (Some(TaskStreamState::Rule(rule)), TaskStream::Rule(_)) => known.rule = Some(rule),
                _ => {}
            }
        }
        decide(&known, command, at)
    }

    fn touched(_: &Loaded<Self>, events: &[TaskEvent]) -> Vec<String> {
        let mut touched: Vec<String> = Vec::new();
        for event in events {
            let id = match event.stream() {
                TaskStream::Task(id) => id.to_string(),
                TaskStream::Team(id) => id.to_string(),
                TaskStream::Rule(id) => id.to_string(),
            };
            if !touched.contains(&id) {
                touched.push(id);
            }
        }
        touched
    }
}
