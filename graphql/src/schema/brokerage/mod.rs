//! The brokerage context's schema: a council's care market (its requests, the live offers
//! ranked by its rule with each score explained, placements and time to placement, the
//! providers and the vacancy map), a provider's view (the requests it may offer on, its offers
//! and their outcomes), the commands, and both views live. Every read goes through the policy:
//! [`policy::authorize_market`] for a council's market, [`policy::authorize_care_request`] for
//! each request, which also decides whether the viewer sees who the person is.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use careflow_auth::policy::{self, Action, CareRequestAccess, Disclosure};
use careflow_domain::brokerage::RankingRule as DomainRule;
use careflow_projections::brokerage::{
    BrokerageDoc, OPEN_KEY, PROVIDERS_KEY, ProviderRow, RequestState as StoredState, RequestView, market_key,
    provider_key, request_key, rule_key, vacancy_map,
};
use careflow_projections::documents::DocumentReader;

use super::{Caller, authenticated};
use crate::error::{ApiError, FieldViolation, GqlError};

mod mutation;
mod subscription;
pub mod types;

pub use mutation::BrokerageMutation;
pub use subscription::BrokerageSubscription;
use types::{CareProvider, CareRequest, RankingRule, Vacancies, Viewer};

/// The brokerage models, as the gateway reads them.
pub type BrokerageReader = Arc<dyn DocumentReader<BrokerageDoc>>;

pub(crate) fn brokerage<'a>(ctx: &Context<'a>) -> Result<&'a BrokerageReader, ApiError> {
    ctx.data::<BrokerageReader>().map_err(|e| ApiError::internal(&e.message))
}

fn bad_input(field: &str, description: impl Into<String>) -> ApiError {
    let description = description.into();
    ApiError::BadUserInput {
        message: format!("{field}: {description}"),
        violations: vec![FieldViolation { field: field.to_owned(), description }],
    }
}

fn forbidden(denied: policy::Denied) -> ApiError {
    ApiError::Forbidden(denied.to_string())
}

/// Every provider.
pub(crate) async fn providers(reader: &BrokerageReader) -> Result<Vec<ProviderRow>, ApiError> {
    Ok(match reader.get(PROVIDERS_KEY).await? {
        Some(BrokerageDoc::Providers { rows }) => rows,
        _ => Vec::new(),
    })
}

/// A council's rule (`None`: the default).
pub(crate) async fn rule(reader: &BrokerageReader, council: &str) -> Result<Option<DomainRule>, ApiError> {
    Ok(match reader.get(&rule_key(council)).await? {
        Some(BrokerageDoc::Rule(rule)) => Some(rule),
        _ => None,
    })
}

/// The requests under `ids`, as stored.
pub(crate) async fn requests(reader: &BrokerageReader, ids: &[String]) -> Result<Vec<RequestView>, ApiError> {
    let keys: Vec<String> = ids.iter().map(|id| request_key(id)).collect();
    Ok(reader
        .get_many(&keys)
        .await?
        .into_iter()
        .filter_map(|doc| match doc {
            Some(BrokerageDoc::Request(view)) => Some(*view),
            _ => None,
        })
        .collect())
}

/// How `caller` may see `view`, if at all: as the council or as a provider, identified or not.
pub(crate) fn access<'a>(
    caller: &'a Caller,
    view: &RequestView,
    own: Option<&ProviderRow>,
) -> Result<(Viewer<'a>, Disclosure), ApiError> {
    let org = caller.actor.organisation.as_str();
    let eligible =
        view.state == StoredState::Open && own.is_some_and(|p| p.eligible(view.need, &view.district));
    let access = CareRequestAccess {
        organisation: &view.organisation,
        eligible,
        // An offer of this round (whatever came of it): an offer withdrawn in an earlier round
        // does not keep a provider that is no longer eligible looking at the request.
        offered: view.offers.iter().any(|o| o.provider == org && o.round == view.round),
        awarded: view.placement.as_ref().is_some_and(|p| p.provider == org),
    };
    let disclosure =
        policy::authorize_care_request(&caller.actor, Action::ViewMarket, access).map_err(forbidden)?;
    let viewer = if view.organisation == org { Viewer::Council } else { Viewer::Provider(org) };
    Ok((viewer, disclosure))
}

/// The caller's own provider row, if their organisation is a provider.
pub(crate) async fn own_row(
    reader: &BrokerageReader,
    caller: &Caller,
) -> Result<Option<ProviderRow>, ApiError> {
    Ok(providers(reader).await?.into_iter().find(|p| p.ods == caller.actor.organisation))
}

/// `view` as `caller` sees it, if they may.
pub(crate) async fn shown(
    reader: &BrokerageReader,
    caller: &Caller,
    view: &RequestView,
    own: Option<&ProviderRow>,
) -> Result<CareRequest, ApiError> {
    let (viewer, disclosure) = access(caller, view, own)?;
    // Only the council sees the ranking: no rule to read for a provider.
    let rule = match viewer {
        Viewer::Council => rule(reader, &view.organisation).await?,
        Viewer::Provider(_) => None,
    };
    Ok(CareRequest::of(view, rule, viewer, disclosure))
}

/// A council's market, read.
pub struct CareMarket {
    council: String,
    rule: Option<DomainRule>,
    active: Vec<CareRequest>,
    finished: Vec<CareRequest>,
    providers: Vec<ProviderRow>,
}

/// Averages over the market's placements.
#[derive(SimpleObject)]
pub struct MarketFigures {
    /// Requests in play (open, closed or withdrawn).
    pub active: usize,
    /// Of them, open for offers.
    pub open: usize,
    /// Placements agreed (of the latest finished).
    pub placed: usize,
    /// The mean hours from posting to placement, over those placements.
    pub mean_hours_to_placement: Option<f64>,
}

#[Object]
impl CareMarket {
    /// The council.
    async fn council(&self) -> ID {
        ID(self.council.clone())
    }
    /// Its ranking rule.
    async fn rule(&self) -> RankingRule {
        RankingRule::of(self.rule)
    }
    /// Requests in play (open, closed or withdrawn), the oldest first, each with its offers
    /// ranked.
    async fn requests(&self) -> &[CareRequest] {
        &self.active
    }
    /// The latest placed or cancelled requests, the latest first.
    async fn finished(&self) -> &[CareRequest] {
        &self.finished
    }
    /// Counts and the time to placement.
    async fn figures(&self) -> MarketFigures {
        let hours: Vec<f64> = self
            .finished
            .iter()
            .filter(|r| r.state == types::RequestState::Placed)
            .filter_map(|r| r.hours_to_placement)
            .collect();
        MarketFigures {
            active: self.active.len(),
            open: self.active.iter().filter(|r| r.state == types::RequestState::Open).count(),
            placed: hours.len(),
            mean_hours_to_placement: (!hours.is_empty())
                .then(|| hours.iter().sum::<f64>() / hours.len() as f64),
        }
    }
    /// Every provider, with its vacancies.
    async fn providers(&self) -> Vec<CareProvider> {
        self.providers.iter().cloned().map(CareProvider).collect()
    }
    /// Beds and hours free by district and care type.
    async fn vacancies(&self) -> Vec<Vacancies> {
        vacancy_map(&self.providers).into_iter().map(|((d, c), cell)| Vacancies::of(d, c, cell)).collect()
    }
}

/// Reads council `council`'s market for `caller` (who must be allowed).
pub(crate) async fn market(
    reader: &BrokerageReader,
    caller: &Caller,
    council: &str,
) -> Result<CareMarket, ApiError> {
    let disclosure =
        policy::authorize_market(&caller.actor, Action::ViewMarket, council).map_err(forbidden)?;
    let (active, finished) = match reader.get(&market_key(council)).await? {
        Some(BrokerageDoc::Market { active, finished }) => (active, finished),
        _ => (Vec::new(), Vec::new()),
    };
    let rule = rule(reader, council).await?;
    let show = |views: Vec<RequestView>| -> Vec<CareRequest> {
        views.iter().map(|v| CareRequest::of(v, rule, Viewer::Council, disclosure)).collect()
    };
    let mut finished = show(requests(reader, &finished).await?);
    finished.reverse();
    Ok(CareMarket {
        council: council.to_owned(),
        rule,
        active: show(requests(reader, &active).await?),
        finished,
        providers: providers(reader).await?,
    })
}

/// A provider's view of the market.
pub struct ProviderRequests {
    provider: Option<ProviderRow>,
    eligible: Vec<CareRequest>,
    offered: Vec<CareRequest>,
}

#[Object]
impl ProviderRequests {
    /// The provider (null: the caller's organisation has not registered).
    async fn provider(&self) -> Option<CareProvider> {
        self.provider.clone().map(CareProvider)
    }
    /// Requests open for offers that it may offer on (care type, district, capacity), on which
    /// it has no live offer, the soonest to close first.
    async fn eligible(&self) -> &[CareRequest] {
        &self.eligible
    }
    /// Requests it offered on, the latest first, with its offers and their outcomes.
    async fn offered(&self) -> &[CareRequest] {
        &self.offered
    }
}

/// Reads `caller`'s provider view.
pub(crate) async fn provider_view(
    reader: &BrokerageReader,
    caller: &Caller,
) -> Result<ProviderRequests, ApiError> {
    policy::authorize(&caller.actor, Action::OfferCare, policy::Owner::Actor).map_err(forbidden)?;
    let org = caller.actor.organisation.as_str();
    let own = own_row(reader, caller).await?;
    let open = match reader.get(OPEN_KEY).await? {
        Some(BrokerageDoc::Open { rows }) => rows,
        _ => Vec::new(),
    };
    let candidates: Vec<String> = match &own {
        Some(row) => {
            open.iter().filter(|r| row.eligible(r.need, &r.district)).map(|r| r.request_id.clone()).collect()
        }
        None => Vec::new(),
    };
    let offered_ids = match reader.get(&provider_key(org)).await? {
        Some(BrokerageDoc::Provider { offered }) => offered,
        _ => Vec::new(),
    };
    let mut eligible = Vec::new();
    for view in requests(reader, &candidates).await? {
        let live_offer = view
            .offers
            .iter()
            .any(|o| o.provider == org && o.state == careflow_projections::brokerage::OfferState::Live);
        if live_offer || view.organisation == org {
            continue;
        }
        if let Ok(shown) = shown(reader, caller, &view, own.as_ref()).await {
            eligible.push(shown);
        }
    }
    eligible.sort_by_key(|r| r.closes);
    let mut offered = Vec::new();
    for view in requests(reader, &offered_ids).await?.iter().rev() {
        offered.push(shown(reader, caller, view, own.as_ref()).await?);
    }
    Ok(ProviderRequests { provider: own, eligible, offered })
}

fn market_viewer<'a>(ctx: &Context<'a>) -> Result<&'a Caller, ApiError> {
    let caller = authenticated(ctx)?;
    if !policy::role_allows(caller.actor.role, Action::ViewMarket) {
        return Err(ApiError::Forbidden(format!(
            "role {} may not {}",
            caller.actor.role,
            Action::ViewMarket
        )));
    }
    Ok(caller)
}

/// The brokerage queries.
#[derive(Default)]
pub struct BrokerageQuery;

#[Object]
impl BrokerageQuery {
    /// A council's care market (the caller's own council unless named): requests in play with
    /// their offers ranked by the council's rule and each score explained, the latest
    /// placements, time to placement, every provider and the vacancy map. The council's brokers
    /// see who each person is; its commissioners do not.
    async fn care_market(&self, ctx: &Context<'_>, council: Option<ID>) -> Result<CareMarket, GqlError> {
        let caller = market_viewer(ctx)?;
        let council = council.map_or_else(|| caller.actor.organisation.clone(), |c| c.0);
        Ok(market(brokerage(ctx)?, caller, &council).await?)
    }

    /// One care request, as the caller may see it: the council sees every offer ranked; a
    /// provider sees it while it may offer on it or has offered, with only its own offers, and
    /// who the person is only once its offer is accepted.
    async fn care_request(&self, ctx: &Context<'_>, id: ID) -> Result<Option<CareRequest>, GqlError> {
        let caller = market_viewer(ctx)?;
        if uuid::Uuid::parse_str(id.as_str()).is_err() {
            return Err(bad_input("id", "must be a care request id (UUID)").into());
        }
        let reader = brokerage(ctx)?;
        let Some(view) = requests(reader, &[id.0]).await?.pop() else { return Ok(None) };
        let own = own_row(reader, caller).await?;
        Ok(Some(shown(reader, caller, &view, own.as_ref()).await?))
    }

    /// A care provider's view: the requests it may offer on, and those it offered on with
    /// their outcomes. Nothing identifying before an award.
    async fn provider_requests(&self, ctx: &Context<'_>) -> Result<ProviderRequests, GqlError> {
        let caller = authenticated(ctx)?;
        Ok(provider_view(brokerage(ctx)?, caller).await?)
    }
}
