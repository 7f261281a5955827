//! The live market: `careMarket` (a council's requests as they change, the whole market again
//! when its rule or the providers change) and `providerRequests` (a provider's requests as they
//! change: new ones it may offer on, its offers' outcomes, those it may no longer see). Both
//! send the whole view first, and again when the client fell behind or the model was rebuilt.

use std::collections::BTreeSet;

use async_graphql::Subscription;
use careflow_projections::documents::DocChange;
use futures::Stream;
use futures::stream::{self, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};

use super::*;
use crate::metrics::{GatewayMetrics, SubscriptionGuard};
use crate::schema::subscription::expiry;

/// A change of a council's market.
#[derive(SimpleObject)]
pub struct CareMarketUpdate {
    /// Whether this is the whole market (replace what you show): first, after a change of rule
    /// (everything re-ranked) or of the providers, and after falling behind.
    pub full: bool,
    /// The market, when `full`.
    pub market: Option<CareMarket>,
    /// The requests that changed (their offers re-ranked), when not `full`.
    pub changed: Vec<CareRequest>,
}

/// A change of a provider's view.
#[derive(SimpleObject)]
pub struct ProviderRequestsUpdate {
    /// Whether this is the whole view (replace what you show).
    pub full: bool,
    /// The view, when `full`.
    pub view: Option<ProviderRequests>,
    /// Requests that changed, as the provider may see them (a new one it may offer on, an
    /// offer's outcome), when not `full`.
    pub changed: Vec<CareRequest>,
    /// Requests it may no longer see (another provider's placement, no longer eligible).
    pub removed: Vec<ID>,
}

/// What either subscription follows.
enum Follow {
    Market { council: String, disclosure: Disclosure },
    Provider { own: Option<Box<ProviderRow>>, seen: BTreeSet<String> },
}

/// One update of either subscription.
enum Update {
    Market(CareMarketUpdate),
    Provider(ProviderRequestsUpdate),
}

struct Live {
    changes: broadcast::Receiver<DocChange<BrokerageDoc>>,
    follow: Follow,
    _guard: Option<SubscriptionGuard>,
}

fn provider_seen(view: &ProviderRequests) -> BTreeSet<String> {
    view.eligible.iter().chain(&view.offered).map(|r| r.id.0.clone()).collect()
}

/// The whole view again.
async fn full(reader: &BrokerageReader, caller: &Caller, follow: &mut Follow) -> Result<Update, ApiError> {
    match follow {
        Follow::Market { council, .. } => {
            let market = market(reader, caller, council).await?;
            Ok(Update::Market(CareMarketUpdate { full: true, market: Some(market), changed: Vec::new() }))
        }
        Follow::Provider { own, seen } => {
            let view = provider_view(reader, caller).await?;
            *own = view.provider.clone().map(Box::new);
            *seen = provider_seen(&view);
            Ok(Update::Provider(ProviderRequestsUpdate {
                full: true,
                view: Some(view),
                changed: Vec::new(),
                removed: Vec::new(),
            }))
        }
    }
}

/// What one changed document means to the follower, if anything.
async fn changed(
    reader: &BrokerageReader,
    caller: &Caller,
    follow: &mut Follow,
    key: &str,
    doc: Option<&BrokerageDoc>,
) -> Result<Option<Update>, ApiError> {
    let everything = match &*follow {
        Follow::Market { council, .. } => key == rule_key(council) || key == PROVIDERS_KEY,
        Follow::Provider { .. } => key == PROVIDERS_KEY,
    };
    if everything {
        return full(reader, caller, follow).await.map(Some);
    }
    let Some(BrokerageDoc::Request(view)) = doc else { return Ok(None) };
    match follow {
        Follow::Market { council, disclosure } => {
            if view.organisation != *council {
                return Ok(None);
            }
            let rule = rule(reader, council).await?;
            let shown = CareRequest::of(view, rule, Viewer::Council, *disclosure);
            Ok(Some(Update::Market(CareMarketUpdate { full: false, market: None, changed: vec![shown] })))
        }
        Follow::Provider { own, seen } => {
            let id = view.request_id.clone();
            let update = |changed, removed| {
                Update::Provider(ProviderRequestsUpdate { full: false, view: None, changed, removed })
            };
            match shown(reader, caller, view, own.as_deref()).await {
                Ok(request) => {
                    seen.insert(id);
                    Ok(Some(update(vec![request], Vec::new())))
                }
                Err(ApiError::Forbidden(_)) if seen.remove(&id) => Ok(Some(update(Vec::new(), vec![ID(id)]))),
                Err(ApiError::Forbidden(_)) => Ok(None),
                Err(error) => Err(error),
            }
        }
    }
}

fn follow_changes(
    reader: BrokerageReader,
    caller: Caller,
    live: Live,
) -> impl Stream<Item = Result<Update, GqlError>> {
    let expires = expiry(&caller);
    stream::unfold(Some(live), move |live| {
        let (reader, caller) = (reader.clone(), caller.clone());
        async move {
            let mut live = live?;
            loop {
                let change = tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(expires) => {
                        let expired = ApiError::Unauthenticated("the token has expired".into());
                        return Some((Err(expired.into()), None));
                    }
                    change = live.changes.recv() => change,
                };
                let update = match change {
                    Ok(DocChange::Changed { key, doc, .. }) => {
                        changed(&reader, &caller, &mut live.follow, &key, doc.as_deref()).await
                    }
                    Ok(DocChange::Resync) | Err(RecvError::Lagged(_)) => {
                        full(&reader, &caller, &mut live.follow).await.map(Some)
                    }
                    Err(RecvError::Closed) => return None,
                };
                match update {
                    Ok(Some(update)) => return Some((Ok(update), Some(live))),
                    Ok(None) => continue,
                    Err(error) => return Some((Err(error.into()), Some(live))),
                }
            }
        }
    })
}

fn market_updates(
    stream: impl Stream<Item = Result<Update, GqlError>>,
) -> impl Stream<Item = Result<CareMarketUpdate, GqlError>> {
    stream.filter_map(|u| async move {
        match u {
            Ok(Update::Market(update)) => Some(Ok(update)),
            Ok(Update::Provider(_)) => None,
            Err(e) => Some(Err(e)),
        }
    })
}

fn provider_updates(
    stream: impl Stream<Item = Result<Update, GqlError>>,
) -> impl Stream<Item = Result<ProviderRequestsUpdate, GqlError>> {
    stream.filter_map(|u| async move {
        match u {
            Ok(Update::Provider(update)) => Some(Ok(update)),
            Ok(Update::Market(_)) => None,
            Err(e) => Some(Err(e)),
        }
    })
}

/// The brokerage subscriptions.
#[derive(Default)]
pub struct BrokerageSubscription;

#[Subscription]
impl BrokerageSubscription {
    /// A council's market (the caller's own unless named) now (`full`), then each request as it
    /// changes, its offers re-ranked; the whole market again when the rule or the providers
    /// change. Ends with UNAUTHENTICATED when the token expires.
    async fn care_market(
        &self,
        ctx: &Context<'_>,
        council: Option<ID>,
    ) -> Result<impl Stream<Item = Result<CareMarketUpdate, GqlError>> + use<>, GqlError> {
        let caller = market_viewer(ctx)?.clone();
        let council = council.map_or_else(|| caller.actor.organisation.clone(), |c| c.0);
        let disclosure =
            policy::authorize_market(&caller.actor, Action::ViewMarket, &council).map_err(forbidden)?;
        let reader = brokerage(ctx)?.clone();
        // Subscribe before the first read, so that no change falls between them.
        let changes = reader.changes();
        let mut follow = Follow::Market { council, disclosure };
        let first = full(&reader, &caller, &mut follow).await?;
        let guard = ctx.data::<GatewayMetrics>().ok().map(SubscriptionGuard::new);
        let live = Live { changes, follow, _guard: guard };
        Ok(market_updates(stream::iter([Ok(first)]).chain(follow_changes(reader, caller, live))))
    }

    /// The caller's provider view now (`full`), then each request as it changes for it: new
    /// ones it may offer on, its offers' outcomes (and, once accepted, who the person is),
    /// those it may no longer see (`removed`). Ends with UNAUTHENTICATED when the token expires.
    async fn provider_requests(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<ProviderRequestsUpdate, GqlError>> + use<>, GqlError> {
        let caller = authenticated(ctx)?.clone();
        let reader = brokerage(ctx)?.clone();
        let changes = reader.changes();
        let mut follow = Follow::Provider { own: None, seen: BTreeSet::new() };
        let first = full(&reader, &caller, &mut follow).await?;
        let guard = ctx.data::<GatewayMetrics>().ok().map(SubscriptionGuard::new);
        let live = Live { changes, follow, _guard: guard };
        Ok(provider_updates(stream::iter([Ok(first)]).chain(follow_changes(reader, caller, live))))
    }
}
