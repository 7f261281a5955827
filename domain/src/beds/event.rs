//! Events of the beds context: past tense, one enum, each knowing its stream.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::values::{BedStatus, BlockReason, DischargeDestination, Label, Note, Pathway, PatientName};
use crate::patients::PatientEvent;
use crate::{BedId, NhsNumber, OdsCode, SiteId, StayId, WardId};

/// A stream of the beds context.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BedStream {
    /// `site-<id>`.
    Site(SiteId),
    /// `ward-<id>`.
    Ward(WardId),
    /// `bed-<id>`.
    Bed(BedId),
    /// `stay-<id>`.
    Stay(StayId),
    /// `inpatient-<nhs>`: the patient's open stay.
    Inpatient(NhsNumber),
    /// `patient-<nhs>`: the patient's MPI record (the patients context's stream), read by an
    /// admission and written when it registers an unregistered patient.
    Patient(NhsNumber),
}

impl BedStream {
    /// Every category of the beds context's own streams (an admission also reads and writes
    /// the patients context's `patient-<nhs>`).
    pub const CATEGORIES: [&'static str; 5] = ["site", "ward", "bed", "stay", "inpatient"];

    /// The stream's category.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Site(_) => "site",
            Self::Ward(_) => "ward",
            Self::Bed(_) => "bed",
            Self::Stay(_) => "stay",
            Self::Inpatient(_) => "inpatient",
            Self::Patient(_) => "patient",
        }
    }

    /// The stream's name, `<category>-<id>`.
    pub fn name(&self) -> String {
        match self {
            Self::Site(id) => format!("site-{id}"),
            Self::Ward(id) => format!("ward-{id}"),
            Self::Bed(id) => format!("bed-{id}"),
            Self::Stay(id) => format!("stay-{id}"),
            Self::Inpatient(nhs) => format!("inpatient-{nhs}"),
            Self::Patient(nhs) => format!("patient-{nhs}"),
        }
    }
}

/// Why a bed was vacated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VacatedBecause {
    /// The patient was discharged.
    Discharged,
    /// The patient moved to another bed.
    Transferred,
}

/// Every event of the beds context. Serialized with its type name in `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[allow(missing_docs)] // fields are named for what they hold
pub enum BedEvent {
    /// A site was registered.
    SiteRegistered {
        site_id: SiteId,
        name: Label,
        /// The organisation that owns it; absent on events recorded before owners were.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        organisation: Option<OdsCode>,
        at: DateTime<Utc>,
    },
    /// A ward was configured on a site.
    WardConfigured {
        ward_id: WardId,
        site_id: SiteId,
        name: Label,
        specialty: Option<Label>,
        /// The organisation that owns it; absent on events recorded before owners were.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        organisation: Option<OdsCode>,
        at: DateTime<Utc>,
    },
    /// A bed was added to a ward; it starts AVAILABLE.
    BedAdded {
        bed_id: BedId,
        ward_id: WardId,
        site_id: SiteId,
        label: Label,
        /// The organisation that owns it; absent on events recorded before owners were.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        organisation: Option<OdsCode>,
        at: DateTime<Utc>,
    },
    /// A bed was reserved.
    BedReserved { bed_id: BedId, for_nhs_number: Option<NhsNumber>, note: Option<Note>, at: DateTime<Utc> },
    /// A reservation was released.
    BedReservationReleased { bed_id: BedId, at: DateTime<Utc> },
    /// A patient took the bed (admission or transfer in).
    BedOccupied {
        bed_id: BedId,
        stay_id: StayId,
        nhs_number: NhsNumber,
        patient: PatientName,
        at: DateTime<Utc>,
    },
    /// The patient left the bed; it awaits cleaning.
    BedVacated { bed_id: BedId, stay_id: StayId, because: VacatedBecause, at: DateTime<Utc> },
    /// The bed was cleaned and is available.
    BedCleaned { bed_id: BedId, at: DateTime<Utc> },
    /// The bed was taken out of use.
    BedBlocked { bed_id: BedId, reason: BlockReason, note: Option<Note>, at: DateTime<Utc> },
    /// The bed came back into use, in state `to`.
    BedUnblocked { bed_id: BedId, to: BedStatus, at: DateTime<Utc> },
    /// A stay began.
    PatientAdmitted {
        stay_id: StayId,
        nhs_number: NhsNumber,
        patient: PatientName,
        bed_id: BedId,
        ward_id: WardId,
        site_id: SiteId,
        /// The organisation whose bed it is; absent on events recorded before owners were.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        organisation: Option<OdsCode>,
        at: DateTime<Utc>,
    },
    /// The patient moved bed.
    PatientTransferred {
        stay_id: StayId,
        from_bed_id: BedId,
        to_bed_id: BedId,
        to_ward_id: WardId,
        at: DateTime<Utc>,
    },
    /// The expected discharge date was set.
    ExpectedDischargeDateSet { stay_id: StayId, date: NaiveDate, at: DateTime<Utc> },
    /// The patient no longer meets the criteria to reside.
    PatientMedicallyOptimised {
        stay_id: StayId,
        discharge_ready_date: NaiveDate,
        pathway: Pathway,
        at: DateTime<Utc>,
    },
    /// The stay ended.
    PatientDischarged {
        stay_id: StayId,
        nhs_number: NhsNumber,
        bed_id: BedId,
        destination: DischargeDestination,
        pathway: Pathway,
        at: DateTime<Utc>,
    },
    /// The patient's open stay is now this one.
    InpatientStayOpened { nhs_number: NhsNumber, stay_id: StayId, at: DateTime<Utc> },
    /// The patient has no open stay any more.
    InpatientStayClosed { nhs_number: NhsNumber, stay_id: StayId, at: DateTime<Utc> },
    /// An event of the patient's MPI stream, as the patients context stores it (its own `type`):
    /// an admission registers an unregistered patient (`PatientRegistered`), and reads the rest.
    #[serde(untagged)]
    Patient(PatientEvent),
}

impl BedEvent {
    /// The stream the event belongs to.
    pub fn stream(&self) -> BedStream {
        match self {
            Self::SiteRegistered { site_id, .. } => BedStream::Site(site_id.clone()),
            Self::WardConfigured { ward_id, .. } => BedStream::Ward(ward_id.clone()),
            Self::BedAdded { bed_id, .. }
            | Self::BedReserved { bed_id, .. }
            | Self::BedReservationReleased { bed_id, .. }
            | Self::BedOccupied { bed_id, .. }
            | Self::BedVacated { bed_id, .. }
            | Self::BedCleaned { bed_id, .. }
            | Self::BedBlocked { bed_id, .. }
            | Self::BedUnblocked { bed_id, .. } => BedStream::Bed(bed_id.clone()),
            Self::PatientAdmitted { stay_id, .. }
            | Self::PatientTransferred { stay_id, .. }
            | Self::ExpectedDischargeDateSet { stay_id, .. }
            | Self::PatientMedicallyOptimised { stay_id, .. }
            | Self::PatientDischarged { stay_id, .. } => BedStream::Stay(*stay_id),
            Self::InpatientStayOpened { nhs_number, .. } | Self::InpatientStayClosed { nhs_number, .. } => {
                BedStream::Inpatient(*nhs_number)
            }
            Self::Patient(event) => BedStream::Patient(event.nhs_number()),
        }
    }

    /// The event's type name, as stored.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::SiteRegistered { .. } => "SiteRegistered",
            Self::WardConfigured { .. } => "WardConfigured",
            Self::BedAdded { .. } => "BedAdded",
            Self::BedReserved { .. } => "BedReserved",
            Self::BedReservationReleased { .. } => "BedReservationReleased",
            Self::BedOccupied { .. } => "BedOccupied",
            Self::BedVacated { .. } => "BedVacated",
            Self::BedCleaned { .. } => "BedCleaned",
            Self::BedBlocked { .. } => "BedBlocked",
            Self::BedUnblocked { .. } => "BedUnblocked",
            Self::PatientAdmitted { .. } => "PatientAdmitted",
            Self::PatientTransferred { .. } => "PatientTransferred",
            Self::ExpectedDischargeDateSet { .. } => "ExpectedDischargeDateSet",
            Self::PatientMedicallyOptimised { .. } => "PatientMedicallyOptimised",
            Self::PatientDischarged { .. } => "PatientDischarged",
            Self::InpatientStayOpened { .. } => "InpatientStayOpened",
            Self::InpatientStayClosed { .. } => "InpatientStayClosed",
            Self::Patient(event) => event.event_type(),
        }
    }

    /// The schema version of the event's data.
    pub const SCHEMA_VERSION: u32 = 1;
}
