//! careflow-projections: the read side. A [`runner::ProjectionRunner`] subscribes to `$all`
//! from a projection's checkpoint and applies batches; read models answer the gateway.
//!
//! Depends on the domain (to decode events) and the event store port; never on services.
//! The gateway sees read models only through ports such as [`bed_board::BedBoardReader`].

pub mod bed_board;
pub mod runner;

pub use runner::{Projection, ProjectionError, ProjectionRunner};
