//! Why the beds context refuses a command.

use chrono::NaiveDate;

use super::values::BedStatus;
use crate::{BedId, NhsNumber, SiteId, StayId, WardId};

/// A command the beds context refuses. Nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BedError {
    /// The site is already registered.
    #[error("site {site} is already registered")]
    SiteAlreadyRegistered {
        /// The site.
        site: SiteId,
    },
    /// No such site.
    #[error("site {site} is not registered")]
    SiteNotFound {
        /// The site.
        site: SiteId,
    },
    /// The ward is already configured.
    #[error("ward {ward} is already configured")]
    WardAlreadyConfigured {
        /// The ward.
        ward: WardId,
    },
    /// No such ward.
    #[error("ward {ward} is not configured")]
    WardNotFound {
        /// The ward.
        ward: WardId,
    },
    /// The bed already exists.
    #[error("bed {bed} already exists")]
    BedAlreadyExists {
        /// The bed.
        bed: BedId,
    },
    /// No such bed.
    #[error("bed {bed} does not exist")]
    BedNotFound {
        /// The bed.
        bed: BedId,
    },
    /// The bed's state does not allow the action.
    #[error("bed {bed} is {state}: cannot {action}")]
    InvalidBedState {
        /// The bed.
        bed: BedId,
        /// Its state.
        state: BedStatus,
        /// What was attempted, e.g. "admit a patient".
        action: &'static str,
    },
    /// The bed is reserved for someone else.
    #[error("bed {bed} is reserved for another patient")]
    ReservedForAnotherPatient {
        /// The bed.
        bed: BedId,
    },
    /// The patient already has an open stay.
    #[error("patient {nhs_number} is already admitted (stay {stay})")]
    PatientAlreadyAdmitted {
        /// The patient.
        nhs_number: NhsNumber,
        /// Their open stay.
        stay: StayId,
    },
    /// The patient's death is recorded.
    #[error("patient {nhs_number} is recorded as having died")]
    PatientDied {
        /// The patient.
        nhs_number: NhsNumber,
    },
    /// A stay with this id exists already.
    #[error("stay {stay} already exists")]
    StayAlreadyExists {
        /// The stay.
        stay: StayId,
    },
    /// No such stay.
    #[error("stay {stay} does not exist")]
    StayNotFound {
        /// The stay.
        stay: StayId,
    },
    /// The stay has ended.
    #[error("stay {stay} has ended: the patient was discharged")]
    StayEnded {
        /// The stay.
        stay: StayId,
    },
    /// The patient is already in that bed.
    #[error("the patient is already in bed {bed}")]
    AlreadyInBed {
        /// The bed.
        bed: BedId,
    },
    /// A date falls before the admission.
    #[error("{field} {date} is before the admission on {admitted}")]
    DateBeforeAdmission {
        /// The command field holding the date.
        field: &'static str,
        /// The date given.
        date: NaiveDate,
        /// The admission date.
        admitted: NaiveDate,
    },
}
