//! The beds context: sites, wards and beds (configured by events), hospital stays, and the bed
//! state machine ward staff keep true in real time.
//!
//! Streams (each a consistency boundary): `site-<id>`, `ward-<id>`, `bed-<id>`, `stay-<id>`, and
//! `inpatient-<nhs>`, which holds a patient's open stay so that "at most one open stay per
//! patient" is enforced by the atomic multi-stream append rather than a read-then-write race.
//!
//! Bed states and the only legal transitions:
//!
//! ```text
//!  AVAILABLE ──reserve──▶ RESERVED ──release──▶ AVAILABLE
//!  AVAILABLE | RESERVED ──admit / transfer in──▶ OCCUPIED
//!  OCCUPIED ──discharge / transfer out──▶ AWAITING_CLEANING ──cleaned──▶ AVAILABLE
//!  AVAILABLE | AWAITING_CLEANING ──block──▶ BLOCKED
//!  BLOCKED ──unblock──▶ AVAILABLE (AWAITING_CLEANING after an infection-control block)
//! ```
//!
//! A command names what it acts on; [`BedCommand::streams`] says which streams its decision
//! needs given what is loaded so far (a stay leads to its bed and patient); the caller loads them
//! into a [`Scope`], then [`decide`] returns the events and [`Scope::apply`] folds them. [`Beds`]
//! is the context's [`Decider`], for the services' generic command handler.

mod command;
mod decide;
mod error;
mod event;
mod state;
mod values;

#[cfg(test)]
mod scenarios;

pub use command::*;
pub use decide::decide;
pub use error::BedError;
pub use event::{BedEvent, BedStream, VacatedBecause};
pub use state::{
    Admission, BedConfig, BedState, BedStreamState, InpatientState, Occupant, Scope, SiteState, StayState,
    WardConfig, WardState,
};
pub use values::{
    BedStatus, BlockReason, DischargeDestination, Label, Note, Pathway, PatientName, ValueError,
};

use chrono::{DateTime, Utc};

use crate::decider::{Decider, Loaded, Owner, Refusal, RefusalKind};

/// The beds context as a [`Decider`].
#[derive(Debug, Clone, Copy)]
pub struct Beds;

impl Decider for Beds {
    type Command = BedCommand;
    type Event = BedEvent;
    type Stream = BedStream;
    type State = BedStreamState;
    type Error = BedError;

    const CONTEXT: &'static str = "beds";
    const SCHEMA_VERSION: u32 = BedEvent::SCHEMA_VERSION;
    const CATEGORIES: &'static [&'static str] = &BedStream::CATEGORIES;

    fn command_name(command: &BedCommand) -> &'static str {
        command.name()
    }

    fn stream_name(stream: &BedStream) -> String {
        stream.name()
    }

    fn stream_of(event: &BedEvent) -> BedStream {
        event.stream()
    }

    fn event_type(event: &BedEvent) -> &'static str {
        event.event_type()
    }

    fn initial(stream: &BedStream) -> BedStreamState {
        BedStreamState::initial(stream)
    }

    fn evolve(state: &mut BedStreamState, event: &BedEvent) {
        state.evolve(event);
    }

    fn streams(command: &BedCommand, loaded: &Loaded<Self>) -> Vec<BedStream> {
        command.streams(loaded)
    }

    fn owners(loaded: &Scope, command: &BedCommand) -> Vec<Owner> {
        let bed = |id: &crate::BedId| {
            loaded.bed(id).and_then(|b| b.config.as_ref()).map(|c| Owner::recorded(c.organisation.as_ref()))
        };
        let stay = |id: &crate::StayId| {
            loaded
                .stay(id)
                .and_then(|s| s.admission.as_ref())
                .map(|a| Owner::recorded(a.organisation.as_ref()))
        };
        match command {
            BedCommand::RegisterSite(_) => vec![Owner::New],
            BedCommand::ConfigureWard(c) => loaded
                .site(&c.site_id)
                .filter(|s| s.name.is_some())
                .map(|s| Owner::recorded(s.organisation.as_ref()))
                .into_iter()
                .collect(),
            BedCommand::AddBed(c) => loaded
                .ward(&c.ward_id)
                .and_then(|w| w.config.as_ref())
                .map(|w| Owner::recorded(w.organisation.as_ref()))
                .into_iter()
                .collect(),
            BedCommand::TransferPatient(c) => stay(&c.stay_id).into_iter().chain(bed(&c.to_bed_id)).collect(),
            BedCommand::SetExpectedDischargeDate(SetExpectedDischargeDate { stay_id, .. })
            | BedCommand::MarkMedicallyOptimised(MarkMedicallyOptimised { stay_id, .. })
            | BedCommand::DischargePatient(DischargePatient { stay_id, .. }) => {
                stay(stay_id).into_iter().collect()
            }
            BedCommand::AdmitPatient(AdmitPatient { bed_id, .. })
            | BedCommand::MarkBedCleaned(MarkBedCleaned { bed_id })
            | BedCommand::BlockBed(BlockBed { bed_id, .. })
            | BedCommand::UnblockBed(UnblockBed { bed_id })
            | BedCommand::ReserveBed(ReserveBed { bed_id, .. })
            | BedCommand::ReleaseBedReservation(ReleaseBedReservation { bed_id }) => {
                bed(bed_id).into_iter().collect()
            }
        }
    }

    fn decide(loaded: &Scope, command: &BedCommand, at: DateTime<Utc>) -> Result<Vec<BedEvent>, BedError> {
        decide::decide_at(loaded, command, at)
    }

    /// The beds whose board entry the events change, in order: the beds written to; or, for a
    /// command that only writes to a stay, the bed the patient is in.
    fn touched(loaded: &Scope, events: &[BedEvent]) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for event in events {
            if let BedStream::Bed(id) = event.stream()
                && !ids.iter().any(|b| b == id.as_str())
            {
                ids.push(id.to_string());
            }
        }
        if ids.is_empty() {
            let stay_bed = events.iter().find_map(|event| match event.stream() {
                BedStream::Stay(stay) => {
                    loaded.stay(&stay).and_then(|s| s.admission.as_ref()).map(|a| a.bed_id.to_string())
                }
                BedStream::Site(_)
                | BedStream::Ward(_)
                | BedStream::Bed(_)
                | BedStream::Inpatient(_)
                | BedStream::Patient(_) => None,
            });
            ids.extend(stay_bed);
        }
        ids
    }
}

impl Refusal for BedError {
    fn kind(&self) -> RefusalKind {
        match self {
            BedError::SiteNotFound { .. }
            | BedError::WardNotFound { .. }
            | BedError::BedNotFound { .. }
            | BedError::StayNotFound { .. } => RefusalKind::NotFound,
            BedError::SiteAlreadyRegistered { .. }
            | BedError::WardAlreadyConfigured { .. }
            | BedError::BedAlreadyExists { .. }
            | BedError::StayAlreadyExists { .. } => RefusalKind::AlreadyExists,
            BedError::InvalidBedState { .. }
            | BedError::ReservedForAnotherPatient { .. }
            | BedError::PatientAlreadyAdmitted { .. }
            | BedError::PatientDied { .. }
            | BedError::StayEnded { .. }
            | BedError::AlreadyInBed { .. }
            | BedError::DateBeforeAdmission { .. } => RefusalKind::Precondition,
        }
    }
}
