//! `careflow.tasks.v1.TaskService`: teams, tasks and routing rules. Each request parses into a
//! [`TaskCommand`] (every bad field named). Who acts comes from the token: a person, with the
//! teams their token names, or careflow's own workflows and clock (role `careflow`), which act
//! for every team and alone may name the rule that raised a task or mark a task overdue.

use std::collections::BTreeSet;

use careflow_auth::Role;
use careflow_auth::policy::Action;
use careflow_domain::beds::{Label, Note, Pathway};
use careflow_domain::tasks::{
    District, Priority, RaisedBy, RoutingRule, TaskActor, TaskCommand, TaskId, TaskKind, TaskLink, Tasks,
    TeamConfig, TeamKind, UserId,
};
use careflow_domain::{BedId, NhsNumber, OdsCode, RuleId, StayId, TeamId, WardId};
use careflow_proto::tasks::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::grpc::{CommandRequest, Fields, optional, rpc, timestamp};
use crate::handler::{CommandHandler, Outcome};
use crate::{CommandContext, fields};

/// The most links, members or wards one request may carry.
const MAX_LIST: usize = 200;

/// The gRPC adapter of the tasks context.
#[derive(Clone)]
pub struct TaskGrpc {
    handler: CommandHandler<Tasks>,
}

impl TaskGrpc {
    /// An adapter over `handler`.
    pub fn new(handler: CommandHandler<Tasks>) -> Self {
        Self { handler }
    }
}

/// Who is acting, from the token: careflow's role acts as the system.
fn actor(context: &CommandContext) -> Result<TaskActor, String> {
    if context.actor.role == Role::Careflow {
        return Ok(TaskActor::System);
    }
    let user_id = UserId::parse(&context.actor.user_id).map_err(|e| format!("the token's subject {e}"))?;
    // A team name in a token that is not a team id cannot name a team: it is ignored.
    let teams = context.actor.teams.iter().filter_map(|t| TeamId::parse(t).ok()).collect();
    Ok(TaskActor::Person { user_id, teams })
}

fn task_id(input: &str) -> Result<TaskId, String> {
    Uuid::parse_str(input.trim()).map(TaskId).map_err(|_| "must be a task id (UUID)".to_owned())
}

fn team_kind(input: i32) -> Result<TeamKind, String> {
    use pb::TeamKind as K;
    match K::try_from(input) {
        Ok(K::Ward) => Ok(TeamKind::Ward),
        Ok(K::SocialCare) => Ok(TeamKind::SocialCare),
        Ok(K::Housekeeping) => Ok(TeamKind::Housekeeping),
        Ok(K::Therapy) => Ok(TeamKind::Therapy),
        Ok(K::CommunityNursing) => Ok(TeamKind::CommunityNursing),
        Ok(K::VirtualWard) => Ok(TeamKind::VirtualWard),
        Ok(K::Brokerage) => Ok(TeamKind::Brokerage),
        Ok(K::CareProvider) => Ok(TeamKind::CareProvider),
        Ok(K::Other) => Ok(TeamKind::Other),
        Ok(K::Unspecified) | Err(_) => Err("required: one of the TeamKind values".into()),
    }
}

fn priority(input: i32) -> Result<Priority, String> {
    use pb::Priority as P;
    match P::try_from(input) {
        Ok(P::Routine) => Ok(Priority::Routine),
        Ok(P::Urgent) => Ok(Priority::Urgent),
        Ok(P::Immediate) => Ok(Priority::Immediate),
        Ok(P::Unspecified) | Err(_) => Err("required: one of the Priority values".into()),
    }
}

/// A task kind (the proto enum).
pub fn task_kind(input: i32) -> Result<TaskKind, String> {
    use pb::TaskKind as K;
    match K::try_from(input) {
        Ok(K::General) => Ok(TaskKind::General),
        Ok(K::TrustedAssessment) => Ok(TaskKind::TrustedAssessment),
        Ok(K::DischargeHome) => Ok(TaskKind::DischargeHome),
        Ok(K::BedCleaning) => Ok(TaskKind::BedCleaning),
        Ok(K::CarePlanReview) => Ok(TaskKind::CarePlanReview),
        Ok(K::News2Escalation) => Ok(TaskKind::News2Escalation),
        Ok(K::MissedReading) => Ok(TaskKind::MissedReading),
        Ok(K::DischargeToCare) => Ok(TaskKind::DischargeToCare),
        Ok(K::Unspecified) | Err(_) => Err("required: one of the TaskKind values".into()),
    }
}

/// Parses every item of a list (at most [`MAX_LIST`]), naming the first bad one by its index.
fn list<T, E: std::fmt::Display, C: FromIterator<T>>(
    items: &[String],
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<C, String> {
    if items.len() > MAX_LIST {
        return Err(format!("at most {MAX_LIST} entries"));
    }
    items.iter().enumerate().map(|(i, item)| parse(item).map_err(|e| format!("[{i}]: {e}"))).collect()
}

fn link(input: &pb::TaskLink) -> Result<TaskLink, String> {
    let uuid = |id: &str| Uuid::parse_str(id.trim()).map_err(|_| "must be a UUID".to_owned());
    let id = input.id.as_str();
    match input.kind.trim() {
        "stay" => uuid(id).map(|u| TaskLink::Stay(StayId(u))),
        "bed" => BedId::parse(id).map(TaskLink::Bed).map_err(|e| e.to_string()),
        "ward" => WardId::parse(id).map(TaskLink::Ward).map_err(|e| e.to_string()),
        "assessment" => uuid(id).map(TaskLink::Assessment),
        "care_request" => uuid(id).map(TaskLink::CareRequest),
        "vw_admission" => uuid(id).map(TaskLink::VirtualWardAdmission),
        _ => Err("kind must be one of stay, bed, ward, assessment, care_request, vw_admission".into()),
    }
}

fn links(input: &[pb::TaskLink]) -> Result<Vec<TaskLink>, String> {
    if input.len() > MAX_LIST {
        return Err(format!("at most {MAX_LIST} entries"));
    }
    input.iter().enumerate().map(|(i, l)| link(l).map_err(|e| format!("[{i}]: {e}"))).collect()
}

/// Who raised a new task: the person sending it, or (careflow only) the rule it names.
fn raised_by(context: &CommandContext, rule_id: &str, version: u32) -> Result<RaisedBy, String> {
    match (context.actor.role == Role::Careflow, rule_id.trim().is_empty()) {
        (true, false) => {
            let rule = RuleId::parse(rule_id).map_err(|e| e.to_string())?;
            if version == 0 {
                return Err("rule_version: required with rule_id".into());
            }
            Ok(RaisedBy::Rule { rule, version })
        }
        (true, true) => Err("required: careflow's workflows name the rule that raised the task".into()),
        (false, false) => {
            Err("only careflow's workflows name a rule; a person's task is raised by them".into())
        }
        (false, true) => {
            let user_id =
                UserId::parse(&context.actor.user_id).map_err(|e| format!("the token's subject {e}"))?;
            let organisation = OdsCode::parse(&context.actor.organisation)
                .map_err(|e| format!("the token's organisation {e}"))?;
            Ok(RaisedBy::Person { user_id, organisation })
        }
    }
}

/// The id of the task a creation makes: derived from the command id, so a retry names the
/// same task.
pub fn created_task(context: &CommandContext) -> TaskId {
    TaskId(context.derived_id("task"))
}

fn pathway(input: &u32) -> Result<Pathway, String> {
    u8::try_from(*input)
        .ok()
        .and_then(|p| Pathway::try_from(p).ok())
        .ok_or_else(|| "must be 0, 1, 2 or 3".to_owned())
}

macro_rules! tasks_request {
    ($($message:ident => |$r:ident, $f:ident, $context:tt| $body:block)+) => {$(
        impl CommandRequest for pb::$message {
            type Decider = Tasks;
            fn command_id(&self) -> &str {
                &self.command_id
            }
            fn parse(self, $f: &mut Fields, $context: &CommandContext) -> Option<TaskCommand> {
                let $r = self;
                $body
            }
        }
    )+};
}

tasks_request! {
    ConfigureTeamRequest => |r, f, context| {
        let (team_id, name, kind, wards, lead, members, organisation) = fields!(f,
            team_id: "team_id" => TeamId::parse(&r.team_id),
            name: "name" => Label::parse(&r.name),
            kind: "kind" => team_kind(r.kind),
            wards: "wards" => list::<_, _, BTreeSet<WardId>>(&r.wards, WardId::parse),
            lead: "lead" => optional(&r.lead, UserId::parse),
            members: "members" => list::<_, _, BTreeSet<UserId>>(&r.members, UserId::parse),
            // A team belongs to the organisation of the admin who configures it.
            organisation: "authorization" => OdsCode::parse(&context.actor.organisation),
        )?;
        Some(TaskCommand::ConfigureTeam { team_id, config: TeamConfig { organisation, name, kind, wards, lead, members } })
    }
    CreateTaskRequest => |r, f, context| {
        let (nhs_number, title, kind, team_id, priority, due, links, note, raised_by, by) = fields!(f,
            nhs_number: "nhs_number" => optional(&r.nhs_number, NhsNumber::parse),
            title: "title" => Label::parse(&r.title),
            kind: "kind" => task_kind(r.kind),
            team_id: "team_id" => TeamId::parse(&r.team_id),
            priority: "priority" => priority(r.priority),
            due: "due" => optional(&r.due, timestamp),
            links: "links" => links(&r.links),
            note: "note" => optional(&r.note, Note::parse),
            raised_by: "rule_id" => raised_by(context, &r.rule_id, r.rule_version),
            by: "authorization" => actor(context),
        )?;
        let task_id = created_task(context);
        Some(TaskCommand::Create { task_id, nhs_number, title, kind, team_id, priority, due, links, note, raised_by, by })
    }
    ClaimTaskRequest => |r, f, context| {
        let (task_id, by) = fields!(f, task_id: "task_id" => task_id(&r.task_id), by: "authorization" => actor(context))?;
        Some(TaskCommand::Claim { task_id, by })
    }
    UnclaimTaskRequest => |r, f, context| {
        let (task_id, by) = fields!(f, task_id: "task_id" => task_id(&r.task_id), by: "authorization" => actor(context))?;
        Some(TaskCommand::Unclaim { task_id, by })
    }
    HandOffTaskRequest => |r, f, context| {
        let (task_id, to_team, note, by) = fields!(f,
            task_id: "task_id" => task_id(&r.task_id),
            to_team: "to_team_id" => TeamId::parse(&r.to_team_id),
            note: "note" => optional(&r.note, Note::parse),
            by: "authorization" => actor(context),
        )?;
        Some(TaskCommand::HandOff { task_id, to_team, note, by })
    }
    AcceptHandOffRequest => |r, f, context| {
        let (task_id, by) = fields!(f, task_id: "task_id" => task_id(&r.task_id), by: "authorization" => actor(context))?;
        Some(TaskCommand::AcceptHandOff { task_id, by })
    }
    CommentOnTaskRequest => |r, f, context| {
        let (task_id, text, by) = fields!(f,
            task_id: "task_id" => task_id(&r.task_id),
            text: "text" => Note::parse(&r.text),
            by: "authorization" => actor(context),
        )?;
        Some(TaskCommand::Comment { task_id, text, by })
    }
    CompleteTaskRequest => |r, f, context| {
        let (task_id, outcome, by) = fields!(f,
            task_id: "task_id" => task_id(&r.task_id),
            outcome: "outcome" => Note::parse(&r.outcome),
            by: "authorization" => actor(context),
        )?;
        Some(TaskCommand::Complete { task_id, outcome, by })
    }
    CancelTaskRequest => |r, f, context| {
        let (task_id, reason, by) = fields!(f,
            task_id: "task_id" => task_id(&r.task_id),
            reason: "reason" => Note::parse(&r.reason),
            by: "authorization" => actor(context),
        )?;
        Some(TaskCommand::Cancel { task_id, reason, by })
    }
    MarkTaskOverdueRequest => |r, f, _| {
        let (task_id, due) = fields!(f, task_id: "task_id" => task_id(&r.task_id), due: "due" => timestamp(&r.due))?;
        Some(TaskCommand::MarkOverdue { task_id, due })
    }
    SetRoutingRuleRequest => |r, f, _| {
        let (rule_id, name, task_kind, pathways, districts, hospitals, team_id) = fields!(f,
            rule_id: "rule_id" => RuleId::parse(&r.rule_id),
            name: "name" => Label::parse(&r.name),
            task_kind: "task_kind" => task_kind(r.task_kind),
            pathways: "pathways" => r.pathways.iter().map(pathway).collect::<Result<BTreeSet<_>, _>>(),
            districts: "districts" => list::<_, _, BTreeSet<District>>(&r.districts, District::parse),
            hospitals: "hospitals" => list::<_, _, BTreeSet<OdsCode>>(&r.hospitals, OdsCode::parse),
            team_id: "team_id" => TeamId::parse(&r.team_id),
        )?;
        let rule = RoutingRule { name, task_kind, pathways, districts, hospitals, team_id, rank: r.rank, enabled: r.enabled };
        Some(TaskCommand::SetRoutingRule { rule_id, rule })
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn ack(outcome: Outcome, id: String) -> Option<pb::CommandAck> {
    Some(pb::CommandAck { position: outcome.position, id })
}

/// Every RPC: its request and response, the policy action, and the id it acknowledges (`None`:
/// the task a creation makes).
macro_rules! task_rpcs {
    ($($method:ident($request:ident) -> $response:ident, $action:expr, $id:expr;)+) => {
        #[tonic::async_trait]
        impl pb::task_service_server::TaskService for TaskGrpc {
            $(
                async fn $method(&self, request: Request<pb::$request>) -> Reply<pb::$response> {
                    let id_of: fn(&pb::$request) -> Option<String> = $id;
                    let id = id_of(request.get_ref());
                    rpc(&self.handler, request, $action, move |context, outcome| pb::$response {
                        ack: ack(outcome, id.unwrap_or_else(|| created_task(context).to_string())),
                    })
                    .await
                }
            )+
        }
    };
}

fn trimmed(id: &str) -> Option<String> {
    Some(id.trim().to_owned())
}

task_rpcs! {
    configure_team(ConfigureTeamRequest) -> ConfigureTeamResponse, Action::ConfigureTeams, |r| trimmed(&r.team_id);
    create_task(CreateTaskRequest) -> CreateTaskResponse, Action::UpdateTasks, |_| None;
    claim_task(ClaimTaskRequest) -> ClaimTaskResponse, Action::UpdateTasks, |r| trimmed(&r.task_id);
    unclaim_task(UnclaimTaskRequest) -> UnclaimTaskResponse, Action::UpdateTasks, |r| trimmed(&r.task_id);
    hand_off_task(HandOffTaskRequest) -> HandOffTaskResponse, Action::UpdateTasks, |r| trimmed(&r.task_id);
    accept_hand_off(AcceptHandOffRequest) -> AcceptHandOffResponse, Action::UpdateTasks, |r| trimmed(&r.task_id);
    comment_on_task(CommentOnTaskRequest) -> CommentOnTaskResponse, Action::UpdateTasks, |r| trimmed(&r.task_id);
    complete_task(CompleteTaskRequest) -> CompleteTaskResponse, Action::UpdateTasks, |r| trimmed(&r.task_id);
    cancel_task(CancelTaskRequest) -> CancelTaskResponse, Action::UpdateTasks, |r| trimmed(&r.task_id);
    mark_task_overdue(MarkTaskOverdueRequest) -> MarkTaskOverdueResponse, Action::FireTimers, |r| trimmed(&r.task_id);
    set_routing_rule(SetRoutingRuleRequest) -> SetRoutingRuleResponse, Action::ConfigureTeams, |r| trimmed(&r.rule_id);
}
