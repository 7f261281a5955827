//! Prometheus metrics of the gateway, registered into the process's shared registry.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The registry every component of the process registers into; `/metrics` encodes it.
pub type SharedRegistry = Arc<Mutex<Registry>>;

type Labels = Vec<(String, String)>;

/// The gateway's metrics (cheap to clone: handles to shared cells).
#[derive(Clone)]
pub struct GatewayMetrics {
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
    subscriptions: Gauge<i64, std::sync::atomic::AtomicI64>,
    read_your_writes: Histogram,
}

fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl GatewayMetrics {
    /// Creates the metrics and registers them.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(seconds_histogram),
            subscriptions: Gauge::default(),
            read_your_writes: seconds_histogram(),
        };
        registry.register(
            "careflow_graphql_requests",
            "GraphQL requests by operation and outcome",
            metrics.requests.clone(),
        );
        registry.register(
            "careflow_graphql_request_seconds",
            "GraphQL request latency by operation",
            metrics.latency.clone(),
        );
        registry.register(
            "careflow_graphql_subscriptions",
            "Active GraphQL subscriptions",
            metrics.subscriptions.clone(),
        );
        registry.register(
            "careflow_read_your_writes_wait_seconds",
            "Time a mutation waited for the read models to reflect it",
            metrics.read_your_writes.clone(),
        );
        metrics
    }

    /// Records one HTTP GraphQL request.
    pub fn observe_request(&self, operation: &str, ok: bool, elapsed: Duration) {
        let outcome = if ok { "ok" } else { "error" };
        self.requests
            .get_or_create(&vec![("operation".into(), operation.into()), ("outcome".into(), outcome.into())])
            .inc();
        self.latency
            .get_or_create(&vec![("operation".into(), operation.into())])
            .observe(elapsed.as_secs_f64());
    }

    /// Records a read-your-writes wait.
    pub fn observe_read_your_writes(&self, elapsed: Duration) {
        self.read_your_writes.observe(elapsed.as_secs_f64());
    }
}

/// Counts a subscription while it lives.
pub struct SubscriptionGuard(Gauge<i64, std::sync::atomic::AtomicI64>);

impl SubscriptionGuard {
    /// Counts one more subscription until dropped.
    pub fn new(metrics: &GatewayMetrics) -> Self {
        metrics.subscriptions.inc();
        Self(metrics.subscriptions.clone())
    }
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
