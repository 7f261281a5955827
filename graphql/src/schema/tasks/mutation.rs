//! The task, team and routing-rule mutations.

use super::*;

/// Something a task is about.
#[derive(InputObject)]
pub struct TaskLinkInput {
    /// stay, bed, ward, assessment or care_request.
    pub kind: String,
    /// Its id.
    pub id: String,
}

/// Create a task in a team's inbox.
#[derive(InputObject)]
pub struct CreateTaskInput {
    /// Idempotency key; the task's id is derived from it.
    pub command_id: Option<ID>,
    /// The patient's NHS number, if the task is about one.
    pub nhs_number: Option<String>,
    /// What to do.
    pub title: String,
    /// What kind of work.
    pub kind: TaskKind,
    /// The team whose inbox it goes to (any team: a referral).
    pub team_id: ID,
    /// How soon.
    pub priority: Priority,
    /// When it must be done by, RFC 3339; not in the past.
    pub due: Option<String>,
    /// What it is about.
    #[graphql(default)]
    pub links: Vec<TaskLinkInput>,
    /// More detail.
    pub note: Option<String>,
}

/// A command on one task.
#[derive(InputObject)]
pub struct TaskInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The task.
    pub task_id: ID,
}

/// Offer a task to another team.
#[derive(InputObject)]
pub struct HandOffTaskInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The task.
    pub task_id: ID,
    /// The receiving team, possibly of another organisation.
    pub to_team_id: ID,
    /// What the receiving team needs to know.
    pub note: Option<String>,
}

/// Comment on a task.
#[derive(InputObject)]
pub struct CommentOnTaskInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The task.
    pub task_id: ID,
    /// The comment.
    pub text: String,
}

/// Complete a task.
#[derive(InputObject)]
pub struct CompleteTaskInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The task.
    pub task_id: ID,
    /// What came of it.
    pub outcome: String,
}

/// Cancel a task.
#[derive(InputObject)]
pub struct CancelTaskInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The task.
    pub task_id: ID,
    /// Why it no longer applies.
    pub reason: String,
}

/// Create or reconfigure a team of the caller's organisation.
#[derive(InputObject)]
pub struct ConfigureTeamInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The team's id: 1–64 of letters, digits, '-', '_' and '.'.
    pub team_id: ID,
    /// Its name.
    pub name: String,
    /// What it does.
    pub kind: TeamKind,
    /// The wards it works for.
    #[graphql(default)]
    pub wards: Vec<String>,
    /// Its lead's user id.
    pub lead: Option<String>,
    /// Its members' user ids.
    #[graphql(default)]
    pub members: Vec<String>,
}

/// Set a routing rule: which team gets the tasks a workflow raises.
#[derive(InputObject)]
pub struct SetRoutingRuleInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The rule's id.
    pub rule_id: ID,
    /// What people call it.
    pub name: String,
    /// The kind of task it routes.
    pub task_kind: TaskKind,
    /// Discharge pathways 0–3 (none: any).
    #[graphql(default)]
    pub pathways: Vec<i32>,
    /// The patient's postcode districts, e.g. BD7 (none: any).
    #[graphql(default)]
    pub districts: Vec<String>,
    /// ODS codes of the organisations whose wards it applies to (none: any).
    #[graphql(default)]
    pub hospitals: Vec<String>,
    /// The team that gets the task (of the caller's organisation).
    pub team_id: ID,
    /// Precedence: the lowest rank of the matching rules wins.
    #[graphql(default = 100)]
    pub rank: i32,
    /// A disabled rule routes nothing.
    #[graphql(default = true)]
    pub enabled: bool,
}

/// What a task command returns.
pub struct TaskPayload {
    position: u64,
    task_id: String,
    visible: bool,
}

#[Object]
impl TaskPayload {
    /// Global position of the command's last event (a decimal string).
    async fn position(&self) -> String {
        self.position.to_string()
    }
    /// The task.
    async fn task_id(&self) -> ID {
        ID(self.task_id.clone())
    }
    /// Whether the task models show the command yet. It is committed either way; when false,
    /// `task` is null and `extensions.notYetVisible` names the mutation.
    async fn visible(&self) -> bool {
        self.visible
    }
    /// The task after the command; null while not `visible`, or when the caller may no longer
    /// see it (handed to another organisation's team).
    async fn task(&self, ctx: &Context<'_>) -> Result<Option<TaskDetail>, GqlError> {
        if !self.visible {
            return Ok(None);
        }
        let caller = viewer(ctx)?;
        let identified = policy::role_allows(caller.actor.role, Action::ViewPatients);
        match task_view(tasks(ctx)?, caller, &self.task_id).await {
            Ok(view) => Ok(view.map(|view| TaskDetail { view, identified })),
            Err(ApiError::Forbidden(_)) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

/// What a team or routing-rule command returns.
pub struct ConfigPayload {
    position: u64,
    id: String,
    visible: bool,
}

#[Object]
impl ConfigPayload {
    /// Global position of the command's last event (a decimal string).
    async fn position(&self) -> String {
        self.position.to_string()
    }
    /// The team or rule.
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }
    /// Whether the task models show the change yet.
    async fn visible(&self) -> bool {
        self.visible
    }
    /// The team after the command (for `configureTeam`); null otherwise or while not visible.
    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Team>, GqlError> {
        if !self.visible {
            return Ok(None);
        }
        let view = team(tasks(ctx)?, &self.id).await?;
        Ok(view.map(|view| Team { view, today: Utc::now().date_naive() }))
    }
}

/// Waits for the task models to reach the command's ack.
async fn wait(ctx: &Context<'_>, ack: Option<pb::CommandAck>) -> Result<(u64, String, bool), GqlError> {
    let ack = ack.ok_or_else(|| ApiError::internal(&"a command response without an ack"))?;
    let reader = tasks(ctx)?;
    let visible = visible(ctx, ack.position, |p, timeout| reader.wait_for(p, timeout)).await;
    Ok((ack.position, ack.id, visible))
}

macro_rules! task_command {
    ($ctx:expr, $action:expr, $method:ident, $message:expr) => {{
        let response = send!($ctx, TaskServiceClient<Channel>, $action, $method, $message);
        let (position, task_id, visible) = wait($ctx, response.ack).await?;
        Ok(TaskPayload { position, task_id, visible })
    }};
}

/// Out-of-range numbers are passed on as values the service refuses, naming the field.
fn unsigned(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// The task, team and routing-rule mutations.
#[derive(Default)]
pub struct TasksMutation;

#[Object]
impl TasksMutation {
    /// Create a task in a team's inbox (any team: a referral).
    async fn create_task(&self, ctx: &Context<'_>, input: CreateTaskInput) -> Result<TaskPayload, GqlError> {
        let links = input.links.into_iter().map(|l| pb::TaskLink { kind: l.kind, id: l.id }).collect();
        task_command!(
            ctx,
            Action::UpdateTasks,
            create_task,
            pb::CreateTaskRequest {
                command_id: command_id(input.command_id),
                nhs_number: input.nhs_number.unwrap_or_default(),
                title: input.title,
                kind: input.kind.proto(),
                team_id: input.team_id.0,
                priority: input.priority.proto(),
                due: input.due.unwrap_or_default(),
                links,
                note: input.note.unwrap_or_default(),
                rule_id: String::new(),
                rule_version: 0,
            }
        )
    }

    /// Claim a task of one's team: I am doing it.
    async fn claim_task(&self, ctx: &Context<'_>, input: TaskInput) -> Result<TaskPayload, GqlError> {
        task_command!(
            ctx,
            Action::UpdateTasks,
            claim_task,
            pb::ClaimTaskRequest { command_id: command_id(input.command_id), task_id: input.task_id.0 }
        )
    }

    /// Put a claimed task back in the team's inbox (the claimer or the team's lead).
    async fn unclaim_task(&self, ctx: &Context<'_>, input: TaskInput) -> Result<TaskPayload, GqlError> {
        task_command!(
            ctx,
            Action::UpdateTasks,
            unclaim_task,
            pb::UnclaimTaskRequest { command_id: command_id(input.command_id), task_id: input.task_id.0 }
        )
    }

    /// Offer a task to another team, possibly of another organisation.
    async fn hand_off_task(
        &self,
        ctx: &Context<'_>,
        input: HandOffTaskInput,
    ) -> Result<TaskPayload, GqlError> {
        task_command!(
            ctx,
            Action::UpdateTasks,
            hand_off_task,
            pb::HandOffTaskRequest {
                command_id: command_id(input.command_id),
                task_id: input.task_id.0,
                to_team_id: input.to_team_id.0,
                note: input.note.unwrap_or_default(),
            }
        )
    }

    /// Accept a task offered to one's team: it is the team's now.
    async fn accept_hand_off(&self, ctx: &Context<'_>, input: TaskInput) -> Result<TaskPayload, GqlError> {
        task_command!(
            ctx,
            Action::UpdateTasks,
            accept_hand_off,
            pb::AcceptHandOffRequest { command_id: command_id(input.command_id), task_id: input.task_id.0 }
        )
    }

    /// Comment on a task.
    async fn comment_on_task(
        &self,
        ctx: &Context<'_>,
        input: CommentOnTaskInput,
    ) -> Result<TaskPayload, GqlError> {
        task_command!(
            ctx,
            Action::UpdateTasks,
            comment_on_task,
            pb::CommentOnTaskRequest {
                command_id: command_id(input.command_id),
                task_id: input.task_id.0,
                text: input.text,
            }
        )
    }

    /// Complete a task with its outcome.
    async fn complete_task(
        &self,
        ctx: &Context<'_>,
        input: CompleteTaskInput,
    ) -> Result<TaskPayload, GqlError> {
        task_command!(
            ctx,
            Action::UpdateTasks,
            complete_task,
            pb::CompleteTaskRequest {
                command_id: command_id(input.command_id),
                task_id: input.task_id.0,
                outcome: input.outcome,
            }
        )
    }

    /// Cancel a task that no longer applies.
    async fn cancel_task(&self, ctx: &Context<'_>, input: CancelTaskInput) -> Result<TaskPayload, GqlError> {
        task_command!(
            ctx,
            Action::UpdateTasks,
            cancel_task,
            pb::CancelTaskRequest {
                command_id: command_id(input.command_id),
                task_id: input.task_id.0,
                reason: input.reason,
            }
        )
    }

    /// Create or reconfigure a team of the caller's organisation (admins).
    async fn configure_team(
        &self,
        ctx: &Context<'_>,
        input: ConfigureTeamInput,
    ) -> Result<ConfigPayload, GqlError> {
        let response = send!(
            ctx,
            TaskServiceClient<Channel>,
            Action::ConfigureTeams,
            configure_team,
            pb::ConfigureTeamRequest {
                command_id: command_id(input.command_id),
                team_id: input.team_id.0,
                name: input.name,
                kind: input.kind.proto(),
                wards: input.wards,
                lead: input.lead.unwrap_or_default(),
                members: input.members,
            }
        );
        let (position, id, visible) = wait(ctx, response.ack).await?;
        Ok(ConfigPayload { position, id, visible })
    }

    /// Set a routing rule for a team of the caller's organisation (admins): a new version,
    /// which every task routed from now on names.
    async fn set_routing_rule(
        &self,
        ctx: &Context<'_>,
        input: SetRoutingRuleInput,
    ) -> Result<ConfigPayload, GqlError> {
        let rank = u32::try_from(input.rank).map_err(|_| {
            let description = "must be 0 or more".to_owned();
            ApiError::BadUserInput {
                message: format!("rank: {description}"),
                violations: vec![crate::error::FieldViolation { field: "rank".into(), description }],
            }
        })?;
        let response = send!(
            ctx,
            TaskServiceClient<Channel>,
            Action::ConfigureTeams,
            set_routing_rule,
            pb::SetRoutingRuleRequest {
                command_id: command_id(input.command_id),
                rule_id: input.rule_id.0,
                name: input.name,
                task_kind: input.task_kind.proto(),
                pathways: input.pathways.into_iter().map(unsigned).collect(),
                districts: input.districts,
                hospitals: input.hospitals,
                team_id: input.team_id.0,
                rank,
                enabled: input.enabled,
            }
        );
        let (position, id, visible) = wait(ctx, response.ack).await?;
        Ok(ConfigPayload { position, id, visible })
    }
}
