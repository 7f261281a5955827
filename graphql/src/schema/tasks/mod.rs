//! The tasks context's schema: team inboxes, a person's tasks, a task with its history, and
//! the teams, read from the task models; the task, team and routing-rule commands; and live
//! `teamInbox` and `myTasks` subscriptions. Every read goes through the policy: the role must
//! allow task work, and a team's work is seen by its members (configured, or named by their
//! token) and by the admins and bed managers of its organisation.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Subscription};
use careflow_auth::policy::{self, Action, TeamAccess};
use careflow_domain::tasks as domain;
use careflow_projections::documents::{DocChange, DocumentReader};
use careflow_projections::task_board::{
    Escalation, HistoryEntry, MyTasks as MyTasksView, TEAMS_KEY, TaskDoc, TaskRow, TaskStatusView, TaskView,
    TeamView, Turnaround, inbox_key, mine_key, task_key, team_key, turnaround_key,
};
use careflow_proto::tasks::v1 as pb;
use careflow_proto::tasks::v1::task_service_client::TaskServiceClient;
use chrono::Utc;
use futures::Stream;
use futures::stream::{self, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tonic::transport::Channel;

use super::command::{command_id, send, visible};
use super::subscription::expiry;
use super::{Caller, authenticated};
use crate::error::{ApiError, GqlError};
use crate::metrics::{GatewayMetrics, SubscriptionGuard};

mod mutation;
mod query;
mod subscription;
mod types;

pub use mutation::TasksMutation;
pub use query::TasksQuery;
pub use subscription::TasksSubscription;
pub use types::Task;
use types::{MyTasks, TaskDetail, Team, TeamKind, WardTurnaround};
pub(crate) use types::{Priority, TaskKind};

/// The task models, as the gateway reads them.
pub type TaskReader = Arc<dyn DocumentReader<TaskDoc>>;

fn tasks<'a>(ctx: &Context<'a>) -> Result<&'a TaskReader, ApiError> {
    ctx.data::<TaskReader>().map_err(|e| ApiError::internal(&e.message))
}

/// The caller, whose role may see task work.
fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Caller, ApiError> {
    let caller = authenticated(ctx)?;
    if !policy::role_allows(caller.actor.role, Action::ViewTasks) {
        return Err(ApiError::Forbidden(format!("role {} may not {}", caller.actor.role, Action::ViewTasks)));
    }
    Ok(caller)
}

async fn team(reader: &TaskReader, team_id: &str) -> Result<Option<TeamView>, ApiError> {
    Ok(match reader.get(&team_key(team_id)).await? {
        Some(TaskDoc::Team(team)) => Some(*team),
        _ => None,
    })
}

/// Whether `caller` may see the work of the teams `team_ids` (any one of them suffices).
async fn may_see_work(reader: &TaskReader, caller: &Caller, team_ids: &[String]) -> Result<(), ApiError> {
    let keys: Vec<String> = team_ids.iter().map(|t| team_key(t)).collect();
    let teams: Vec<TeamView> = reader
        .get_many(&keys)
        .await?
        .into_iter()
        .filter_map(|doc| match doc {
            Some(TaskDoc::Team(team)) => Some(*team),
            _ => None,
        })
        .collect();
    let access: Vec<TeamAccess<'_>> = teams
        .iter()
        .map(|t| TeamAccess {
            team_id: &t.team_id,
            organisation: &t.organisation,
            member: t.has_member(&caller.actor.user_id),
        })
        .collect();
    policy::authorize_team(&caller.actor, Action::ViewTasks, &access)
        .map_err(|d| ApiError::Forbidden(d.to_string()))
}

/// A team's inbox, if the caller may see it (NOT_FOUND for a team careflow does not know).
async fn inbox(reader: &TaskReader, caller: &Caller, team_id: &str) -> Result<Vec<TaskRow>, ApiError> {
    let Some(team) = team(reader, team_id).await? else {
        return Err(ApiError::NotFound(format!("team {team_id} does not exist")));
    };
    may_see_work(reader, caller, std::slice::from_ref(&team.team_id)).await?;
    Ok(match reader.get(&inbox_key(team_id)).await? {
        Some(TaskDoc::Inbox { rows }) => rows,
        _ => Vec::new(),
    })
}

/// The caller's own tasks.
async fn mine(reader: &TaskReader, caller: &Caller) -> Result<MyTasksView, ApiError> {
    Ok(match reader.get(&mine_key(&caller.actor.user_id)).await? {
        Some(TaskDoc::Mine(mine)) => *mine,
        _ => MyTasksView::default(),
    })
}

/// A task, if the caller may see it: `None` for a task careflow does not know.
async fn task_view(
    reader: &TaskReader,
    caller: &Caller,
    task_id: &str,
) -> Result<Option<TaskView>, ApiError> {
    let Some(TaskDoc::Task(view)) = reader.get(&task_key(task_id)).await? else { return Ok(None) };
    let teams: Vec<String> = view.teams.iter().cloned().collect();
    may_see_work(reader, caller, &teams).await?;
    Ok(Some(*view))
}
