//! How a process manager follows the log: it folds every event it reads into its state, and
//! for events past its checkpoint sends the commands it decides on, one at a time, each until
//! the services acknowledge or refuse it for good. Its checkpoint (stored in the event store)
//! moves only after every command of the events below it is acknowledged, so a crash repeats
//! commands (answered idempotently: their ids derive from the causing event) and never loses
//! one. On start it reads the log from the beginning to rebuild its state, sending nothing for
//! events at or below the checkpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use careflow_eventstore::{EventStore, Filter, Position, RecordedEvent, StoreError, Subscription};
use tokio::sync::watch;

use crate::commands::{Ack, Command, Sender, send_until_done, stopped};

/// A process manager: state folded from events, and the commands they call for.
pub trait Process: Send + 'static {
    /// Its name: its checkpoint is `workflow-<name>`.
    fn name(&self) -> &'static str;
    /// The events it reads.
    fn filter(&self) -> Filter;
    /// Folds `event` in; when `live` (the event is past the checkpoint), the commands it calls
    /// for, in order.
    fn handle(&mut self, event: &RecordedEvent, live: bool) -> Vec<Command>;
    /// The services carried `command` out (or had already).
    fn acknowledged(&mut self, command: &Command, ack: &Ack);
    /// The services refused `command` for good (logged by the runner).
    fn refused(&mut self, command: &Command) {
        let _ = command;
    }
}

/// What a runner has done, for metrics and tests.
#[derive(Debug, Default)]
pub struct RunnerCounts {
    /// Commands acknowledged.
    pub sent: AtomicU64,
    /// Commands the services refused for good (logged).
    pub refused: AtomicU64,
    /// The checkpoint.
    pub checkpoint: AtomicU64,
}

/// Runs one process manager. See the module docs.
pub struct ProcessRunner<P> {
    store: Arc<dyn EventStore>,
    sender: Arc<dyn Sender>,
    process: P,
    counts: Arc<RunnerCounts>,
    max_backoff: Duration,
}

impl<P: Process> ProcessRunner<P> {
    /// A runner of `process` over `store`, sending with `sender`.
    pub fn new(store: Arc<dyn EventStore>, sender: Arc<dyn Sender>, process: P) -> Self {
        Self { store, sender, process, counts: Arc::default(), max_backoff: Duration::from_secs(10) }
    }

    /// What it has done.
    pub fn counts(&self) -> Arc<RunnerCounts> {
        self.counts.clone()
    }

    /// On the first start of this process manager against a store (no checkpoint yet), starts
    /// it at the store's head: what happened before it existed calls for nothing (a new
    /// release does not raise a task for every discharge in the history). On an empty store
    /// that is position 0, so everything is acted on.
    pub async fn start_at_head_if_new(&self) -> Result<(), StoreError> {
        let name = self.checkpoint_name();
        if self.store.load_checkpoint(&name).await?.is_none() {
            let head = *self.store.head().borrow();
            self.store.save_checkpoint(&name, head).await?;
            tracing::info!(
                workflow = self.process.name(),
                head,
                "a new workflow starts at the head of the log"
            );
        }
        Ok(())
    }

    fn checkpoint_name(&self) -> String {
        format!("workflow-{}", self.process.name())
    }

    /// Follows the log until `stop` turns true (or the store fails).
    pub async fn run(mut self, stop: watch::Receiver<bool>) -> Result<(), StoreError> {
        let name = self.checkpoint_name();
        let mut checkpoint: Position = self.store.load_checkpoint(&name).await?.unwrap_or(0);
        self.counts.checkpoint.store(checkpoint, Ordering::Relaxed);
        let mut subscription = Subscription::new(self.store.clone(), 1, self.process.filter());
        loop {
            let batch = tokio::select! {
                biased;
                () = stopped(stop.clone()) => return Ok(()),
                batch = subscription.next_batch(256) => batch?,
            };
            for event in &batch.0 {
                let live = event.position > checkpoint;
                for command in self.process.handle(event, live) {
                    match send_until_done(self.sender.as_ref(), &command, self.max_backoff, &stop).await {
                        // Stopping: the checkpoint stays below this event, which is handled
                        // again on the next start.
                        None => return Ok(()),
                        Some(Ok(ack)) => {
                            self.counts.sent.fetch_add(1, Ordering::Relaxed);
                            self.process.acknowledged(&command, &ack);
                        }
                        Some(Err(refused)) => {
                            self.counts.refused.fetch_add(1, Ordering::Relaxed);
                            self.process.refused(&command);
                            tracing::warn!(
                                workflow = self.process.name(),
                                command = command.name(),
                                position = event.position,
                                // The code only: the services' messages may name the patient.
                                code = ?refused_code(&refused),
                                "a workflow's command was refused; going on"
                            );
                        }
                    }
                }
            }
            let through = subscription.delivered_through();
            if through > checkpoint {
                self.store.save_checkpoint(&name, through).await?;
                checkpoint = through;
                self.counts.checkpoint.store(checkpoint, Ordering::Relaxed);
            }
        }
    }
}

/// The gRPC code of a refusal, for the logs.
fn refused_code(error: &crate::commands::SendError) -> tonic::Code {
    match error {
        crate::commands::SendError::Refused { code, .. }
        | crate::commands::SendError::Transient { code, .. } => *code,
    }
}
