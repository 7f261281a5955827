//! The bed board and capacity read models (DESIGN.md §6): per ward, every bed with its state,
//! since when, the patient, expected discharge date, medically optimised and pathway; capacity
//! per ward and per site. [`BedBoardReader`] is the port the gateway reads through;
//! [`MemoryBedBoard`] is the in-memory model used by `careflow serve`; [`redis`] holds the same
//! model in Redis for a projections process and gateways in other processes. Both fold events
//! with the same code (`fold`).

mod fold;
mod memory;
mod model;
pub mod redis;

use std::time::Duration;

use async_trait::async_trait;
use careflow_eventstore::Position;
use tokio::sync::broadcast;

pub use self::redis::{RedisBedBoard, RedisBedBoardReader, RedisConfig};
pub use memory::MemoryBedBoard;
pub use model::{BedChange, BedView, Capacity, PatientView, SiteView, WardView};

use crate::ProjectionError;

/// How many changes a slow subscriber may fall behind before it must re-read the board.
const CHANGE_BUFFER: usize = 4096;

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
    /// Every bed change from now on, in order. A receiver that falls behind gets `Lagged` and
    /// should re-read the board.
    fn changes(&self) -> broadcast::Receiver<BedChange>;
}
