//! Prometheus metrics of the projections: how long after its commit each batch reached its read
//! model (the read side's lag in time; its lag in events is a gauge of the process, see
//! `careflow`'s `positions`), and how many events each model applied.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Model {
    model: String,
}

fn seconds() -> Histogram {
    // 100 µs to ~6.5 s.
    Histogram::new(exponential_buckets(0.000_1, 2.0, 17))
}

/// The projections' metrics (cheap to clone). A default value counts into cells no registry
/// encodes.
#[derive(Clone)]
pub struct ProjectionMetrics {
    lag: Family<Model, Histogram, fn() -> Histogram>,
    applied: Family<Model, Counter>,
}

impl Default for ProjectionMetrics {
    fn default() -> Self {
        Self { lag: Family::new_with_constructor(seconds), applied: Family::default() }
    }
}

impl ProjectionMetrics {
    /// Creates the metrics and registers them.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "careflow_read_model_lag_seconds",
            "Time from an event's commit to its read model applying it (the batch's newest event)",
            metrics.lag.clone(),
        );
        registry.register(
            "careflow_read_model_applied_events",
            "Events a read model applied",
            metrics.applied.clone(),
        );
        metrics
    }

    /// Records a batch of `events` applied to `model`, its newest committed `lag` ago.
    pub fn batch(&self, model: &str, events: usize, lag: Duration) {
        let label = Model { model: model.to_owned() };
        self.applied.get_or_create(&label).inc_by(events as u64);
        self.lag.get_or_create(&label).observe(lag.as_secs_f64());
    }
}
