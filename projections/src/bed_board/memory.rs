//! The bed board held in memory: rebuilt from the log at start-up, then kept live.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::RwLock;
use std::time::Duration;

use async_trait::async_trait;
use careflow_domain::StayId;
use careflow_domain::beds::{BedEvent, BedStatus, BlockReason, Pathway, PatientName};
use careflow_eventstore::{Filter, Position, RecordedEvent};
use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::{broadcast, watch};

use super::BedBoardReader;
use super::model::{BedChange, BedView, Capacity, PatientView, SiteView, WardView};
use crate::{Projection, ProjectionError};

/// How many changes a slow subscriber may fall behind before it must re-read the board.
const CHANGE_BUFFER: usize = 4096;

/// A bed as stored: its own state; the patient's details come from the stay.
#[derive(Debug, Clone)]
struct BedRecord {
    ward_id: String,
    site_id: String,
    label: String,
    status: BedStatus,
    since: DateTime<Utc>,
    stay_id: Option<StayId>,
    reserved_for: Option<String>,
    blocked_reason: Option<BlockReason>,
    position: Position,
}

#[derive(Debug, Clone)]
struct StayRecord {
    bed_id: String,
    nhs_number: String,
    patient: PatientName,
    expected_discharge_date: Option<NaiveDate>,
    medically_optimised: Option<(NaiveDate, Pathway)>,
}

#[derive(Debug, Default)]
struct Board {
    checkpoint: Position,
    sites: BTreeMap<String, SiteView>,
    wards: BTreeMap<String, WardView>,
    beds: BTreeMap<String, BedRecord>,
    /// Bed ids per ward, for the board and capacity.
    ward_beds: HashMap<String, BTreeSet<String>>,
    /// Open stays only.
    stays: HashMap<StayId, StayRecord>,
}

impl Board {
    fn view(&self, bed_id: &str) -> Option<BedView> {
        let bed = self.beds.get(bed_id)?;
        let stay = bed.stay_id.and_then(|id| self.stays.get(&id));
        Some(BedView {
            bed_id: bed_id.to_owned(),
            ward_id: bed.ward_id.clone(),
            site_id: bed.site_id.clone(),
            label: bed.label.clone(),
            status: bed.status,
            since: bed.since,
            stay_id: bed.stay_id.map(|s| s.to_string()),
            patient: stay.map(|s| PatientView {
                nhs_number: s.nhs_number.clone(),
                given_name: s.patient.given.clone(),
                family_name: s.patient.family.clone(),
            }),
            expected_discharge_date: stay.and_then(|s| s.expected_discharge_date),
            medically_optimised: stay.is_some_and(|s| s.medically_optimised.is_some()),
            discharge_ready_date: stay.and_then(|s| s.medically_optimised.map(|(date, _)| date)),
            pathway: stay.and_then(|s| s.medically_optimised.map(|(_, p)| p.number())),
            reserved_for: bed.reserved_for.clone(),
            blocked_reason: bed.blocked_reason,
            position: bed.position,
        })
    }

    fn ward_views(&self, ward_id: &str) -> Option<Vec<BedView>> {
        self.wards.get(ward_id)?;
        let beds = self.ward_beds.get(ward_id);
        Some(beds.into_iter().flatten().filter_map(|id| self.view(id)).collect())
    }

    /// Sets a bed's state, clearing what belonged to the state it leaves.
    fn set_status(
        &mut self,
        bed_id: &str,
        status: BedStatus,
        at: DateTime<Utc>,
        position: Position,
    ) -> Option<&mut BedRecord> {
        let bed = self.beds.get_mut(bed_id)?;
        bed.status = status;
        bed.since = at;
        bed.stay_id = None;
        bed.reserved_for = None;
        bed.blocked_reason = None;
        bed.position = position;
        Some(bed)
    }

    /// Folds one event in; returns the bed whose view changed, if any.
    fn apply(&mut self, event: BedEvent, position: Position) -> Option<String> {
        match event {
            BedEvent::SiteRegistered { site_id, name, .. } => {
                let site_id = site_id.to_string();
                self.sites.insert(site_id.clone(), SiteView { site_id, name: name.to_string() });
                None
            }
            BedEvent::WardConfigured { ward_id, site_id, name, specialty, .. } => {
                let ward_id = ward_id.to_string();
                self.wards.insert(
                    ward_id.clone(),
                    WardView {
                        ward_id,
                        site_id: site_id.to_string(),
                        name: name.to_string(),
                        specialty: specialty.map(|s| s.to_string()),
                    },
                );
                None
            }
            BedEvent::BedAdded { bed_id, ward_id, site_id, label, at } => {
                let (bed_id, ward_id) = (bed_id.to_string(), ward_id.to_string());
                self.ward_beds.entry(ward_id.clone()).or_default().insert(bed_id.clone());
                self.beds.insert(
                    bed_id.clone(),
                    BedRecord {
                        ward_id,
                        site_id: site_id.to_string(),
                        label: label.to_string(),
                        status: BedStatus::Available,
                        since: at,
                        stay_id: None,
                        reserved_for: None,
                        blocked_reason: None,
                        position,
                    },
                );
                Some(bed_id)
            }
            BedEvent::BedReserved { bed_id, for_nhs_number, at, .. } => {
                let bed = self.set_status(bed_id.as_str(), BedStatus::Reserved, at, position)?;
                bed.reserved_for = for_nhs_number.map(|n| n.to_string());
                Some(bed_id.to_string())
            }
            BedEvent::BedReservationReleased { bed_id, at } | BedEvent::BedCleaned { bed_id, at } => {
                self.set_status(bed_id.as_str(), BedStatus::Available, at, position)?;
                Some(bed_id.to_string())
            }
            BedEvent::BedOccupied { bed_id, stay_id, at, .. } => {
                let bed = self.set_status(bed_id.as_str(), BedStatus::Occupied, at, position)?;
                bed.stay_id = Some(stay_id);
                if let Some(stay) = self.stays.get_mut(&stay_id) {
                    stay.bed_id = bed_id.to_string();
                }
                Some(bed_id.to_string())
            }
            BedEvent::BedVacated { bed_id, at, .. } => {
                self.set_status(bed_id.as_str(), BedStatus::AwaitingCleaning, at, position)?;
                Some(bed_id.to_string())
            }
            BedEvent::BedBlocked { bed_id, reason, at, .. } => {
                let bed = self.set_status(bed_id.as_str(), BedStatus::Blocked, at, position)?;
                bed.blocked_reason = Some(reason);
                Some(bed_id.to_string())
            }
            BedEvent::BedUnblocked { bed_id, to, at } => {
                self.set_status(bed_id.as_str(), to, at, position)?;
                Some(bed_id.to_string())
            }
            BedEvent::PatientAdmitted { stay_id, nhs_number, patient, bed_id, .. } => {
                self.stays.insert(
                    stay_id,
                    StayRecord {
                        bed_id: bed_id.to_string(),
                        nhs_number: nhs_number.to_string(),
                        patient,
                        expected_discharge_date: None,
                        medically_optimised: None,
                    },
                );
                self.touch_stay_bed(stay_id, position)
            }
            BedEvent::ExpectedDischargeDateSet { stay_id, date, .. } => {
                self.stays.get_mut(&stay_id)?.expected_discharge_date = Some(date);
                self.touch_stay_bed(stay_id, position)
            }
            BedEvent::PatientMedicallyOptimised { stay_id, discharge_ready_date, pathway, .. } => {
                self.stays.get_mut(&stay_id)?.medically_optimised = Some((discharge_ready_date, pathway));
                self.touch_stay_bed(stay_id, position)
            }
            BedEvent::PatientDischarged { stay_id, .. } => {
                self.stays.remove(&stay_id);
                None
            }
            // The bed events of the same append carry what the board shows.
            BedEvent::PatientTransferred { .. }
            | BedEvent::InpatientStayOpened { .. }
            | BedEvent::InpatientStayClosed { .. } => None,
        }
    }

    /// Marks the bed holding `stay_id` changed (if the stay is in a bed).
    fn touch_stay_bed(&mut self, stay_id: StayId, position: Position) -> Option<String> {
        let bed_id = self.stays.get(&stay_id)?.bed_id.clone();
        let bed = self.beds.get_mut(&bed_id)?;
        if bed.stay_id != Some(stay_id) {
            return None;
        }
        bed.position = position;
        Some(bed_id)
    }
}

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
        let mut decoded = Vec::with_capacity(events.len());
        let checkpoint = self.read().checkpoint;
        for event in events.iter().filter(|e| e.position > checkpoint) {
            let bed_event = event
                .decode::<BedEvent>()
                .map_err(|e| ProjectionError::Decode { position: event.position, message: e.to_string() })?;
            decoded.push((bed_event, event.position));
        }
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
