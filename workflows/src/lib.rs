//! careflow-workflows: what hands work on between organisations (DESIGN.md §5).
//!
//! - [`clock`]: the one timer engine for every deadline in the product.
//! - [`discharge`]: the process manager of the discharge flows (discharge to assess: the
//!   assessment task, and the ward's task once a care placement is agreed; housekeeping after a discharge; a care plan review on admitting a patient at the end
//!   of life), routing its tasks by the rules stored as events.
//! - [`runner`]: how a process manager follows the log: from its checkpoint, sending its
//!   commands and moving the checkpoint only once they are acknowledged.
//! - [`virtualwards`]: virtual-ward escalation (NEWS2 and missed readings), and the virtual
//!   wards' deadlines on the clock.
//! - [`brokerage`]: the care requests' offer windows on the clock.
//! - [`commands`]: the commands they send, over the services' public gRPC API only.
//!
//! Depends on the domain (to read events), the event store port, the proto clients and auth
//! (to mint careflow's own token); never on the services' internals.

pub mod assessments;
pub mod brokerage;
pub mod clock;
pub mod commands;
pub mod discharge;
pub mod flag_rules;
pub mod runner;
mod teams;
pub mod virtualwards;
