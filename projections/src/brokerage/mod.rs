//! The brokerage read models (DESIGN.md §6) as one document [`Fold`]: the commissioner's market
//! (each council's requests, their offers, placements and time to placement), what each
//! provider may offer on and has offered on, and every provider with its vacancies (from which
//! the vacancy map by district and care type is drawn).
//!
//! | key | document |
//! | --- | --- |
//! | `providers` | [`BrokerageDoc::Providers`]: every provider, its profile, rating, vacancies, suspension |
//! | `market:{council}` | [`BrokerageDoc::Market`]: the council's requests in play, and the latest finished |
//! | `open` | [`BrokerageDoc::Open`]: every request open for offers, in brief |
//! | `request:{id}` | [`BrokerageDoc::Request`]: one request, every offer, the placement |
//! | `rule:{council}` | [`BrokerageDoc::Rule`]: the council's ranking rule |
//! | `provider:{ods}` | [`BrokerageDoc::Provider`]: the requests a provider offered on |
//!
//! Offers are stored unranked: the ranking is a pure function of the request, its offers and
//! the council's rule, applied as the market is read, so a changed rule re-ranks everything
//! at once. Reads the `provider`, `care` and `ranking` streams.

use careflow_domain::brokerage::BrokerageEvent;
use careflow_eventstore::{Filter, RecordedEvent};

use crate::ProjectionError;
use crate::documents::{Docs, Fold, decode};

mod model;

pub use model::{
    BrokerageDoc, OfferState, OfferView, OpenRow, PlacementView, ProviderRow, RequestState, RequestView,
    VacancyCell, vacancy_map,
};

/// The model's name.
pub const NAME: &str = "brokerage";

/// The key of every provider.
pub const PROVIDERS_KEY: &str = "providers";

/// The key of every open request.
pub const OPEN_KEY: &str = "open";

/// How many finished requests a council's market, and a provider's list, keep.
pub const MAX_FINISHED: usize = 200;

/// A council's market key.
pub fn market_key(council: &str) -> String {
    format!("market:{council}")
}

/// A request's key.
pub fn request_key(request_id: &str) -> String {
    format!("request:{request_id}")
}

/// A council's rule key.
pub fn rule_key(council: &str) -> String {
    format!("rule:{council}")
}

/// A provider's key.
pub fn provider_key(ods: &str) -> String {
    format!("provider:{ods}")
}

/// The brokerage fold.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrokerageModel;

fn provider_mut<'a>(docs: &'a mut Docs<BrokerageDoc>, ods: &str) -> Option<&'a mut ProviderRow> {
    match docs.get_mut(PROVIDERS_KEY) {
        Some(BrokerageDoc::Providers { rows }) => rows.iter_mut().find(|r| r.ods == ods),
        _ => None,
    }
}

fn request_mut<'a>(docs: &'a mut Docs<BrokerageDoc>, id: &str) -> Option<&'a mut RequestView> {
    match docs.get_mut(&request_key(id)) {
        Some(BrokerageDoc::Request(view)) => Some(view),
        _ => None,
    }
}

fn offer_mut<'a>(docs: &'a mut Docs<BrokerageDoc>, request: &str, offer: &str) -> Option<&'a mut OfferView> {
    request_mut(docs, request)?.offers.iter_mut().find(|o| o.offer_id == offer)
}

fn bounded_push(list: &mut Vec<String>, id: String) {
    list.retain(|r| *r != id);
    list.push(id);
    if list.len() > MAX_FINISHED {
        list.remove(0);
    }
}

/// Moves a request between the council's active and finished lists, and in or out of `open`.
fn file(docs: &mut Docs<BrokerageDoc>, id: &str) {
    let Some(BrokerageDoc::Request(view)) = docs.get(&request_key(id)) else { return };
    let (council, state, need, district) =
        (view.organisation.clone(), view.state, view.need, view.district.clone());
    let finished = matches!(state, RequestState::Placed | RequestState::Cancelled);
    if let BrokerageDoc::Market { active, finished: done } = docs
        .entry(&market_key(&council), || BrokerageDoc::Market { active: Vec::new(), finished: Vec::new() })
    {
        if finished {
            active.retain(|r| r != id);
            bounded_push(done, id.to_owned());
        } else {
            done.retain(|r| r != id);
            if !active.iter().any(|r| r == id) {
                active.push(id.to_owned());
            }
        }
    }
    let open = state == RequestState::Open;
    let listed = matches!(docs.get(OPEN_KEY), Some(BrokerageDoc::Open { rows }) if rows.iter().any(|r| r.request_id == id));
    if open != listed
        && let BrokerageDoc::Open { rows } = docs.entry(OPEN_KEY, || BrokerageDoc::Open { rows: Vec::new() })
    {
        if open {
            rows.push(OpenRow { request_id: id.to_owned(), organisation: council, need, district });
        } else {
            rows.retain(|r| r.request_id != id);
        }
    }
}

impl BrokerageModel {
    fn provider(
        docs: &mut Docs<BrokerageDoc>,
        event: &BrokerageEvent,
        at_event: chrono::DateTime<chrono::Utc>,
    ) {
        match event {
            BrokerageEvent::ProviderRegistered { ods, profile, cqc, at, .. } => {
                let row = ProviderRow {
                    ods: ods.to_string(),
                    profile: profile.clone(),
                    cqc: *cqc,
                    beds_free: profile.registered_beds,
                    hours_free: profile.weekly_hours,
                    suspended: None,
                    updated_at: *at,
                };
                if let BrokerageDoc::Providers { rows } =
                    docs.entry(PROVIDERS_KEY, || BrokerageDoc::Providers { rows: Vec::new() })
                {
                    rows.retain(|r| r.ods != row.ods);
                    let place = rows.partition_point(|r| r.ods < row.ods);
                    rows.insert(place, row);
                }
            }
            other => {
                let ods = match other {
                    BrokerageEvent::ProviderProfileChanged { ods, .. }
                    | BrokerageEvent::VacanciesUpdated { ods, .. }
                    | BrokerageEvent::CqcRatingRecorded { ods, .. }
                    | BrokerageEvent::ProviderSuspended { ods, .. }
                    | BrokerageEvent::ProviderReinstated { ods, .. }
                    | BrokerageEvent::CapacityCommitted { ods, .. }
                    | BrokerageEvent::CapacityReleased { ods, .. } => ods.to_string(),
                    _ => return,
                };
                let Some(row) = provider_mut(docs, &ods) else { return };
                row.updated_at = at_event;
                match other {
                    BrokerageEvent::ProviderProfileChanged { profile, .. } => {
                        row.beds_free = row.beds_free.min(profile.registered_beds);
                        row.hours_free = row.hours_free.min(profile.weekly_hours);
                        row.profile = profile.clone();
                    }
                    BrokerageEvent::VacanciesUpdated { beds_free, hours_free, rates, .. } => {
                        row.beds_free = *beds_free;
                        row.hours_free = *hours_free;
                        row.profile.rates = rates.clone();
                    }
                    BrokerageEvent::CqcRatingRecorded { cqc, .. } => row.cqc = *cqc,
                    BrokerageEvent::ProviderSuspended { reason, .. } => {
                        row.suspended = Some(reason.to_string())
                    }
                    BrokerageEvent::ProviderReinstated { .. } => row.suspended = None,
                    BrokerageEvent::CapacityCommitted { beds, hours, .. } => {
                        row.beds_free = row.beds_free.saturating_sub(*beds);
                        row.hours_free = row.hours_free.saturating_sub(*hours);
                    }
                    BrokerageEvent::CapacityReleased { beds, hours, .. } => {
                        row.beds_free = row.beds_free.saturating_add(*beds).min(row.profile.registered_beds);
                        row.hours_free = row.hours_free.saturating_add(*hours).min(row.profile.weekly_hours);
                    }
                    _ => {}
                }
            }
        }
    }

    fn request(docs: &mut Docs<BrokerageDoc>, recorded: &RecordedEvent, event: &BrokerageEvent) {
        let position = recorded.position;
        let Some(id) = event.request_id().map(|r| r.to_string()) else { return };
        if let BrokerageEvent::CareRequestPosted {
            organisation,
            nhs_number,
            assessment_id,
            need,
            district,
            terms,
            needs,
            window_closes_at,
            at,
            ..
        } = event
        {
            let view = RequestView {
                request_id: id.clone(),
                organisation: organisation.to_string(),
                nhs_number: nhs_number.to_string(),
                assessment_id: assessment_id.to_string(),
                need: *need,
                care_type: need.care_type(),
                bed_type: need.bed_type(),
                district: district.as_str().to_owned(),
                terms: *terms,
                needs: needs.clone(),
                round: 1,
                window_closes_at: *window_closes_at,
                state: RequestState::Open,
                offers: Vec::new(),
                placement: None,
                handed_back_by: Default::default(),
                posted_at: *at,
                placed_at: None,
                reason: None,
                position,
            };
            docs.put(request_key(&id), BrokerageDoc::Request(Box::new(view)));
            file(docs, &id);
            return;
        }
        match event {
            BrokerageEvent::OfferMade {
                offer_id,
                round,
                provider,
                provider_name,
                cqc,
                home_district,
                weekly_price,
                earliest_start,
                note,
                at,
                ..
            } => {
                let Some(view) = request_mut(docs, &id) else { return };
                let offer_id = offer_id.to_string();
                view.offers.retain(|o| o.offer_id != offer_id);
                view.offers.push(OfferView {
                    offer_id,
                    round: *round,
                    provider: provider.to_string(),
                    provider_name: provider_name.to_string(),
                    cqc: *cqc,
                    home_district: home_district.as_str().to_owned(),
                    weekly_price: *weekly_price,
                    earliest_start: *earliest_start,
                    note: note.as_ref().map(ToString::to_string),
                    state: OfferState::Live,
                    declined: None,
                    made_at: *at,
                });
                view.position = position;
                if let BrokerageDoc::Provider { offered } = docs
                    .entry(&provider_key(provider.as_str()), || BrokerageDoc::Provider {
                        offered: Vec::new(),
                    })
                {
                    bounded_push(offered, id.clone());
                }
            }
            BrokerageEvent::OfferWithdrawn { offer_id, .. } => {
                if let Some(offer) = offer_mut(docs, &id, &offer_id.to_string()) {
                    offer.state = OfferState::Withdrawn;
                }
            }
            BrokerageEvent::OfferDeclined { offer_id, reason, .. } => {
                if let Some(offer) = offer_mut(docs, &id, &offer_id.to_string()) {
                    offer.state = OfferState::Declined;
                    offer.declined = Some(*reason);
                }
            }
            BrokerageEvent::PlacementAgreed {
                offer_id,
                provider,
                provider_name,
                weekly_price,
                start_date,
                rank,
                of,
                score,
                at,
                ..
            } => {
                let Some(view) = request_mut(docs, &id) else { return };
                let offer_id = offer_id.to_string();
                if let Some(offer) = view.offers.iter_mut().find(|o| o.offer_id == offer_id) {
                    offer.state = OfferState::Accepted;
                }
                view.state = RequestState::Placed;
                view.placed_at.get_or_insert(*at);
                view.placement = Some(PlacementView {
                    offer_id,
                    provider: provider.to_string(),
                    provider_name: provider_name.to_string(),
                    weekly_price: *weekly_price,
                    start_date: *start_date,
                    rank: *rank,
                    of: *of,
                    score: *score,
                    agreed_at: *at,
                });
            }
            BrokerageEvent::PlacementHandedBack { provider, .. } => {
                let Some(view) = request_mut(docs, &id) else { return };
                if let Some(placement) = view.placement.take()
                    && let Some(offer) = view.offers.iter_mut().find(|o| o.offer_id == placement.offer_id)
                {
                    offer.state = OfferState::HandedBack;
                }
                view.handed_back_by.insert(provider.to_string());
            }
            BrokerageEvent::OfferWindowClosed { round, .. } => {
                let Some(view) = request_mut(docs, &id) else { return };
                if view.round == *round && view.state == RequestState::Open {
                    view.state = RequestState::WindowClosed;
                }
            }
            BrokerageEvent::CareRequestWithdrawn { reason, .. } => {
                let Some(view) = request_mut(docs, &id) else { return };
                view.state = RequestState::Withdrawn;
                view.reason = Some(reason.to_string());
            }
            BrokerageEvent::CareRequestReposted { round, terms, window_closes_at, .. } => {
                let Some(view) = request_mut(docs, &id) else { return };
                view.round = *round;
                view.terms = *terms;
                view.window_closes_at = *window_closes_at;
                view.state = RequestState::Open;
                view.reason = None;
            }
            BrokerageEvent::CareRequestCancelled { reason, .. } => {
                let Some(view) = request_mut(docs, &id) else { return };
                view.state = RequestState::Cancelled;
                view.placement = None;
                view.reason = Some(reason.to_string());
            }
            _ => return,
        }
        if let Some(view) = request_mut(docs, &id) {
            view.position = position;
        }
        file(docs, &id);
    }
}

impl Fold for BrokerageModel {
    type Doc = BrokerageDoc;

    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self) -> Filter {
        Filter::categories(["provider", "care", "ranking"])
    }

    fn apply(&self, docs: &mut Docs<BrokerageDoc>, event: &RecordedEvent) -> Result<(), ProjectionError> {
        let decoded = decode::<BrokerageEvent>(event)?;
        match decoded.as_ref() {
            BrokerageEvent::RankingRuleSet { organisation, rule, .. } => {
                docs.put(rule_key(organisation.as_str()), BrokerageDoc::Rule(*rule));
            }
            e @ (BrokerageEvent::ProviderRegistered { .. }
            | BrokerageEvent::ProviderProfileChanged { .. }
            | BrokerageEvent::VacanciesUpdated { .. }
            | BrokerageEvent::CqcRatingRecorded { .. }
            | BrokerageEvent::ProviderSuspended { .. }
            | BrokerageEvent::ProviderReinstated { .. }
            | BrokerageEvent::CapacityCommitted { .. }
            | BrokerageEvent::CapacityReleased { .. }) => Self::provider(docs, e, event.recorded_at),
            e => Self::request(docs, event, e),
        }
        Ok(())
    }
}
