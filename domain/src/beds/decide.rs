//! `decide`: the rules of the beds context, from loaded state and a command to new events.

use chrono::{DateTime, Utc};

use super::command::*;
use super::error::BedError;
use super::event::{BedEvent, VacatedBecause};
use super::state::{Admission, BedConfig, BedState, Scope};
use super::values::{BedStatus, BlockReason};
use crate::patients::{Demographics, PatientEvent};
use crate::{BedId, NhsNumber, StayId};

/// Decides what happens: the events to append (in order, each knowing its stream), or why not.
///
/// `scope` must hold every stream [`BedCommand::streams`] asks for; a stream it lacks reads as
/// empty (so the command fails as "not found" rather than acting on unknown state).
pub fn decide(scope: &Scope, command: &Command) -> Result<Vec<BedEvent>, BedError> {
    decide_at(scope, &command.action, command.at)
}

/// [`decide`], with the moment apart from the command.
pub(super) fn decide_at(
    scope: &Scope,
    action: &BedCommand,
    at: DateTime<Utc>,
) -> Result<Vec<BedEvent>, BedError> {
    match action {
        BedCommand::RegisterSite(c) => {
            if scope.site(&c.site_id).is_some_and(|s| s.name.is_some()) {
                return Err(BedError::SiteAlreadyRegistered { site: c.site_id.clone() });
            }
            Ok(vec![BedEvent::SiteRegistered {
                site_id: c.site_id.clone(),
                name: c.name.clone(),
                organisation: Some(c.organisation.clone()),
                at,
            }])
        }
        BedCommand::ConfigureWard(c) => {
            if scope.ward(&c.ward_id).is_some_and(|w| w.config.is_some()) {
                return Err(BedError::WardAlreadyConfigured { ward: c.ward_id.clone() });
            }
            let site = scope
                .site(&c.site_id)
                .filter(|s| s.name.is_some())
                .ok_or_else(|| BedError::SiteNotFound { site: c.site_id.clone() })?;
            Ok(vec![BedEvent::WardConfigured {
                ward_id: c.ward_id.clone(),
                site_id: c.site_id.clone(),
                name: c.name.clone(),
                specialty: c.specialty.clone(),
                organisation: site.organisation.clone(),
                at,
            }])
        }
        BedCommand::AddBed(c) => {
            if scope.bed(&c.bed_id).is_some_and(|b| b.config.is_some()) {
                return Err(BedError::BedAlreadyExists { bed: c.bed_id.clone() });
            }
            let ward = scope
                .ward(&c.ward_id)
                .and_then(|w| w.config.as_ref())
                .ok_or_else(|| BedError::WardNotFound { ward: c.ward_id.clone() })?;
            Ok(vec![BedEvent::BedAdded {
                bed_id: c.bed_id.clone(),
                ward_id: c.ward_id.clone(),
                site_id: ward.site_id.clone(),
                label: c.label.clone(),
                organisation: ward.organisation.clone(),
                at,
            }])
        }
        BedCommand::AdmitPatient(c) => {
            let (bed, config) = existing_bed(scope, &c.bed_id)?;
            if scope.stay(&c.stay_id).is_some_and(|s| s.admission.is_some()) {
                return Err(BedError::StayAlreadyExists { stay: c.stay_id });
            }
            if let Some(stay) = scope.inpatient(&c.nhs_number).and_then(|p| p.open_stay) {
                return Err(BedError::PatientAlreadyAdmitted { nhs_number: c.nhs_number, stay });
            }
            can_take_patient(&c.bed_id, bed, c.nhs_number, "admit a patient")?;
            let patient = scope.patient(&c.nhs_number);
            if patient.is_some_and(|p| p.date_of_death.is_some()) {
                return Err(BedError::PatientDied { nhs_number: c.nhs_number });
            }
            // An unregistered patient is registered by the admission, in the same append.
            let registration = patient.filter(|p| p.demographics.is_none()).map(|_| {
                BedEvent::Patient(PatientEvent::PatientRegistered {
                    nhs_number: c.nhs_number,
                    demographics: Demographics::from_admission(c.patient.clone()),
                    at,
                })
            });
            Ok(registration
                .into_iter()
                .chain([
                    BedEvent::PatientAdmitted {
                        stay_id: c.stay_id,
                        nhs_number: c.nhs_number,
                        patient: c.patient.clone(),
                        bed_id: c.bed_id.clone(),
                        ward_id: config.ward_id.clone(),
                        site_id: config.site_id.clone(),
                        organisation: config.organisation.clone(),
                        at,
                    },
                    BedEvent::BedOccupied {
                        bed_id: c.bed_id.clone(),
                        stay_id: c.stay_id,
                        nhs_number: c.nhs_number,
                        patient: c.patient.clone(),
                        at,
                    },
                    BedEvent::InpatientStayOpened { nhs_number: c.nhs_number, stay_id: c.stay_id, at },
                ])
                .collect())
        }
        BedCommand::TransferPatient(c) => {
            let admission = open_stay(scope, c.stay_id)?;
            if admission.bed_id == c.to_bed_id {
                return Err(BedError::AlreadyInBed { bed: c.to_bed_id.clone() });
            }
            let (to_bed, to_config) = existing_bed(scope, &c.to_bed_id)?;
            can_take_patient(&c.to_bed_id, to_bed, admission.nhs_number, "transfer a patient in")?;
            Ok(vec![
                BedEvent::PatientTransferred {
                    stay_id: c.stay_id,
                    from_bed_id: admission.bed_id.clone(),
                    to_bed_id: c.to_bed_id.clone(),
                    to_ward_id: to_config.ward_id.clone(),
                    at,
                },
                BedEvent::BedVacated {
                    bed_id: admission.bed_id.clone(),
                    stay_id: c.stay_id,
                    because: VacatedBecause::Transferred,
                    at,
                },
                BedEvent::BedOccupied {
                    bed_id: c.to_bed_id.clone(),
                    stay_id: c.stay_id,
                    nhs_number: admission.nhs_number,
                    patient: admission.patient.clone(),
                    at,
                },
            ])
        }
        BedCommand::SetExpectedDischargeDate(c) => {
            let admission = open_stay(scope, c.stay_id)?;
            not_before_admission("expected_discharge_date", c.date, admission)?;
            Ok(vec![BedEvent::ExpectedDischargeDateSet { stay_id: c.stay_id, date: c.date, at }])
        }
        BedCommand::MarkMedicallyOptimised(c) => {
            let admission = open_stay(scope, c.stay_id)?;
            not_before_admission("discharge_ready_date", c.discharge_ready_date, admission)?;
            Ok(vec![BedEvent::PatientMedicallyOptimised {
                stay_id: c.stay_id,
                discharge_ready_date: c.discharge_ready_date,
                pathway: c.pathway,
                at,
            }])
        }
        BedCommand::DischargePatient(c) => {
            let admission = open_stay(scope, c.stay_id)?;
            Ok(vec![
                BedEvent::PatientDischarged {
                    stay_id: c.stay_id,
                    nhs_number: admission.nhs_number,
                    bed_id: admission.bed_id.clone(),
                    destination: c.destination,
                    pathway: c.pathway,
                    at,
                },
                BedEvent::BedVacated {
                    bed_id: admission.bed_id.clone(),
                    stay_id: c.stay_id,
                    because: VacatedBecause::Discharged,
                    at,
                },
                BedEvent::InpatientStayClosed { nhs_number: admission.nhs_number, stay_id: c.stay_id, at },
            ])
        }
        BedCommand::MarkBedCleaned(c) => {
            bed_in(scope, &c.bed_id, &[BedStatus::AwaitingCleaning], "mark it cleaned")?;
            Ok(vec![BedEvent::BedCleaned { bed_id: c.bed_id.clone(), at }])
        }
        BedCommand::BlockBed(c) => {
            bed_in(scope, &c.bed_id, &[BedStatus::Available, BedStatus::AwaitingCleaning], "block it")?;
            Ok(vec![BedEvent::BedBlocked {
                bed_id: c.bed_id.clone(),
                reason: c.reason,
                note: c.note.clone(),
                at,
            }])
        }
        BedCommand::UnblockBed(c) => {
            let bed = bed_in(scope, &c.bed_id, &[BedStatus::Blocked], "unblock it")?;
            // After isolation the bed needs a deep clean before the next patient.
            let to = match bed.blocked_for {
                Some(BlockReason::InfectionControl) => BedStatus::AwaitingCleaning,
                Some(BlockReason::Maintenance | BlockReason::Staffing) | None => BedStatus::Available,
            };
            Ok(vec![BedEvent::BedUnblocked { bed_id: c.bed_id.clone(), to, at }])
        }
        BedCommand::ReserveBed(c) => {
            bed_in(scope, &c.bed_id, &[BedStatus::Available], "reserve it")?;
            Ok(vec![BedEvent::BedReserved {
                bed_id: c.bed_id.clone(),
                for_nhs_number: c.for_nhs_number,
                note: c.note.clone(),
                at,
            }])
        }
        BedCommand::ReleaseBedReservation(c) => {
            bed_in(scope, &c.bed_id, &[BedStatus::Reserved], "release a reservation")?;
            Ok(vec![BedEvent::BedReservationReleased { bed_id: c.bed_id.clone(), at }])
        }
    }
}

fn existing_bed<'a>(scope: &'a Scope, id: &BedId) -> Result<(&'a BedState, &'a BedConfig), BedError> {
    scope
        .bed(id)
        .and_then(|bed| bed.config.as_ref().map(|config| (bed, config)))
        .ok_or_else(|| BedError::BedNotFound { bed: id.clone() })
}

/// An existing bed in one of `allowed` states, or the error naming its state.
fn bed_in<'a>(
    scope: &'a Scope,
    id: &BedId,
    allowed: &[BedStatus],
    action: &'static str,
) -> Result<&'a BedState, BedError> {
    let (bed, _) = existing_bed(scope, id)?;
    if allowed.contains(&bed.status) {
        Ok(bed)
    } else {
        Err(BedError::InvalidBedState { bed: id.clone(), state: bed.status, action })
    }
}

/// A bed can take a patient when AVAILABLE, or RESERVED for nobody in particular or for them.
fn can_take_patient(
    id: &BedId,
    bed: &BedState,
    patient: NhsNumber,
    action: &'static str,
) -> Result<(), BedError> {
    match bed.status {
        BedStatus::Available => Ok(()),
        BedStatus::Reserved if bed.reserved_for.is_none_or(|nhs| nhs == patient) => Ok(()),
        BedStatus::Reserved => Err(BedError::ReservedForAnotherPatient { bed: id.clone() }),
        state @ (BedStatus::Occupied | BedStatus::AwaitingCleaning | BedStatus::Blocked) => {
            Err(BedError::InvalidBedState { bed: id.clone(), state, action })
        }
    }
}

fn open_stay(scope: &Scope, id: StayId) -> Result<&Admission, BedError> {
    let stay = scope.stay(&id).ok_or(BedError::StayNotFound { stay: id })?;
    let admission = stay.admission.as_ref().ok_or(BedError::StayNotFound { stay: id })?;
    if stay.discharged {
        return Err(BedError::StayEnded { stay: id });
    }
    Ok(admission)
}

fn not_before_admission(
    field: &'static str,
    date: chrono::NaiveDate,
    admission: &Admission,
) -> Result<(), BedError> {
    let admitted = admission.admitted_at.date_naive();
    if date < admitted { Err(BedError::DateBeforeAdmission { field, date, admitted }) } else { Ok(()) }
}
