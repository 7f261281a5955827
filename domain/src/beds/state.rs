//! State of the beds context's aggregates, and `evolve`: folding events into it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::event::{BedEvent, BedStream};
use super::values::{BedStatus, BlockReason, Label, Pathway, PatientName};
use crate::{BedId, NhsNumber, SiteId, StayId, WardId};

/// A site: registered or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteState {
    /// The site's name once registered.
    pub name: Option<Label>,
}

/// A ward's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WardConfig {
    /// Its site.
    pub site_id: SiteId,
    /// Its name.
    pub name: Label,
}

/// A ward: configured or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WardState {
    /// Set once configured.
    pub config: Option<WardConfig>,
}

/// Where a bed is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedConfig {
    /// Its ward.
    pub ward_id: WardId,
    /// Its site.
    pub site_id: SiteId,
    /// What staff call it.
    pub label: Label,
}

/// Who is in a bed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occupant {
    /// Their stay.
    pub stay_id: StayId,
    /// The patient.
    pub nhs_number: NhsNumber,
}

/// A bed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedState {
    /// Set once the bed is added.
    pub config: Option<BedConfig>,
    /// Its state.
    pub status: BedStatus,
    /// Since when it has been in that state.
    pub since: Option<DateTime<Utc>>,
    /// Who is in it, when OCCUPIED.
    pub occupant: Option<Occupant>,
    /// Who it is held for, when RESERVED for a known patient.
    pub reserved_for: Option<NhsNumber>,
    /// Why it is blocked, when BLOCKED.
    pub blocked_for: Option<BlockReason>,
}

impl Default for BedState {
    fn default() -> Self {
        Self {
            config: None,
            status: BedStatus::Available,
            since: None,
            occupant: None,
            reserved_for: None,
            blocked_for: None,
        }
    }
}

/// How a stay began, and where the patient is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The patient.
    pub nhs_number: NhsNumber,
    /// Their name.
    pub patient: PatientName,
    /// The bed they are in now.
    pub bed_id: BedId,
    /// When they were admitted.
    pub admitted_at: DateTime<Utc>,
}

/// A hospital stay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StayState {
    /// Set once admitted.
    pub admission: Option<Admission>,
    /// The expected discharge date.
    pub expected_discharge_date: Option<NaiveDate>,
    /// Discharge Ready Date and pathway, once medically optimised.
    pub medically_optimised: Option<(NaiveDate, Pathway)>,
    /// Whether the stay has ended.
    pub discharged: bool,
}

/// A patient's open stay, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InpatientState {
    /// The open stay.
    pub open_stay: Option<StayId>,
}

/// The loaded state of every stream a decision needs. Streams are loaded by [`Scope::load`]
/// (marking them present even when empty) and folded with [`Scope::apply`].
#[derive(Debug, Clone, Default)]
pub struct Scope {
    sites: HashMap<SiteId, SiteState>,
    wards: HashMap<WardId, WardState>,
    beds: HashMap<BedId, BedState>,
    stays: HashMap<StayId, StayState>,
    inpatients: HashMap<NhsNumber, InpatientState>,
}

impl Scope {
    /// An empty scope.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `stream` has been loaded.
    pub fn is_loaded(&self, stream: &BedStream) -> bool {
        match stream {
            BedStream::Site(id) => self.sites.contains_key(id),
            BedStream::Ward(id) => self.wards.contains_key(id),
            BedStream::Bed(id) => self.beds.contains_key(id),
            BedStream::Stay(id) => self.stays.contains_key(id),
            BedStream::Inpatient(nhs) => self.inpatients.contains_key(nhs),
        }
    }

    /// Loads a stream: marks it present and folds its history.
    pub fn load<'a>(&mut self, stream: &BedStream, history: impl IntoIterator<Item = &'a BedEvent>) {
        match stream {
            BedStream::Site(id) => drop(self.sites.entry(id.clone()).or_default()),
            BedStream::Ward(id) => drop(self.wards.entry(id.clone()).or_default()),
            BedStream::Bed(id) => drop(self.beds.entry(id.clone()).or_default()),
            BedStream::Stay(id) => drop(self.stays.entry(*id).or_default()),
            BedStream::Inpatient(nhs) => drop(self.inpatients.entry(*nhs).or_default()),
        }
        for event in history {
            self.apply(event);
        }
    }

    /// A loaded site.
    pub fn site(&self, id: &SiteId) -> Option<&SiteState> {
        self.sites.get(id)
    }

    /// A loaded ward.
    pub fn ward(&self, id: &WardId) -> Option<&WardState> {
        self.wards.get(id)
    }

    /// A loaded bed.
    pub fn bed(&self, id: &BedId) -> Option<&BedState> {
        self.beds.get(id)
    }

    /// A loaded stay.
    pub fn stay(&self, id: &StayId) -> Option<&StayState> {
        self.stays.get(id)
    }

    /// A loaded patient's open stay.
    pub fn inpatient(&self, nhs: &NhsNumber) -> Option<&InpatientState> {
        self.inpatients.get(nhs)
    }

    /// `evolve`: folds one event into the state of its stream (loading it if needed).
    pub fn apply(&mut self, event: &BedEvent) {
        match event {
            BedEvent::SiteRegistered { site_id, name, .. } => {
                self.sites.entry(site_id.clone()).or_default().name = Some(name.clone());
            }
            BedEvent::WardConfigured { ward_id, site_id, name, .. } => {
                self.wards.entry(ward_id.clone()).or_default().config =
                    Some(WardConfig { site_id: site_id.clone(), name: name.clone() });
            }
            BedEvent::BedAdded { bed_id, ward_id, site_id, label, at } => {
                let bed = self.beds.entry(bed_id.clone()).or_default();
                bed.config = Some(BedConfig {
                    ward_id: ward_id.clone(),
                    site_id: site_id.clone(),
                    label: label.clone(),
                });
                bed.set_status(BedStatus::Available, *at);
            }
            BedEvent::BedReserved { bed_id, for_nhs_number, at, .. } => {
                let bed = self.beds.entry(bed_id.clone()).or_default();
                bed.set_status(BedStatus::Reserved, *at);
                bed.reserved_for = *for_nhs_number;
            }
            BedEvent::BedReservationReleased { bed_id, at } | BedEvent::BedCleaned { bed_id, at } => {
                self.beds.entry(bed_id.clone()).or_default().set_status(BedStatus::Available, *at);
            }
            BedEvent::BedOccupied { bed_id, stay_id, nhs_number, at, .. } => {
                let bed = self.beds.entry(bed_id.clone()).or_default();
                bed.set_status(BedStatus::Occupied, *at);
                bed.occupant = Some(Occupant { stay_id: *stay_id, nhs_number: *nhs_number });
            }
            BedEvent::BedVacated { bed_id, at, .. } => {
                self.beds.entry(bed_id.clone()).or_default().set_status(BedStatus::AwaitingCleaning, *at);
            }
            BedEvent::BedBlocked { bed_id, reason, at, .. } => {
                let bed = self.beds.entry(bed_id.clone()).or_default();
                bed.set_status(BedStatus::Blocked, *at);
                bed.blocked_for = Some(*reason);
            }
            BedEvent::BedUnblocked { bed_id, to, at } => {
                self.beds.entry(bed_id.clone()).or_default().set_status(*to, *at);
            }
            BedEvent::PatientAdmitted { stay_id, nhs_number, patient, bed_id, at, .. } => {
                self.stays.entry(*stay_id).or_default().admission = Some(Admission {
                    nhs_number: *nhs_number,
                    patient: patient.clone(),
                    bed_id: bed_id.clone(),
                    admitted_at: *at,
                });
            }
            BedEvent::PatientTransferred { stay_id, to_bed_id, .. } => {
                if let Some(admission) = self.stays.entry(*stay_id).or_default().admission.as_mut() {
                    admission.bed_id = to_bed_id.clone();
                }
            }
            BedEvent::ExpectedDischargeDateSet { stay_id, date, .. } => {
                self.stays.entry(*stay_id).or_default().expected_discharge_date = Some(*date);
            }
            BedEvent::PatientMedicallyOptimised { stay_id, discharge_ready_date, pathway, .. } => {
                self.stays.entry(*stay_id).or_default().medically_optimised =
                    Some((*discharge_ready_date, *pathway));
            }
            BedEvent::PatientDischarged { stay_id, .. } => {
                self.stays.entry(*stay_id).or_default().discharged = true;
            }
            BedEvent::InpatientStayOpened { nhs_number, stay_id, .. } => {
                self.inpatients.entry(*nhs_number).or_default().open_stay = Some(*stay_id);
            }
            BedEvent::InpatientStayClosed { nhs_number, .. } => {
                self.inpatients.entry(*nhs_number).or_default().open_stay = None;
            }
        }
    }
}

impl BedState {
    /// Moves to `status` at `at`, clearing what belonged to the state left.
    fn set_status(&mut self, status: BedStatus, at: DateTime<Utc>) {
        self.status = status;
        self.since = Some(at);
        self.occupant = None;
        self.reserved_for = None;
        self.blocked_for = None;
    }
}
