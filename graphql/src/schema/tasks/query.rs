//! The task queries.

use super::*;

/// The task queries.
#[derive(Default)]
pub struct TasksQuery;

#[Object]
impl TasksQuery {
    /// A team's inbox: its open tasks and those offered to it, overdue first, then by priority,
    /// then the earliest due. For the team's members and its organisation's managers.
    async fn team_inbox(&self, ctx: &Context<'_>, team_id: ID) -> Result<Vec<Task>, GqlError> {
        let caller = viewer(ctx)?;
        let rows = inbox(tasks(ctx)?, caller, &team_id.0).await?;
        Ok(rows.into_iter().map(|row| Task::of(row, caller)).collect())
    }

    /// The caller's tasks: those they have claimed, and those escalated to them as a lead.
    async fn my_tasks(&self, ctx: &Context<'_>) -> Result<MyTasks, GqlError> {
        let caller = viewer(ctx)?;
        Ok(MyTasks::of(mine(tasks(ctx)?, caller).await?, caller))
    }

    /// A task with its full history; null for a task careflow does not know. For members of
    /// every team that has owned it or been offered it.
    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Option<TaskDetail>, GqlError> {
        let caller = viewer(ctx)?;
        let view = task_view(tasks(ctx)?, caller, &id.0).await?;
        let identified = policy::role_allows(caller.actor.role, Action::ViewPatients);
        Ok(view.map(|view| TaskDetail { view, identified }))
    }

    /// A ward's bed turnaround: how long its beds take from a patient's discharge to being
    /// cleaned. For anyone who may see the bed board.
    async fn ward_turnaround(&self, ctx: &Context<'_>, ward_id: ID) -> Result<WardTurnaround, GqlError> {
        let caller = authenticated(ctx)?;
        if !policy::role_allows(caller.actor.role, Action::ViewBeds) {
            return Err(ApiError::Forbidden(format!(
                "role {} may not {}",
                caller.actor.role,
                Action::ViewBeds
            ))
            .into());
        }
        let turnaround = match tasks(ctx)?.get(&turnaround_key(&ward_id.0)).await? {
            Some(TaskDoc::Turnaround(t)) => t,
            _ => Turnaround::default(),
        };
        Ok(WardTurnaround { ward_id: ward_id.0, turnaround })
    }

    /// Every team (to hand work to), with the counts of its work.
    async fn teams(&self, ctx: &Context<'_>) -> Result<Vec<Team>, GqlError> {
        viewer(ctx)?;
        let reader = tasks(ctx)?;
        let ids: Vec<String> = match reader.get(TEAMS_KEY).await? {
            Some(TaskDoc::Teams { team_ids }) => team_ids.into_iter().map(|t| team_key(&t)).collect(),
            _ => Vec::new(),
        };
        let today = Utc::now().date_naive();
        Ok(reader
            .get_many(&ids)
            .await?
            .into_iter()
            .filter_map(|doc| match doc {
                Some(TaskDoc::Team(view)) => Some(Team { view: *view, today }),
                _ => None,
            })
            .collect())
    }
}
