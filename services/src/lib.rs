//! careflow-services: the write side. One generic [`CommandHandler`] drives every context's
//! [`Decider`](careflow_domain::Decider) (load streams → `decide` → append with expected
//! versions, retrying a bounded number of times when a concurrent writer wins, idempotent by
//! command id); one gRPC plumbing ([`grpc`]) authenticates every call, parses every field and
//! hands commands to the handler; each context adds its service module and one line in
//! [`server`].
//!
//! Depends on the domain, the event store port and the proto contracts; never on projections or
//! the gateway. Services never call each other in-process.

pub mod assessments;
pub mod beds;
pub mod brokerage;
mod cache;
pub mod clock;
mod context;
mod error;
pub mod flags;
pub mod grpc;
mod handler;
pub mod metrics;
pub mod patients;
pub mod server;
pub mod tasks;
pub mod virtualwards;

pub use clock::{Clock, FixedClock, SystemClock};
pub use context::CommandContext;
pub use error::{FieldViolation, ServiceError};
pub use handler::{CommandHandler, Effect, Outcome};
