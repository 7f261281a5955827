//! careflow-domain: the pure heart of careflow.
//!
//! Value objects ([`NhsNumber`], ids), the [`Decider`] every context implements, and per bounded
//! context its commands, one event enum, state, `decide` and `evolve`, and a `thiserror` error. Pure: no I/O, no clock, no random ids —
//! time and ids are inputs. Depends on nothing of ours.

pub mod assessments;
pub mod beds;
pub mod brokerage;
pub mod decider;
pub mod flags;
pub mod ids;
pub mod nhs;
pub mod patients;
pub mod tasks;
pub mod virtualwards;

pub use decider::{Decider, Loaded, Owner, Refusal, RefusalKind};
pub use ids::{
    BedId, IdError, OdsCode, QuestionId, RuleId, SectionId, SiteId, StayId, TeamId, TemplateId, WardId,
};
pub use nhs::{NhsNumber, NhsNumberError};
