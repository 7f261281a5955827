//! The beds context's subscriptions: live bed board changes, for as long as the caller's token
//! is valid.

use async_graphql::{Context, ID, Subscription};
use chrono::Utc;
use futures::Stream;
use futures::stream::{self, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::types::{Bed, reader};
use super::{Caller, viewer};
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

#[Subscription]
impl BedsSubscription {
    /// Each bed of the ward whose view changes, as it changes. A client that falls behind
    /// receives the whole board again, so it never misses a state. When the caller's token
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
        let guard = ctx.data::<GatewayMetrics>().ok().map(SubscriptionGuard::new);
        let changes = reader.changes();
        let ward = ward_id.0;
        // `None` once the token has expired: the stream ends after the error.
        let state = Some((changes, reader, ward, guard));
        let batches = stream::unfold(state, move |state| async move {
            let (mut changes, reader, ward, guard) = state?;
            loop {
                let change = tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(expires) => {
                        let expired: Items =
                            vec![Err(ApiError::Unauthenticated("the token has expired".into()).into())];
                        return Some((expired, None));
                    }
                    change = changes.recv() => change,
                };
                match change {
                    Ok(change) if change.ward_id == ward => {
                        return Some((vec![Ok(Bed(change.bed))], Some((changes, reader, ward, guard))));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, ward = %ward, "subscriber fell behind; resending the board");
                        let items: Items = match reader.bed_board(&ward).await {
                            Ok(board) => board.unwrap_or_default().into_iter().map(|b| Ok(Bed(b))).collect(),
                            // The client learns that the board may be stale; later changes follow.
                            Err(error) => vec![Err(error.into())],
                        };
                        return Some((items, Some((changes, reader, ward, guard))));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        });
        Ok(batches.flat_map(stream::iter))
    }
}
