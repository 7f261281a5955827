//! A document model held in memory: rebuilt from the log at start-up, then kept live.

use std::marker::PhantomData;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use async_trait::async_trait;
use careflow_eventstore::{Filter, Position, RecordedEvent};
use tokio::sync::{broadcast, watch};

use super::{CHANGE_BUFFER, DocChange, Docs, DocumentReader, Fold, fold_batch};
use crate::{Projection, ProjectionError};

/// A [`Fold`]'s documents in memory: a [`Projection`] and a [`DocumentReader`].
pub struct MemoryDocuments<F: Fold> {
    fold: F,
    docs: RwLock<Docs<F::Doc>>,
    checkpoint: watch::Sender<Position>,
    changes: broadcast::Sender<DocChange<F::Doc>>,
    _doc: PhantomData<F::Doc>,
}

impl<F: Fold> MemoryDocuments<F> {
    /// An empty model at checkpoint 0.
    pub fn new(fold: F) -> Self {
        Self {
            fold,
            docs: RwLock::new(Docs::default()),
            checkpoint: watch::channel(0).0,
            changes: broadcast::channel(CHANGE_BUFFER).0,
            _doc: PhantomData,
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Docs<F::Doc>> {
        // A fold never panics midway (no indexing, no unwraps), so a poisoned lock still holds
        // a consistent model.
        self.docs.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Docs<F::Doc>> {
        self.docs.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many documents it holds.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
}

#[async_trait]
impl<F: Fold> Projection for MemoryDocuments<F> {
    fn name(&self) -> &str {
        self.fold.name()
    }

    fn filter(&self) -> Filter {
        self.fold.filter()
    }

    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        Ok(*self.checkpoint.borrow())
    }

    async fn apply(&self, events: &[RecordedEvent], through: Position) -> Result<(), ProjectionError> {
        let checkpoint = *self.checkpoint.borrow();
        if through <= checkpoint {
            return Ok(());
        }
        let changes = {
            let mut docs = self.write();
            // An event that cannot be decoded stops the host: the model, held only here, is
            // rebuilt from the log at the next start.
            fold_batch(&self.fold, &mut docs, events, checkpoint)?;
            docs.take_changes()
        };
        self.checkpoint.send_replace(through);
        let trace: Option<Arc<str>> = if changes.is_empty() {
            None
        } else {
            careflow_eventstore::trace::traceparent(&tracing::Span::current()).map(Arc::from)
        };
        for (key, doc) in changes {
            // No receivers is fine: nobody is watching.
            let change =
                DocChange::Changed { key, doc: doc.map(Arc::new), position: through, trace: trace.clone() };
            let _ = self.changes.send(change);
        }
        Ok(())
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        *self.write() = Docs::default();
        self.checkpoint.send_replace(0);
        let _ = self.changes.send(DocChange::Resync);
        Ok(())
    }
}

#[async_trait]
impl<F: Fold> DocumentReader<F::Doc> for MemoryDocuments<F> {
    fn name(&self) -> &str {
        self.fold.name()
    }

    async fn get(&self, key: &str) -> Result<Option<F::Doc>, ProjectionError> {
        Ok(self.read().get(key).cloned())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<F::Doc>>, ProjectionError> {
        let docs = self.read();
        Ok(keys.iter().map(|key| docs.get(key).cloned()).collect())
    }

    fn checkpoint(&self) -> Position {
        *self.checkpoint.borrow()
    }

    async fn wait_for(&self, position: Position, timeout: Duration) -> bool {
        let mut checkpoint = self.checkpoint.subscribe();
        tokio::time::timeout(timeout, checkpoint.wait_for(|c| *c >= position)).await.is_ok_and(|r| r.is_ok())
    }

    fn changes(&self) -> broadcast::Receiver<DocChange<F::Doc>> {
        self.changes.subscribe()
    }
}
