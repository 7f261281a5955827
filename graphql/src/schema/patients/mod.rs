//! The patients and flags contexts' schema: the patient record (demographics, flags, location,
//! timeline) and MPI search, read from the patient summary model; the MPI and flag commands;
//! and a live `patientSummary` subscription. Every read goes through the policy: the role must
//! allow patient records, and a patient who dissents from sharing is seen only by the
//! organisations caring for them.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Subscription};
use careflow_auth::policy::{self, Action, PatientAccess};
use careflow_domain::NhsNumber;
use careflow_domain::flags::{self as domain_flags, FlagSource};
use careflow_domain::patients::Postcode;
use careflow_projections::documents::{DocChange, DocumentReader};
use careflow_projections::patient_summary::{
    FlagView, PatientDoc, PatientSummary, StayView, TimelineEntry as TimelineView, name_key, patient_key,
    postcode_key,
};
use careflow_proto::flags::v1 as fpb;
use careflow_proto::flags::v1::flag_service_client::FlagServiceClient;
use careflow_proto::patients::v1 as ppb;
use careflow_proto::patients::v1::patient_service_client::PatientServiceClient;
use chrono::NaiveDate;
use futures::Stream;
use futures::stream::{self, StreamExt};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tonic::transport::Channel;

use super::command::{command_id, send, visible};
use super::subscription::expiry;
use super::types::reader as bed_reader;
use super::{Caller, authenticated};
use crate::error::{ApiError, FieldViolation, GqlError};
use crate::metrics::{GatewayMetrics, SubscriptionGuard};

/// Most patients one search returns.
pub const MAX_SEARCH_RESULTS: usize = 50;

/// The patient summaries, as the gateway reads them.
pub type PatientReader = Arc<dyn DocumentReader<PatientDoc>>;

pub(crate) fn patients<'a>(ctx: &Context<'a>) -> Result<&'a PatientReader, ApiError> {
    ctx.data::<PatientReader>().map_err(|e| ApiError::internal(&e.message))
}

fn bad_input(field: &str, description: impl Into<String>) -> ApiError {
    let description = description.into();
    ApiError::BadUserInput {
        message: format!("{field}: {description}"),
        violations: vec![FieldViolation { field: field.to_owned(), description }],
    }
}

fn nhs_number(field: &str, input: &str) -> Result<String, ApiError> {
    NhsNumber::parse(input).map(|n| n.to_string()).map_err(|e| bad_input(field, e.to_string()))
}

pub(crate) fn summary_of(doc: Option<PatientDoc>) -> Option<PatientSummary> {
    match doc {
        Some(PatientDoc::Summary(summary)) => Some(*summary),
        _ => None,
    }
}

/// Whether `caller` may see `summary` (the policy decides).
pub(crate) fn may_see(caller: &Caller, summary: &PatientSummary) -> Result<(), ApiError> {
    let caring = summary.caring_organisations();
    let access = PatientAccess { dissent: summary.dissent, caring: &caring };
    policy::authorize_patient(&caller.actor, Action::ViewPatients, access)
        .map_err(|d| ApiError::Forbidden(d.to_string()))
}

/// The caller, whose role may see patient records.
fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Caller, ApiError> {
    let caller = authenticated(ctx)?;
    if !policy::role_allows(caller.actor.role, Action::ViewPatients) {
        return Err(ApiError::Forbidden(format!(
            "role {} may not {}",
            caller.actor.role,
            Action::ViewPatients
        )));
    }
    Ok(caller)
}

/// A patient's record, if the caller may see it: `None` for a patient careflow does not know.
async fn record(ctx: &Context<'_>, nhs: &str) -> Result<Option<Patient>, GqlError> {
    let caller = viewer(ctx)?;
    let Some(summary) = summary_of(patients(ctx)?.get(&patient_key(nhs)).await?) else { return Ok(None) };
    may_see(caller, &summary)?;
    Ok(Some(Patient(summary)))
}

/// Administrative gender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Gender {
    /// Male.
    Male,
    /// Female.
    Female,
    /// Other.
    Other,
    /// Not known.
    Unknown,
}

impl Gender {
    fn proto(self) -> i32 {
        let gender = match self {
            Gender::Male => ppb::Gender::Male,
            Gender::Female => ppb::Gender::Female,
            Gender::Other => ppb::Gender::Other,
            Gender::Unknown => ppb::Gender::Unknown,
        };
        gender as i32
    }

    fn of_fhir(code: &str) -> Self {
        match code {
            "male" => Gender::Male,
            "female" => Gender::Female,
            "other" => Gender::Other,
            _ => Gender::Unknown,
        }
    }
}

/// What a flag warns of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain_flags::FlagKind")]
pub enum FlagKind {
    /// Has an end of life care plan.
    EndOfLifeCarePlan,
    /// Frail, with a Clinical Frailty Scale score of 6–9.
    Frailty,
    /// On the learning disability register.
    LearningDisability,
    /// A safeguarding concern.
    Safeguarding,
    /// At risk of falls.
    FallsRisk,
    /// Needs infection control precautions.
    InfectionControl,
}

impl FlagKind {
    fn proto(self) -> i32 {
        let kind = match self {
            FlagKind::EndOfLifeCarePlan => fpb::FlagKind::EndOfLifeCarePlan,
            FlagKind::Frailty => fpb::FlagKind::Frailty,
            FlagKind::LearningDisability => fpb::FlagKind::LearningDisability,
            FlagKind::Safeguarding => fpb::FlagKind::Safeguarding,
            FlagKind::FallsRisk => fpb::FlagKind::FallsRisk,
            FlagKind::InfectionControl => fpb::FlagKind::InfectionControl,
        };
        kind as i32
    }
}

/// How much a flag matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain_flags::Severity")]
pub enum Severity {
    /// Worth knowing.
    Low,
    /// Changes how care is given.
    Medium,
    /// Must be acted on.
    High,
}

impl Severity {
    fn proto(self) -> i32 {
        let severity = match self {
            Severity::Low => fpb::Severity::Low,
            Severity::Medium => fpb::Severity::Medium,
            Severity::High => fpb::Severity::High,
        };
        severity as i32
    }
}

/// An `nhsNumber` argument: 10 digits (spaces allowed), named in the error.
fn nhs_number_arg(input: &str) -> Result<String, ApiError> {
    nhs_number("nhsNumber", input)
}

mod mutation;
mod query;
mod subscription;
mod types;

pub use mutation::PatientsMutation;
pub use query::PatientsQuery;
pub use subscription::PatientsSubscription;
pub use types::Patient;
