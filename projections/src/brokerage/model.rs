//! The brokerage models' documents: what each key holds (see the parent module's table).

use std::collections::{BTreeMap, BTreeSet};

use careflow_domain::brokerage::{
    BedType, CareNeeds, CareType, Cqc, DeclineReason, Need, Pence, ProviderProfile, RankingRule, Terms,
    eligibility,
};
use careflow_eventstore::Position;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One document of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "doc", rename_all = "snake_case")]
pub enum BrokerageDoc {
    /// Every registered provider, by ODS code.
    Providers {
        /// The providers.
        rows: Vec<ProviderRow>,
    },
    /// A council's market: its requests still in play, and the latest finished ones.
    Market {
        /// Open, closed or withdrawn requests (not placed or cancelled), oldest first.
        active: Vec<String>,
        /// Placed or cancelled, the latest last (at most [`super::MAX_FINISHED`]).
        finished: Vec<String>,
    },
    /// Every request open for offers, in brief (for providers' eligibility).
    Open {
        /// The requests.
        rows: Vec<OpenRow>,
    },
    /// One request, its offers and its placement.
    Request(Box<RequestView>),
    /// A council's ranking rule (absent: the default).
    Rule(RankingRule),
    /// What a provider has offered on, and been awarded.
    Provider {
        /// Requests it offered on, the latest last (at most [`super::MAX_FINISHED`]).
        offered: Vec<String>,
    },
}

/// A provider, as the market sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRow {
    /// Its ODS code.
    pub ods: String,
    /// What it offers, and where.
    pub profile: ProviderProfile,
    /// Its CQC rating.
    pub cqc: Cqc,
    /// Beds free.
    pub beds_free: u32,
    /// Hours a week free.
    pub hours_free: u32,
    /// Why it is suspended, if it is.
    pub suspended: Option<String>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl ProviderRow {
    /// Whether it may offer for `need` in `district` (as the domain decides it).
    pub fn eligible(&self, need: Need, district: &str) -> bool {
        eligibility(
            &self.profile,
            (self.beds_free, self.hours_free),
            self.suspended.is_some(),
            need,
            district,
        )
        .is_ok()
    }
}

/// A request open for offers, in brief.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRow {
    /// The request.
    pub request_id: String,
    /// Its council.
    pub organisation: String,
    /// What is needed.
    pub need: Need,
    /// Where.
    pub district: String,
}

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequestState {
    /// Open for offers.
    Open,
    /// The window closed; the broker decides.
    WindowClosed,
    /// Taken off the market.
    Withdrawn,
    /// Placed.
    Placed,
    /// Cancelled.
    Cancelled,
}

/// Where an offer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OfferState {
    /// Live.
    Live,
    /// Withdrawn by its provider.
    Withdrawn,
    /// Declined.
    Declined,
    /// Accepted.
    Accepted,
    /// Accepted, then handed back.
    HandedBack,
}

/// An offer on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferView {
    /// The offer.
    pub offer_id: String,
    /// Its round.
    pub round: u32,
    /// Its provider.
    pub provider: String,
    /// The provider's name.
    pub provider_name: String,
    /// Its rating when it offered.
    pub cqc: Cqc,
    /// The provider's district.
    pub home_district: String,
    /// The weekly price.
    pub weekly_price: Pence,
    /// The earliest start.
    pub earliest_start: NaiveDate,
    /// The provider's note.
    pub note: Option<String>,
    /// Where it is.
    pub state: OfferState,
    /// Why it was declined, if it was.
    pub declined: Option<DeclineReason>,
    /// When it was made.
    pub made_at: DateTime<Utc>,
}

/// An agreed placement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementView {
    /// The accepted offer.
    pub offer_id: String,
    /// Its provider.
    pub provider: String,
    /// The provider's name.
    pub provider_name: String,
    /// The weekly price.
    pub weekly_price: Pence,
    /// When the care starts.
    pub start_date: NaiveDate,
    /// Its rank when accepted, of how many, and its score.
    pub rank: u32,
    /// Of how many.
    pub of: u32,
    /// Its score, in hundredths of a point.
    pub score: u32,
    /// When it was agreed.
    pub agreed_at: DateTime<Utc>,
}

/// One request, as the market shows it. Holds the person's NHS number: the gateway decides
/// (with the policy) who sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    /// The request.
    pub request_id: String,
    /// Its council.
    pub organisation: String,
    /// The person.
    pub nhs_number: String,
    /// The assessment it links.
    pub assessment_id: String,
    /// What is needed.
    pub need: Need,
    /// The care type (as `need` has it).
    pub care_type: CareType,
    /// The bed type, for a bed.
    pub bed_type: Option<BedType>,
    /// Where.
    pub district: String,
    /// The current round's terms.
    pub terms: Terms,
    /// What providers see of the person.
    pub needs: CareNeeds,
    /// The current round.
    pub round: u32,
    /// When its window closes.
    pub window_closes_at: DateTime<Utc>,
    /// Where it is.
    pub state: RequestState,
    /// Every offer, in the order made.
    pub offers: Vec<OfferView>,
    /// The placement, while there is one.
    pub placement: Option<PlacementView>,
    /// Providers that handed a placement back.
    pub handed_back_by: BTreeSet<String>,
    /// When it was first posted.
    pub posted_at: DateTime<Utc>,
    /// When it was placed (first placement; kept after a hand-back for the flow's figures).
    pub placed_at: Option<DateTime<Utc>>,
    /// Why it was withdrawn or cancelled.
    pub reason: Option<String>,
    /// The position of the event that last changed it.
    pub position: Position,
}

/// The vacancy map's cell: one district and care type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VacancyCell {
    /// Providers that offer the care there and are not suspended.
    pub providers: u32,
    /// Of them, those with a bed or hours free.
    pub with_vacancies: u32,
    /// Beds free.
    pub beds_free: u32,
    /// Hours a week free.
    pub hours_free: u32,
    /// The lowest standard weekly rate among them.
    pub lowest_rate: Option<Pence>,
}

/// Beds and hours free by district and care type, from the providers.
pub fn vacancy_map(rows: &[ProviderRow]) -> BTreeMap<(String, CareType), VacancyCell> {
    let mut map: BTreeMap<(String, CareType), VacancyCell> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.suspended.is_none()) {
        for district in &row.profile.districts {
            for care in &row.profile.services {
                let cell = map.entry((district.as_str().to_owned(), *care)).or_default();
                cell.providers = cell.providers.saturating_add(1);
                let (beds, hours) = if care.bed_based() { (row.beds_free, 0) } else { (0, row.hours_free) };
                cell.beds_free = cell.beds_free.saturating_add(beds);
                cell.hours_free = cell.hours_free.saturating_add(hours);
                if beds > 0 || hours > 0 {
                    cell.with_vacancies = cell.with_vacancies.saturating_add(1);
                }
                if let Some(rate) = row.profile.rates.get(care) {
                    cell.lowest_rate = Some(cell.lowest_rate.map_or(*rate, |r| r.min(*rate)));
                }
            }
        }
    }
    map
}
