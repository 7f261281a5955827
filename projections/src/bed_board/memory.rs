//! The bed board held in memory: rebuilt from the log at start-up, then kept live.

use std::collections::BTreeSet;
use std::sync::RwLock;
use std::time::Duration;

use async_trait::async_trait;
use careflow_eventstore::{Filter, Position, RecordedEvent};
use tokio::sync::{broadcast, watch};

use super::fold::{Board, decode_after};
use super::model::{BedChange, BedView, Capacity, SiteView, WardView};
use super::{BedBoardReader, CHANGE_BUFFER};
use crate::{Projection, ProjectionError};

/// The in-memory bed board: a [`Projection`] and a [`BedBoardReader`].
pub struct MemoryBedBoard {
    board: RwLock<Board>,
    checkpoint: watch::Sender<Position>,
    changes: broadcast::Sender<BedChange>,
}

impl Default for MemoryBedBoard {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBedBoard {
    /// An empty board at checkpoint 0.
    pub fn new() -> Self {
        Self {
            board: RwLock::new(Board::default()),
            checkpoint: watch::channel(0).0,
            changes: broadcast::channel(CHANGE_BUFFER).0,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Board> {
        // Updates are applied to a clone-free board in place but never panic midway (no
        // indexing, no unwraps), so a poisoned lock still holds a consistent board.
        self.board.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Board> {
        self.board.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Projection for MemoryBedBoard {
    fn name(&self) -> &str {
        "bed_board"
    }

    fn filter(&self) -> Filter {
        Filter::categories(careflow_domain::beds::BedStream::CATEGORIES)
    }

    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        Ok(self.read().checkpoint)
    }

    async fn apply(&self, events: &[RecordedEvent], through: Position) -> Result<(), ProjectionError> {
        let checkpoint = self.read().checkpoint;
        let decoded = decode_after(events, checkpoint)?;
        let changed: Vec<BedChange> = {
            let mut board = self.write();
            if through <= board.checkpoint {
                return Ok(());
            }
            let mut touched = BTreeSet::new();
            for (event, position) in decoded {
                if position > board.checkpoint {
                    touched.extend(board.apply(event, position));
                }
            }
            board.checkpoint = through;
            touched
                .iter()
                .filter_map(|id| board.view(id))
                .map(|bed| BedChange { ward_id: bed.ward_id.clone(), bed })
                .collect()
        };
        self.checkpoint.send_replace(through);
        for change in changed {
            // No receivers is fine: nobody is watching.
            let _ = self.changes.send(change);
        }
        Ok(())
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        *self.write() = Board::default();
        self.checkpoint.send_replace(0);
        Ok(())
    }
}

#[async_trait]
impl BedBoardReader for MemoryBedBoard {
    async fn sites(&self) -> Result<Vec<SiteView>, ProjectionError> {
        Ok(self.read().sites.values().cloned().collect())
    }

    async fn wards(&self, site_id: Option<&str>) -> Result<Vec<WardView>, ProjectionError> {
        Ok(self.read().wards.values().filter(|w| site_id.is_none_or(|s| w.site_id == s)).cloned().collect())
    }

    async fn ward(&self, ward_id: &str) -> Result<Option<WardView>, ProjectionError> {
        Ok(self.read().wards.get(ward_id).cloned())
    }

    async fn bed_board(&self, ward_id: &str) -> Result<Option<Vec<BedView>>, ProjectionError> {
        Ok(self.read().ward_views(ward_id))
    }

    async fn bed(&self, bed_id: &str) -> Result<Option<BedView>, ProjectionError> {
        Ok(self.read().view(bed_id))
    }

    async fn ward_capacity(&self, ward_id: &str) -> Result<Option<Capacity>, ProjectionError> {
        Ok(self.read().ward_views(ward_id).map(|beds| Capacity::of(&beds)))
    }

    async fn site_capacity(&self, site_id: &str) -> Result<Option<Capacity>, ProjectionError> {
        let board = self.read();
        if !board.sites.contains_key(site_id) {
            return Ok(None);
        }
        let beds: Vec<BedView> = board
            .beds
            .iter()
            .filter(|(_, b)| b.site_id == site_id)
            .filter_map(|(id, _)| board.view(id))
            .collect();
        Ok(Some(Capacity::of(&beds)))
    }

    fn checkpoint(&self) -> Position {
        *self.checkpoint.borrow()
    }

    async fn wait_for(&self, position: Position, timeout: Duration) -> bool {
        let mut checkpoint = self.checkpoint.subscribe();
        tokio::time::timeout(timeout, checkpoint.wait_for(|c| *c >= position)).await.is_ok_and(|r| r.is_ok())
    }

    fn changes(&self) -> broadcast::Receiver<BedChange> {
        self.changes.subscribe()
    }
}
