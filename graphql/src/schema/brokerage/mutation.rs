//! The brokerage mutations: a provider registers and keeps its vacancies, a broker posts,
//! withdraws, re-posts and cancels requests and accepts offers, a provider offers, withdraws
//! and hands a placement back, a commissioner sets the ranking rule and oversees providers.
//! The inputs mirror the service's messages, so a refused field is named as the input has it
//! (`need.hoursPerWeek`, `terms.startBy`, `rates[1].weeklyPence`). Each waits until the
//! market shows the change and reads it back as the caller may see it.

use async_graphql::{InputObject, SimpleObject};
use careflow_proto::brokerage::v1 as pb;
use careflow_proto::brokerage::v1::brokerage_service_client::BrokerageServiceClient;
use tonic::transport::Channel;

use super::types::{BedType, CareProvider, CareType, CqcRating, RankingRule};
use super::*;
use crate::schema::command::{command_id, send, visible};

/// A standard weekly rate.
#[derive(InputObject)]
pub struct RateInput {
    /// The care type.
    pub care_type: CareType,
    /// Pence a week.
    pub weekly_pence: i32,
}

/// A CQC rating and when it was published.
#[derive(InputObject)]
pub struct CqcInput {
    /// The rating.
    pub rating: CqcRating,
    /// When it was published (YYYY-MM-DD).
    pub rated_on: String,
}

/// Register the caller's organisation as a provider (or change what it offers).
#[derive(InputObject)]
pub struct RegisterProviderInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// Its name.
    pub name: String,
    /// The care types it offers.
    pub services: Vec<CareType>,
    /// The bed types it has (care homes).
    #[graphql(default)]
    pub bed_types: Vec<BedType>,
    /// The postcode districts it serves.
    pub districts: Vec<String>,
    /// Where it is.
    pub home_district: String,
    /// Its registered beds (care homes).
    #[graphql(default)]
    pub registered_beds: i32,
    /// The hours of care a week it can deliver (care at home).
    #[graphql(default)]
    pub weekly_hours: i32,
    /// Its standard weekly rates.
    #[graphql(default)]
    pub rates: Vec<RateInput>,
    /// Its CQC rating.
    pub cqc: CqcInput,
}

/// Say how many beds or hours the caller's organisation has free (and its rates).
#[derive(InputObject)]
pub struct UpdateVacanciesInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// Beds free.
    #[graphql(default)]
    pub beds_free: i32,
    /// Hours a week free.
    #[graphql(default)]
    pub hours_free: i32,
    /// The rates from now (absent: unchanged).
    pub rates: Option<Vec<RateInput>>,
}

/// What a request asks for.
#[derive(InputObject)]
pub struct NeedInput {
    /// The care type.
    pub care_type: CareType,
    /// Hours a week (home care and reablement).
    pub hours_per_week: Option<i32>,
    /// The bed type (residential and nursing care).
    pub bed_type: Option<BedType>,
}

/// When by, and the budget.
#[derive(InputObject)]
pub struct TermsInput {
    /// The date the care is needed by (YYYY-MM-DD).
    pub start_by: String,
    /// The most the council will pay a week, in pence.
    pub weekly_budget_pence: i32,
}

/// Post a care request for a person with a submitted trusted assessment.
#[derive(InputObject)]
pub struct PostCareRequestInput {
    /// Idempotency key; the request's id is derived from it.
    pub command_id: Option<ID>,
    /// The trusted assessment, submitted to the caller's council.
    pub assessment_id: ID,
    /// What is needed.
    pub need: NeedInput,
    /// The person's postcode district.
    pub district: String,
    /// When by, and the budget.
    pub terms: TermsInput,
    /// How long offers are taken, in hours (1–168; default 24).
    pub window_hours: Option<i32>,
}

/// A request and a reason (withdraw, cancel, hand back).
#[derive(InputObject)]
pub struct CareRequestReasonInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The request.
    pub request_id: ID,
    /// Why.
    pub reason: String,
}

/// Post a withdrawn or closed request again: a new round.
#[derive(InputObject)]
pub struct RepostCareRequestInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The request.
    pub request_id: ID,
    /// New terms (absent: as before).
    pub terms: Option<TermsInput>,
    /// The new window, in hours (default 24).
    pub window_hours: Option<i32>,
}

/// Offer on a request, as the caller's organisation.
#[derive(InputObject)]
pub struct MakeOfferInput {
    /// Idempotency key; the offer's id is derived from it.
    pub command_id: Option<ID>,
    /// The request.
    pub request_id: ID,
    /// The weekly price, in pence.
    pub weekly_price_pence: i32,
    /// The earliest date the care can start (YYYY-MM-DD).
    pub earliest_start: String,
    /// Anything the broker should know.
    pub note: Option<String>,
}

/// An offer on a request (withdraw, accept).
#[derive(InputObject)]
pub struct OfferInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The request.
    pub request_id: ID,
    /// The offer.
    pub offer_id: ID,
}

/// Set the caller's council's ranking rule: percent weights summing to 100.
#[derive(InputObject)]
pub struct SetRankingRuleInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// Quality (the CQC rating).
    pub quality: i32,
    /// Cost.
    pub cost: i32,
    /// Start date.
    #[graphql(default)]
    pub start: i32,
    /// Distance.
    #[graphql(default)]
    pub distance: i32,
}

/// A provider's new CQC rating.
#[derive(InputObject)]
pub struct RecordCqcRatingInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The provider's ODS code.
    pub ods: ID,
    /// The rating.
    pub cqc: CqcInput,
}

/// A provider and, suspending, why.
#[derive(InputObject)]
pub struct ProviderOversightInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The provider's ODS code.
    pub ods: ID,
    /// Why (suspending only).
    pub reason: Option<String>,
}

/// What a provider command returns.
pub struct ProviderPayload {
    position: u64,
    ods: String,
    visible: bool,
}

#[Object]
impl ProviderPayload {
    /// The position of the command's last event.
    async fn position(&self) -> u64 {
        self.position
    }
    /// The provider.
    async fn ods(&self) -> ID {
        ID(self.ods.clone())
    }
    /// Whether the market shows the change yet.
    async fn visible(&self) -> bool {
        self.visible
    }
    /// The provider as it is now (null when not yet visible).
    async fn provider(&self, ctx: &Context<'_>) -> Result<Option<CareProvider>, GqlError> {
        if !self.visible {
            return Ok(None);
        }
        let rows = providers(brokerage(ctx)?).await?;
        Ok(rows.into_iter().find(|p| p.ods == self.ods).map(CareProvider))
    }
}

/// What a request or offer command returns.
pub struct CareRequestPayload {
    position: u64,
    request_id: String,
    offer_id: Option<String>,
    visible: bool,
}

#[Object]
impl CareRequestPayload {
    /// The position of the command's last event.
    async fn position(&self) -> u64 {
        self.position
    }
    /// The request.
    async fn request_id(&self) -> ID {
        ID(self.request_id.clone())
    }
    /// The offer made, withdrawn or accepted.
    async fn offer_id(&self) -> Option<ID> {
        self.offer_id.clone().map(ID)
    }
    /// Whether the market shows the change yet.
    async fn visible(&self) -> bool {
        self.visible
    }
    /// The request as the caller may see it now (null when not yet visible, or no longer the
    /// caller's to see).
    async fn care_request(&self, ctx: &Context<'_>) -> Result<Option<CareRequest>, GqlError> {
        if !self.visible {
            return Ok(None);
        }
        let caller = authenticated(ctx)?;
        let reader = brokerage(ctx)?;
        let Some(view) = requests(reader, std::slice::from_ref(&self.request_id)).await?.pop() else {
            return Ok(None);
        };
        let own = own_row(reader, caller).await?;
        match shown(reader, caller, &view, own.as_ref()).await {
            Ok(shown) => Ok(Some(shown)),
            Err(ApiError::Forbidden(_)) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

/// What setting a rule returns.
#[derive(SimpleObject)]
pub struct RankingRulePayload {
    /// The position of the command's last event.
    pub position: u64,
    /// The council.
    pub council: ID,
    /// Whether the market shows the change yet (and re-ranked).
    pub visible: bool,
    /// The rule now.
    pub rule: RankingRule,
}

async fn wait(ctx: &Context<'_>, ack: Option<pb::CommandAck>) -> Result<(u64, String, bool), GqlError> {
    let ack = ack.ok_or_else(|| ApiError::internal(&"a command response without an ack"))?;
    let reader = brokerage(ctx)?;
    let visible = visible(ctx, ack.position, |p, timeout| reader.wait_for(p, timeout)).await;
    Ok((ack.position, ack.id, visible))
}

fn count(field: &str, value: i32) -> Result<u32, ApiError> {
    u32::try_from(value).map_err(|_| bad_input(field, "must not be negative"))
}

fn care_type(c: CareType) -> i32 {
    (match c {
        CareType::HomeCare => pb::CareType::HomeCare,
        CareType::Reablement => pb::CareType::Reablement,
        CareType::Residential => pb::CareType::Residential,
        CareType::Nursing => pb::CareType::Nursing,
    }) as i32
}

fn bed_type(b: BedType) -> i32 {
    (match b {
        BedType::Standard => pb::BedType::Standard,
        BedType::Dementia => pb::BedType::Dementia,
        BedType::Bariatric => pb::BedType::Bariatric,
    }) as i32
}

fn rates(input: Vec<RateInput>) -> Vec<pb::Rate> {
    input
        .into_iter()
        .map(|r| pb::Rate { care_type: care_type(r.care_type), weekly_pence: i64::from(r.weekly_pence) })
        .collect()
}

fn cqc(input: CqcInput) -> pb::Cqc {
    let rating = match input.rating {
        CqcRating::Outstanding => pb::CqcRating::Outstanding,
        CqcRating::Good => pb::CqcRating::Good,
        CqcRating::RequiresImprovement => pb::CqcRating::RequiresImprovement,
        CqcRating::Inadequate => pb::CqcRating::Inadequate,
    } as i32;
    pb::Cqc { rating, rated_on: input.rated_on }
}

fn terms(input: TermsInput) -> pb::Terms {
    pb::Terms { start_by: input.start_by, weekly_budget_pence: i64::from(input.weekly_budget_pence) }
}

fn window(value: Option<i32>) -> Result<u32, ApiError> {
    value.map_or(Ok(0), |h| match u32::try_from(h) {
        Ok(h) if h > 0 => Ok(h),
        _ => Err(bad_input("windowHours", "must be 1–168 hours")),
    })
}

fn request_payload(
    (position, request_id, visible): (u64, String, bool),
    offer_id: Option<String>,
) -> CareRequestPayload {
    CareRequestPayload { position, request_id, offer_id, visible }
}

/// The brokerage mutations.
#[derive(Default)]
pub struct BrokerageMutation;

#[Object]
impl BrokerageMutation {
    /// Register the caller's organisation as a care home or home-care agency (or change what it
    /// is registered to offer): services, bed types, districts served, capacity, rates, CQC
    /// rating.
    async fn register_provider(
        &self,
        ctx: &Context<'_>,
        input: RegisterProviderInput,
    ) -> Result<ProviderPayload, GqlError> {
        let message = pb::RegisterProviderRequest {
            command_id: command_id(input.command_id),
            name: input.name,
            services: input.services.into_iter().map(care_type).collect(),
            bed_types: input.bed_types.into_iter().map(bed_type).collect(),
            districts: input.districts,
            home_district: input.home_district,
            registered_beds: count("registeredBeds", input.registered_beds)?,
            weekly_hours: count("weeklyHours", input.weekly_hours)?,
            rates: rates(input.rates),
            cqc: Some(cqc(input.cqc)),
        };
        let response =
            send!(ctx, BrokerageServiceClient<Channel>, Action::OfferCare, register_provider, message);
        let (position, ods, visible) = wait(ctx, response.ack).await?;
        Ok(ProviderPayload { position, ods, visible })
    }

    /// Say how many beds or hours a week the caller's organisation has free now (and, if they
    /// change, its rates).
    async fn update_vacancies(
        &self,
        ctx: &Context<'_>,
        input: UpdateVacanciesInput,
    ) -> Result<ProviderPayload, GqlError> {
        let keep_rates = input.rates.is_none();
        let message = pb::UpdateVacanciesRequest {
            command_id: command_id(input.command_id),
            beds_free: count("bedsFree", input.beds_free)?,
            hours_free: count("hoursFree", input.hours_free)?,
            rates: rates(input.rates.unwrap_or_default()),
            keep_rates,
        };
        let response =
            send!(ctx, BrokerageServiceClient<Channel>, Action::OfferCare, update_vacancies, message);
        let (position, ods, visible) = wait(ctx, response.ack).await?;
        Ok(ProviderPayload { position, ods, visible })
    }

    /// Record a provider's new CQC rating (a commissioner).
    async fn record_cqc_rating(
        &self,
        ctx: &Context<'_>,
        input: RecordCqcRatingInput,
    ) -> Result<ProviderPayload, GqlError> {
        let message = pb::RecordCqcRatingRequest {
            command_id: command_id(input.command_id),
            ods: input.ods.0,
            cqc: Some(cqc(input.cqc)),
        };
        let response =
            send!(ctx, BrokerageServiceClient<Channel>, Action::CommissionCare, record_cqc_rating, message);
        let (position, ods, visible) = wait(ctx, response.ack).await?;
        Ok(ProviderPayload { position, ods, visible })
    }

    /// Suspend a provider (a commissioner): no new requests reach it, and it may not offer.
    async fn suspend_provider(
        &self,
        ctx: &Context<'_>,
        input: ProviderOversightInput,
    ) -> Result<ProviderPayload, GqlError> {
        let message = pb::SuspendProviderRequest {
            command_id: command_id(input.command_id),
            ods: input.ods.0,
            reason: input.reason.unwrap_or_default(),
        };
        let response =
            send!(ctx, BrokerageServiceClient<Channel>, Action::CommissionCare, suspend_provider, message);
        let (position, ods, visible) = wait(ctx, response.ack).await?;
        Ok(ProviderPayload { position, ods, visible })
    }

    /// Lift a provider's suspension (a commissioner).
    async fn reinstate_provider(
        &self,
        ctx: &Context<'_>,
        input: ProviderOversightInput,
    ) -> Result<ProviderPayload, GqlError> {
        let message =
            pb::ReinstateProviderRequest { command_id: command_id(input.command_id), ods: input.ods.0 };
        let response =
            send!(ctx, BrokerageServiceClient<Channel>, Action::CommissionCare, reinstate_provider, message);
        let (position, ods, visible) = wait(ctx, response.ack).await?;
        Ok(ProviderPayload { position, ods, visible })
    }

    /// Post a care request (a broker): it reaches every eligible provider, without saying who
    /// the person is, for the offer window (24 hours unless said).
    async fn post_care_request(
        &self,
        ctx: &Context<'_>,
        input: PostCareRequestInput,
    ) -> Result<CareRequestPayload, GqlError> {
        let need = pb::Need {
            care_type: care_type(input.need.care_type),
            hours_per_week: input
                .need
                .hours_per_week
                .map(|h| count("need.hoursPerWeek", h))
                .transpose()?
                .unwrap_or(0),
            bed_type: input.need.bed_type.map_or(0, bed_type),
        };
        let message = pb::PostCareRequestRequest {
            command_id: command_id(input.command_id),
            assessment_id: input.assessment_id.0,
            need: Some(need),
            district: input.district,
            terms: Some(terms(input.terms)),
            window_hours: window(input.window_hours)?,
        };
        let response =
            send!(ctx, BrokerageServiceClient<Channel>, Action::BrokerCare, post_care_request, message);
        Ok(request_payload(wait(ctx, response.ack).await?, None))
    }

    /// Take a request off the market for now (a broker): its live offers are declined.
    async fn withdraw_care_request(
        &self,
        ctx: &Context<'_>,
        input: CareRequestReasonInput,
    ) -> Result<CareRequestPayload, GqlError> {
        let message = pb::WithdrawCareRequestRequest {
            command_id: command_id(input.command_id),
            request_id: input.request_id.0,
            reason: input.reason,
        };
        let response =
            send!(ctx, BrokerageServiceClient<Channel>, Action::BrokerCare, withdraw_care_request, message);
        Ok(request_payload(wait(ctx, response.ack).await?, None))
    }

    /// Post a withdrawn or closed request again (a broker): a new round, with new terms if
    /// given.
    async fn repost_care_request(
        &self,
        ctx: &Context<'_>,
        input: RepostCareRequestInput,
    ) -> Result<CareRequestPayload, GqlError> {
        let message = pb::RepostCareRequestRequest {
            command_id: command_id(input.command_id),
            request_id: input.request_id.0,
            terms: input.terms.map(terms),
            window_hours: window(input.window_hours)?,
        };
        let response =
            send!(ctx, BrokerageServiceClient<Channel>, Action::BrokerCare, repost_care_request, message);
        Ok(request_payload(wait(ctx, response.ack).await?, None))
    }

    /// Cancel a request for good (a broker): its live offers are declined, a placement's bed
    /// or hours given back.
    async fn cancel_care_request(
        &self,
        ctx: &Context<'_>,
        input: CareRequestReasonInput,
    ) -> Result<CareRequestPayload, GqlError> {
        let message = pb::CancelCareRequestRequest {
            command_id: command_id(input.command_id),
            request_id: input.request_id.0,
            reason: input.reason,
        };
        let response =
            send!(ctx, BrokerageServiceClient<Channel>, Action::BrokerCare, cancel_care_request, message);
        Ok(request_payload(wait(ctx, response.ack).await?, None))
    }

    /// Offer on a request, as the caller's organisation (a care provider that may: the care
    /// type, the district, the capacity, not suspended), while its window is open. One live
    /// offer per provider per request.
    async fn make_offer(
        &self,
        ctx: &Context<'_>,
        input: MakeOfferInput,
    ) -> Result<CareRequestPayload, GqlError> {
        let request_id = input.request_id.0.clone();
        let message = pb::MakeOfferRequest {
            command_id: command_id(input.command_id),
            request_id: input.request_id.0,
            weekly_price_pence: i64::from(input.weekly_price_pence),
            earliest_start: input.earliest_start,
            note: input.note.unwrap_or_default(),
        };
        let response = send!(ctx, BrokerageServiceClient<Channel>, Action::OfferCare, make_offer, message);
        let (position, offer_id, visible) = wait(ctx, response.ack).await?;
        Ok(request_payload((position, request_id, visible), Some(offer_id)))
    }

    /// Withdraw the caller's organisation's offer.
    async fn withdraw_offer(
        &self,
        ctx: &Context<'_>,
        input: OfferInput,
    ) -> Result<CareRequestPayload, GqlError> {
        let request_id = input.request_id.0.clone();
        let message = pb::WithdrawOfferRequest {
            command_id: command_id(input.command_id),
            request_id: input.request_id.0,
            offer_id: input.offer_id.0,
        };
        let response =
            send!(ctx, BrokerageServiceClient<Channel>, Action::OfferCare, withdraw_offer, message);
        let (position, offer_id, visible) = wait(ctx, response.ack).await?;
        Ok(request_payload((position, request_id, visible), Some(offer_id)))
    }

    /// Accept an offer (a broker): the placement is agreed, every other offer declined, the
    /// provider told who the person is, and the ward given the discharge task.
    async fn accept_offer(
        &self,
        ctx: &Context<'_>,
        input: OfferInput,
    ) -> Result<CareRequestPayload, GqlError> {
        let offer_id = input.offer_id.0.clone();
        let message = pb::AcceptOfferRequest {
            command_id: command_id(input.command_id),
            request_id: input.request_id.0,
            offer_id: input.offer_id.0,
        };
        let response = send!(ctx, BrokerageServiceClient<Channel>, Action::BrokerCare, accept_offer, message);
        Ok(request_payload(wait(ctx, response.ack).await?, Some(offer_id)))
    }

    /// Hand a placement back (its provider, when it cannot honour it): the request re-opens
    /// for a new round of offers.
    async fn hand_back_placement(
        &self,
        ctx: &Context<'_>,
        input: CareRequestReasonInput,
    ) -> Result<CareRequestPayload, GqlError> {
        let message = pb::HandBackPlacementRequest {
            command_id: command_id(input.command_id),
            request_id: input.request_id.0,
            reason: input.reason,
        };
        let response =
            send!(ctx, BrokerageServiceClient<Channel>, Action::OfferCare, hand_back_placement, message);
        Ok(request_payload(wait(ctx, response.ack).await?, None))
    }

    /// Set the caller's council's ranking rule (a commissioner): the market re-ranks at once.
    async fn set_ranking_rule(
        &self,
        ctx: &Context<'_>,
        input: SetRankingRuleInput,
    ) -> Result<RankingRulePayload, GqlError> {
        let message = pb::SetRankingRuleRequest {
            command_id: command_id(input.command_id),
            rule: Some(pb::RankingRule {
                quality: count("quality", input.quality)?,
                cost: count("cost", input.cost)?,
                start: count("start", input.start)?,
                distance: count("distance", input.distance)?,
            }),
        };
        let response =
            send!(ctx, BrokerageServiceClient<Channel>, Action::CommissionCare, set_ranking_rule, message);
        let (position, council, visible) = wait(ctx, response.ack).await?;
        let rule = rule(brokerage(ctx)?, &council).await?;
        Ok(RankingRulePayload { position, council: ID(council), visible, rule: RankingRule::of(rule) })
    }
}
