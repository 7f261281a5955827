//! Commands of the beds context: imperative, already parsed (they cannot hold invalid values).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::event::BedStream;
use super::state::Scope;
use super::values::{BlockReason, DischargeDestination, Label, Note, Pathway, PatientName};
use crate::{BedId, NhsNumber, OdsCode, SiteId, StayId, WardId};

/// Register a hospital site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterSite {
    /// The new site.
    pub site_id: SiteId,
    /// Its name.
    pub name: Label,
    /// The organisation that will own it (the registering admin's).
    pub organisation: OdsCode,
}

/// Configure a ward on a registered site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigureWard {
    /// The new ward.
    pub ward_id: WardId,
    /// Its site.
    pub site_id: SiteId,
    /// Its name.
    pub name: Label,
    /// Its specialty, e.g. "Acute medicine".
    pub specialty: Option<Label>,
}

/// Add a bed to a configured ward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddBed {
    /// The new bed.
    pub bed_id: BedId,
    /// Its ward.
    pub ward_id: WardId,
    /// What staff call it, e.g. "Bay 2 Bed 4".
    pub label: Label,
}

/// Admit a patient into a bed, opening a stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdmitPatient {
    /// The new stay's id.
    pub stay_id: StayId,
    /// The bed.
    pub bed_id: BedId,
    /// The patient.
    pub nhs_number: NhsNumber,
    /// The patient's name.
    pub patient: PatientName,
}

/// Move a patient to another bed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferPatient {
    /// The open stay.
    pub stay_id: StayId,
    /// The bed to move to.
    pub to_bed_id: BedId,
}

/// Set (or change) the expected discharge date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetExpectedDischargeDate {
    /// The open stay.
    pub stay_id: StayId,
    /// The date.
    pub date: NaiveDate,
}

/// The patient no longer meets the criteria to reside: record the Discharge Ready Date and
/// pathway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkMedicallyOptimised {
    /// The open stay.
    pub stay_id: StayId,
    /// The Discharge Ready Date.
    pub discharge_ready_date: NaiveDate,
    /// The discharge pathway planned.
    pub pathway: Pathway,
}

/// Discharge the patient; the bed then awaits cleaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DischargePatient {
    /// The open stay.
    pub stay_id: StayId,
    /// Where the patient went.
    pub destination: DischargeDestination,
    /// The pathway they left on.
    pub pathway: Pathway,
}

/// Housekeeping has cleaned the bed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkBedCleaned {
    /// The bed.
    pub bed_id: BedId,
}

/// Take a bed out of use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockBed {
    /// The bed.
    pub bed_id: BedId,
    /// Why.
    pub reason: BlockReason,
    /// Details.
    pub note: Option<Note>,
}

/// Bring a blocked bed back into use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnblockBed {
    /// The bed.
    pub bed_id: BedId,
}

/// Hold an available bed for an incoming patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReserveBed {
    /// The bed.
    pub bed_id: BedId,
    /// The patient it is held for, if known.
    pub for_nhs_number: Option<NhsNumber>,
    /// Details (e.g. "from ED majors").
    pub note: Option<Note>,
}

/// Release a reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseBedReservation {
    /// The bed.
    pub bed_id: BedId,
}

/// Every command of the beds context, with the moment it is decided at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    /// What to do.
    pub action: BedCommand,
    /// When (the service's clock, an input to the pure domain).
    pub at: DateTime<Utc>,
}

/// Every command of the beds context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum BedCommand {
    /// See [`RegisterSite`].
    RegisterSite(RegisterSite),
    /// See [`ConfigureWard`].
    ConfigureWard(ConfigureWard),
    /// See [`AddBed`].
    AddBed(AddBed),
    /// See [`AdmitPatient`].
    AdmitPatient(AdmitPatient),
    /// See [`TransferPatient`].
    TransferPatient(TransferPatient),
    /// See [`SetExpectedDischargeDate`].
    SetExpectedDischargeDate(SetExpectedDischargeDate),
    /// See [`MarkMedicallyOptimised`].
    MarkMedicallyOptimised(MarkMedicallyOptimised),
    /// See [`DischargePatient`].
    DischargePatient(DischargePatient),
    /// See [`MarkBedCleaned`].
    MarkBedCleaned(MarkBedCleaned),
    /// See [`BlockBed`].
    BlockBed(BlockBed),
    /// See [`UnblockBed`].
    UnblockBed(UnblockBed),
    /// See [`ReserveBed`].
    ReserveBed(ReserveBed),
    /// See [`ReleaseBedReservation`].
    ReleaseBedReservation(ReleaseBedReservation),
}

impl BedCommand {
    /// The streams the decision needs, given what `scope` has loaded so far. A stay leads to
    /// its bed and patient, so callers load until this asks for nothing new.
    pub fn streams(&self, scope: &Scope) -> Vec<BedStream> {
        match self {
            Self::RegisterSite(c) => vec![BedStream::Site(c.site_id.clone())],
            Self::ConfigureWard(c) => {
                vec![BedStream::Ward(c.ward_id.clone()), BedStream::Site(c.site_id.clone())]
            }
            Self::AddBed(c) => vec![BedStream::Bed(c.bed_id.clone()), BedStream::Ward(c.ward_id.clone())],
            Self::AdmitPatient(c) => vec![
                BedStream::Bed(c.bed_id.clone()),
                BedStream::Stay(c.stay_id),
                BedStream::Inpatient(c.nhs_number),
                BedStream::Patient(c.nhs_number),
            ],
            Self::TransferPatient(c) => {
                let mut streams = vec![BedStream::Stay(c.stay_id), BedStream::Bed(c.to_bed_id.clone())];
                if let Some(admission) = scope.stay(&c.stay_id).and_then(|s| s.admission.as_ref())
                    && admission.bed_id != c.to_bed_id
                {
                    streams.push(BedStream::Bed(admission.bed_id.clone()));
                }
                streams
            }
            Self::SetExpectedDischargeDate(SetExpectedDischargeDate { stay_id, .. })
            | Self::MarkMedicallyOptimised(MarkMedicallyOptimised { stay_id, .. }) => {
                vec![BedStream::Stay(*stay_id)]
            }
            Self::DischargePatient(c) => {
                let mut streams = vec![BedStream::Stay(c.stay_id)];
                if let Some(admission) = scope.stay(&c.stay_id).and_then(|s| s.admission.as_ref()) {
                    streams.push(BedStream::Bed(admission.bed_id.clone()));
                    streams.push(BedStream::Inpatient(admission.nhs_number));
                }
                streams
            }
            Self::MarkBedCleaned(MarkBedCleaned { bed_id })
            | Self::BlockBed(BlockBed { bed_id, .. })
            | Self::UnblockBed(UnblockBed { bed_id })
            | Self::ReserveBed(ReserveBed { bed_id, .. })
            | Self::ReleaseBedReservation(ReleaseBedReservation { bed_id }) => {
                vec![BedStream::Bed(bed_id.clone())]
            }
        }
    }

    /// The command's name, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RegisterSite(_) => "RegisterSite",
            Self::ConfigureWard(_) => "ConfigureWard",
            Self::AddBed(_) => "AddBed",
            Self::AdmitPatient(_) => "AdmitPatient",
            Self::TransferPatient(_) => "TransferPatient",
            Self::SetExpectedDischargeDate(_) => "SetExpectedDischargeDate",
            Self::MarkMedicallyOptimised(_) => "MarkMedicallyOptimised",
            Self::DischargePatient(_) => "DischargePatient",
            Self::MarkBedCleaned(_) => "MarkBedCleaned",
            Self::BlockBed(_) => "BlockBed",
            Self::UnblockBed(_) => "UnblockBed",
            Self::ReserveBed(_) => "ReserveBed",
            Self::ReleaseBedReservation(_) => "ReleaseBedReservation",
        }
    }
}
