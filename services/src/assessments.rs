//! `careflow.assessments.v1.AssessmentService`: templates and trusted assessments. Each request
//! parses into an [`AssessmentCommand`] (every bad field named, each answer by its question);
//! the person acting — user, role, organisation — comes from the token.

use std::collections::BTreeSet;

use careflow_auth::Role;
use careflow_auth::policy::{self, Action};
use careflow_domain::assessments::{
    Answer, Answers, AssessmentCommand, AssessmentId, Assessments, Contributor, RoleName, TemplateContent,
};
use careflow_domain::beds::Note;
use careflow_domain::tasks::{TaskId, UserId};
use careflow_domain::{NhsNumber, OdsCode, QuestionId, SectionId, TemplateId};
use careflow_proto::assessments::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::grpc::{CommandRequest, Fields, date, optional, rpc};
use crate::handler::{CommandHandler, Outcome};
use crate::{CommandContext, fields};

/// The most answers one save may carry, and receivers one submission may name.
const MAX_LIST: usize = 200;
/// The largest template accepted, as JSON.
const MAX_TEMPLATE_BYTES: usize = 256 * 1024;

/// The gRPC adapter of the assessments context.
#[derive(Clone)]
pub struct AssessmentGrpc {
    handler: CommandHandler<Assessments>,
}

impl AssessmentGrpc {
    /// An adapter over `handler`.
    pub fn new(handler: CommandHandler<Assessments>) -> Self {
        Self { handler }
    }
}

/// Who is acting, from the token.
fn contributor(context: &CommandContext) -> Result<Contributor, String> {
    Ok(Contributor {
        user_id: UserId::parse(&context.actor.user_id).map_err(|e| format!("the token's subject {e}"))?,
        role: RoleName::parse(context.actor.role.as_str())?,
        organisation: OdsCode::parse(&context.actor.organisation)
            .map_err(|e| format!("the token's organisation {e}"))?,
    })
}

fn assessment_id(input: &str) -> Result<AssessmentId, String> {
    Uuid::parse_str(input.trim()).map(AssessmentId).map_err(|_| "must be an assessment id (UUID)".to_owned())
}

/// The id of the assessment a start creates: derived from the command id, so a retry names
/// the same assessment.
fn started(context: &CommandContext) -> AssessmentId {
    AssessmentId(context.derived_id("assessment"))
}

/// A template, as JSON: it must read as one, and its roles must be careflow's.
fn template(input: &str) -> Result<TemplateContent, String> {
    if input.len() > MAX_TEMPLATE_BYTES {
        return Err(format!("is larger than {MAX_TEMPLATE_BYTES} bytes"));
    }
    let content: TemplateContent =
        serde_json::from_str(input).map_err(|e| format!("is not an assessment template: {e}"))?;
    for (i, section) in content.sections.iter().enumerate() {
        for role in section.editors.iter().chain(&section.signers) {
            let Ok(parsed) = role.as_str().parse::<Role>() else {
                return Err(format!("sections[{i}] names {role}, which is not one of careflow's roles"));
            };
            // A section only roles that may not work on assessments could edit would never be done.
            if !policy::role_allows(parsed, Action::UpdateAssessments) {
                return Err(format!("sections[{i}] names {role}, which may not work on assessments"));
            }
        }
    }
    Ok(content)
}

/// One answer, as sent.
fn answer(input: &pb::Answer) -> Result<Answer, String> {
    use pb::answer::Value as V;
    match &input.value {
        Some(V::Text(text)) => Ok(Answer::Text(text.clone())),
        Some(V::Choice(value)) => {
            QuestionId::parse(value).map(Answer::Choice).map_err(|e| format!("option {e}"))
        }
        Some(V::Choices(choices)) => {
            if choices.values.len() > MAX_LIST {
                return Err(format!("names more than {MAX_LIST} options"));
            }
            choices
                .values
                .iter()
                .map(|v| QuestionId::parse(v).map_err(|e| format!("option {v:?} {e}")))
                .collect::<Result<BTreeSet<_>, _>>()
                .map(Answer::Choices)
        }
        Some(V::Number(n)) => Ok(Answer::Number(*n)),
        Some(V::Date(d)) => date(d).map(Answer::Date),
        Some(V::YesNo(b)) => Ok(Answer::YesNo(*b)),
        Some(V::Score(s)) => {
            u8::try_from(*s).map(Answer::Score).map_err(|_| format!("score {s} is out of range"))
        }
        None => Err("needs a value (text, choice, choices, number, date, yes_no or score)".into()),
    }
}

/// Every answer, each bad one recorded under `answers.<question id>`.
fn answers(input: &std::collections::HashMap<String, pb::Answer>, fields: &mut Fields) -> Option<Answers> {
    if input.len() > MAX_LIST {
        fields.violation("answers", format!("has more than {MAX_LIST} answers"));
        return None;
    }
    let mut parsed = Answers::new();
    let mut ok = true;
    for (question, value) in input {
        match (QuestionId::parse(question), answer(value)) {
            // Two keys naming one question (" cfs" and "cfs"): which would win is not defined.
            (Ok(id), Ok(_)) if parsed.contains_key(&id) => {
                ok = false;
                fields
                    .violation(format!("answers.{question}"), format!("answers question {id} a second time"));
            }
            (Ok(id), Ok(answer)) => {
                parsed.insert(id, answer);
            }
            (Err(e), _) => {
                ok = false;
                fields.violation(format!("answers.{question}"), format!("is not a question id: {e}"));
            }
            (_, Err(e)) => {
                ok = false;
                fields.violation(format!("answers.{question}"), e);
            }
        }
    }
    ok.then_some(parsed)
}

fn receivers(input: &[String]) -> Result<BTreeSet<OdsCode>, String> {
    if input.len() > MAX_LIST {
        return Err(format!("names more than {MAX_LIST} organisations"));
    }
    input.iter().map(|o| OdsCode::parse(o).map_err(|e| format!("{o:?} {e}"))).collect()
}

macro_rules! assessment_requests {
    ($($message:ident => |$r:ident, $f:ident, $context:tt| $body:block)+) => {$(
        impl CommandRequest for pb::$message {
            type Decider = Assessments;
            fn command_id(&self) -> &str {
                &self.command_id
            }
            fn parse(self, $f: &mut Fields, $context: &CommandContext) -> Option<AssessmentCommand> {
                let $r = self;
                $body
            }
        }
    )+};
}

assessment_requests! {
    PublishAssessmentTemplateRequest => |r, f, context| {
        let (template_id, content, by) = fields!(f,
            template_id: "template_id" => TemplateId::parse(&r.template_id),
            content: "content_json" => template(&r.content_json),
            by: "authorization" => contributor(context),
        )?;
        Some(AssessmentCommand::PublishTemplate { template_id, content, by })
    }
    StartAssessmentRequest => |r, f, context| {
        let (nhs_number, template_id, task_id, by) = fields!(f,
            nhs_number: "nhs_number" => NhsNumber::parse(&r.nhs_number),
            template_id: "template_id" => TemplateId::parse(&r.template_id),
            task_id: "task_id" => optional(&r.task_id, |t| Uuid::parse_str(t.trim()).map(TaskId).map_err(|_| "must be a task id (UUID)")),
            by: "authorization" => contributor(context),
        )?;
        let template_version = (r.template_version > 0).then_some(r.template_version);
        Some(AssessmentCommand::Start { assessment_id: started(context), nhs_number, template_id, template_version, task_id, by })
    }
    SaveAssessmentSectionRequest => |r, f, context| {
        let answers = answers(&r.answers, f);
        let (assessment_id, section_id, by) = fields!(f,
            assessment_id: "assessment_id" => assessment_id(&r.assessment_id),
            section_id: "section_id" => SectionId::parse(&r.section_id),
            by: "authorization" => contributor(context),
        )?;
        Some(AssessmentCommand::SaveSection { assessment_id, section_id, base_version: r.base_version, answers: answers?, by })
    }
    SignOffAssessmentSectionRequest => |r, f, context| {
        let (assessment_id, section_id, by) = fields!(f,
            assessment_id: "assessment_id" => assessment_id(&r.assessment_id),
            section_id: "section_id" => SectionId::parse(&r.section_id),
            by: "authorization" => contributor(context),
        )?;
        Some(AssessmentCommand::SignOffSection { assessment_id, section_id, version: r.version, by })
    }
    SubmitAssessmentRequest => |r, f, context| {
        let (assessment_id, to, by) = fields!(f,
            assessment_id: "assessment_id" => assessment_id(&r.assessment_id),
            to: "to" => receivers(&r.to),
            by: "authorization" => contributor(context),
        )?;
        Some(AssessmentCommand::Submit { assessment_id, to, by })
    }
    ReopenAssessmentRequest => |r, f, context| {
        let (assessment_id, reason, by) = fields!(f,
            assessment_id: "assessment_id" => assessment_id(&r.assessment_id),
            reason: "reason" => Note::parse(&r.reason),
            by: "authorization" => contributor(context),
        )?;
        Some(AssessmentCommand::Reopen { assessment_id, reason, by })
    }
    AcceptAssessmentRequest => |r, f, context| {
        let (assessment_id, by) = fields!(f,
            assessment_id: "assessment_id" => assessment_id(&r.assessment_id),
            by: "authorization" => contributor(context),
        )?;
        Some(AssessmentCommand::Accept { assessment_id, by })
    }
    ReturnAssessmentRequest => |r, f, context| {
        let (assessment_id, reasons, by) = fields!(f,
            assessment_id: "assessment_id" => assessment_id(&r.assessment_id),
            reasons: "reasons" => Note::parse(&r.reasons),
            by: "authorization" => contributor(context),
        )?;
        Some(AssessmentCommand::Return { assessment_id, reasons, by })
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn ack(outcome: Outcome, assessment_id: String) -> Option<pb::CommandAck> {
    Some(pb::CommandAck { position: outcome.position, assessment_id })
}

fn trimmed(id: &str) -> Option<String> {
    Some(id.trim().to_owned())
}

/// Every RPC: its request and response, the policy action, and the assessment it acknowledges
/// (`None`: the one a start creates; a template acknowledges none).
macro_rules! assessment_rpcs {
    ($($method:ident($request:ident) -> $response:ident, $action:expr, $id:expr;)+) => {
        #[tonic::async_trait]
        impl pb::assessment_service_server::AssessmentService for AssessmentGrpc {
            $(
                async fn $method(&self, request: Request<pb::$request>) -> Reply<pb::$response> {
                    let id_of: fn(&pb::$request) -> Option<String> = $id;
                    let id = id_of(request.get_ref());
                    rpc(&self.handler, request, $action, move |context, outcome| pb::$response {
                        ack: ack(outcome, id.unwrap_or_else(|| started(context).to_string())),
                    })
                    .await
                }
            )+
        }
    };
}

assessment_rpcs! {
    publish_assessment_template(PublishAssessmentTemplateRequest) -> PublishAssessmentTemplateResponse, Action::ConfigureTemplates, |_| Some(String::new());
    start_assessment(StartAssessmentRequest) -> StartAssessmentResponse, Action::UpdateAssessments, |_| None;
    save_assessment_section(SaveAssessmentSectionRequest) -> SaveAssessmentSectionResponse, Action::UpdateAssessments, |r| trimmed(&r.assessment_id);
    sign_off_assessment_section(SignOffAssessmentSectionRequest) -> SignOffAssessmentSectionResponse, Action::UpdateAssessments, |r| trimmed(&r.assessment_id);
    submit_assessment(SubmitAssessmentRequest) -> SubmitAssessmentResponse, Action::UpdateAssessments, |r| trimmed(&r.assessment_id);
    reopen_assessment(ReopenAssessmentRequest) -> ReopenAssessmentResponse, Action::UpdateAssessments, |r| trimmed(&r.assessment_id);
    accept_assessment(AcceptAssessmentRequest) -> AcceptAssessmentResponse, Action::ReceiveAssessments, |r| trimmed(&r.assessment_id);
    return_assessment(ReturnAssessmentRequest) -> ReturnAssessmentResponse, Action::ReceiveAssessments, |r| trimmed(&r.assessment_id);
}
