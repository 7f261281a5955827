//! The brokerage context (DESIGN.md §4, §5): a council's market for care. A broker posts a
//! care request for a person ready to leave hospital; every eligible care provider sees it
//! without knowing who the person is, and may offer; the offers are ranked by the
//! commissioner's stated rule, and the broker accepts one, which agrees the placement.
//!
//! | stream | holds |
//! | --- | --- |
//! | `provider-<ods>` | a care home or home-care agency: services, districts, capacity and vacancies, rates, CQC rating, suspension |
//! | `care-request-<uuid>` | one request, from posting to placement: its terms, each round's offer window, every offer and its outcome, the placement |
//! | `ranking-<ods>` | a council's ranking rule (the weights of quality, cost, start date and distance) |
//!
//! Rules: a request links a trusted assessment **submitted** to the broker's council (or
//! started by it), of the person the request is for; what providers see of the person before
//! an award is the assessment's care-needs summary ([`CareNeeds`]), built when the request is
//! posted: structured answers only, from the sections the template does not withhold from
//! providers, and free text only from those it shares with them. A request is open for offers for its window (24 hours by default), which
//! careflow's clock closes; the broker may accept an offer before or after it closes. A
//! provider may offer when it is **eligible**: it offers the care type (and bed type), serves
//! the district, has the capacity (a free bed; the weekly hours), and is not suspended; it
//! has at most one live offer per request. Accepting agrees the placement at the offer's price
//! and start date, declines every other live offer, and commits the provider's capacity (a
//! bed, the hours). Withdrawing a request, re-posting it (a new round: the live offers are
//! declined), cancelling it, and a provider handing a placement back (which re-opens the
//! request for a new round) complete the life of a request.

mod decider;
mod error;
pub mod ranking;
#[cfg(test)]
mod scenarios;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use decider::{
    Brokerage, BrokerageStream, BrokerageStreamEvent, BrokerageStreamState, DEFAULT_WINDOW_HOURS,
    WINDOW_HOURS, care_needs,
};
pub use error::BrokerageError;
pub use ranking::{Criterion, RankedOffer, RankingRule, ScorePart};
pub use state::{
    CareRequest, CareRequestState, Offer, OfferStatus, Placement, ProviderState, RankingState, RequestStatus,
    capacity_of, eligibility,
};

use crate::NhsNumber;
use crate::OdsCode;
use crate::assessments::AssessmentId;
use crate::beds::{Label, Note};
use crate::tasks::{District, UserId};

/// A care request: the same id from posting to placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CareRequestId(pub Uuid);

impl CareRequestId {
    /// The one request an assessment may have: a second post from it (a double click, a retry
    /// without its command id) names the same request and is refused as existing.
    pub fn for_assessment(assessment: AssessmentId) -> Self {
        const NAMESPACE: Uuid = Uuid::from_u128(0x6361_7265_666c_6f77_8000_0000_0000_0013);
        Self(Uuid::new_v5(&NAMESPACE, assessment.0.as_bytes()))
    }
}

impl fmt::Display for CareRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An offer of a provider on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OfferId(pub Uuid);

impl fmt::Display for OfferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The kinds of care a council buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CareType {
    /// Care at home, in hours per week.
    HomeCare,
    /// Short-term care at home to regain independence (discharge pathway 1), in hours per week.
    Reablement,
    /// A residential care home bed.
    Residential,
    /// A nursing home bed.
    Nursing,
}

impl CareType {
    /// Every care type.
    pub const ALL: [CareType; 4] = [Self::HomeCare, Self::Reablement, Self::Residential, Self::Nursing];

    /// Whether it is bought as a bed (else as hours of care at home).
    pub fn bed_based(self) -> bool {
        matches!(self, Self::Residential | Self::Nursing)
    }

    /// The upper-case name used in messages and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HomeCare => "HOME_CARE",
            Self::Reablement => "REABLEMENT",
            Self::Residential => "RESIDENTIAL",
            Self::Nursing => "NURSING",
        }
    }
}

/// What kind of bed a care home placement needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BedType {
    /// A standard bed.
    Standard,
    /// A bed in a unit for people living with dementia.
    Dementia,
    /// A bariatric bed (and the equipment and staff it needs).
    Bariatric,
}

impl BedType {
    /// The upper-case name used in messages and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::Dementia => "DEMENTIA",
            Self::Bariatric => "BARIATRIC",
        }
    }
}

/// What a request asks for: the care type, and the hours per week or the bed type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "care_type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Need {
    /// Home care, so many hours a week.
    HomeCare {
        /// Hours per week.
        hours_per_week: u16,
    },
    /// Reablement, so many hours a week.
    Reablement {
        /// Hours per week.
        hours_per_week: u16,
    },
    /// A residential care home bed.
    Residential {
        /// Its kind.
        bed_type: BedType,
    },
    /// A nursing home bed.
    Nursing {
        /// Its kind.
        bed_type: BedType,
    },
}

impl Need {
    /// The most hours a week a request may ask for (24 hours a day, two carers).
    pub const MAX_HOURS: u16 = 336;

    /// The care type.
    pub fn care_type(self) -> CareType {
        match self {
            Self::HomeCare { .. } => CareType::HomeCare,
            Self::Reablement { .. } => CareType::Reablement,
            Self::Residential { .. } => CareType::Residential,
            Self::Nursing { .. } => CareType::Nursing,
        }
    }

    /// The hours a week it takes of a provider's capacity (`None`: a bed).
    pub fn hours(self) -> Option<u16> {
        match self {
            Self::HomeCare { hours_per_week } | Self::Reablement { hours_per_week } => Some(hours_per_week),
            Self::Residential { .. } | Self::Nursing { .. } => None,
        }
    }

    /// The bed type (`None`: care at home).
    pub fn bed_type(self) -> Option<BedType> {
        match self {
            Self::Residential { bed_type } | Self::Nursing { bed_type } => Some(bed_type),
            Self::HomeCare { .. } | Self::Reablement { .. } => None,
        }
    }
}

/// An amount of money in pence (a weekly price, a budget). Whole pence, never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pence(pub u64);

impl Pence {
    /// The most a weekly price or budget may be (£100,000 a week).
    pub const MAX: Pence = Pence(10_000_000);

    /// A weekly price or budget: more than nothing, at most [`Pence::MAX`].
    pub fn weekly(pence: i64) -> Result<Self, String> {
        match u64::try_from(pence) {
            Ok(p) if p > 0 && p <= Self::MAX.0 => Ok(Self(p)),
            _ => Err(format!("must be a weekly amount in pence, 1 to {}", Self::MAX.0)),
        }
    }
}

impl fmt::Display for Pence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "£{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// A Care Quality Commission rating, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

impl CqcRating {
    /// Every rating, best first.
    pub const ALL: [CqcRating; 4] =
        [Self::Outstanding, Self::Good, Self::RequiresImprovement, Self::Inadequate];

    /// As CQC writes it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Outstanding => "Outstanding",
            Self::Good => "Good",
            Self::RequiresImprovement => "Requires improvement",
            Self::Inadequate => "Inadequate",
        }
    }
}

/// A CQC rating and the date it was published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cqc {
    /// The rating.
    pub rating: CqcRating,
    /// When it was published.
    pub rated_on: NaiveDate,
}

/// Someone acting for an organisation (a broker for a council, a manager for a care home).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Party {
    /// Their user id.
    pub user_id: UserId,
    /// Their organisation.
    pub organisation: OdsCode,
}

/// What a provider is registered to offer, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderProfile {
    /// Its name.
    pub name: Label,
    /// The care types it offers.
    pub services: BTreeSet<CareType>,
    /// The bed types it has (care homes).
    pub bed_types: BTreeSet<BedType>,
    /// The postcode districts it serves.
    pub districts: BTreeSet<District>,
    /// Where it is (a care home's district; an agency's office), for distance.
    pub home_district: District,
    /// Its registered beds (0: none, an agency).
    pub registered_beds: u32,
    /// The hours of care a week it can deliver (0: none, a care home).
    pub weekly_hours: u32,
    /// Its standard weekly rates, by care type.
    pub rates: BTreeMap<CareType, Pence>,
}

impl ProviderProfile {
    /// The most districts a provider may serve.
    pub const MAX_DISTRICTS: usize = 100;

    /// A profile, checked: at least one service; beds for bed-based services, hours for care at
    /// home; bed types only with beds; a rate only for a service offered. The error names the
    /// part that is wrong.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.services.is_empty() {
            return Err(("services", "must name at least one service".into()));
        }
        if self.districts.is_empty() || self.districts.len() > Self::MAX_DISTRICTS {
            return Err(("districts", format!("must name 1 to {} districts served", Self::MAX_DISTRICTS)));
        }
        let beds = self.services.iter().any(|s| s.bed_based());
        let at_home = self.services.iter().any(|s| !s.bed_based());
        if beds && self.registered_beds == 0 {
            return Err(("registered_beds", "a care home must have registered beds".into()));
        }
        if beds && self.bed_types.is_empty() {
            return Err(("bed_types", "a care home must name the bed types it has".into()));
        }
        if !beds && (self.registered_beds > 0 || !self.bed_types.is_empty()) {
            return Err(("registered_beds", "only residential or nursing care has beds".into()));
        }
        if at_home && self.weekly_hours == 0 {
            return Err(("weekly_hours", "home care needs the hours a week it can deliver".into()));
        }
        if let Some(other) = self.rates.keys().find(|c| !self.services.contains(c)) {
            return Err(("rates", format!("names {}, a service not offered", other.as_str())));
        }
        Ok(())
    }
}

/// One item of a care-needs summary: a question of the assessment and its answer, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedItem {
    /// The section's heading.
    pub section: String,
    /// The question.
    pub question: String,
    /// The answer, as shown (an option's label, "Yes", a number with its unit).
    pub answer: String,
}

/// What providers see of the person before an award: the care needs of the linked assessment,
/// nothing identifying. Built from its structured answers (choices, yes/no, numbers, scores)
/// and from the sections its template shares with providers (their free text and dates too).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareNeeds {
    /// The items, in the template's order.
    pub items: Vec<NeedItem>,
}

/// The terms of a request that a round may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    /// The date the care is needed by.
    pub start_by: NaiveDate,
    /// The most the council will pay a week.
    pub weekly_budget: Pence,
}

/// Why a live offer was declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeclineReason {
    /// Another offer was accepted.
    AnotherOfferAccepted,
    /// The request was withdrawn.
    RequestWithdrawn,
    /// The request was posted again (a new round).
    RequestReposted,
    /// The request was cancelled.
    RequestCancelled,
}

/// Every command of the brokerage context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum BrokerageCommand {
    /// A provider registers (or changes what it is registered to offer).
    RegisterProvider {
        /// Its ODS code.
        ods: OdsCode,
        /// What it offers, and where.
        profile: ProviderProfile,
        /// Its CQC rating.
        cqc: Cqc,
        /// Who registers it.
        by: Party,
    },
    /// A provider says how many beds or hours it has free, and (optionally) its rates now.
    UpdateVacancies {
        /// The provider.
        ods: OdsCode,
        /// Beds free.
        beds_free: u32,
        /// Hours a week free.
        hours_free: u32,
        /// Its rates from now, if they change.
        rates: Option<BTreeMap<CareType, Pence>>,
        /// Who says so.
        by: Party,
    },
    /// A commissioner records a provider's new CQC rating.
    RecordCqcRating {
        /// The provider.
        ods: OdsCode,
        /// The rating.
        cqc: Cqc,
        /// Who records it.
        by: Party,
    },
    /// A commissioner suspends a provider: no new requests reach it and it may not offer.
    SuspendProvider {
        /// The provider.
        ods: OdsCode,
        /// Why.
        reason: Note,
        /// Who suspends it.
        by: Party,
    },
    /// A commissioner lifts a suspension.
    ReinstateProvider {
        /// The provider.
        ods: OdsCode,
        /// Who reinstates it.
        by: Party,
    },
    /// A broker posts a care request.
    PostCareRequest {
        /// The new request.
        request_id: CareRequestId,
        /// The submitted trusted assessment it is for.
        assessment_id: AssessmentId,
        /// What is needed.
        need: Need,
        /// The person's postcode district.
        district: District,
        /// When by, and the budget.
        terms: Terms,
        /// How long the offer window is open, in hours.
        window_hours: u16,
        /// The broker.
        by: Party,
    },
    /// careflow's clock closes a round's offer window.
    CloseOfferWindow {
        /// The request.
        request_id: CareRequestId,
        /// The round whose window it is.
        round: u32,
    },
    /// A broker takes a request off the market for now (live offers are declined).
    WithdrawCareRequest {
        /// The request.
        request_id: CareRequestId,
        /// Why.
        reason: Note,
        /// The broker.
        by: Party,
    },
    /// A broker posts a request again: a new round with a new window (and terms, if given).
    RepostCareRequest {
        /// The request.
        request_id: CareRequestId,
        /// New terms, if they change.
        terms: Option<Terms>,
        /// The new window, in hours.
        window_hours: u16,
        /// The broker.
        by: Party,
    },
    /// A broker cancels a request for good (the person went home, or died).
    CancelCareRequest {
        /// The request.
        request_id: CareRequestId,
        /// Why.
        reason: Note,
        /// The broker.
        by: Party,
    },
    /// A provider makes an offer.
    MakeOffer {
        /// The request.
        request_id: CareRequestId,
        /// The new offer.
        offer_id: OfferId,
        /// The provider.
        provider: OdsCode,
        /// Its weekly price.
        weekly_price: Pence,
        /// The earliest date it can start.
        earliest_start: NaiveDate,
        /// Anything the broker should know.
        note: Option<Note>,
        /// Who makes it.
        by: Party,
    },
    /// A provider withdraws its offer.
    WithdrawOffer {
        /// The request.
        request_id: CareRequestId,
        /// The offer.
        offer_id: OfferId,
        /// Who withdraws it.
        by: Party,
    },
    /// A broker accepts an offer: the placement is agreed.
    AcceptOffer {
        /// The request.
        request_id: CareRequestId,
        /// The offer.
        offer_id: OfferId,
        /// The broker.
        by: Party,
    },
    /// The provider of an agreed placement cannot honour it: the request re-opens.
    HandBackPlacement {
        /// The request.
        request_id: CareRequestId,
        /// Why.
        reason: Note,
        /// Who hands it back.
        by: Party,
    },
    /// A commissioner sets the council's ranking rule.
    SetRankingRule {
        /// The council.
        organisation: OdsCode,
        /// The rule.
        rule: RankingRule,
        /// The commissioner.
        by: Party,
    },
}

impl BrokerageCommand {
    /// The request the command is about, if any.
    pub fn request_id(&self) -> Option<CareRequestId> {
        match self {
            Self::PostCareRequest { request_id, .. }
            | Self::CloseOfferWindow { request_id, .. }
            | Self::WithdrawCareRequest { request_id, .. }
            | Self::RepostCareRequest { request_id, .. }
            | Self::CancelCareRequest { request_id, .. }
            | Self::MakeOffer { request_id, .. }
            | Self::WithdrawOffer { request_id, .. }
            | Self::AcceptOffer { request_id, .. }
            | Self::HandBackPlacement { request_id, .. } => Some(*request_id),
            Self::RegisterProvider { .. }
            | Self::UpdateVacancies { .. }
            | Self::RecordCqcRating { .. }
            | Self::SuspendProvider { .. }
            | Self::ReinstateProvider { .. }
            | Self::SetRankingRule { .. } => None,
        }
    }
}

/// Every event of the brokerage context. Serialized with its type name in `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[allow(missing_docs)] // fields are named for what they hold
pub enum BrokerageEvent {
    /// A provider registered, on `provider-<ods>`.
    ProviderRegistered { ods: OdsCode, profile: ProviderProfile, cqc: Cqc, by: UserId, at: DateTime<Utc> },
    /// What it is registered to offer changed.
    ProviderProfileChanged { ods: OdsCode, profile: ProviderProfile, by: UserId, at: DateTime<Utc> },
    /// Its vacancies (and rates) now.
    VacanciesUpdated {
        ods: OdsCode,
        beds_free: u32,
        hours_free: u32,
        rates: BTreeMap<CareType, Pence>,
        by: UserId,
        at: DateTime<Utc>,
    },
    /// A new CQC rating.
    CqcRatingRecorded { ods: OdsCode, cqc: Cqc, by: Party, at: DateTime<Utc> },
    /// Suspended by a commissioner.
    ProviderSuspended { ods: OdsCode, reason: Note, by: Party, at: DateTime<Utc> },
    /// The suspension lifted.
    ProviderReinstated { ods: OdsCode, by: Party, at: DateTime<Utc> },
    /// A placement took a bed or hours of its capacity.
    CapacityCommitted { ods: OdsCode, request_id: CareRequestId, beds: u32, hours: u32, at: DateTime<Utc> },
    /// A placement handed back or cancelled gave them back.
    CapacityReleased { ods: OdsCode, request_id: CareRequestId, beds: u32, hours: u32, at: DateTime<Utc> },
    /// A request was posted, on `care-request-<id>`: round 1 opens.
    CareRequestPosted {
        request_id: CareRequestId,
        organisation: OdsCode,
        nhs_number: NhsNumber,
        assessment_id: AssessmentId,
        need: Need,
        district: District,
        terms: Terms,
        needs: CareNeeds,
        window_closes_at: DateTime<Utc>,
        by: UserId,
        at: DateTime<Utc>,
    },
    /// A round's offer window closed.
    OfferWindowClosed { request_id: CareRequestId, round: u32, offers: u32, at: DateTime<Utc> },
    /// The request was taken off the market.
    CareRequestWithdrawn { request_id: CareRequestId, reason: Note, by: UserId, at: DateTime<Utc> },
    /// A new round opened (re-posted by the broker, or re-opened by a hand-back).
    CareRequestReposted {
        request_id: CareRequestId,
        round: u32,
        terms: Terms,
        window_closes_at: DateTime<Utc>,
        by: UserId,
        at: DateTime<Utc>,
    },
    /// The request was cancelled for good.
    CareRequestCancelled { request_id: CareRequestId, reason: Note, by: UserId, at: DateTime<Utc> },
    /// A provider offered.
    OfferMade {
        request_id: CareRequestId,
        offer_id: OfferId,
        round: u32,
        provider: OdsCode,
        provider_name: Label,
        /// The provider's rating and district when it offered (what the ranking uses).
        cqc: Cqc,
        home_district: District,
        weekly_price: Pence,
        earliest_start: NaiveDate,
        note: Option<Note>,
        by: UserId,
        at: DateTime<Utc>,
    },
    /// The provider withdrew it.
    OfferWithdrawn { request_id: CareRequestId, offer_id: OfferId, by: UserId, at: DateTime<Utc> },
    /// It was declined.
    OfferDeclined { request_id: CareRequestId, offer_id: OfferId, reason: DeclineReason, at: DateTime<Utc> },
    /// An offer was accepted: the placement is agreed.
    PlacementAgreed {
        request_id: CareRequestId,
        offer_id: OfferId,
        organisation: OdsCode,
        nhs_number: NhsNumber,
        provider: OdsCode,
        provider_name: Label,
        care_type: CareType,
        weekly_price: Pence,
        start_date: NaiveDate,
        /// Its place in the ranking when accepted (1: the best), of how many, and its score.
        rank: u32,
        of: u32,
        score: u32,
        by: UserId,
        at: DateTime<Utc>,
    },
    /// The provider handed the placement back.
    PlacementHandedBack {
        request_id: CareRequestId,
        provider: OdsCode,
        nhs_number: NhsNumber,
        reason: Note,
        by: UserId,
        at: DateTime<Utc>,
    },
    /// A council's ranking rule, on `ranking-<ods>`.
    RankingRuleSet { organisation: OdsCode, rule: RankingRule, by: UserId, at: DateTime<Utc> },
}

impl BrokerageEvent {
    /// The schema version of the events' data.
    pub const SCHEMA_VERSION: u32 = 1;

    /// The event's type name, as stored.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::ProviderRegistered { .. } => "ProviderRegistered",
            Self::ProviderProfileChanged { .. } => "ProviderProfileChanged",
            Self::VacanciesUpdated { .. } => "VacanciesUpdated",
            Self::CqcRatingRecorded { .. } => "CqcRatingRecorded",
            Self::ProviderSuspended { .. } => "ProviderSuspended",
            Self::ProviderReinstated { .. } => "ProviderReinstated",
            Self::CapacityCommitted { .. } => "CapacityCommitted",
            Self::CapacityReleased { .. } => "CapacityReleased",
            Self::CareRequestPosted { .. } => "CareRequestPosted",
            Self::OfferWindowClosed { .. } => "OfferWindowClosed",
            Self::CareRequestWithdrawn { .. } => "CareRequestWithdrawn",
            Self::CareRequestReposted { .. } => "CareRequestReposted",
            Self::CareRequestCancelled { .. } => "CareRequestCancelled",
            Self::OfferMade { .. } => "OfferMade",
            Self::OfferWithdrawn { .. } => "OfferWithdrawn",
            Self::OfferDeclined { .. } => "OfferDeclined",
            Self::PlacementAgreed { .. } => "PlacementAgreed",
            Self::PlacementHandedBack { .. } => "PlacementHandedBack",
            Self::RankingRuleSet { .. } => "RankingRuleSet",
        }
    }

    /// The stream it belongs to.
    pub fn stream(&self) -> BrokerageStream {
        match self {
            Self::ProviderRegistered { ods, .. }
            | Self::ProviderProfileChanged { ods, .. }
            | Self::VacanciesUpdated { ods, .. }
            | Self::CqcRatingRecorded { ods, .. }
            | Self::ProviderSuspended { ods, .. }
            | Self::ProviderReinstated { ods, .. }
            | Self::CapacityCommitted { ods, .. }
            | Self::CapacityReleased { ods, .. } => BrokerageStream::Provider(ods.clone()),
            Self::RankingRuleSet { organisation, .. } => BrokerageStream::Ranking(organisation.clone()),
            Self::CareRequestPosted { request_id, .. }
            | Self::OfferWindowClosed { request_id, .. }
            | Self::CareRequestWithdrawn { request_id, .. }
            | Self::CareRequestReposted { request_id, .. }
            | Self::CareRequestCancelled { request_id, .. }
            | Self::OfferMade { request_id, .. }
            | Self::OfferWithdrawn { request_id, .. }
            | Self::OfferDeclined { request_id, .. }
            | Self::PlacementAgreed { request_id, .. }
            | Self::PlacementHandedBack { request_id, .. } => BrokerageStream::Request(*request_id),
        }
    }

    /// The request it is about, if any.
    pub fn request_id(&self) -> Option<CareRequestId> {
        match self.stream() {
            BrokerageStream::Request(id) => Some(id),
            _ => match self {
                Self::CapacityCommitted { request_id, .. } | Self::CapacityReleased { request_id, .. } => {
                    Some(*request_id)
                }
                _ => None,
            },
        }
    }
}
