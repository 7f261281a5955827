//! Subscriptions: live bed board changes.

use async_graphql::{Context, ID, Subscription};
use futures::Stream;
use futures::stream::{self, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::types::{Bed, reader};
use super::viewer;
use crate::error::{ApiError, GqlError};
use crate::metrics::{GatewayMetrics, SubscriptionGuard};

/// The root subscription.
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Each bed of the ward whose view changes, as it changes. A client that falls behind
    /// receives the whole board again, so it never misses a state.
    async fn bed_board(
        &self,
        ctx: &Context<'_>,
        ward_id: ID,
    ) -> Result<impl Stream<Item = Bed> + use<>, GqlError> {
        viewer(ctx)?;
        let reader = reader(ctx)?.clone();
        if reader.ward(&ward_id).await?.is_none() {
            return Err(ApiError::NotFound(format!("ward {} does not exist", *ward_id)).into());
        }
        let guard = ctx.data::<GatewayMetrics>().ok().map(SubscriptionGuard::new);
        let changes = reader.changes();
        let ward = ward_id.0;
        let state = (changes, reader, ward, guard);
        let batches = stream::unfold(state, |(mut changes, reader, ward, guard)| async move {
            loop {
                match changes.recv().await {
                    Ok(change) if change.ward_id == ward => {
                        return Some((vec![Bed(change.bed)], (changes, reader, ward, guard)));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, ward = %ward, "subscriber fell behind; resending the board");
                        let board = reader.bed_board(&ward).await.ok().flatten().unwrap_or_default();
                        return Some((board.into_iter().map(Bed).collect(), (changes, reader, ward, guard)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        });
        Ok(batches.flat_map(stream::iter))
    }
}
