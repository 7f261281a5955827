//! `careflow.flags.v1.FlagService`: raise, review and resolve flags. Each request parses into
//! a [`FlagCommand`] (every bad field named); the flag's source is the caller, from the token.

use careflow_auth::policy::Action;
use careflow_domain::beds::{Label, Note};
use careflow_domain::flags::{
    FlagCommand, FlagId, FlagKind, FlagRule, FlagSource, Flags, FrailtyScore, Severity,
};
use careflow_domain::{NhsNumber, OdsCode, QuestionId, RuleId};
use careflow_proto::flags::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::grpc::{CommandRequest, Fields, date, optional, rpc};
use crate::handler::{CommandHandler, Outcome};
use crate::{CommandContext, fields};

/// The gRPC adapter of the flags context.
#[derive(Clone)]
pub struct FlagGrpc {
    handler: CommandHandler<Flags>,
}

impl FlagGrpc {
    /// An adapter over `handler`.
    pub fn new(handler: CommandHandler<Flags>) -> Self {
        Self { handler }
    }
}

const UPDATE: Action = Action::UpdateFlags;

fn kind(input: i32) -> Result<FlagKind, String> {
    use pb::FlagKind as K;
    match K::try_from(input) {
        Ok(K::EndOfLifeCarePlan) => Ok(FlagKind::EndOfLifeCarePlan),
        Ok(K::Frailty) => Ok(FlagKind::Frailty),
        Ok(K::LearningDisability) => Ok(FlagKind::LearningDisability),
        Ok(K::Safeguarding) => Ok(FlagKind::Safeguarding),
        Ok(K::FallsRisk) => Ok(FlagKind::FallsRisk),
        Ok(K::InfectionControl) => Ok(FlagKind::InfectionControl),
        Ok(K::Unspecified) | Err(_) => Err("required: one of the FlagKind values".into()),
    }
}

fn severity(input: i32) -> Result<Severity, String> {
    use pb::Severity as S;
    match S::try_from(input) {
        Ok(S::Low) => Ok(Severity::Low),
        Ok(S::Medium) => Ok(Severity::Medium),
        Ok(S::High) => Ok(Severity::High),
        Ok(S::Unspecified) | Err(_) => Err("required: one of the Severity values".into()),
    }
}

/// The frailty score a flag of kind `kind` (if it parsed) carries: required for frailty (6–9),
/// absent (0) for every other kind.
fn frailty_score(score: u32, kind: Option<FlagKind>) -> Result<Option<FrailtyScore>, String> {
    match (kind, score) {
        (Some(FlagKind::Frailty), 0) => {
            Err("required for a frailty flag: the Clinical Frailty Scale score, 6 to 9".into())
        }
        (Some(FlagKind::Frailty) | None, score) => {
            let score = u8::try_from(score).unwrap_or(u8::MAX);
            FrailtyScore::new(score).map(Some)
        }
        (Some(_), 0) => Ok(None),
        (Some(kind), _) => Err(format!("only a frailty flag has a frailty score, not {kind}")),
    }
}

fn flag_id(input: &str) -> Result<FlagId, String> {
    Uuid::parse_str(input.trim()).map(FlagId).map_err(|_| "must be a flag id (UUID)".to_owned())
}

/// The id of the flag a raise creates: derived from the command id, so a retry names the same
/// flag.
fn raised_flag(context: &CommandContext) -> FlagId {
    FlagId(context.derived_id("flag"))
}

fn ack(outcome: Outcome, nhs_number: &str, flag_id: String) -> Option<pb::CommandAck> {
    Some(pb::CommandAck { position: outcome.position, nhs_number: nhs_number.to_owned(), flag_id })
}

fn nhs_of(raw: &str) -> String {
    NhsNumber::parse(raw).map(|n| n.to_string()).unwrap_or_default()
}

macro_rules! flags_request {
    ($($message:ident => |$r:ident, $f:ident, $context:tt| $body:block)+) => {$(
        impl CommandRequest for pb::$message {
            type Decider = Flags;
            fn command_id(&self) -> &str {
                &self.command_id
            }
            fn parse(self, $f: &mut Fields, $context: &CommandContext) -> Option<FlagCommand> {
                let $r = self;
                $body
            }
        }
    )+};
}

flags_request! {
    RaiseFlagRequest => |r, f, context| {
        let parsed_kind = kind(r.kind).ok();
        let (nhs_number, kind, frailty_score, severity, reason, review_on, organisation) = fields!(f,
            nhs_number: "nhs_number" => NhsNumber::parse(&r.nhs_number),
            kind: "kind" => kind(r.kind),
            frailty_score: "frailty_score" => frailty_score(r.frailty_score, parsed_kind),
            severity: "severity" => severity(r.severity),
            reason: "reason" => Note::parse(&r.reason),
            review_on: "review_on" => optional(&r.review_on, date),
            // The person raising it is its source, with their organisation from the token.
            organisation: "authorization" => OdsCode::parse(&context.actor.organisation),
        )?;
        let source = FlagSource::Person { user_id: context.actor.user_id.clone(), organisation };
        let flag_id = raised_flag(context);
        Some(FlagCommand::Raise { nhs_number, flag_id, kind, frailty_score, severity, reason, review_on, source })
    }
    ReviewFlagRequest => |r, f, _| {
        let (nhs_number, flag_id, review_on, note) = fields!(f,
            nhs_number: "nhs_number" => NhsNumber::parse(&r.nhs_number),
            flag_id: "flag_id" => flag_id(&r.flag_id),
            review_on: "review_on" => date(&r.review_on),
            note: "note" => optional(&r.note, Note::parse),
        )?;
        Some(FlagCommand::Review { nhs_number, flag_id, review_on, note })
    }
    ResolveFlagRequest => |r, f, _| {
        let (nhs_number, flag_id, reason) = fields!(f,
            nhs_number: "nhs_number" => NhsNumber::parse(&r.nhs_number),
            flag_id: "flag_id" => flag_id(&r.flag_id),
            reason: "reason" => Note::parse(&r.reason),
        )?;
        Some(FlagCommand::Resolve { nhs_number, flag_id, reason })
    }
    SetFlagRuleRequest => |r, f, context| {
        let (rule_id, name, question, at_least, kind, severity, severe_from, review_in_days, organisation) = fields!(f,
            rule_id: "rule_id" => RuleId::parse(&r.rule_id),
            name: "name" => Label::parse(&r.name),
            question: "question_id" => QuestionId::parse(&r.question_id),
            at_least: "at_least" => score(r.at_least),
            kind: "kind" => kind(r.kind),
            severity: "severity" => severity(r.severity),
            severe_from: "severe_from" => optional_number(r.severe_from, score),
            review_in_days: "review_in_days" => optional_number(r.review_in_days, |d| u16::try_from(d).map_err(|_| "must be at most 65535 days".to_owned())),
            organisation: "authorization" => OdsCode::parse(&context.actor.organisation),
        )?;
        let rule = FlagRule { name, question, at_least, kind, severity, severe_from, review_in_days, enabled: r.enabled };
        Some(FlagCommand::SetRule { rule_id, rule, organisation })
    }
    ApplyFlagRuleRequest => |r, f, context| {
        let (nhs_number, rule_id, score, reason) = fields!(f,
            nhs_number: "nhs_number" => NhsNumber::parse(&r.nhs_number),
            rule_id: "rule_id" => RuleId::parse(&r.rule_id),
            score: "score" => score(r.score),
            reason: "reason" => Note::parse(&r.reason),
        )?;
        Some(FlagCommand::ApplyRule { nhs_number, rule_id, score, flag_id: raised_flag(context), reason })
    }
}

/// A score as a rule reads it: 0 to 255.
fn score(input: u32) -> Result<u8, String> {
    u8::try_from(input).map_err(|_| format!("{input} is not a score (0 to 255)"))
}

/// A number where 0 means none.
fn optional_number<T>(input: u32, parse: impl FnOnce(u32) -> Result<T, String>) -> Result<Option<T>, String> {
    if input == 0 { Ok(None) } else { parse(input).map(Some) }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl pb::flag_service_server::FlagService for FlagGrpc {
    async fn raise_flag(&self, request: Request<pb::RaiseFlagRequest>) -> Reply<pb::RaiseFlagResponse> {
        let nhs = nhs_of(&request.get_ref().nhs_number);
        rpc(&self.handler, request, UPDATE, |context, o| pb::RaiseFlagResponse {
            ack: ack(o, &nhs, raised_flag(context).to_string()),
        })
        .await
    }

    async fn review_flag(&self, request: Request<pb::ReviewFlagRequest>) -> Reply<pb::ReviewFlagResponse> {
        let (nhs, flag) =
            (nhs_of(&request.get_ref().nhs_number), request.get_ref().flag_id.trim().to_owned());
        rpc(&self.handler, request, UPDATE, |_, o| pb::ReviewFlagResponse { ack: ack(o, &nhs, flag) }).await
    }

    async fn set_flag_rule(
        &self,
        request: Request<pb::SetFlagRuleRequest>,
    ) -> Reply<pb::SetFlagRuleResponse> {
        rpc(&self.handler, request, Action::ConfigureTeams, |_, o| pb::SetFlagRuleResponse {
            ack: Some(pb::CommandAck {
                position: o.position,
                nhs_number: String::new(),
                flag_id: String::new(),
            }),
        })
        .await
    }

    async fn apply_flag_rule(
        &self,
        request: Request<pb::ApplyFlagRuleRequest>,
    ) -> Reply<pb::ApplyFlagRuleResponse> {
        let nhs = nhs_of(&request.get_ref().nhs_number);
        rpc(&self.handler, request, Action::ApplyRules, |context, o| pb::ApplyFlagRuleResponse {
            ack: ack(o, &nhs, raised_flag(context).to_string()),
        })
        .await
    }

    async fn resolve_flag(&self, request: Request<pb::ResolveFlagRequest>) -> Reply<pb::ResolveFlagResponse> {
        let (nhs, flag) =
            (nhs_of(&request.get_ref().nhs_number), request.get_ref().flag_id.trim().to_owned());
        rpc(&self.handler, request, UPDATE, |_, o| pb::ResolveFlagResponse { ack: ack(o, &nhs, flag) }).await
    }
}
