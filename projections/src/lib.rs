//! careflow-projections: the read side. A [`host::ProjectionHost`] runs every projection of a
//! process from one `$all` subscription (a [`runner::ProjectionRunner`] runs one), each from its
//! own checkpoint; read models answer the gateway.
//!
//! Depends on the domain (to decode events) and the event store port; never on services.
//! The gateway sees read models only through ports such as [`bed_board::BedBoardReader`].

pub mod assessments;
pub mod bed_board;
pub mod brokerage;
pub mod documents;
pub mod flow;
pub mod host;
pub mod metrics;
pub mod patient_summary;
mod redis_follow;
pub mod runner;
pub mod task_board;
pub mod virtual_wards;

pub use host::ProjectionHost;
pub use runner::{Projection, ProjectionError, ProjectionRunner};
