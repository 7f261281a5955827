//! The live `virtualWardCensus` subscription: the whole census first, then each patient's row
//! as it changes (a reading scored, a reading missed, a task raised or done), patients admitted
//! and discharged; the whole census again when the client fell behind or the model was rebuilt.

use std::collections::BTreeSet;

use async_graphql::{Context, ID, SimpleObject, Subscription};
use careflow_projections::documents::DocChange;
use futures::Stream;
use futures::stream::{self, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};

use super::types::{CensusEntry, VirtualWard};
use super::*;
use crate::metrics::{GatewayMetrics, SubscriptionGuard};
use crate::schema::subscription::expiry;

/// A change of a virtual ward's census.
#[derive(SimpleObject)]
pub struct VirtualWardCensusUpdate {
    /// The ward (its beds taken and free).
    pub ward: VirtualWard,
    /// Whether `changed` is the whole census (replace what you show) rather than what changed.
    pub full: bool,
    /// The patients whose rows changed (or, `full`, every patient, the highest risk first).
    pub changed: Vec<CensusEntry>,
    /// Admissions no longer on the ward (discharged).
    pub removed: Vec<ID>,
}

struct Live {
    changes: broadcast::Receiver<DocChange<VirtualWardDoc>>,
    ward: WardRow,
    admissions: BTreeSet<String>,
    _guard: Option<SubscriptionGuard>,
}

fn full(ward: WardRow, rows: Vec<CensusRow>) -> VirtualWardCensusUpdate {
    VirtualWardCensusUpdate {
        ward: VirtualWard(ward),
        full: true,
        changed: sorted(rows),
        removed: Vec::new(),
    }
}

fn follow(
    reader: VirtualWardReader,
    caller: Caller,
    ward_id: String,
    live: Live,
) -> impl Stream<Item = Result<VirtualWardCensusUpdate, GqlError>> {
    let expires = expiry(&caller);
    let census_doc = census_key(&ward_id);
    stream::unfold(Some(live), move |live| {
        let (reader, ward_id, census_doc) = (reader.clone(), ward_id.clone(), census_doc.clone());
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
                    Ok(DocChange::Changed { key, doc, .. }) if key == census_doc => match doc.as_deref() {
                        Some(VirtualWardDoc::Census { ward, admissions }) => {
                            let now: BTreeSet<String> = admissions.iter().cloned().collect();
                            let removed: Vec<ID> =
                                live.admissions.difference(&now).cloned().map(ID).collect();
                            live.admissions = now;
                            live.ward = ward.clone();
                            VirtualWardCensusUpdate {
                                ward: VirtualWard(ward.clone()),
                                full: false,
                                changed: Vec::new(),
                                removed,
                            }
                        }
                        _ => {
                            let gone = ApiError::NotFound(format!("virtual ward {ward_id} does not exist"));
                            return Some((Err(gone.into()), None));
                        }
                    },
                    Ok(DocChange::Changed { doc: Some(doc), .. }) => match &*doc {
                        VirtualWardDoc::Row(row) if row.ward_id == ward_id => {
                            live.admissions.insert(row.admission_id.clone());
                            VirtualWardCensusUpdate {
                                ward: VirtualWard(live.ward.clone()),
                                full: false,
                                changed: sorted(vec![(**row).clone()]),
                                removed: Vec::new(),
                            }
                        }
                        _ => continue,
                    },
                    Ok(DocChange::Changed { doc: None, .. }) => continue,
                    Ok(DocChange::Resync) | Err(RecvError::Lagged(_)) => {
                        match census(&reader, &ward_id).await {
                            Ok(Some((ward, rows))) => {
                                live.admissions = rows.iter().map(|r| r.admission_id.clone()).collect();
                                live.ward = ward.clone();
                                full(ward, rows)
                            }
                            Ok(None) => {
                                let gone =
                                    ApiError::NotFound(format!("virtual ward {ward_id} does not exist"));
                                return Some((Err(gone.into()), None));
                            }
                            Err(error) => return Some((Err(error.into()), Some(live))),
                        }
                    }
                    Err(RecvError::Closed) => return None,
                };
                return Some((Ok(update), Some(live)));
            }
        }
    })
}

/// The virtual-ward subscriptions.
#[derive(Default)]
pub struct VirtualWardsSubscription;

#[Subscription]
impl VirtualWardsSubscription {
    /// A virtual ward's census now (`full`), then each patient's row as it changes, and the
    /// admissions discharged (`removed`). Only the ward's organisation may follow it. Ends with
    /// UNAUTHENTICATED when the token expires.
    async fn virtual_ward_census(
        &self,
        ctx: &Context<'_>,
        ward_id: ID,
    ) -> Result<impl Stream<Item = Result<VirtualWardCensusUpdate, GqlError>> + use<>, GqlError> {
        let caller = viewer(ctx)?.clone();
        let reader = virtual_wards(ctx)?.clone();
        // Subscribe before the first read, so that no change falls between them.
        let changes = reader.changes();
        let Some((ward, rows)) = census(&reader, ward_id.as_str()).await? else {
            return Err(
                ApiError::NotFound(format!("virtual ward {} does not exist", ward_id.as_str())).into()
            );
        };
        may_see_census(&caller, &ward.organisation)?;
        let admissions = rows.iter().map(|r| r.admission_id.clone()).collect();
        let guard = ctx.data::<GatewayMetrics>().ok().map(SubscriptionGuard::new);
        let live = Live { changes, ward: ward.clone(), admissions, _guard: guard };
        let first = full(ward, rows);
        let updates = follow(reader, caller, ward_id.0, live);
        Ok(stream::iter([Ok(first)]).chain(updates))
    }
}
