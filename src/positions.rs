//! Metrics of the log and the read models: the event store's head, each projection's
//! checkpoint and the lag between them, refreshed on every commit and once a second.

use std::sync::Arc;
use std::time::Duration;

use careflow_eventstore::EventStore;
use careflow_projections::Projection;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

/// The gauges, registered in the process's registry.
#[derive(Clone, Default)]
pub struct PositionMetrics {
    head: Gauge,
    checkpoint: Gauge,
    lag: Gauge,
}

impl PositionMetrics {
    /// Creates and registers the gauges.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "careflow_event_store_head_position",
            "Last committed $all position",
            metrics.head.clone(),
        );
        registry.register(
            "careflow_bed_board_checkpoint_position",
            "Last $all position the bed board reflects",
            metrics.checkpoint.clone(),
        );
        registry.register(
            "careflow_bed_board_lag_events",
            "Events committed but not yet in the bed board",
            metrics.lag.clone(),
        );
        metrics
    }

    /// Keeps the gauges current until `stopped` turns true.
    pub async fn track(
        self,
        store: Arc<dyn EventStore>,
        board: Arc<dyn Projection>,
        mut stopped: watch::Receiver<bool>,
    ) {
        let mut head = store.head();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let position = *head.borrow_and_update();
            let checkpoint = match board.checkpoint().await {
                Ok(checkpoint) => checkpoint,
                Err(error) => {
                    tracing::debug!(%error, "cannot read the bed board checkpoint for metrics");
                    u64::try_from(self.checkpoint.get()).unwrap_or(0)
                }
            };
            self.head.set(i64::try_from(position).unwrap_or(i64::MAX));
            self.checkpoint.set(i64::try_from(checkpoint).unwrap_or(i64::MAX));
            self.lag.set(i64::try_from(position.saturating_sub(checkpoint)).unwrap_or(i64::MAX));
            tokio::select! {
                changed = head.changed() => if changed.is_err() { return },
                _ = tick.tick() => {},
                _ = stopped.wait_for(|s| *s) => return,
            }
        }
    }
}
