//! The brokerage's GraphQL types, over the read models' documents. A [`CareRequest`] is built
//! for one viewer with what the policy lets them see ([`Disclosure`]): the person's identity
//! only when identified, the other providers' offers and the budget only to the council.

use async_graphql::{ComplexObject, Context, Enum, ID, Object, SimpleObject};
use careflow_auth::policy::Disclosure;
use careflow_domain::brokerage::{self as domain, RankedOffer, RankingRule as DomainRule, ranking};
use careflow_domain::tasks::District;
use careflow_projections::brokerage::{OfferView, ProviderRow, RequestView, VacancyCell};
use careflow_projections::patient_summary::patient_key;
use chrono::{DateTime, Utc};

use crate::error::{ApiError, GqlError};
use crate::schema::assessments::{Assessment, placed_assessment};
use crate::schema::patients::{patients, summary_of};

/// The kinds of care a council buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::CareType")]
pub enum CareType {
    /// Care at home, in hours a week.
    HomeCare,
    /// Reablement at home (pathway 1), in hours a week.
    Reablement,
    /// A residential care home bed.
    Residential,
    /// A nursing home bed.
    Nursing,
}

/// What kind of bed a placement needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::BedType")]
pub enum BedType {
    /// A standard bed.
    Standard,
    /// A bed in a dementia unit.
    Dementia,
    /// A bariatric bed.
    Bariatric,
}

/// A CQC rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::CqcRating")]
pub enum CqcRating {
    /// Outstanding.
    Outstanding,
    /// Good.
    Good,
    /// Requires improvement.
    RequiresImprovement,
    /// Inadequate.
    Inadequate,
}

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "careflow_projections::brokerage::RequestState")]
pub enum RequestState {
    /// Open for offers until its window closes.
    Open,
    /// The window closed: the broker decides.
    WindowClosed,
    /// Taken off the market for now.
    Withdrawn,
    /// An offer was accepted.
    Placed,
    /// Cancelled.
    Cancelled,
}

/// Where an offer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "careflow_projections::brokerage::OfferState")]
pub enum OfferState {
    /// Live: the broker may accept it.
    Live,
    /// Withdrawn by its provider.
    Withdrawn,
    /// Declined.
    Declined,
    /// Accepted: the placement.
    Accepted,
    /// Accepted, then handed back.
    HandedBack,
}

/// Why an offer was declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::DeclineReason")]
pub enum DeclineReason {
    /// Another offer was accepted.
    AnotherOfferAccepted,
    /// The request was withdrawn.
    RequestWithdrawn,
    /// The request was posted again.
    RequestReposted,
    /// The request was cancelled.
    RequestCancelled,
}

/// What an offer is scored on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::Criterion")]
pub enum Criterion {
    /// The provider's CQC rating.
    Quality,
    /// The weekly price against the budget and the other offers.
    Cost,
    /// The earliest start against the date needed.
    Start,
    /// The provider's district against the person's.
    Distance,
}

/// A council's ranking rule: percent weights, summing to 100.
#[derive(SimpleObject, Clone, Copy)]
pub struct RankingRule {
    /// Quality (the CQC rating).
    pub quality: i32,
    /// Cost.
    pub cost: i32,
    /// Start date.
    pub start: i32,
    /// Distance.
    pub distance: i32,
    /// Whether it is the default (60% quality, 40% cost): the council set none.
    pub is_default: bool,
}

impl RankingRule {
    /// The rule as shown.
    pub fn of(rule: Option<DomainRule>) -> Self {
        let r = rule.unwrap_or_default();
        Self {
            quality: r.quality.into(),
            cost: r.cost.into(),
            start: r.start.into(),
            distance: r.distance.into(),
            is_default: rule.is_none(),
        }
    }
}

/// A provider's standard weekly rate for a care type.
#[derive(SimpleObject)]
pub struct Rate {
    /// The care type.
    pub care_type: CareType,
    /// Pence a week.
    pub weekly_pence: u64,
}

/// A care home or home-care agency.
pub struct CareProvider(pub ProviderRow);

#[Object]
impl CareProvider {
    /// Its ODS code.
    async fn ods(&self) -> ID {
        ID(self.0.ods.clone())
    }
    /// Its name.
    async fn name(&self) -> &str {
        self.0.profile.name.as_str()
    }
    /// The care types it offers.
    async fn services(&self) -> Vec<CareType> {
        self.0.profile.services.iter().map(|c| (*c).into()).collect()
    }
    /// The bed types it has.
    async fn bed_types(&self) -> Vec<BedType> {
        self.0.profile.bed_types.iter().map(|b| (*b).into()).collect()
    }
    /// The postcode districts it serves.
    async fn districts(&self) -> Vec<&str> {
        self.0.profile.districts.iter().map(District::as_str).collect()
    }
    /// Where it is.
    async fn home_district(&self) -> &str {
        self.0.profile.home_district.as_str()
    }
    /// Its registered beds.
    async fn registered_beds(&self) -> u32 {
        self.0.profile.registered_beds
    }
    /// The hours of care a week it can deliver.
    async fn weekly_hours(&self) -> u32 {
        self.0.profile.weekly_hours
    }
    /// Beds free now.
    async fn beds_free(&self) -> u32 {
        self.0.beds_free
    }
    /// Hours a week free now.
    async fn hours_free(&self) -> u32 {
        self.0.hours_free
    }
    /// Its standard weekly rates.
    async fn rates(&self) -> Vec<Rate> {
        self.0.profile.rates.iter().map(|(c, p)| Rate { care_type: (*c).into(), weekly_pence: p.0 }).collect()
    }
    /// Its CQC rating.
    async fn cqc_rating(&self) -> CqcRating {
        self.0.cqc.rating.into()
    }
    /// When the rating was published (YYYY-MM-DD).
    async fn cqc_rated_on(&self) -> String {
        self.0.cqc.rated_on.to_string()
    }
    /// Why it is suspended, if it is: no new requests reach it.
    async fn suspended(&self) -> Option<&str> {
        self.0.suspended.as_deref()
    }
}

/// One cell of the vacancy map: a district and a care type.
#[derive(SimpleObject)]
pub struct Vacancies {
    /// The postcode district.
    pub district: String,
    /// The care type.
    pub care_type: CareType,
    /// Providers offering it there (not suspended).
    pub providers: u32,
    /// Of them, those with a bed or hours free.
    pub with_vacancies: u32,
    /// Beds free (a home serving several districts counts in each).
    pub beds_free: u32,
    /// Hours a week free.
    pub hours_free: u32,
    /// The lowest standard weekly rate, in pence.
    pub lowest_rate_pence: Option<u64>,
}

impl Vacancies {
    /// A cell as shown.
    pub fn of(district: String, care: domain::CareType, cell: VacancyCell) -> Self {
        Self {
            district,
            care_type: care.into(),
            providers: cell.providers,
            with_vacancies: cell.with_vacancies,
            beds_free: cell.beds_free,
            hours_free: cell.hours_free,
            lowest_rate_pence: cell.lowest_rate.map(|p| p.0),
        }
    }
}

/// One item of the care-needs summary: a question of the assessment and its answer.
#[derive(SimpleObject)]
pub struct CareNeed {
    /// The section.
    pub section: String,
    /// The question.
    pub question: String,
    /// The answer, as shown.
    pub answer: String,
}

/// One part of an offer's score.
#[derive(SimpleObject)]
pub struct ScorePart {
    /// The criterion.
    pub criterion: Criterion,
    /// Its weight in the rule, in percent.
    pub weight: i32,
    /// The offer's points on it, out of 100.
    pub points: f64,
    /// What it adds to the score (points × weight ÷ 100).
    pub contribution: f64,
}

/// An offer's place in the ranking, and why.
#[derive(SimpleObject)]
pub struct Ranking {
    /// 1 is the best.
    pub rank: u32,
    /// Of how many live offers.
    pub of: u32,
    /// The score out of 100.
    pub score: f64,
    /// How each criterion contributed.
    pub parts: Vec<ScorePart>,
    /// The same in words: "Quality 60% × 75.00 = 45.00 · Cost 40% × 90.91 = 36.36 · = 81.36".
    pub explanation: String,
}

fn points(hundredths: u32) -> f64 {
    f64::from(hundredths) / 100.0
}

fn criterion_name(c: domain::Criterion) -> &'static str {
    match c {
        domain::Criterion::Quality => "Quality",
        domain::Criterion::Cost => "Cost",
        domain::Criterion::Start => "Start",
        domain::Criterion::Distance => "Distance",
    }
}

impl Ranking {
    fn from_ranked(ranked: &RankedOffer, of: usize) -> Self {
        let parts: Vec<ScorePart> = ranked
            .parts
            .iter()
            .map(|p| ScorePart {
                criterion: p.criterion.into(),
                weight: p.weight.into(),
                points: points(p.points),
                contribution: points(p.contribution),
            })
            .collect();
        let words: Vec<String> = ranked
            .parts
            .iter()
            .filter(|p| p.weight > 0)
            .map(|p| {
                format!(
                    "{} {}% × {:.2} = {:.2}",
                    criterion_name(p.criterion),
                    p.weight,
                    points(p.points),
                    points(p.contribution)
                )
            })
            .collect();
        Self {
            rank: ranked.rank,
            of: u32::try_from(of).unwrap_or(u32::MAX),
            score: points(ranked.score),
            parts,
            explanation: format!("{} · = {:.2}", words.join(" · "), points(ranked.score)),
        }
    }
}

/// An offer on a request.
#[derive(SimpleObject)]
pub struct Offer {
    /// The offer.
    pub offer_id: ID,
    /// Its round.
    pub round: u32,
    /// Its provider.
    pub provider: ID,
    /// The provider's name.
    pub provider_name: String,
    /// The provider's CQC rating when it offered.
    pub cqc_rating: CqcRating,
    /// When that rating was published (YYYY-MM-DD).
    pub cqc_rated_on: String,
    /// The provider's district.
    pub home_district: String,
    /// The weekly price, in pence.
    pub weekly_price_pence: u64,
    /// The earliest start (YYYY-MM-DD).
    pub earliest_start: String,
    /// The provider's note.
    pub note: Option<String>,
    /// Where it is.
    pub state: OfferState,
    /// Why it was declined.
    pub declined: Option<DeclineReason>,
    /// When it was made (RFC 3339).
    pub made_at: String,
    #[graphql(skip)]
    pub made: DateTime<Utc>,
    /// Its place among the live offers by the council's rule (live offers, to the council only).
    pub ranking: Option<Ranking>,
}

impl Offer {
    fn of(view: &OfferView, ranking: Option<Ranking>) -> Self {
        Self {
            offer_id: ID(view.offer_id.clone()),
            round: view.round,
            provider: ID(view.provider.clone()),
            provider_name: view.provider_name.clone(),
            cqc_rating: view.cqc.rating.into(),
            cqc_rated_on: view.cqc.rated_on.to_string(),
            home_district: view.home_district.clone(),
            weekly_price_pence: view.weekly_price.0,
            earliest_start: view.earliest_start.to_string(),
            note: view.note.clone(),
            state: view.state.into(),
            declined: view.declined.map(Into::into),
            made_at: view.made_at.to_rfc3339(),
            made: view.made_at,
            ranking,
        }
    }
}

/// The agreed placement.
#[derive(SimpleObject)]
pub struct Placement {
    /// The accepted offer.
    pub offer_id: ID,
    /// Its provider.
    pub provider: ID,
    /// The provider's name.
    pub provider_name: String,
    /// The weekly price, in pence.
    pub weekly_price_pence: u64,
    /// When the care starts (YYYY-MM-DD).
    pub start_date: String,
    /// Its rank when accepted (1: the best); the council's only (null to the provider).
    pub rank: Option<u32>,
    /// Of how many (the council's only).
    pub of: Option<u32>,
    /// Its score then, out of 100 (the council's only).
    pub score: Option<f64>,
    /// When it was agreed (RFC 3339).
    pub agreed_at: String,
}

/// Who the person is: shown only to the council's brokers and, after the award, the provider.
#[derive(SimpleObject)]
pub struct PlacedPerson {
    /// NHS number.
    pub nhs_number: String,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Date of birth (YYYY-MM-DD).
    pub date_of_birth: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
}

/// A care request, as one viewer may see it.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct CareRequest {
    /// The request.
    pub id: ID,
    /// The council that posted it.
    pub council: ID,
    /// The care needed.
    pub care_type: CareType,
    /// Hours a week (care at home).
    pub hours_per_week: Option<u32>,
    /// The bed type (a care home).
    pub bed_type: Option<BedType>,
    /// The person's postcode district.
    pub district: String,
    /// When the care is needed by (YYYY-MM-DD).
    pub start_by: String,
    /// The weekly budget in pence (the council only).
    pub weekly_budget_pence: Option<u64>,
    /// What the assessment says of the person's needs (nothing identifying).
    pub care_needs: Vec<CareNeed>,
    /// The round (a re-post or a hand-back starts the next).
    pub round: u32,
    /// When this round's offer window closes (RFC 3339).
    pub window_closes_at: String,
    #[graphql(skip)]
    pub closes: DateTime<Utc>,
    /// Seconds until it closes (0: closed).
    pub seconds_left: i64,
    /// Where it is.
    pub state: RequestState,
    /// When it was first posted (RFC 3339).
    pub posted_at: String,
    /// When it was placed (RFC 3339).
    pub placed_at: Option<String>,
    /// Hours from posting to placement.
    pub hours_to_placement: Option<f64>,
    /// Why it was withdrawn or cancelled (the council only).
    pub reason: Option<String>,
    /// The offers: every offer, the live ones ranked best first, for the council; a provider's
    /// own offers for a provider.
    pub offers: Vec<Offer>,
    /// The placement (the council, and the provider that holds it).
    pub placement: Option<Placement>,
    /// Whether the viewer sees who the person is.
    pub identified: bool,
    #[graphql(skip)]
    pub nhs_number: Option<String>,
    #[graphql(skip)]
    pub assessment_id: Option<String>,
}

#[ComplexObject]
impl CareRequest {
    /// Who the person is (identified viewers only; otherwise null).
    async fn person(&self, ctx: &Context<'_>) -> Result<Option<PlacedPerson>, GqlError> {
        let Some(nhs) = &self.nhs_number else { return Ok(None) };
        let summary = summary_of(patients(ctx)?.get(&patient_key(nhs)).await.map_err(ApiError::from)?);
        let d = summary.and_then(|s| s.demographics);
        Ok(Some(PlacedPerson {
            nhs_number: nhs.clone(),
            given_name: d.as_ref().map(|d| d.given_name.clone()),
            family_name: d.as_ref().map(|d| d.family_name.clone()),
            date_of_birth: d.as_ref().and_then(|d| d.date_of_birth.map(|b| b.to_string())),
            postcode: d.and_then(|d| d.postcode),
        }))
    }

    /// The whole trusted assessment (identified viewers only; otherwise null).
    async fn assessment(&self, ctx: &Context<'_>) -> Result<Option<Assessment>, GqlError> {
        let Some(id) = &self.assessment_id else { return Ok(None) };
        Ok(placed_assessment(ctx, id).await?)
    }
}

/// What the viewer is, for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer<'a> {
    /// The council that posted it.
    Council,
    /// A provider (its ODS code).
    Provider(&'a str),
}

impl CareRequest {
    /// `view` as `viewer` may see it, ranked by `rule`.
    pub fn of(
        view: &RequestView,
        rule: Option<DomainRule>,
        viewer: Viewer<'_>,
        disclosure: Disclosure,
    ) -> Self {
        let rule = rule.unwrap_or_default();
        let district = District::parse(&view.district).ok();
        let live: Vec<&OfferView> = view
            .offers
            .iter()
            .filter(|o| o.state == careflow_projections::brokerage::OfferState::Live)
            .collect();
        let providers: Vec<Option<careflow_domain::OdsCode>> =
            live.iter().map(|o| careflow_domain::OdsCode::parse(&o.provider).ok()).collect();
        let districts: Vec<Option<District>> =
            live.iter().map(|o| District::parse(&o.home_district).ok()).collect();
        // Only the council sees the ranking: a provider's place among the others would tell it
        // how many offered and how it compares. Not computed for anyone else.
        let ranked: Vec<RankedOffer> = match &district {
            Some(district) if viewer == Viewer::Council => {
                let candidates: Vec<ranking::Candidate<'_>> = live
                    .iter()
                    .zip(providers.iter().zip(&districts))
                    .filter_map(|(o, (p, d))| {
                        Some(ranking::Candidate {
                            offer_id: domain::OfferId(uuid::Uuid::parse_str(&o.offer_id).ok()?),
                            provider: p.as_ref()?,
                            rating: o.cqc.rating,
                            home_district: d.as_ref()?,
                            weekly_price: o.weekly_price,
                            earliest_start: o.earliest_start,
                            made_at: o.made_at,
                        })
                    })
                    .collect();
                let wanted = ranking::Wanted {
                    budget: view.terms.weekly_budget,
                    start_by: view.terms.start_by,
                    district,
                };
                ranking::rank(&rule, &wanted, &candidates)
            }
            _ => Vec::new(),
        };
        let ranking_of = |offer: &OfferView| {
            ranked
                .iter()
                .find(|r| r.offer_id.to_string() == offer.offer_id)
                .map(|r| Ranking::from_ranked(r, ranked.len()))
        };
        let mut offers: Vec<Offer> = view
            .offers
            .iter()
            .filter(|o| match viewer {
                Viewer::Council => true,
                Viewer::Provider(ods) => o.provider == ods,
            })
            .map(|o| Offer::of(o, ranking_of(o)))
            .collect();
        offers.sort_by_key(|o| (o.ranking.as_ref().map_or(u32::MAX, |r| r.rank), o.made));
        let council = viewer == Viewer::Council;
        let holds_placement = view
            .placement
            .as_ref()
            .is_some_and(|p| matches!(viewer, Viewer::Provider(ods) if p.provider == ods));
        let identified = disclosure == Disclosure::Identified;
        let now = Utc::now();
        Self {
            id: ID(view.request_id.clone()),
            council: ID(view.organisation.clone()),
            care_type: view.care_type.into(),
            hours_per_week: view.need.hours().map(u32::from),
            bed_type: view.bed_type.map(Into::into),
            district: view.district.clone(),
            start_by: view.terms.start_by.to_string(),
            weekly_budget_pence: council.then_some(view.terms.weekly_budget.0),
            care_needs: view
                .needs
                .items
                .iter()
                .map(|i| CareNeed {
                    section: i.section.clone(),
                    question: i.question.clone(),
                    answer: i.answer.clone(),
                })
                .collect(),
            round: view.round,
            window_closes_at: view.window_closes_at.to_rfc3339(),
            closes: view.window_closes_at,
            seconds_left: (view.window_closes_at - now).num_seconds().max(0),
            state: view.state.into(),
            posted_at: view.posted_at.to_rfc3339(),
            placed_at: view.placed_at.map(|p| p.to_rfc3339()),
            hours_to_placement: view.placed_at.map(|p| (p - view.posted_at).num_minutes() as f64 / 60.0),
            // A broker's words may name the person: for those who may see who it is.
            reason: if council && disclosure == Disclosure::Identified { view.reason.clone() } else { None },
            offers,
            placement: view.placement.as_ref().filter(|_| council || holds_placement).map(|p| Placement {
                offer_id: ID(p.offer_id.clone()),
                provider: ID(p.provider.clone()),
                provider_name: p.provider_name.clone(),
                weekly_price_pence: p.weekly_price.0,
                start_date: p.start_date.to_string(),
                // How it ranked, and against how many, is the council's.
                rank: council.then_some(p.rank),
                of: council.then_some(p.of),
                score: council.then(|| points(p.score)),
                agreed_at: p.agreed_at.to_rfc3339(),
            }),
            identified,
            nhs_number: identified.then(|| view.nhs_number.clone()),
            assessment_id: identified.then(|| view.assessment_id.clone()),
        }
    }
}
