//! State of the beds context's aggregates, and `evolve`: folding events into it.

use chrono::{DateTime, NaiveDate, Utc};

use super::Beds;
use super::event::{BedEvent, BedStream};
use super::values::{BedStatus, BlockReason, Label, Pathway, PatientName};
use crate::decider::Loaded;
use crate::patients::PatientState;
use crate::{BedId, NhsNumber, OdsCode, SiteId, StayId, WardId};

/// A site: registered or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteState {
    /// The site's name once registered.
    pub name: Option<Label>,
    /// Its owner, if recorded.
    pub organisation: Option<OdsCode>,
}

/// A ward's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WardConfig {
    /// Its site.
    pub site_id: SiteId,
    /// Its name.
    pub name: Label,
    /// Its owner, if recorded.
    pub organisation: Option<OdsCode>,
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
    /// Its owner, if recorded.
    pub organisation: Option<OdsCode>,
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
    /// The organisation whose bed they were admitted to, if recorded.
    pub organisation: Option<OdsCode>,
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

/// The state of one beds stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BedStreamState {
    /// A `site-` stream.
    Site(SiteState),
    /// A `ward-` stream.
    Ward(WardState),
    /// A `bed-` stream.
    Bed(BedState),
    /// A `stay-` stream.
    Stay(StayState),
    /// An `inpatient-` stream.
    Inpatient(InpatientState),
    /// A `patient-` stream (the MPI record).
    Patient(PatientState),
}

impl BedStreamState {
    /// The state of a stream with no events.
    pub fn initial(stream: &BedStream) -> Self {
        match stream {
            BedStream::Site(_) => Self::Site(SiteState::default()),
            BedStream::Ward(_) => Self::Ward(WardState::default()),
            BedStream::Bed(_) => Self::Bed(BedState::default()),
            BedStream::Stay(_) => Self::Stay(StayState::default()),
            BedStream::Inpatient(_) => Self::Inpatient(InpatientState::default()),
            BedStream::Patient(_) => Self::Patient(PatientState::default()),
        }
    }

    /// `evolve`: folds one event of this stream in. An event of another kind of stream changes
    /// nothing (it cannot be routed here: the event names its stream).
    pub fn evolve(&mut self, event: &BedEvent) {
        match (self, event) {
            (Self::Site(site), BedEvent::SiteRegistered { name, organisation, .. }) => {
                site.name = Some(name.clone());
                site.organisation = organisation.clone();
            }
            (Self::Ward(ward), BedEvent::WardConfigured { site_id, name, organisation, .. }) => {
                ward.config = Some(WardConfig {
                    site_id: site_id.clone(),
                    name: name.clone(),
                    organisation: organisation.clone(),
                });
            }
            (Self::Bed(bed), event) => bed.evolve(event),
            (Self::Stay(stay), event) => stay.evolve(event),
            (Self::Inpatient(inpatient), BedEvent::InpatientStayOpened { stay_id, .. }) => {
                inpatient.open_stay = Some(*stay_id);
            }
            (Self::Inpatient(inpatient), BedEvent::InpatientStayClosed { .. }) => inpatient.open_stay = None,
            (Self::Patient(patient), BedEvent::Patient(event)) => patient.evolve(event),
            (Self::Site(_) | Self::Ward(_) | Self::Inpatient(_) | Self::Patient(_), _) => {}
        }
    }
}

/// The loaded state of every stream a decision needs: the beds context's [`Loaded`] streams.
pub type Scope = Loaded<Beds>;

impl Loaded<Beds> {
    /// A loaded site.
    pub fn site(&self, id: &SiteId) -> Option<&SiteState> {
        match self.get(&BedStream::Site(id.clone()))? {
            BedStreamState::Site(site) => Some(site),
            _ => None,
        }
    }

    /// A loaded ward.
    pub fn ward(&self, id: &WardId) -> Option<&WardState> {
        match self.get(&BedStream::Ward(id.clone()))? {
            BedStreamState::Ward(ward) => Some(ward),
            _ => None,
        }
    }

    /// A loaded bed.
    pub fn bed(&self, id: &BedId) -> Option<&BedState> {
        match self.get(&BedStream::Bed(id.clone()))? {
            BedStreamState::Bed(bed) => Some(bed),
            _ => None,
        }
    }

    /// A loaded stay.
    pub fn stay(&self, id: &StayId) -> Option<&StayState> {
        match self.get(&BedStream::Stay(*id))? {
            BedStreamState::Stay(stay) => Some(stay),
            _ => None,
        }
    }

    /// A loaded patient's MPI record.
    pub fn patient(&self, nhs: &NhsNumber) -> Option<&PatientState> {
        match self.get(&BedStream::Patient(*nhs))? {
            BedStreamState::Patient(patient) => Some(patient),
            _ => None,
        }
    }

    /// A loaded patient's open stay.
    pub fn inpatient(&self, nhs: &NhsNumber) -> Option<&InpatientState> {
        match self.get(&BedStream::Inpatient(*nhs))? {
            BedStreamState::Inpatient(inpatient) => Some(inpatient),
            _ => None,
        }
    }
}

impl StayState {
    fn evolve(&mut self, event: &BedEvent) {
        match event {
            BedEvent::PatientAdmitted { nhs_number, patient, bed_id, organisation, at, .. } => {
                self.admission = Some(Admission {
                    nhs_number: *nhs_number,
                    patient: patient.clone(),
                    bed_id: bed_id.clone(),
                    admitted_at: *at,
                    organisation: organisation.clone(),
                });
            }
            BedEvent::PatientTransferred { to_bed_id, .. } => {
                if let Some(admission) = self.admission.as_mut() {
                    admission.bed_id = to_bed_id.clone();
                }
            }
            BedEvent::ExpectedDischargeDateSet { date, .. } => self.expected_discharge_date = Some(*date),
            BedEvent::PatientMedicallyOptimised { discharge_ready_date, pathway, .. } => {
                self.medically_optimised = Some((*discharge_ready_date, *pathway));
            }
            BedEvent::PatientDischarged { .. } => self.discharged = true,
            _ => {}
        }
    }
}

impl BedState {
    fn evolve(&mut self, event: &BedEvent) {
        match event {
            BedEvent::BedAdded { ward_id, site_id, label, organisation, at, .. } => {
                self.config = Some(BedConfig {
                    ward_id: ward_id.clone(),
                    site_id: site_id.clone(),
                    label: label.clone(),
                    organisation: organisation.clone(),
                });
                self.set_status(BedStatus::Available, *at);
            }
            BedEvent::BedReserved { for_nhs_number, at, .. } => {
                self.set_status(BedStatus::Reserved, *at);
                self.reserved_for = *for_nhs_number;
            }
            BedEvent::BedReservationReleased { at, .. } | BedEvent::BedCleaned { at, .. } => {
                self.set_status(BedStatus::Available, *at);
            }
            BedEvent::BedOccupied { stay_id, nhs_number, at, .. } => {
                self.set_status(BedStatus::Occupied, *at);
                self.occupant = Some(Occupant { stay_id: *stay_id, nhs_number: *nhs_number });
            }
            BedEvent::BedVacated { at, .. } => self.set_status(BedStatus::AwaitingCleaning, *at),
            BedEvent::BedBlocked { reason, at, .. } => {
                self.set_status(BedStatus::Blocked, *at);
                self.blocked_for = Some(*reason);
            }
            BedEvent::BedUnblocked { to, at, .. } => self.set_status(*to, *at),
            _ => {}
        }
    }

    /// Moves to `status` at `at`, clearing what belonged to the state left.
    fn set_status(&mut self, status: BedStatus, at: DateTime<Utc>) {
        self.status = status;
        self.since = Some(at);
        self.occupant = None;
        self.reserved_for = None;
        self.blocked_for = None;
    }
}
