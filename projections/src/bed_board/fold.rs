//! The bed board fold, shared by every backend: [`Board::apply`] folds one [`BedEvent`] into
//! sites, wards, bed records and open stays; [`Board::view`] renders a bed. The in-memory model
//! serves straight from a `Board`; the Redis model keeps one as its write-side cache and stores
//! what each batch touched ([`Dirty`]).
//!
//! Pure: depends on the domain and the model shapes only, no I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use careflow_domain::StayId;
use careflow_domain::beds::{BedEvent, BedStatus, BlockReason, Pathway, PatientName};
use careflow_eventstore::{Position, RecordedEvent};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::model::{BedView, PatientView, SiteView, WardView};
use crate::ProjectionError;

/// Decodes the events of a batch that lie after `checkpoint`, in order.
pub(super) fn decode_after(
    events: &[RecordedEvent],
    checkpoint: Position,
) -> Result<Vec<(BedEvent, Position)>, ProjectionError> {
    events
        .iter()
        .filter(|e| e.position > checkpoint)
        .map(|event| {
            let bed_event = event
                .decode::<BedEvent>()
                .map_err(|e| ProjectionError::Decode { position: event.position, message: e.to_string() })?;
            Ok((bed_event, event.position))
        })
        .collect()
}

/// A bed as stored: its own state; the patient's details come from the stay.
///
/// Its fields are named as in [`BedView`], so a stored view deserializes into a record.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct BedRecord {
    pub(super) ward_id: String,
    pub(super) site_id: String,
    label: String,
    status: BedStatus,
    since: DateTime<Utc>,
    stay_id: Option<StayId>,
    reserved_for: Option<String>,
    blocked_reason: Option<BlockReason>,
    position: Position,
}

/// An open stay.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StayRecord {
    bed_id: String,
    nhs_number: String,
    patient: PatientName,
    expected_discharge_date: Option<NaiveDate>,
    medically_optimised: Option<(NaiveDate, Pathway)>,
}

/// What a run of [`Board::apply`] touched, for backends that store changes rather than the
/// whole board.
#[derive(Debug, Default)]
pub(super) struct Dirty {
    /// Sites registered or renamed.
    pub(super) sites: BTreeSet<String>,
    /// Wards configured.
    pub(super) wards: BTreeSet<String>,
    /// Beds whose view may have changed (their record or their stay).
    pub(super) beds: BTreeSet<String>,
    /// Stays opened, changed or closed.
    pub(super) stays: BTreeSet<StayId>,
}

/// The folded bed board.
#[derive(Debug, Default)]
pub(super) struct Board {
    pub(super) checkpoint: Position,
    pub(super) sites: BTreeMap<String, SiteView>,
    pub(super) wards: BTreeMap<String, WardView>,
    pub(super) beds: BTreeMap<String, BedRecord>,
    /// Bed ids per ward, for the board and capacity.
    pub(super) ward_beds: HashMap<String, BTreeSet<String>>,
    /// Open stays only.
    pub(super) stays: HashMap<StayId, StayRecord>,
    /// What changed since the last [`Board::take_dirty`]; `None` when nobody asks.
    dirty: Option<Dirty>,
}

impl Board {
    /// An empty board that records what each event touches.
    pub(super) fn tracking() -> Self {
        Self { dirty: Some(Dirty::default()), ..Self::default() }
    }

    /// What was touched since the last call (nothing if not [`tracking`](Self::tracking)).
    pub(super) fn take_dirty(&mut self) -> Dirty {
        self.dirty.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Restores a board from stored pieces (for a tracking backend): bed ids per ward are
    /// derived from the beds, since a bed never changes ward.
    pub(super) fn restore(
        checkpoint: Position,
        sites: impl IntoIterator<Item = SiteView>,
        wards: impl IntoIterator<Item = WardView>,
        beds: impl IntoIterator<Item = (String, BedRecord)>,
        stays: impl IntoIterator<Item = (StayId, StayRecord)>,
    ) -> Self {
        let mut board = Self::tracking();
        board.checkpoint = checkpoint;
        board.sites = sites.into_iter().map(|s| (s.site_id.clone(), s)).collect();
        board.wards = wards.into_iter().map(|w| (w.ward_id.clone(), w)).collect();
        for (bed_id, record) in beds {
            board.ward_beds.entry(record.ward_id.clone()).or_default().insert(bed_id.clone());
            board.beds.insert(bed_id, record);
        }
        board.stays = stays.into_iter().collect();
        board
    }

    pub(super) fn view(&self, bed_id: &str) -> Option<BedView> {
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

    pub(super) fn ward_views(&self, ward_id: &str) -> Option<Vec<BedView>> {
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
    pub(super) fn apply(&mut self, event: BedEvent, position: Position) -> Option<String> {
        let changed = self.fold(event, position);
        if let Some(bed_id) = &changed {
            self.mark(|d| {
                d.beds.insert(bed_id.clone());
            });
        }
        changed
    }

    fn fold(&mut self, event: BedEvent, position: Position) -> Option<String> {
        match event {
            BedEvent::SiteRegistered { site_id, name, .. } => {
                let site_id = site_id.to_string();
                self.mark(|d| {
                    d.sites.insert(site_id.clone());
                });
                self.sites.insert(site_id.clone(), SiteView { site_id, name: name.to_string() });
                None
            }
            BedEvent::WardConfigured { ward_id, site_id, name, specialty, .. } => {
                let ward_id = ward_id.to_string();
                self.mark(|d| {
                    d.wards.insert(ward_id.clone());
                });
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
            BedEvent::BedAdded { bed_id, ward_id, site_id, label, at, .. } => {
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
                self.mark_stay(stay_id);
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
                self.mark_stay(stay_id);
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
                self.mark_stay(stay_id);
                self.stays.get_mut(&stay_id)?.expected_discharge_date = Some(date);
                self.touch_stay_bed(stay_id, position)
            }
            BedEvent::PatientMedicallyOptimised { stay_id, discharge_ready_date, pathway, .. } => {
                self.mark_stay(stay_id);
                self.stays.get_mut(&stay_id)?.medically_optimised = Some((discharge_ready_date, pathway));
                self.touch_stay_bed(stay_id, position)
            }
            BedEvent::PatientDischarged { stay_id, .. } => {
                self.mark_stay(stay_id);
                self.stays.remove(&stay_id);
                None
            }
            // The bed events of the same append carry what the board shows.
            BedEvent::PatientTransferred { .. }
            | BedEvent::InpatientStayOpened { .. }
            | BedEvent::InpatientStayClosed { .. }
            | BedEvent::Patient(_) => None,
        }
    }

    /// Records that a site, ward or bed was touched (when tracking).
    fn mark(&mut self, what: impl FnOnce(&mut Dirty)) {
        if let Some(dirty) = self.dirty.as_mut() {
            what(dirty);
        }
    }

    /// Records that a stay is about to change, and with it the view of the bed holding it.
    fn mark_stay(&mut self, stay_id: StayId) {
        let bed = self.stays.get(&stay_id).map(|s| s.bed_id.clone());
        self.mark(|d| {
            d.stays.insert(stay_id);
            d.beds.extend(bed);
        });
    }

    /// Marks the bed holding `stay_id` changed (if the stay is in a bed).
    fn touch_stay_bed(&mut self, stay_id: StayId, position: Position) -> Option<String> {
        let bed_id = self.stays.get(&stay_id)?.bed_id.clone();
        self.mark(|d| {
            d.beds.insert(bed_id.clone());
        });
        let bed = self.beds.get_mut(&bed_id)?;
        if bed.stay_id != Some(stay_id) {
            return None;
        }
        bed.position = position;
        Some(bed_id)
    }
}
