//! The patients context: the master patient index (MPI) and consent to sharing.
//!
//! One stream per patient, `patient-<nhs>`: registration with demographics (names, date of
//! birth, gender, postcode, registered GP practice), updates to them, a recorded dissent to
//! sharing (and its withdrawal), and death. The MPI is where the rest of careflow learns who a
//! patient is; other contexts hold the NHS number only.
//!
//! Rules: a patient is registered once (again → refused naming the patient); an update that
//! changes nothing, a dissent already recorded or a withdrawal with none recorded are nothing to
//! do; a date of birth or death cannot lie in the future, nor death before birth; death is
//! recorded once.

mod decider;
#[cfg(test)]
mod scenarios;
mod values;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use decider::{PatientStream, PatientStreamEvent, PatientStreamState};
pub use values::{Gender, Postcode};

use crate::beds::{Note, PatientName};
use crate::decider::{Refusal, RefusalKind};
use crate::{NhsNumber, OdsCode};

/// A patient's demographics, as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demographics {
    /// Given and family names.
    pub name: PatientName,
    /// Date of birth; unknown for a patient first registered by an admission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<NaiveDate>,
    /// Administrative gender.
    pub gender: Gender,
    /// Home postcode; unknown for a patient first registered by an admission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<Postcode>,
    /// ODS code of the registered GP practice, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gp_practice: Option<OdsCode>,
}

impl Demographics {
    /// What an admission knows of a patient it registers: the names, nothing else.
    pub fn from_admission(name: PatientName) -> Self {
        Self { name, date_of_birth: None, gender: Gender::Unknown, postcode: None, gp_practice: None }
    }
}

/// Changes to demographics: each field given is the new value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemographicsChange {
    /// New names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<PatientName>,
    /// Corrected date of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<NaiveDate>,
    /// New gender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    /// New postcode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<Postcode>,
    /// New GP practice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gp_practice: Option<OdsCode>,
}

impl DemographicsChange {
    /// The part of the change that differs from `current` (nothing, if it all matches).
    fn against(&self, current: &Demographics) -> Self {
        fn differs<T: PartialEq + Clone>(new: &Option<T>, old: Option<&T>) -> Option<T> {
            new.as_ref().filter(|new| Some(*new) != old).cloned()
        }
        Self {
            name: differs(&self.name, Some(&current.name)),
            date_of_birth: differs(&self.date_of_birth, current.date_of_birth.as_ref()),
            gender: differs(&self.gender, Some(&current.gender)),
            postcode: differs(&self.postcode, current.postcode.as_ref()),
            gp_practice: differs(&self.gp_practice, current.gp_practice.as_ref()),
        }
    }

    fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    fn apply_to(&self, demographics: &mut Demographics) {
        let Self { name, date_of_birth, gender, postcode, gp_practice } = self.clone();
        demographics.name = name.unwrap_or_else(|| demographics.name.clone());
        demographics.date_of_birth = date_of_birth.or(demographics.date_of_birth);
        demographics.gender = gender.unwrap_or(demographics.gender);
        demographics.postcode = postcode.or_else(|| demographics.postcode.clone());
        demographics.gp_practice = gp_practice.or_else(|| demographics.gp_practice.clone());
    }
}

/// Every command of the patients context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PatientCommand {
    /// Register a patient in the MPI.
    Register {
        /// The patient.
        nhs_number: NhsNumber,
        /// Their demographics.
        demographics: Demographics,
    },
    /// Change some of a registered patient's demographics.
    UpdateDemographics {
        /// The patient.
        nhs_number: NhsNumber,
        /// What changes.
        change: DemographicsChange,
    },
    /// The patient dissents from sharing their record beyond the organisations caring for them.
    RecordSharingDissent {
        /// The patient.
        nhs_number: NhsNumber,
        /// Why, or how it was recorded.
        note: Option<Note>,
    },
    /// The patient withdraws their dissent.
    WithdrawSharingDissent {
        /// The patient.
        nhs_number: NhsNumber,
    },
    /// The patient has died.
    RecordDeath {
        /// The patient.
        nhs_number: NhsNumber,
        /// The date of death.
        date_of_death: NaiveDate,
    },
}

impl PatientCommand {
    /// The patient the command is about.
    pub fn nhs_number(&self) -> NhsNumber {
        match self {
            Self::Register { nhs_number, .. }
            | Self::UpdateDemographics { nhs_number, .. }
            | Self::RecordSharingDissent { nhs_number, .. }
            | Self::WithdrawSharingDissent { nhs_number }
            | Self::RecordDeath { nhs_number, .. } => *nhs_number,
        }
    }
}

/// Every event of the patients context, on `patient-<nhs>`. Serialized with its type name in
/// `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[allow(missing_docs)] // fields are named for what they hold
pub enum PatientEvent {
    /// The patient was registered.
    PatientRegistered { nhs_number: NhsNumber, demographics: Demographics, at: DateTime<Utc> },
    /// Some demographics changed (only what changed is recorded).
    PatientDemographicsUpdated { nhs_number: NhsNumber, change: DemographicsChange, at: DateTime<Utc> },
    /// The patient dissented from sharing.
    SharingDissentRecorded { nhs_number: NhsNumber, note: Option<Note>, at: DateTime<Utc> },
    /// The patient withdrew their dissent.
    SharingDissentWithdrawn { nhs_number: NhsNumber, at: DateTime<Utc> },
    /// The patient died.
    PatientDied { nhs_number: NhsNumber, date_of_death: NaiveDate, at: DateTime<Utc> },
}

impl PatientEvent {
    /// The schema version of the events' data.
    pub const SCHEMA_VERSION: u32 = 1;

    /// The patient the event is about.
    pub fn nhs_number(&self) -> NhsNumber {
        match self {
            Self::PatientRegistered { nhs_number, .. }
            | Self::PatientDemographicsUpdated { nhs_number, .. }
            | Self::SharingDissentRecorded { nhs_number, .. }
            | Self::SharingDissentWithdrawn { nhs_number, .. }
            | Self::PatientDied { nhs_number, .. } => *nhs_number,
        }
    }

    /// The event's type name, as stored.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::PatientRegistered { .. } => "PatientRegistered",
            Self::PatientDemographicsUpdated { .. } => "PatientDemographicsUpdated",
            Self::SharingDissentRecorded { .. } => "SharingDissentRecorded",
            Self::SharingDissentWithdrawn { .. } => "SharingDissentWithdrawn",
            Self::PatientDied { .. } => "PatientDied",
        }
    }
}

/// A patient as the MPI knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientState {
    /// Set once registered.
    pub demographics: Option<Demographics>,
    /// Whether the patient dissents from sharing.
    pub dissent: bool,
    /// The date of death, once recorded.
    pub date_of_death: Option<NaiveDate>,
}

impl PatientState {
    /// `evolve`: folds one event of the patient's stream in.
    pub fn evolve(&mut self, event: &PatientEvent) {
        match event {
            PatientEvent::PatientRegistered { demographics, .. } => {
                self.demographics = Some(demographics.clone())
            }
            PatientEvent::PatientDemographicsUpdated { change, .. } => {
                if let Some(demographics) = self.demographics.as_mut() {
                    change.apply_to(demographics);
                }
            }
            PatientEvent::SharingDissentRecorded { .. } => self.dissent = true,
            PatientEvent::SharingDissentWithdrawn { .. } => self.dissent = false,
            PatientEvent::PatientDied { date_of_death, .. } => self.date_of_death = Some(*date_of_death),
        }
    }
}

/// A command the patients context refuses. Nothing is written. Messages name the NHS number,
/// which the caller sent: never a name or other demographics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatientError {
    /// Registered already.
    #[error("patient {nhs_number} is already registered")]
    AlreadyRegistered {
        /// The patient.
        nhs_number: NhsNumber,
    },
    /// Not in the MPI.
    #[error("patient {nhs_number} is not registered")]
    NotRegistered {
        /// The patient.
        nhs_number: NhsNumber,
    },
    /// A date that cannot be yet.
    #[error("{field} {date} is in the future")]
    InTheFuture {
        /// The command field.
        field: &'static str,
        /// The date given.
        date: NaiveDate,
    },
    /// Death before birth.
    #[error("date_of_death {date_of_death} is before the date of birth")]
    DeathBeforeBirth {
        /// The date given.
        date_of_death: NaiveDate,
    },
    /// Death is already recorded, on another date.
    #[error("the death of patient {nhs_number} is already recorded, on {recorded}")]
    DeathAlreadyRecorded {
        /// The patient.
        nhs_number: NhsNumber,
        /// The date recorded.
        recorded: NaiveDate,
    },
}

impl Refusal for PatientError {
    fn kind(&self) -> RefusalKind {
        match self {
            PatientError::AlreadyRegistered { .. } => RefusalKind::AlreadyExists,
            PatientError::NotRegistered { .. } => RefusalKind::NotFound,
            PatientError::InTheFuture { .. }
            | PatientError::DeathBeforeBirth { .. }
            | PatientError::DeathAlreadyRecorded { .. } => RefusalKind::Precondition,
        }
    }
}

/// The patients context as a [`Decider`](crate::Decider) (see `decider.rs`): it writes `patient-<nhs>`, and reads the
/// patient's open stay to know who cares for them.
#[derive(Debug, Clone, Copy)]
pub struct Patients;

fn not_future(field: &'static str, date: NaiveDate, at: DateTime<Utc>) -> Result<(), PatientError> {
    if date > at.date_naive() { Err(PatientError::InTheFuture { field, date }) } else { Ok(()) }
}

/// Decides a patients command on the patient's state.
pub fn decide(
    patient: &PatientState,
    command: &PatientCommand,
    at: DateTime<Utc>,
) -> Result<Vec<PatientEvent>, PatientError> {
    let nhs_number = command.nhs_number();
    let registered = || patient.demographics.as_ref().ok_or(PatientError::NotRegistered { nhs_number });
    match command {
        PatientCommand::Register { demographics, .. } => {
            if patient.demographics.is_some() {
                return Err(PatientError::AlreadyRegistered { nhs_number });
            }
            if let Some(date) = demographics.date_of_birth {
                not_future("date_of_birth", date, at)?;
            }
            Ok(vec![PatientEvent::PatientRegistered { nhs_number, demographics: demographics.clone(), at }])
        }
        PatientCommand::UpdateDemographics { change, .. } => {
            let current = registered()?;
            if let Some(date) = change.date_of_birth {
                not_future("date_of_birth", date, at)?;
            }
            let change = change.against(current);
            if change.is_empty() {
                return Ok(Vec::new());
            }
            Ok(vec![PatientEvent::PatientDemographicsUpdated { nhs_number, change, at }])
        }
        PatientCommand::RecordSharingDissent { note, .. } => {
            registered()?;
            if patient.dissent {
                return Ok(Vec::new());
            }
            Ok(vec![PatientEvent::SharingDissentRecorded { nhs_number, note: note.clone(), at }])
        }
        PatientCommand::WithdrawSharingDissent { .. } => {
            registered()?;
            if !patient.dissent {
                return Ok(Vec::new());
            }
            Ok(vec![PatientEvent::SharingDissentWithdrawn { nhs_number, at }])
        }
        PatientCommand::RecordDeath { date_of_death, .. } => {
            let current = registered()?;
            not_future("date_of_death", *date_of_death, at)?;
            if current.date_of_birth.is_some_and(|born| *date_of_death < born) {
                return Err(PatientError::DeathBeforeBirth { date_of_death: *date_of_death });
            }
            match patient.date_of_death {
                Some(recorded) if recorded == *date_of_death => Ok(Vec::new()),
                Some(recorded) => Err(PatientError::DeathAlreadyRecorded { nhs_number, recorded }),
                None => Ok(vec![PatientEvent::PatientDied { nhs_number, date_of_death: *date_of_death, at }]),
            }
        }
    }
}
