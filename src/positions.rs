//! Metrics of the log and the read models: the event store's head, and each read model's
//! checkpoint and lag (label `model`), refreshed on every commit and once a second.

use std::sync::Arc;
use std::time::Duration;

use careflow_eventstore::EventStore;
use careflow_projections::Projection;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

/// The `model` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Model {
    model: String,
}

/// The gauges, registered in the process's registry.
#[derive(Clone, Default)]
pub struct PositionMetrics {
    head: Gauge,
    checkpoint: Family<Model, Gauge>,
    lag: Family<Model, Gauge>,
}

fn gauge_value(position: u64) -> i64 {
    i64::try_from(position).unwrap_or(i64::MAX)
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
            "careflow_read_model_checkpoint_position",
            "Last $all position a read model reflects",
            metrics.checkpoint.clone(),
        );
        registry.register(
            "careflow_read_model_lag_events",
            "Events committed but not yet in a read model (it may skip most: they are other contexts')",
            metrics.lag.clone(),
        );
        metrics
    }

    /// Keeps the gauges of `models` current until `stopped` turns true.
    pub async fn track(
        self,
        store: Arc<dyn EventStore>,
        models: Vec<Arc<dyn Projection>>,
        mut stopped: watch::Receiver<bool>,
    ) {
        let mut head = store.head();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let position = *head.borrow_and_update();
            self.head.set(gauge_value(position));
            for model in &models {
                let label = Model { model: model.name().to_owned() };
                let checkpoint = match model.checkpoint().await {
                    Ok(checkpoint) => checkpoint,
                    Err(error) => {
                        tracing::debug!(model = model.name(), %error, "cannot read a checkpoint for metrics");
                        u64::try_from(self.checkpoint.get_or_create(&label).get()).unwrap_or(0)
                    }
                };
                self.checkpoint.get_or_create(&label).set(gauge_value(checkpoint));
                self.lag.get_or_create(&label).set(gauge_value(position.saturating_sub(checkpoint)));
            }
            tokio::select! {
                changed = head.changed() => if changed.is_err() { return },
                _ = tick.tick() => {},
                _ = stopped.wait_for(|s| *s) => return,
            }
        }
    }
}
