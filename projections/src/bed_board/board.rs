//! The bed board's reads over any document store holding [`BedBoardFold`]'s documents: the
//! same [`BedBoardReader`] in memory and from Redis, and its change feed made from the
//! documents' ([`BedChanges`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use careflow_eventstore::{Filter, Position, RecordedEvent};

use super::fold::{
    BedBoardFold, BedDoc, SITES, WARDS, bed_key, site_beds_key, site_key, ward_beds_key, ward_key,
};
use super::model::{BedView, Capacity, SiteView, WardView};
use super::{BedBoardReader, BedChanges};
use crate::documents::redis::{RedisConfig, RedisDocumentReader, RedisDocuments};
use crate::documents::{DocumentReader, MemoryDocuments};
use crate::{Projection, ProjectionError};

/// The bed board over a document store `S`: a [`BedBoardReader`] always, and the projection
/// too when `S` is the writer.
pub struct DocBoard<S> {
    store: Arc<S>,
}

/// The bed board held in memory: a [`Projection`] and a [`BedBoardReader`].
pub type MemoryBedBoard = DocBoard<MemoryDocuments<BedBoardFold>>;

/// The bed board projection writing to Redis (exactly one per key prefix); keys in
/// [`crate::documents::redis`] under the model name `bed_board`.
pub type RedisBedBoard = DocBoard<RedisDocuments<BedBoardFold>>;

/// The bed board read from Redis, for gateways in other processes.
pub type RedisBedBoardReader = DocBoard<RedisDocumentReader<BedDoc>>;

impl Default for MemoryBedBoard {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBedBoard {
    /// An empty board at checkpoint 0.
    pub fn new() -> Self {
        Self { store: Arc::new(MemoryDocuments::new(BedBoardFold)) }
    }
}

impl RedisBedBoard {
    /// Connects; the model is loaded from Redis when first needed.
    pub async fn connect(config: &RedisConfig) -> Result<Self, ProjectionError> {
        Ok(Self { store: Arc::new(RedisDocuments::connect(config, BedBoardFold).await?) })
    }

    /// Deletes every key under the configured prefix, every model and generation included (for
    /// tests and tools: never while a projection writes).
    pub async fn purge(&self) -> Result<usize, ProjectionError> {
        self.store.purge_prefix().await
    }
}

impl RedisBedBoardReader {
    /// Connects and follows the bed board's change channel until dropped.
    pub async fn connect(config: &RedisConfig) -> Result<Self, ProjectionError> {
        Ok(Self { store: Arc::new(RedisDocumentReader::connect(config, super::fold::NAME).await?) })
    }
}

#[async_trait]
impl<S: Projection> Projection for DocBoard<S> {
    fn name(&self) -> &str {
        self.store.name()
    }
    fn filter(&self) -> Filter {
        self.store.filter()
    }
    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        self.store.checkpoint().await
    }
    async fn apply(&self, events: &[RecordedEvent], through: Position) -> Result<(), ProjectionError> {
        self.store.apply(events, through).await
    }
    async fn reset(&self) -> Result<(), ProjectionError> {
        self.store.reset().await
    }
    async fn verify(&self) -> Result<(), ProjectionError> {
        self.store.verify().await
    }
    async fn caught_up(&self, position: Position) -> Result<(), ProjectionError> {
        self.store.caught_up(position).await
    }
    fn progress_every(&self) -> Duration {
        self.store.progress_every()
    }
}

fn ids(doc: Option<BedDoc>) -> Vec<String> {
    match doc {
        Some(BedDoc::Index { ids }) => ids.into_iter().collect(),
        _ => Vec::new(),
    }
}

fn bed_of(doc: Option<BedDoc>) -> Option<BedView> {
    match doc {
        Some(BedDoc::Bed(bed)) => Some(*bed),
        _ => None,
    }
}

/// Reads of the bed board documents, whatever holds them.
async fn beds<R: DocumentReader<BedDoc> + ?Sized>(
    reader: &R,
    ids: &[String],
) -> Result<Vec<BedView>, ProjectionError> {
    let keys: Vec<String> = ids.iter().map(|id| bed_key(id)).collect();
    // An id whose document is not there yet is a write still to come: left out.
    Ok(reader.get_many(&keys).await?.into_iter().filter_map(bed_of).collect())
}

/// The beds of the set under `set_key` if the document under `guard` exists.
async fn members<R: DocumentReader<BedDoc> + ?Sized>(
    reader: &R,
    guard: String,
    set_key: String,
) -> Result<Option<Vec<BedView>>, ProjectionError> {
    let mut found = reader.get_many(&[guard, set_key]).await?.into_iter();
    if found.next().flatten().is_none() {
        return Ok(None);
    }
    let ids = ids(found.next().flatten());
    Ok(Some(beds(reader, &ids).await?))
}

#[async_trait]
impl<S: DocumentReader<BedDoc>> BedBoardReader for DocBoard<S> {
    async fn sites(&self) -> Result<Vec<SiteView>, ProjectionError> {
        let keys: Vec<String> = ids(self.store.get(SITES).await?).iter().map(|id| site_key(id)).collect();
        let sites = self.store.get_many(&keys).await?.into_iter();
        Ok(sites
            .filter_map(|doc| if let Some(BedDoc::Site(site)) = doc { Some(site) } else { None })
            .collect())
    }

    async fn wards(&self, site_id: Option<&str>) -> Result<Vec<WardView>, ProjectionError> {
        let keys: Vec<String> = ids(self.store.get(WARDS).await?).iter().map(|id| ward_key(id)).collect();
        let wards = self.store.get_many(&keys).await?.into_iter();
        Ok(wards
            .filter_map(|doc| if let Some(BedDoc::Ward(ward)) = doc { Some(ward) } else { None })
            .filter(|w| site_id.is_none_or(|s| w.site_id == s))
            .collect())
    }

    async fn ward(&self, ward_id: &str) -> Result<Option<WardView>, ProjectionError> {
        match self.store.get(&ward_key(ward_id)).await? {
            Some(BedDoc::Ward(ward)) => Ok(Some(ward)),
            _ => Ok(None),
        }
    }

    async fn bed_board(&self, ward_id: &str) -> Result<Option<Vec<BedView>>, ProjectionError> {
        members(self.store.as_ref(), ward_key(ward_id), ward_beds_key(ward_id)).await
    }

    async fn bed(&self, bed_id: &str) -> Result<Option<BedView>, ProjectionError> {
        Ok(bed_of(self.store.get(&bed_key(bed_id)).await?))
    }

    async fn ward_capacity(&self, ward_id: &str) -> Result<Option<Capacity>, ProjectionError> {
        Ok(self.bed_board(ward_id).await?.map(|beds| Capacity::of(&beds)))
    }

    async fn site_capacity(&self, site_id: &str) -> Result<Option<Capacity>, ProjectionError> {
        let beds = members(self.store.as_ref(), site_key(site_id), site_beds_key(site_id)).await?;
        Ok(beds.map(|beds| Capacity::of(&beds)))
    }

    fn checkpoint(&self) -> Position {
        DocumentReader::checkpoint(self.store.as_ref())
    }

    async fn wait_for(&self, position: Position, timeout: Duration) -> bool {
        self.store.wait_for(position, timeout).await
    }

    fn changes(&self) -> BedChanges {
        BedChanges::of_documents(self.store.changes())
    }
}
