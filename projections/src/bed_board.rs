//! The bed board and capacity read models (DESIGN.md §6): per ward, every bed with its state,
//! since when, the patient, expected discharge date, medically optimised and pathway; capacity
//! per ward and per site. [`BedBoardReader`] is the port the gateway reads through. The model is
//! a document [`Fold`](crate::documents::Fold) ([`BedBoardFold`]) kept by the generic document
//! code: [`MemoryBedBoard`] in memory for `careflow serve`, [`redis`] in Redis for a
//! projections process and gateways in other processes.

mod board;
mod fold;
mod model;
pub mod redis;

use std::time::Duration;

use async_trait::async_trait;
use careflow_eventstore::Position;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::documents::DocChange;

pub use self::redis::{RedisBedBoard, RedisBedBoardReader, RedisConfig};
pub use board::{DocBoard, MemoryBedBoard};
pub use fold::{BedBoardFold, BedDoc, StayRecord};
pub use model::{BedChange, BedView, Capacity, PatientView, SiteView, WardView};

use crate::ProjectionError;

/// Read access to the bed board, whatever stores it.
#[async_trait]
pub trait BedBoardReader: Send + Sync + 'static {
    /// Every site, by id.
    async fn sites(&self) -> Result<Vec<SiteView>, ProjectionError>;
    /// Every ward (of one site, if given), by id.
    async fn wards(&self, site_id: Option<&str>) -> Result<Vec<WardView>, ProjectionError>;
    /// One ward.
    async fn ward(&self, ward_id: &str) -> Result<Option<WardView>, ProjectionError>;
    /// A ward's beds, by bed id; `None` for an unknown ward.
    async fn bed_board(&self, ward_id: &str) -> Result<Option<Vec<BedView>>, ProjectionError>;
    /// One bed.
    async fn bed(&self, bed_id: &str) -> Result<Option<BedView>, ProjectionError>;
    /// A ward's capacity; `None` for an unknown ward.
    async fn ward_capacity(&self, ward_id: &str) -> Result<Option<Capacity>, ProjectionError>;
    /// A site's capacity; `None` for an unknown site.
    async fn site_capacity(&self, site_id: &str) -> Result<Option<Capacity>, ProjectionError>;
    /// The last position the model reflects.
    fn checkpoint(&self) -> Position;
    /// Waits until the model reflects `position`, at most `timeout`. Returns whether it does.
    async fn wait_for(&self, position: Position, timeout: Duration) -> bool;
    /// Every bed change from now on, in order. A receiver that falls behind, or whose model was
    /// rebuilt, gets `Lagged` and should re-read the board.
    fn changes(&self) -> BedChanges;
}

/// A feed of bed changes: straight from a channel of them, or made from a document model's
/// changes (a bed's document changed: that bed; a rebuild: `Lagged`, re-read the board). The
/// conversion happens as the receiver reads, so a change is there as soon as the checkpoint
/// that includes it is.
pub struct BedChanges(Feed);

enum Feed {
    Beds(broadcast::Receiver<BedChange>),
    Docs(broadcast::Receiver<DocChange<BedDoc>>),
}

impl BedChanges {
    /// A feed of the changes sent on a channel.
    pub fn of_beds(receiver: broadcast::Receiver<BedChange>) -> Self {
        Self(Feed::Beds(receiver))
    }

    /// A feed of the bed changes among a document model's changes.
    pub fn of_documents(receiver: broadcast::Receiver<DocChange<BedDoc>>) -> Self {
        Self(Feed::Docs(receiver))
    }

    /// The next change.
    pub async fn recv(&mut self) -> Result<BedChange, RecvError> {
        match &mut self.0 {
            Feed::Beds(receiver) => receiver.recv().await,
            Feed::Docs(receiver) => loop {
                if let Some(change) = bed_change(receiver.recv().await?)? {
                    return Ok(change);
                }
            },
        }
    }

    /// The next change, if one is there already.
    pub fn try_recv(&mut self) -> Result<BedChange, TryRecvError> {
        match &mut self.0 {
            Feed::Beds(receiver) => receiver.try_recv(),
            Feed::Docs(receiver) => loop {
                let change = bed_change(receiver.try_recv()?).map_err(|_| TryRecvError::Lagged(0))?;
                if let Some(change) = change {
                    return Ok(change);
                }
            },
        }
    }
}

/// The bed change a document change is, if any; a rebuild is `Lagged`.
fn bed_change(change: DocChange<BedDoc>) -> Result<Option<BedChange>, RecvError> {
    match change {
        DocChange::Changed { doc: Some(doc), trace, .. } => match &*doc {
            BedDoc::Bed(bed) => {
                Ok(Some(BedChange { ward_id: bed.ward_id.clone(), bed: (**bed).clone(), trace }))
            }
            _ => Ok(None),
        },
        DocChange::Changed { doc: None, .. } => Ok(None),
        DocChange::Resync => Err(RecvError::Lagged(0)),
    }
}
