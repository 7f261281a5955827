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
//! into a [`Scope`], then [`decide`] returns the events and [`Scope::apply`] folds them.

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
    Admission, BedConfig, BedState, InpatientState, Occupant, Scope, SiteState, StayState, WardConfig,
    WardState,
};
pub use values::{
    BedStatus, BlockReason, DischargeDestination, Label, Note, Pathway, PatientName, ValueError,
};
