//! The beds context's subscriptions: live bed board changes, for as long as the caller's token
//! is valid.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, ID, Subscription};
use careflow_domain::flags::FlagKind;
use careflow_projections::bed_board::{BedBoardReader, BedChange, BedChanges};
use careflow_projections::documents::DocChange;
use careflow_projections::patient_summary::{PatientDoc, PatientSummary, patient_key};
use chrono::Utc;
use futures::Stream;
use futures::stream::{self, StreamExt};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::patients::patients;
use super::types::{Bed, reader};
use super::{Caller, pushed, viewer};
use crate::error::{ApiError, GqlError};
use crate::metrics::{GatewayMetrics, SubscriptionGuard};

/// The beds context's subscriptions.
#[derive(Default)]
pub struct BedsSubscription;

/// When `caller`'s token expires, on the runtime's clock.
pub(crate) fn expiry(caller: &Caller) -> Instant {
    let left = (caller.expires_at - Utc::now()).to_std().unwrap_or_default();
    Instant::now() + left
}

/// What one wake-up of a bed board subscription sends.
type Items = Vec<Result<Bed, GqlError>>;

/// A live bed board subscription: the bed board's changes and the patient summaries' (a bed
/// shows its patient's flags).
struct Live {
    changes: BedChanges,
    patients: broadcast::Receiver<DocChange<PatientDoc>>,
    reader: Arc<dyn BedBoardReader>,
    ward: String,
    /// What the ward's beds show of each patient (active flag kinds, dissent), to push a bed
    /// again only when that changes.
    shown: HashMap<String, Shown>,
    /// Counts the subscription while it lives.
    _guard: Option<SubscriptionGuard>,
}

/// What a bed shows of its patient beyond the bed board's own fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Shown {
    flags: Vec<FlagKind>,
    dissent: bool,
}

impl Shown {
    fn of(summary: &PatientSummary) -> Self {
        Self { flags: summary.active_flag_kinds(), dissent: summary.dissent }
    }
}

/// What woke a bed board subscription.
#[allow(clippy::large_enum_variant)] // one lives on the stack per wake-up, moved once
enum Woke {
    Bed(Result<BedChange, RecvError>),
    Patient(Result<DocChange<PatientDoc>, RecvError>),
}

impl Live {
    /// The whole board, after a lag or a rebuild.
    async fn board(&self) -> Items {
        match self.reader.bed_board(&self.ward).await {
            Ok(board) => board.unwrap_or_default().into_iter().map(|b| Ok(Bed(b))).collect(),
            // The client learns that the board may be stale; later changes follow.
            Err(error) => vec![Err(error.into())],
        }
    }
}

#[Subscription]
impl BedsSubscription {
    /// Each bed of the ward whose view changes, as it changes (its state, or its patient's
    /// flags or sharing). A client that falls behind receives the whole board again, so it
    /// never misses a state. When the caller's token
    /// expires the subscription sends an UNAUTHENTICATED error and completes: subscribe again
    /// with a fresh token.
    async fn bed_board(
        &self,
        ctx: &Context<'_>,
        ward_id: ID,
    ) -> Result<impl Stream<Item = Result<Bed, GqlError>> + use<>, GqlError> {
        let caller = viewer(ctx)?;
        let expires = expiry(caller);
        let reader = reader(ctx)?.clone();
        if reader.ward(&ward_id).await?.is_none() {
            return Err(ApiError::NotFound(format!("ward {} does not exist", *ward_id)).into());
        }
        let summaries = patients(ctx)?;
        let (changes, patient_changes) = (reader.changes(), summaries.changes());
        // Counted once it receives changes (tests wait for the count before changing things).
        let guard = ctx.data::<GatewayMetrics>().ok().map(SubscriptionGuard::new);
        // What the beds show of their patients now (one read), so that later changes to a
        // patient push their bed only when what it shows changes.
        let occupants: Vec<String> = reader
            .bed_board(&ward_id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .filter_map(|bed| bed.patient.map(|p| patient_key(&p.nhs_number)))
            .collect();
        let shown = summaries
            .get_many(&occupants)
            .await?
            .into_iter()
            .filter_map(|doc| match doc {
                Some(PatientDoc::Summary(summary)) => Some((summary.nhs_number.clone(), Shown::of(&summary))),
                _ => None,
            })
            .collect();
        let live = Live { changes, patients: patient_changes, reader, ward: ward_id.0, shown, _guard: guard };
        // `None` once the token has expired: the stream ends after the error.
        let batches = stream::unfold(Some(live), move |state| async move {
            let mut live = state?;
            loop {
                let woke = tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(expires) => {
                        let expired: Items =
                            vec![Err(ApiError::Unauthenticated("the token has expired".into()).into())];
                        return Some((expired, None));
                    }
                    change = live.changes.recv() => Woke::Bed(change),
                    change = live.patients.recv() => Woke::Patient(change),
                };
                let items = match woke {
                    Woke::Bed(Ok(change)) if change.ward_id == live.ward => {
                        pushed("bedBoard", change.trace.as_deref());
                        vec![Ok(Bed(change.bed))]
                    }
                    Woke::Bed(Ok(_)) => continue,
                    // A patient in one of the ward's beds changed (a flag, dissent): their bed
                    // shows it, so it is sent again.
                    Woke::Patient(Ok(DocChange::Changed { doc: Some(doc), .. })) => {
                        let PatientDoc::Summary(summary) = &*doc else { continue };
                        let Some(stay) = summary.stay.as_ref().filter(|s| s.ward_id == live.ward) else {
                            // Not (or no longer) in this ward: what its beds show of them is
                            // forgotten, so that a return is compared afresh.
                            live.shown.remove(&summary.nhs_number);
                            continue;
                        };
                        let now = Shown::of(summary);
                        let before =
                            live.shown.insert(summary.nhs_number.clone(), now.clone()).unwrap_or_default();
                        if before == now {
                            continue;
                        }
                        match live.reader.bed(&stay.bed_id).await {
                            Ok(Some(bed)) => vec![Ok(Bed(bed))],
                            Ok(None) => continue,
                            Err(error) => vec![Err(error.into())],
                        }
                    }
                    Woke::Patient(Ok(DocChange::Changed { .. })) => continue,
                    Woke::Bed(Err(RecvError::Lagged(missed)))
                    | Woke::Patient(Err(RecvError::Lagged(missed))) => {
                        tracing::warn!(missed, ward = %live.ward, "subscriber fell behind; resending the board");
                        // Changes were missed: every patient is compared afresh from now on.
                        live.shown.clear();
                        live.board().await
                    }
                    // The patient summaries were rebuilt: any bed's patient may show differently.
                    Woke::Patient(Ok(DocChange::Resync)) => {
                        live.shown.clear();
                        live.board().await
                    }
                    Woke::Bed(Err(RecvError::Closed)) | Woke::Patient(Err(RecvError::Closed)) => return None,
                };
                return Some((items, Some(live)));
            }
        });
        Ok(batches.flat_map(stream::iter))
    }
}
