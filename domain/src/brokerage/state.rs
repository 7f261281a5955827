//! The state of each brokerage stream, folded from its events.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::{BrokerageEvent, CareNeeds, Cqc, Need, OfferId, Pence, ProviderProfile, RankingRule, Terms};
use crate::assessments::AssessmentId;
use crate::beds::{Label, Note};
use crate::tasks::District;
use crate::{NhsNumber, OdsCode};

/// A provider's stream: nothing yet, or the provider.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderState {
    /// What it is registered to offer (`None`: not registered).
    pub profile: Option<ProviderProfile>,
    /// Its CQC rating.
    pub cqc: Option<Cqc>,
    /// Beds free.
    pub beds_free: u32,
    /// Hours a week free.
    pub hours_free: u32,
    /// Why it is suspended, if it is.
    pub suspended: Option<Note>,
}

impl ProviderState {
    /// Whether it may offer for `need` in `district` ([`eligibility`]).
    pub fn eligible(&self, need: Need, district: &District) -> Result<(), &'static str> {
        let Some(profile) = &self.profile else { return Err("is not registered") };
        eligibility(
            profile,
            (self.beds_free, self.hours_free),
            self.suspended.is_some(),
            need,
            district.as_str(),
        )
    }

    /// `evolve` for a provider stream.
    pub fn evolve(&mut self, event: &BrokerageEvent) {
        match event {
            BrokerageEvent::ProviderRegistered { profile, cqc, .. } => {
                self.beds_free = profile.registered_beds;
                self.hours_free = profile.weekly_hours;
                self.profile = Some(profile.clone());
                self.cqc = Some(*cqc);
            }
            BrokerageEvent::ProviderProfileChanged { profile, .. } => {
                self.beds_free = self.beds_free.min(profile.registered_beds);
                self.hours_free = self.hours_free.min(profile.weekly_hours);
                self.profile = Some(profile.clone());
            }
            BrokerageEvent::VacanciesUpdated { beds_free, hours_free, rates, .. } => {
                self.beds_free = *beds_free;
                self.hours_free = *hours_free;
                if let Some(profile) = &mut self.profile {
                    profile.rates = rates.clone();
                }
            }
            BrokerageEvent::CqcRatingRecorded { cqc, .. } => self.cqc = Some(*cqc),
            BrokerageEvent::ProviderSuspended { reason, .. } => self.suspended = Some(reason.clone()),
            BrokerageEvent::ProviderReinstated { .. } => self.suspended = None,
            BrokerageEvent::CapacityCommitted { beds, hours, .. } => {
                self.beds_free = self.beds_free.saturating_sub(*beds);
                self.hours_free = self.hours_free.saturating_sub(*hours);
            }
            BrokerageEvent::CapacityReleased { beds, hours, .. } => {
                let (max_beds, max_hours) =
                    self.profile.as_ref().map_or((0, 0), |p| (p.registered_beds, p.weekly_hours));
                self.beds_free = self.beds_free.saturating_add(*beds).min(max_beds);
                self.hours_free = self.hours_free.saturating_add(*hours).min(max_hours);
            }
            _ => {}
        }
    }
}

/// Whether a provider of `profile`, with `free` beds and hours a week and `suspended` or not,
/// may offer for `need` in `district`: it offers the care type (and bed type), serves the
/// district, has a bed or the hours free, and is not suspended. `Err` says why not, naming the
/// provider only. The read models decide eligibility with this too.
pub fn eligibility(
    profile: &ProviderProfile,
    (beds_free, hours_free): (u32, u32),
    suspended: bool,
    need: Need,
    district: &str,
) -> Result<(), &'static str> {
    if suspended {
        return Err("is suspended");
    }
    if !profile.services.contains(&need.care_type()) {
        return Err("does not offer this care type");
    }
    if need.bed_type().is_some_and(|b| !profile.bed_types.contains(&b)) {
        return Err("has no bed of this type");
    }
    if !profile.districts.iter().any(|d| d.as_str() == district) {
        return Err("does not serve this district");
    }
    match need.hours() {
        Some(hours) if hours_free < u32::from(hours) => Err("has not the hours free"),
        None if beds_free == 0 => Err("has no bed free"),
        _ => Ok(()),
    }
}

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    /// Open for offers until its window closes.
    Open,
    /// The window closed: the broker decides.
    WindowClosed,
    /// Taken off the market for now.
    Withdrawn,
    /// An offer was accepted.
    Placed,
    /// Cancelled for good.
    Cancelled,
}

impl RequestStatus {
    /// As the refusals and APIs name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::WindowClosed => "WINDOW_CLOSED",
            Self::Withdrawn => "WITHDRAWN",
            Self::Placed => "PLACED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// Where an offer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferStatus {
    /// Live: the broker may accept it.
    Live,
    /// Withdrawn by its provider.
    Withdrawn,
    /// Declined.
    Declined,
    /// Accepted: the placement.
    Accepted,
    /// Accepted, then handed back by its provider.
    HandedBack,
}

/// An offer on a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// The round it was made in.
    pub round: u32,
    /// The provider.
    pub provider: OdsCode,
    /// Its name.
    pub provider_name: Label,
    /// Its rating when it offered.
    pub cqc: Cqc,
    /// Its district.
    pub home_district: District,
    /// The weekly price.
    pub weekly_price: Pence,
    /// The earliest start.
    pub earliest_start: NaiveDate,
    /// When it was made.
    pub made_at: DateTime<Utc>,
    /// Where it is.
    pub status: OfferStatus,
}

/// An agreed placement.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// The accepted offer.
    pub offer_id: OfferId,
    /// Its provider.
    pub provider: OdsCode,
    /// The capacity it holds: beds and hours.
    pub capacity: (u32, u32),
}

/// A care request.
#[derive(Debug, Clone, PartialEq)]
pub struct CareRequest {
    /// The council that posted it.
    pub organisation: OdsCode,
    /// The person.
    pub nhs_number: NhsNumber,
    /// The assessment it links.
    pub assessment_id: AssessmentId,
    /// What is needed.
    pub need: Need,
    /// The person's district.
    pub district: District,
    /// The terms of the current round.
    pub terms: Terms,
    /// What providers see of the person's needs.
    pub needs: CareNeeds,
    /// The current round (1 when posted).
    pub round: u32,
    /// When the current round's window closes.
    pub window_closes_at: DateTime<Utc>,
    /// Where it is.
    pub status: RequestStatus,
    /// Every offer, by id.
    pub offers: BTreeMap<OfferId, Offer>,
    /// The agreed placement, while there is one.
    pub placement: Option<Placement>,
}

impl CareRequest {
    /// The live offer of `provider`, if any.
    pub fn live_offer_of(&self, provider: &OdsCode) -> Option<OfferId> {
        self.offers
            .iter()
            .find(|(_, o)| o.status == OfferStatus::Live && o.provider == *provider)
            .map(|(id, _)| *id)
    }

    /// The live offers.
    pub fn live(&self) -> impl Iterator<Item = (&OfferId, &Offer)> {
        self.offers.iter().filter(|(_, o)| o.status == OfferStatus::Live)
    }
}

/// A request's stream: nothing yet, or the request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CareRequestState {
    /// The request, once posted.
    pub request: Option<CareRequest>,
}

/// The capacity a need takes of a provider: beds and hours a week.
pub fn capacity_of(need: Need) -> (u32, u32) {
    match need.hours() {
        Some(hours) => (0, u32::from(hours)),
        None => (1, 0),
    }
}

impl CareRequestState {
    /// `evolve` for a request stream.
    pub fn evolve(&mut self, event: &BrokerageEvent) {
        if let BrokerageEvent::CareRequestPosted {
            organisation,
            nhs_number,
            assessment_id,
            need,
            district,
            terms,
            needs,
            window_closes_at,
            ..
        } = event
        {
            self.request = Some(CareRequest {
                organisation: organisation.clone(),
                nhs_number: *nhs_number,
                assessment_id: *assessment_id,
                need: *need,
                district: district.clone(),
                terms: *terms,
                needs: needs.clone(),
                round: 1,
                window_closes_at: *window_closes_at,
                status: RequestStatus::Open,
                offers: BTreeMap::new(),
                placement: None,
            });
            return;
        }
        let Some(request) = &mut self.request else { return };
        match event {
            BrokerageEvent::OfferWindowClosed { round, .. }
                if *round == request.round && request.status == RequestStatus::Open =>
            {
                request.status = RequestStatus::WindowClosed;
            }
            BrokerageEvent::CareRequestWithdrawn { .. } => request.status = RequestStatus::Withdrawn,
            BrokerageEvent::CareRequestReposted { round, terms, window_closes_at, .. } => {
                request.round = *round;
                request.terms = *terms;
                request.window_closes_at = *window_closes_at;
                request.status = RequestStatus::Open;
            }
            BrokerageEvent::CareRequestCancelled { .. } => {
                request.status = RequestStatus::Cancelled;
                request.placement = None;
            }
            BrokerageEvent::OfferMade {
                offer_id,
                round,
                provider,
                provider_name,
                cqc,
                home_district,
                weekly_price,
                earliest_start,
                at,
                ..
            } => {
                request.offers.insert(
                    *offer_id,
                    Offer {
                        round: *round,
                        provider: provider.clone(),
                        provider_name: provider_name.clone(),
                        cqc: *cqc,
                        home_district: home_district.clone(),
                        weekly_price: *weekly_price,
                        earliest_start: *earliest_start,
                        made_at: *at,
                        status: OfferStatus::Live,
                    },
                );
            }
            BrokerageEvent::OfferWithdrawn { offer_id, .. } => {
                if let Some(offer) = request.offers.get_mut(offer_id) {
                    offer.status = OfferStatus::Withdrawn;
                }
            }
            BrokerageEvent::OfferDeclined { offer_id, .. } => {
                if let Some(offer) = request.offers.get_mut(offer_id) {
                    offer.status = OfferStatus::Declined;
                }
            }
            BrokerageEvent::PlacementAgreed { offer_id, provider, .. } => {
                if let Some(offer) = request.offers.get_mut(offer_id) {
                    offer.status = OfferStatus::Accepted;
                }
                request.status = RequestStatus::Placed;
                request.placement = Some(Placement {
                    offer_id: *offer_id,
                    provider: provider.clone(),
                    capacity: capacity_of(request.need),
                });
            }
            BrokerageEvent::PlacementHandedBack { .. } => {
                if let Some(placement) = request.placement.take()
                    && let Some(offer) = request.offers.get_mut(&placement.offer_id)
                {
                    offer.status = OfferStatus::HandedBack;
                }
            }
            _ => {}
        }
    }
}

/// A council's ranking stream: its rule (the default until one is set).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RankingState {
    /// The rule set, if any.
    pub rule: Option<RankingRule>,
}

impl RankingState {
    /// The rule in force.
    pub fn rule(&self) -> RankingRule {
        self.rule.unwrap_or_default()
    }

    /// `evolve` for a ranking stream.
    pub fn evolve(&mut self, event: &BrokerageEvent) {
        if let BrokerageEvent::RankingRuleSet { rule, .. } = event {
            self.rule = Some(*rule);
        }
    }
}
