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

/// The `workflow` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Workflow {
    workflow: String,
}

/// Metrics of the workflows and the clock: each workflow's checkpoint and commands, and the
/// clock's pending and fired deadlines; copied from their counters once a second.
#[derive(Clone, Default)]
pub struct WorkflowMetrics {
    checkpoint: Family<Workflow, Gauge>,
    sent: Family<Workflow, prometheus_client::metrics::counter::Counter>,
    refused: Family<Workflow, prometheus_client::metrics::counter::Counter>,
    pending: Gauge,
    fired: prometheus_client::metrics::counter::Counter,
}

impl WorkflowMetrics {
    /// Creates and registers the metrics.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "careflow_workflow_checkpoint_position",
            "Last $all position a workflow has acted on (its commands acknowledged)",
            metrics.checkpoint.clone(),
        );
        registry.register(
            "careflow_workflow_commands_sent",
            "Commands a workflow sent and the services acknowledged",
            metrics.sent.clone(),
        );
        registry.register(
            "careflow_workflow_commands_refused",
            "Commands the services refused for good (logged with the reason)",
            metrics.refused.clone(),
        );
        registry.register(
            "careflow_clock_pending_deadlines",
            "Deadlines the clock holds, not yet fired",
            metrics.pending.clone(),
        );
        registry.register(
            "careflow_clock_fired_deadlines",
            "Deadlines fired and answered by the services",
            metrics.fired.clone(),
        );
        metrics
    }

    /// Keeps the metrics current from `workflow`'s counts and the clock's until `stopped`.
    pub async fn track(
        self,
        workflows: Vec<(&'static str, Arc<careflow_workflows::runner::RunnerCounts>)>,
        clock: (Arc<std::sync::atomic::AtomicU64>, Arc<std::sync::atomic::AtomicU64>),
        mut stopped: watch::Receiver<bool>,
    ) {
        use std::sync::atomic::Ordering::Relaxed;
        let (pending, fired) = clock;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        // Per workflow: its label and what its counters were at the last tick.
        let mut seen: Vec<(Workflow, Arc<careflow_workflows::runner::RunnerCounts>, u64, u64)> = workflows
            .into_iter()
            .map(|(name, counts)| (Workflow { workflow: name.to_owned() }, counts, 0, 0))
            .collect();
        let mut fired_before = 0u64;
        loop {
            for (label, counts, sent_before, refused_before) in &mut seen {
                self.checkpoint.get_or_create(label).set(gauge_value(counts.checkpoint.load(Relaxed)));
                let (sent, refused) = (counts.sent.load(Relaxed), counts.refused.load(Relaxed));
                self.sent.get_or_create(label).inc_by(sent.saturating_sub(*sent_before));
                self.refused.get_or_create(label).inc_by(refused.saturating_sub(*refused_before));
                (*sent_before, *refused_before) = (sent, refused);
            }
            let fired_now = fired.load(Relaxed);
            self.fired.inc_by(fired_now.saturating_sub(fired_before));
            fired_before = fired_now;
            self.pending.set(gauge_value(pending.load(Relaxed)));
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => return,
            }
        }
    }
}
