//! careflow-services: the write side. Each context has a gRPC adapter (parse the request, check
//! the caller) over a command handler (load streams → `decide` → append with expected versions,
//! retrying a bounded number of times when a concurrent writer wins).
//!
//! Depends on the domain, the event store port and the proto contracts; never on projections or
//! the gateway. Services never call each other in-process.

pub mod beds;
mod context;
mod error;
pub mod server;

pub use context::CommandContext;
pub use error::{FieldViolation, ServiceError};
