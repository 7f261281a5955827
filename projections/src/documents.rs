//! Document read models, written once for every context: a context writes a pure [`Fold`] of
//! its events into keyed JSON documents, and generic code keeps it in memory
//! ([`MemoryDocuments`]) or in Redis ([`redis::RedisDocuments`], read by
//! [`redis::RedisDocumentReader`] in other processes), with its checkpoint stored with it,
//! change feeds for subscriptions, and read-your-writes waits ([`DocumentReader`]).
//!
//! A fold sees one event at a time and a [`Docs`] view of the model: it reads the documents it
//! needs by key and changes them; the store records which keys changed and writes exactly
//! those, atomically with the new checkpoint. Indexes (search by name, by postcode) are
//! documents too, so every store serves them without knowing what they mean.

mod memory;
pub mod redis;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use careflow_eventstore::{Filter, Position, RecordedEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

pub use memory::MemoryDocuments;

use crate::ProjectionError;

/// How many changes a slow subscriber may fall behind before it must re-read.
const CHANGE_BUFFER: usize = 4096;

/// A read model as a pure fold of events into keyed documents.
pub trait Fold: Send + Sync + 'static {
    /// The document type (one enum when a model keeps several kinds, indexes included).
    type Doc: Serialize + DeserializeOwned + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static;

    /// The model's name: its checkpoint's name, its metrics label and its Redis key prefix.
    fn name(&self) -> &'static str;

    /// The events it reads.
    fn filter(&self) -> Filter;

    /// Folds one event into `docs`. Must be deterministic: replaying the log gives the same
    /// documents. An event it cannot decode is [`ProjectionError::Decode`].
    fn apply(&self, docs: &mut Docs<Self::Doc>, event: &RecordedEvent) -> Result<(), ProjectionError>;
}

/// The documents of a model, as a fold sees them: reads by key, and changes that are recorded
/// so that the store writes only what changed.
#[derive(Debug, Clone)]
pub struct Docs<D> {
    map: HashMap<String, D>,
    changed: BTreeSet<String>,
}

impl<D> Default for Docs<D> {
    fn default() -> Self {
        Self { map: HashMap::new(), changed: BTreeSet::new() }
    }
}

impl<D: Clone> Docs<D> {
    /// The documents in `map`, none changed.
    pub fn from_map(map: HashMap<String, D>) -> Self {
        Self { map, changed: BTreeSet::new() }
    }

    /// The document under `key`.
    pub fn get(&self, key: &str) -> Option<&D> {
        self.map.get(key)
    }

    /// The document under `key`, to change (recorded as changed).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut D> {
        let doc = self.map.get_mut(key)?;
        self.changed.insert(key.to_owned());
        Some(doc)
    }

    /// The document under `key`, made with `make` if absent, to change.
    pub fn entry(&mut self, key: &str, make: impl FnOnce() -> D) -> &mut D {
        self.changed.insert(key.to_owned());
        self.map.entry(key.to_owned()).or_insert_with(make)
    }

    /// Stores `doc` under `key`.
    pub fn put(&mut self, key: impl Into<String>, doc: D) {
        let key = key.into();
        self.changed.insert(key.clone());
        self.map.insert(key, doc);
    }

    /// Removes the document under `key`.
    pub fn remove(&mut self, key: &str) -> Option<D> {
        let removed = self.map.remove(key);
        if removed.is_some() {
            self.changed.insert(key.to_owned());
        }
        removed
    }

    /// How many documents there are.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every key changed since the last call, with its document now (`None`: removed), in key
    /// order.
    pub fn take_changes(&mut self) -> Vec<(String, Option<D>)> {
        std::mem::take(&mut self.changed)
            .into_iter()
            .map(|key| {
                let doc = self.map.get(&key).cloned();
                (key, doc)
            })
            .collect()
    }
}

/// The event's payload, decoded once for every read model of the host that reads it; a payload
/// that does not decode is [`ProjectionError::Decode`] at its position.
pub(crate) fn decode<T>(event: &RecordedEvent) -> Result<Arc<T>, ProjectionError>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    event
        .decode_shared()
        .map_err(|e| ProjectionError::Decode { position: event.position, message: e.to_string() })
}

/// Applies `events` above `checkpoint` to `docs` with `fold`.
pub(crate) fn fold_batch<F: Fold>(
    fold: &F,
    docs: &mut Docs<F::Doc>,
    events: &[RecordedEvent],
    checkpoint: Position,
) -> Result<(), ProjectionError> {
    for event in events.iter().filter(|e| e.position > checkpoint) {
        fold.apply(docs, event)?;
    }
    Ok(())
}

/// A change to one document, or word that every document may have changed.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DocChange<D> {
    /// The document under `key` is now `doc` (`None`: removed), as of `position`.
    Changed {
        /// Its key.
        key: String,
        /// The document now, shared by every subscriber (a change is sent to all of them,
        /// whichever documents they follow).
        doc: Option<Arc<D>>,
        /// The checkpoint of the batch that changed it.
        position: Position,
        /// The `traceparent` of the batch that changed it, when traced: a push it causes
        /// continues the trace.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trace: Option<Arc<str>>,
    },
    /// A rebuilt model went live, or changes may have been missed: re-read what you show.
    Resync,
}

/// Read access to a document model, wherever it is kept.
#[async_trait]
pub trait DocumentReader<D>: Send + Sync + 'static {
    /// The model's name.
    fn name(&self) -> &str;
    /// The document under `key`.
    async fn get(&self, key: &str) -> Result<Option<D>, ProjectionError>;
    /// The documents under `keys`, in order.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<D>>, ProjectionError>;
    /// The last position the model reflects (0: no model to read yet).
    fn checkpoint(&self) -> Position;
    /// Waits until the model reflects `position`, at most `timeout`. Returns whether it does.
    async fn wait_for(&self, position: Position, timeout: Duration) -> bool;
    /// Every change from now on, in order. A receiver that lags gets `Lagged` and should
    /// re-read, as after [`DocChange::Resync`].
    fn changes(&self) -> broadcast::Receiver<DocChange<D>>;
}
