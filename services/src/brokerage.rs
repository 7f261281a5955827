//! `careflow.brokerage.v1.BrokerageService`: care providers, care requests, offers, awards and
//! ranking rules. Each request parses into a [`BrokerageCommand`] (every bad field named); the
//! person acting and their organisation come from the token, so a provider always acts as
//! itself and a broker for their own council.

use std::collections::{BTreeMap, BTreeSet};

use careflow_auth::policy::Action;
use careflow_domain::OdsCode;
use careflow_domain::assessments::AssessmentId;
use careflow_domain::beds::{Label, Note};
use careflow_domain::brokerage::{
    BedType, Brokerage, BrokerageCommand, CareRequestId, CareType, Cqc, CqcRating, DEFAULT_WINDOW_HOURS,
    Need, OfferId, Party, Pence, ProviderProfile, RankingRule, Terms, WINDOW_HOURS,
};
use careflow_domain::tasks::{District, UserId};
use careflow_proto::brokerage::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::grpc::{CommandRequest, Fields, date, optional, rpc};
use crate::handler::{CommandHandler, Outcome};
use crate::{CommandContext, fields};

/// The most beds a provider may register (the largest care homes have a few hundred).
const MAX_BEDS: u32 = 2_000;
/// The most hours of care a week an agency may say it delivers.
const MAX_WEEKLY_HOURS: u32 = 200_000;

/// The most services, bed types or rates a registration may list.
const MAX_LISTED: usize = 16;

/// The gRPC adapter of the brokerage context.
#[derive(Clone)]
pub struct BrokerageGrpc {
    handler: CommandHandler<Brokerage>,
}

impl BrokerageGrpc {
    /// An adapter over `handler`.
    pub fn new(handler: CommandHandler<Brokerage>) -> Self {
        Self { handler }
    }
}

fn party(context: &CommandContext) -> Result<Party, String> {
    let user_id = UserId::parse(&context.actor.user_id).map_err(|e| format!("the token's subject {e}"))?;
    let organisation = OdsCode::parse(&context.actor.organisation)
        .map_err(|e| format!("the token's organisation is not an ODS code: {e}"))?;
    Ok(Party { user_id, organisation })
}

fn request_id(input: &str) -> Result<CareRequestId, String> {
    Uuid::parse_str(input.trim())
        .map(CareRequestId)
        .map_err(|_| "must be a care request id (UUID)".to_owned())
}

fn offer_id(input: &str) -> Result<OfferId, String> {
    Uuid::parse_str(input.trim()).map(OfferId).map_err(|_| "must be an offer id (UUID)".to_owned())
}

/// The id of the request a post creates: one per assessment, so a retry (or a second post of
/// the same person's assessment) names it again.
fn posted(assessment: &str) -> String {
    Uuid::parse_str(assessment.trim())
        .map(|a| CareRequestId::for_assessment(AssessmentId(a)).to_string())
        .unwrap_or_default()
}

/// The id of the offer an offer creates.
fn offered(context: &CommandContext) -> OfferId {
    OfferId(context.derived_id("offer"))
}

fn care_type(input: i32) -> Result<CareType, String> {
    use pb::CareType as C;
    match C::try_from(input) {
        Ok(C::HomeCare) => Ok(CareType::HomeCare),
        Ok(C::Reablement) => Ok(CareType::Reablement),
        Ok(C::Residential) => Ok(CareType::Residential),
        Ok(C::Nursing) => Ok(CareType::Nursing),
        Ok(C::Unspecified) | Err(_) => {
            Err("must be one of HOME_CARE, REABLEMENT, RESIDENTIAL, NURSING".into())
        }
    }
}

fn bed_type(input: i32) -> Result<BedType, String> {
    use pb::BedType as B;
    match B::try_from(input) {
        Ok(B::Standard) => Ok(BedType::Standard),
        Ok(B::Dementia) => Ok(BedType::Dementia),
        Ok(B::Bariatric) => Ok(BedType::Bariatric),
        Ok(B::Unspecified) | Err(_) => Err("must be one of STANDARD, DEMENTIA, BARIATRIC".into()),
    }
}

fn cqc(input: Option<&pb::Cqc>, fields: &mut Fields) -> Option<Cqc> {
    let Some(input) = input else {
        fields.violation("cqc", "required: the CQC rating and the date it was published");
        return None;
    };
    use pb::CqcRating as R;
    let rating = match R::try_from(input.rating) {
        Ok(R::Outstanding) => Ok(CqcRating::Outstanding),
        Ok(R::Good) => Ok(CqcRating::Good),
        Ok(R::RequiresImprovement) => Ok(CqcRating::RequiresImprovement),
        Ok(R::Inadequate) => Ok(CqcRating::Inadequate),
        Ok(R::Unspecified) | Err(_) => {
            Err("must be one of OUTSTANDING, GOOD, REQUIRES_IMPROVEMENT, INADEQUATE".to_owned())
        }
    };
    let (rating, rated_on) = fields!(fields,
        rating: "cqc.rating" => rating,
        rated_on: "cqc.rated_on" => date(&input.rated_on),
    )?;
    Some(Cqc { rating, rated_on })
}

/// A list of enum values, each bad one named by its place.
fn set_of<T: Ord>(
    input: &[i32],
    field: &'static str,
    parse: fn(i32) -> Result<T, String>,
    fields: &mut Fields,
) -> Option<BTreeSet<T>> {
    if input.len() > MAX_LISTED {
        fields.violation(field, format!("may list at most {MAX_LISTED}"));
        return None;
    }
    let mut ok = true;
    let mut set = BTreeSet::new();
    for (i, value) in input.iter().enumerate() {
        match parse(*value) {
            Ok(v) => {
                set.insert(v);
            }
            Err(e) => {
                fields.violation(format!("{field}[{i}]"), e);
                ok = false;
            }
        }
    }
    ok.then_some(set)
}

fn districts(input: &[String], fields: &mut Fields) -> Option<BTreeSet<District>> {
    if input.len() > ProviderProfile::MAX_DISTRICTS {
        fields.violation("districts", format!("may list at most {}", ProviderProfile::MAX_DISTRICTS));
        return None;
    }
    let mut ok = true;
    let mut set = BTreeSet::new();
    for (i, d) in input.iter().enumerate() {
        match District::parse(d) {
            Ok(d) => {
                set.insert(d);
            }
            Err(e) => {
                fields.violation(format!("districts[{i}]"), e.to_string());
                ok = false;
            }
        }
    }
    ok.then_some(set)
}

fn rates(input: &[pb::Rate], fields: &mut Fields) -> Option<BTreeMap<CareType, Pence>> {
    if input.len() > MAX_LISTED {
        fields.violation("rates", format!("may list at most {MAX_LISTED}"));
        return None;
    }
    let mut ok = true;
    let mut map = BTreeMap::new();
    for (i, rate) in input.iter().enumerate() {
        let care =
            care_type(rate.care_type).map_err(|e| fields.violation(format!("rates[{i}].care_type"), e));
        let pence = Pence::weekly(rate.weekly_pence)
            .map_err(|e| fields.violation(format!("rates[{i}].weekly_pence"), e));
        match (care, pence) {
            (Ok(care), Ok(pence)) => {
                if map.insert(care, pence).is_some() {
                    fields.violation(format!("rates[{i}].care_type"), "names a care type twice");
                    ok = false;
                }
            }
            _ => ok = false,
        }
    }
    ok.then_some(map)
}

fn need(input: Option<&pb::Need>, fields: &mut Fields) -> Option<Need> {
    let Some(input) = input else {
        fields.violation("need", "required: the care type, and the hours per week or the bed type");
        return None;
    };
    let care = fields.take("need.care_type", care_type(input.care_type))?;
    if care.bed_based() {
        if input.hours_per_week != 0 {
            fields.violation("need.hours_per_week", "only care at home is bought in hours");
            return None;
        }
        let bed = fields.take("need.bed_type", bed_type(input.bed_type))?;
        return Some(match care {
            CareType::Nursing => Need::Nursing { bed_type: bed },
            _ => Need::Residential { bed_type: bed },
        });
    }
    if input.bed_type != 0 {
        fields.violation("need.bed_type", "only residential and nursing care take a bed type");
        return None;
    }
    let hours = match u16::try_from(input.hours_per_week) {
        Ok(h) if (1..=Need::MAX_HOURS).contains(&h) => h,
        _ => {
            fields.violation("need.hours_per_week", format!("must be 1 to {} hours a week", Need::MAX_HOURS));
            return None;
        }
    };
    Some(match care {
        CareType::Reablement => Need::Reablement { hours_per_week: hours },
        _ => Need::HomeCare { hours_per_week: hours },
    })
}

fn terms(input: Option<&pb::Terms>, fields: &mut Fields) -> Option<Terms> {
    let Some(input) = input else {
        fields.violation("terms", "required: the start-by date and the weekly budget");
        return None;
    };
    let (start_by, weekly_budget) = fields!(fields,
        start_by: "terms.start_by" => date(&input.start_by),
        weekly_budget: "terms.weekly_budget_pence" => Pence::weekly(input.weekly_budget_pence),
    )?;
    Some(Terms { start_by, weekly_budget })
}

fn window_hours(input: u32) -> Result<u16, String> {
    if input == 0 {
        return Ok(DEFAULT_WINDOW_HOURS);
    }
    u16::try_from(input).ok().filter(|h| WINDOW_HOURS.contains(h)).ok_or_else(|| {
        format!("must be {}–{} hours (0: {DEFAULT_WINDOW_HOURS})", WINDOW_HOURS.start(), WINDOW_HOURS.end())
    })
}

fn rule(input: Option<&pb::RankingRule>) -> Result<RankingRule, String> {
    let input = input.ok_or("required: the weights of quality, cost, start and distance")?;
    let weight = |w: u32| u8::try_from(w).map_err(|_| "each weight must be 0–100".to_owned());
    RankingRule::new(
        weight(input.quality)?,
        weight(input.cost)?,
        weight(input.start)?,
        weight(input.distance)?,
    )
}

fn ods(input: &str) -> Result<OdsCode, String> {
    OdsCode::parse(input).map_err(|e| format!("must be an ODS code: {e}"))
}

macro_rules! brokerage_requests {
    ($($message:ident => |$r:ident, $f:ident, $context:tt| $body:block)+) => {$(
        impl CommandRequest for pb::$message {
            type Decider = Brokerage;
            fn command_id(&self) -> &str {
                &self.command_id
            }
            fn parse(self, $f: &mut Fields, $context: &CommandContext) -> Option<BrokerageCommand> {
                let $r = self;
                $body
            }
        }
    )+};
}

brokerage_requests! {
    RegisterProviderRequest => |r, f, context| {
        let services = set_of(&r.services, "services", care_type, f);
        let bed_types = set_of(&r.bed_types, "bed_types", bed_type, f);
        let districts = districts(&r.districts, f);
        let rates = rates(&r.rates, f);
        let cqc = cqc(r.cqc.as_ref(), f);
        let (name, home_district, by) = fields!(f,
            name: "name" => Label::parse(&r.name),
            home_district: "home_district" => District::parse(&r.home_district),
            by: "authorization" => party(context),
        )?;
        let profile = ProviderProfile {
            name,
            services: services?,
            bed_types: bed_types?,
            districts: districts?,
            home_district,
            registered_beds: r.registered_beds,
            weekly_hours: r.weekly_hours,
            rates: rates?,
        };
        if profile.registered_beds > MAX_BEDS {
            f.violation("registered_beds", format!("must be at most {MAX_BEDS}"));
            return None;
        }
        if profile.weekly_hours > MAX_WEEKLY_HOURS {
            f.violation("weekly_hours", format!("must be at most {MAX_WEEKLY_HOURS}"));
            return None;
        }
        if let Err((field, message)) = profile.check() {
            f.violation(field, message);
            return None;
        }
        Some(BrokerageCommand::RegisterProvider { ods: by.organisation.clone(), profile, cqc: cqc?, by })
    }
    UpdateVacanciesRequest => |r, f, context| {
        let rates = if r.keep_rates && r.rates.is_empty() { Some(None) } else { rates(&r.rates, f).map(Some) };
        let (by,) = fields!(f, by: "authorization" => party(context))?;
        Some(BrokerageCommand::UpdateVacancies {
            ods: by.organisation.clone(),
            beds_free: r.beds_free,
            hours_free: r.hours_free,
            rates: rates?,
            by,
        })
    }
    RecordCqcRatingRequest => |r, f, context| {
        let cqc = cqc(r.cqc.as_ref(), f);
        let (ods, by) = fields!(f, ods: "ods" => ods(&r.ods), by: "authorization" => party(context))?;
        Some(BrokerageCommand::RecordCqcRating { ods, cqc: cqc?, by })
    }
    SuspendProviderRequest => |r, f, context| {
        let (ods, reason, by) = fields!(f,
            ods: "ods" => ods(&r.ods),
            reason: "reason" => Note::parse(&r.reason),
            by: "authorization" => party(context),
        )?;
        Some(BrokerageCommand::SuspendProvider { ods, reason, by })
    }
    ReinstateProviderRequest => |r, f, context| {
        let (ods, by) = fields!(f, ods: "ods" => ods(&r.ods), by: "authorization" => party(context))?;
        Some(BrokerageCommand::ReinstateProvider { ods, by })
    }
    PostCareRequestRequest => |r, f, context| {
        let need = need(r.need.as_ref(), f);
        let terms = terms(r.terms.as_ref(), f);
        let (assessment_id, district, window_hours, by) = fields!(f,
            assessment_id: "assessment_id" => Uuid::parse_str(r.assessment_id.trim()).map(AssessmentId).map_err(|_| "must be an assessment id (UUID)"),
            district: "district" => District::parse(&r.district),
            window_hours: "window_hours" => window_hours(r.window_hours),
            by: "authorization" => party(context),
        )?;
        Some(BrokerageCommand::PostCareRequest {
            request_id: CareRequestId::for_assessment(assessment_id),
            assessment_id,
            need: need?,
            district,
            terms: terms?,
            window_hours,
            by,
        })
    }
    CloseOfferWindowRequest => |r, f, _| {
        let (request_id,) = fields!(f, request_id: "request_id" => request_id(&r.request_id))?;
        Some(BrokerageCommand::CloseOfferWindow { request_id, round: r.round })
    }
    WithdrawCareRequestRequest => |r, f, context| {
        let (request_id, reason, by) = fields!(f,
            request_id: "request_id" => request_id(&r.request_id),
            reason: "reason" => Note::parse(&r.reason),
            by: "authorization" => party(context),
        )?;
        Some(BrokerageCommand::WithdrawCareRequest { request_id, reason, by })
    }
    RepostCareRequestRequest => |r, f, context| {
        let terms = match r.terms.as_ref() {
            Some(t) => Some(terms(Some(t), f)?),
            None => None,
        };
        let (request_id, window_hours, by) = fields!(f,
            request_id: "request_id" => request_id(&r.request_id),
            window_hours: "window_hours" => window_hours(r.window_hours),
            by: "authorization" => party(context),
        )?;
        Some(BrokerageCommand::RepostCareRequest { request_id, terms, window_hours, by })
    }
    CancelCareRequestRequest => |r, f, context| {
        let (request_id, reason, by) = fields!(f,
            request_id: "request_id" => request_id(&r.request_id),
            reason: "reason" => Note::parse(&r.reason),
            by: "authorization" => party(context),
        )?;
        Some(BrokerageCommand::CancelCareRequest { request_id, reason, by })
    }
    MakeOfferRequest => |r, f, context| {
        let (request_id, weekly_price, earliest_start, note, by) = fields!(f,
            request_id: "request_id" => request_id(&r.request_id),
            weekly_price: "weekly_price_pence" => Pence::weekly(r.weekly_price_pence),
            earliest_start: "earliest_start" => date(&r.earliest_start),
            note: "note" => optional(&r.note, Note::parse),
            by: "authorization" => party(context),
        )?;
        Some(BrokerageCommand::MakeOffer {
            request_id,
            offer_id: offered(context),
            provider: by.organisation.clone(),
            weekly_price,
            earliest_start,
            note,
            by,
        })
    }
    WithdrawOfferRequest => |r, f, context| {
        let (request_id, offer_id, by) = fields!(f,
            request_id: "request_id" => request_id(&r.request_id),
            offer_id: "offer_id" => offer_id(&r.offer_id),
            by: "authorization" => party(context),
        )?;
        Some(BrokerageCommand::WithdrawOffer { request_id, offer_id, by })
    }
    AcceptOfferRequest => |r, f, context| {
        let (request_id, offer_id, by) = fields!(f,
            request_id: "request_id" => request_id(&r.request_id),
            offer_id: "offer_id" => offer_id(&r.offer_id),
            by: "authorization" => party(context),
        )?;
        Some(BrokerageCommand::AcceptOffer { request_id, offer_id, by })
    }
    HandBackPlacementRequest => |r, f, context| {
        let (request_id, reason, by) = fields!(f,
            request_id: "request_id" => request_id(&r.request_id),
            reason: "reason" => Note::parse(&r.reason),
            by: "authorization" => party(context),
        )?;
        Some(BrokerageCommand::HandBackPlacement { request_id, reason, by })
    }
    SetRankingRuleRequest => |r, f, context| {
        let (rule, by) = fields!(f,
            rule: "rule" => rule(r.rule.as_ref()),
            by: "authorization" => party(context),
        )?;
        Some(BrokerageCommand::SetRankingRule { organisation: by.organisation.clone(), rule, by })
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn ack(outcome: Outcome, id: String) -> Option<pb::CommandAck> {
    Some(pb::CommandAck { position: outcome.position, id })
}

/// The service: each RPC the request's command under its action, acknowledged with the id its
/// closure gives.
macro_rules! rpcs {
    ($($method:ident($request:ident) -> $response:ident, $action:expr, |$r:ident, $context:ident| $id:expr;)+) => {
        #[tonic::async_trait]
        impl pb::brokerage_service_server::BrokerageService for BrokerageGrpc {
            $(
                async fn $method(&self, request: Request<pb::$request>) -> Reply<pb::$response> {
                    let $r = request.get_ref().clone();
                    rpc(&self.handler, request, $action, move |$context, outcome| {
                        let _ = (&$r, &$context);
                        pb::$response { ack: ack(outcome, $id) }
                    })
                    .await
                }
            )+
        }
    };
}

rpcs! {
    register_provider(RegisterProviderRequest) -> RegisterProviderResponse, Action::OfferCare,
        |r, context| context.actor.organisation.clone();
    update_vacancies(UpdateVacanciesRequest) -> UpdateVacanciesResponse, Action::OfferCare,
        |r, context| context.actor.organisation.clone();
    record_cqc_rating(RecordCqcRatingRequest) -> RecordCqcRatingResponse, Action::CommissionCare,
        |r, context| r.ods.trim().to_uppercase();
    suspend_provider(SuspendProviderRequest) -> SuspendProviderResponse, Action::CommissionCare,
        |r, context| r.ods.trim().to_uppercase();
    reinstate_provider(ReinstateProviderRequest) -> ReinstateProviderResponse, Action::CommissionCare,
        |r, context| r.ods.trim().to_uppercase();
    post_care_request(PostCareRequestRequest) -> PostCareRequestResponse, Action::BrokerCare,
        |r, context| posted(&r.assessment_id);
    close_offer_window(CloseOfferWindowRequest) -> CloseOfferWindowResponse, Action::FireTimers,
        |r, context| r.request_id.trim().to_owned();
    withdraw_care_request(WithdrawCareRequestRequest) -> WithdrawCareRequestResponse, Action::BrokerCare,
        |r, context| r.request_id.trim().to_owned();
    repost_care_request(RepostCareRequestRequest) -> RepostCareRequestResponse, Action::BrokerCare,
        |r, context| r.request_id.trim().to_owned();
    cancel_care_request(CancelCareRequestRequest) -> CancelCareRequestResponse, Action::BrokerCare,
        |r, context| r.request_id.trim().to_owned();
    make_offer(MakeOfferRequest) -> MakeOfferResponse, Action::OfferCare,
        |r, context| offered(context).to_string();
    withdraw_offer(WithdrawOfferRequest) -> WithdrawOfferResponse, Action::OfferCare,
        |r, context| r.offer_id.trim().to_owned();
    accept_offer(AcceptOfferRequest) -> AcceptOfferResponse, Action::BrokerCare,
        |r, context| r.request_id.trim().to_owned();
    hand_back_placement(HandBackPlacementRequest) -> HandBackPlacementResponse, Action::OfferCare,
        |r, context| r.request_id.trim().to_owned();
    set_ranking_rule(SetRankingRuleRequest) -> SetRankingRuleResponse, Action::CommissionCare,
        |r, context| context.actor.organisation.clone();
}
