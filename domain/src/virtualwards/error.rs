//! Why the virtual wards context refuses a command. Messages name wards, admissions and
//! readings by id, never a patient.

use chrono::{DateTime, Utc};

use super::{AdmissionId, ReadingId};
use crate::decider::{Refusal, RefusalKind};
use crate::{SiteId, StayId, WardId};

/// A refusal of the virtual wards context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VirtualWardError {
    /// No such site.
    #[error("site {site_id} is not registered")]
    SiteNotFound {
        /// The site.
        site_id: SiteId,
    },
    /// The site's owner was never recorded: a virtual ward must belong to an organisation.
    #[error("site {site_id} has no recorded organisation to own a virtual ward")]
    SiteOwnerUnknown {
        /// The site.
        site_id: SiteId,
    },
    /// No such virtual ward.
    #[error("virtual ward {ward_id} is not configured")]
    VirtualWardNotFound {
        /// The ward.
        ward_id: WardId,
    },
    /// A virtual ward stays on its site.
    #[error("virtual ward {ward_id} is on site {site_id}; a virtual ward cannot move site")]
    WardOnAnotherSite {
        /// The ward.
        ward_id: WardId,
        /// Its site.
        site_id: SiteId,
    },
    /// Fewer beds than the patients it holds.
    #[error("virtual ward {ward_id} holds {occupied} patients: it cannot have {beds} beds")]
    FewerBedsThanPatients {
        /// The ward.
        ward_id: WardId,
        /// The beds asked for.
        beds: u16,
        /// The patients on it.
        occupied: usize,
    },
    /// Every bed is taken.
    #[error("virtual ward {ward_id} has no virtual bed free (all {beds} are taken)")]
    NoVirtualBedFree {
        /// The ward.
        ward_id: WardId,
        /// Its beds.
        beds: u16,
    },
    /// The patient is on the ward already.
    #[error("the patient is on virtual ward {ward_id} already, admission {admission_id}")]
    AlreadyOnWard {
        /// The ward.
        ward_id: WardId,
        /// Their admission.
        admission_id: AdmissionId,
    },
    /// The patient is not in the MPI.
    #[error("the patient is not registered")]
    PatientNotFound,
    /// The patient has died.
    #[error("the patient's death is recorded")]
    PatientDied,
    /// No such stay to step down from.
    #[error("stay {stay_id} does not exist")]
    StayNotFound {
        /// The stay.
        stay_id: StayId,
    },
    /// The stay is another patient's.
    #[error("stay {stay_id} is another patient's")]
    StayOfAnotherPatient {
        /// The stay.
        stay_id: StayId,
    },
    /// No such admission.
    #[error("virtual-ward admission {admission_id} does not exist")]
    AdmissionNotFound {
        /// The admission.
        admission_id: AdmissionId,
    },
    /// The admission exists already.
    #[error("virtual-ward admission {admission_id} exists already")]
    AdmissionAlreadyExists {
        /// The admission.
        admission_id: AdmissionId,
    },
    /// The patient has been discharged from the virtual ward.
    #[error("virtual-ward admission {admission_id} has ended: the patient was discharged")]
    Discharged {
        /// The admission.
        admission_id: AdmissionId,
    },
    /// The clock fired early (by the services' clock).
    #[error("the reading is not due to be missed until {due}")]
    NotYetDue {
        /// When it is.
        due: DateTime<Utc>,
    },
    /// A reading taken in the future.
    #[error("reading {reading_id} was taken in the future ({taken_at})")]
    ReadingInTheFuture {
        /// Its place in the batch.
        index: usize,
        /// The reading.
        reading_id: ReadingId,
        /// When it says it was taken.
        taken_at: DateTime<Utc>,
    },
    /// A reading taken long before the admission.
    #[error("reading {reading_id} was taken more than a day before the admission")]
    ReadingBeforeAdmission {
        /// Its place in the batch.
        index: usize,
        /// The reading.
        reading_id: ReadingId,
    },
}

impl Refusal for VirtualWardError {
    fn kind(&self) -> RefusalKind {
        match self {
            Self::SiteNotFound { .. }
            | Self::VirtualWardNotFound { .. }
            | Self::PatientNotFound
            | Self::StayNotFound { .. }
            | Self::AdmissionNotFound { .. } => RefusalKind::NotFound,
            Self::AdmissionAlreadyExists { .. } => RefusalKind::AlreadyExists,
            Self::SiteOwnerUnknown { .. }
            | Self::WardOnAnotherSite { .. }
            | Self::FewerBedsThanPatients { .. }
            | Self::NoVirtualBedFree { .. }
            | Self::AlreadyOnWard { .. }
            | Self::PatientDied
            | Self::StayOfAnotherPatient { .. }
            | Self::Discharged { .. }
            | Self::NotYetDue { .. }
            | Self::ReadingInTheFuture { .. }
            | Self::ReadingBeforeAdmission { .. } => RefusalKind::Precondition,
        }
    }

    fn violations(&self) -> Vec<(String, String)> {
        match self {
            Self::ReadingInTheFuture { index, .. } => {
                vec![(format!("readings[{index}].taken_at"), "is in the future".into())]
            }
            Self::ReadingBeforeAdmission { index, .. } => {
                vec![(
                    format!("readings[{index}].taken_at"),
                    "is more than a day before the admission".into(),
                )]
            }
            _ => Vec::new(),
        }
    }
}
