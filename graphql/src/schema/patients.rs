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

/// A patient's record, as the caller may see it.
pub struct Patient(pub PatientSummary);

#[Object]
impl Patient {
    /// NHS number, 10 digits.
    async fn nhs_number(&self) -> &str {
        &self.0.nhs_number
    }
    /// Whether the MPI holds a registration for them.
    async fn registered(&self) -> bool {
        self.0.demographics.is_some()
    }
    /// Given name.
    async fn given_name(&self) -> Option<&str> {
        self.0.demographics.as_ref().map(|d| d.given_name.as_str())
    }
    /// Family name.
    async fn family_name(&self) -> Option<&str> {
        self.0.demographics.as_ref().map(|d| d.family_name.as_str())
    }
    /// Date of birth, YYYY-MM-DD.
    async fn date_of_birth(&self) -> Option<String> {
        self.0.demographics.as_ref().and_then(|d| d.date_of_birth).map(|d| d.to_string())
    }
    /// Administrative gender.
    async fn gender(&self) -> Option<Gender> {
        self.0.demographics.as_ref().map(|d| Gender::of_fhir(&d.gender))
    }
    /// Home postcode.
    async fn postcode(&self) -> Option<&str> {
        self.0.demographics.as_ref().and_then(|d| d.postcode.as_deref())
    }
    /// Registered GP practice (ODS code).
    async fn gp_practice(&self) -> Option<&str> {
        self.0.demographics.as_ref().and_then(|d| d.gp_practice.as_deref())
    }
    /// The patient dissents from sharing their record beyond the organisations caring for them.
    async fn sharing_dissent(&self) -> bool {
        self.0.dissent
    }
    /// Date of death, YYYY-MM-DD.
    async fn date_of_death(&self) -> Option<String> {
        self.0.date_of_death.map(|d| d.to_string())
    }
    /// Flags, in the order raised: the active ones only, unless `includeResolved`.
    async fn flags(&self, #[graphql(default = false)] include_resolved: bool) -> Vec<Flag> {
        self.0.flags.iter().filter(|f| include_resolved || f.is_active()).cloned().map(Flag).collect()
    }
    /// The kinds of the active flags.
    async fn active_flag_kinds(&self) -> Vec<FlagKind> {
        self.0.active_flag_kinds().into_iter().map(Into::into).collect()
    }
    /// Where they are: their open hospital stay's bed.
    async fn location(&self) -> Option<Location> {
        self.0.stay.clone().map(Location)
    }
    /// What happened to them, oldest first (the most recent 200 events).
    async fn timeline(&self) -> Vec<TimelineEntry> {
        self.0.timeline.iter().cloned().map(TimelineEntry).collect()
    }
}

/// A flag.
pub struct Flag(FlagView);

/// Who or what raised a flag.
#[derive(SimpleObject)]
pub struct FlagRaisedBy {
    /// The person's user id, when a person raised it.
    pub user_id: Option<String>,
    /// Their organisation (ODS code).
    pub organisation: Option<String>,
    /// The rule, when a workflow rule raised it.
    pub rule: Option<String>,
    /// The rule's version.
    pub rule_version: Option<i32>,
}

#[Object]
impl Flag {
    /// Flag id.
    async fn id(&self) -> ID {
        ID(self.0.flag_id.clone())
    }
    /// What it warns of.
    async fn kind(&self) -> FlagKind {
        self.0.kind.into()
    }
    /// SNOMED CT code of the concept, where one is assigned.
    async fn snomed_code(&self) -> Option<&'static str> {
        self.snomed().map(|s| s.code)
    }
    /// SNOMED CT term.
    async fn snomed_display(&self) -> Option<&'static str> {
        self.snomed().map(|s| s.display)
    }
    /// Clinical Frailty Scale score (frailty only).
    async fn frailty_score(&self) -> Option<i32> {
        self.0.frailty_score.map(i32::from)
    }
    /// How much it matters.
    async fn severity(&self) -> Severity {
        self.0.severity.into()
    }
    /// Why it was raised.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// Next review, YYYY-MM-DD.
    async fn review_on(&self) -> Option<String> {
        self.0.review_on.map(|d| d.to_string())
    }
    /// Who or what raised it.
    async fn raised_by(&self) -> FlagRaisedBy {
        match &self.0.source {
            FlagSource::Person { user_id, organisation } => FlagRaisedBy {
                user_id: Some(user_id.clone()),
                organisation: Some(organisation.as_str().to_owned()),
                rule: None,
                rule_version: None,
            },
            FlagSource::Rule { rule, version } => FlagRaisedBy {
                user_id: None,
                organisation: None,
                rule: Some(rule.clone()),
                rule_version: i32::try_from(*version).ok(),
            },
        }
    }
    /// When it was raised (RFC 3339).
    async fn raised_at(&self) -> String {
        self.0.raised_at.to_rfc3339()
    }
    /// When it was last reviewed.
    async fn reviewed_at(&self) -> Option<String> {
        self.0.reviewed_at.map(|t| t.to_rfc3339())
    }
    /// Whether it still applies.
    async fn active(&self) -> bool {
        self.0.is_active()
    }
    /// When it was resolved.
    async fn resolved_at(&self) -> Option<String> {
        self.0.resolved_at.map(|t| t.to_rfc3339())
    }
    /// Why it was resolved.
    async fn resolution(&self) -> Option<&str> {
        self.0.resolution.as_deref()
    }
}

impl Flag {
    fn snomed(&self) -> Option<domain_flags::Snomed> {
        let score = self.0.frailty_score.and_then(|s| domain_flags::FrailtyScore::new(s).ok());
        domain_flags::snomed(self.0.kind, score)
    }
}

/// Where a patient is: the bed of their open stay.
pub struct Location(StayView);

#[Object]
impl Location {
    /// The open stay.
    async fn stay_id(&self) -> ID {
        ID(self.0.stay_id.clone())
    }
    /// The site (the bed's, from the bed board, as a transfer may cross sites).
    async fn site_id(&self, ctx: &Context<'_>) -> Result<ID, GqlError> {
        let bed = bed_reader(ctx)?.bed(&self.0.bed_id).await?;
        Ok(ID(bed.map_or_else(|| self.0.site_id.clone(), |b| b.site_id)))
    }
    /// The ward.
    async fn ward_id(&self) -> ID {
        ID(self.0.ward_id.clone())
    }
    /// The bed.
    async fn bed_id(&self) -> ID {
        ID(self.0.bed_id.clone())
    }
    /// The organisation whose bed it is (ODS code).
    async fn organisation(&self) -> Option<&str> {
        self.0.organisation.as_deref()
    }
    /// What staff call the bed (from the bed board).
    async fn bed_label(&self, ctx: &Context<'_>) -> Result<Option<String>, GqlError> {
        Ok(bed_reader(ctx)?.bed(&self.0.bed_id).await?.map(|b| b.label))
    }
    /// The ward's name (from the bed board).
    async fn ward_name(&self, ctx: &Context<'_>) -> Result<Option<String>, GqlError> {
        Ok(bed_reader(ctx)?.ward(&self.0.ward_id).await?.map(|w| w.name))
    }
    /// When the stay began (RFC 3339).
    async fn admitted_at(&self) -> String {
        self.0.admitted_at.to_rfc3339()
    }
    /// Expected discharge date.
    async fn expected_discharge_date(&self) -> Option<String> {
        self.0.expected_discharge_date.map(|d| d.to_string())
    }
    /// Discharge Ready Date, once medically optimised.
    async fn discharge_ready_date(&self) -> Option<String> {
        self.0.discharge_ready_date.map(|d| d.to_string())
    }
}

/// One event of a patient's timeline.
pub struct TimelineEntry(TimelineView);

#[Object]
impl TimelineEntry {
    /// Global position (a decimal string).
    async fn position(&self) -> String {
        self.0.position.to_string()
    }
    /// When it happened (RFC 3339).
    async fn at(&self) -> String {
        self.0.at.to_rfc3339()
    }
    /// The context that recorded it: `patients`, `flags` or `beds`.
    async fn context(&self) -> &str {
        &self.0.context
    }
    /// The event type.
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// What happened.
    async fn summary(&self) -> &str {
        &self.0.summary
    }
}

/// The patients and flags queries.
#[derive(Default)]
pub struct PatientsQuery;

#[Object]
impl PatientsQuery {
    /// A patient's record: null for a patient careflow does not know; FORBIDDEN when the
    /// patient dissents from sharing and the caller's organisation is not caring for them.
    async fn patient(&self, ctx: &Context<'_>, nhs_number: String) -> Result<Option<Patient>, GqlError> {
        viewer(ctx)?;
        let nhs = nhs_number_arg(&nhs_number)?;
        record(ctx, &nhs).await
    }

    /// Finds patients by NHS number, by family name and date of birth, or by postcode (one of
    /// the three). Patients the caller may not see are left out. At most 50.
    async fn search_patients(
        &self,
        ctx: &Context<'_>,
        nhs_number: Option<String>,
        family_name: Option<String>,
        date_of_birth: Option<String>,
        postcode: Option<String>,
    ) -> Result<Vec<Patient>, GqlError> {
        let caller = viewer(ctx)?;
        let reader = patients(ctx)?;
        let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
        let found: Vec<String> =
            match (blank(&nhs_number), blank(&family_name), blank(&date_of_birth), blank(&postcode)) {
                (false, true, true, true) => vec![nhs_number_arg(nhs_number.as_deref().unwrap_or_default())?],
                (true, false, false, true) => {
                    let family = family_name.unwrap_or_default();
                    let born = NaiveDate::parse_from_str(
                        date_of_birth.as_deref().unwrap_or_default().trim(),
                        "%Y-%m-%d",
                    )
                    .map_err(|_| bad_input("dateOfBirth", "must be a date, YYYY-MM-DD"))?;
                    index(reader, &name_key(&family, born)).await?
                }
                (true, true, true, false) => {
                    let postcode = Postcode::parse(postcode.as_deref().unwrap_or_default())
                        .map_err(|e| bad_input("postcode", e.to_string()))?;
                    index(reader, &postcode_key(postcode.as_str())).await?
                }
                (true, false, true, true) => {
                    return Err(bad_input("dateOfBirth", "required with familyName").into());
                }
                (true, true, false, true) => {
                    return Err(bad_input("familyName", "required with dateOfBirth").into());
                }
                _ => {
                    return Err(ApiError::BadUserInput {
                    message:
                        "search by nhsNumber, by familyName and dateOfBirth, or by postcode: one of the three"
                            .into(),
                    violations: Vec::new(),
                }
                .into());
                }
            };
        let keys: Vec<String> = found.iter().take(MAX_SEARCH_RESULTS).map(|nhs| patient_key(nhs)).collect();
        let summaries = reader.get_many(&keys).await?;
        Ok(summaries
            .into_iter()
            .filter_map(summary_of)
            .filter(|s| may_see(caller, s).is_ok())
            .map(Patient)
            .collect())
    }
}

fn nhs_number_arg(input: &str) -> Result<String, ApiError> {
    nhs_number("nhsNumber", input)
}

async fn index(reader: &PatientReader, key: &str) -> Result<Vec<String>, GqlError> {
    match reader.get(key).await? {
        Some(PatientDoc::Index { nhs_numbers }) => Ok(nhs_numbers.into_iter().collect()),
        _ => Ok(Vec::new()),
    }
}

/// Register a patient in the MPI.
#[derive(InputObject)]
pub struct RegisterPatientInput {
    /// Idempotency key: a UUID, reused when retrying.
    pub command_id: Option<ID>,
    /// NHS number (10 digits, spaces allowed).
    pub nhs_number: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth, YYYY-MM-DD.
    pub date_of_birth: String,
    /// Administrative gender.
    pub gender: Gender,
    /// Home postcode.
    pub postcode: Option<String>,
    /// Registered GP practice (ODS code).
    pub gp_practice: Option<String>,
}

/// Change some demographics; fields left out are unchanged.
#[derive(InputObject)]
pub struct UpdatePatientDemographicsInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// NHS number.
    pub nhs_number: String,
    /// New given name (with familyName).
    pub given_name: Option<String>,
    /// New family name (with givenName).
    pub family_name: Option<String>,
    /// Corrected date of birth.
    pub date_of_birth: Option<String>,
    /// New gender.
    pub gender: Option<Gender>,
    /// New postcode.
    pub postcode: Option<String>,
    /// New GP practice.
    pub gp_practice: Option<String>,
}

/// Record that the patient dissents from sharing.
#[derive(InputObject)]
pub struct RecordSharingDissentInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// NHS number.
    pub nhs_number: String,
    /// How or why it was recorded.
    pub note: Option<String>,
}

/// A command on one patient.
#[derive(InputObject)]
pub struct PatientInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// NHS number.
    pub nhs_number: String,
}

/// Record a death.
#[derive(InputObject)]
pub struct RecordDeathInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// NHS number.
    pub nhs_number: String,
    /// Date of death, YYYY-MM-DD.
    pub date_of_death: String,
}

/// Raise a flag.
#[derive(InputObject)]
pub struct RaiseFlagInput {
    /// Idempotency key; the flag's id is derived from it.
    pub command_id: Option<ID>,
    /// NHS number.
    pub nhs_number: String,
    /// What it warns of.
    pub kind: FlagKind,
    /// Clinical Frailty Scale score, 6–9: for FRAILTY only.
    pub frailty_score: Option<i32>,
    /// How much it matters.
    pub severity: Severity,
    /// Why.
    pub reason: String,
    /// Review date, YYYY-MM-DD.
    pub review_on: Option<String>,
}

/// Review an active flag.
#[derive(InputObject)]
pub struct ReviewFlagInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// NHS number.
    pub nhs_number: String,
    /// The flag.
    pub flag_id: ID,
    /// Next review, YYYY-MM-DD.
    pub review_on: String,
    /// What the review found.
    pub note: Option<String>,
}

/// Resolve an active flag.
#[derive(InputObject)]
pub struct ResolveFlagInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// NHS number.
    pub nhs_number: String,
    /// The flag.
    pub flag_id: ID,
    /// Why it no longer applies.
    pub reason: String,
}

/// What a patient or flag command returns.
pub struct PatientPayload {
    position: u64,
    nhs_number: String,
    flag_id: Option<String>,
    visible: bool,
}

#[Object]
impl PatientPayload {
    /// Global position of the command's last event (a decimal string).
    async fn position(&self) -> String {
        self.position.to_string()
    }
    /// The flag the command raised or changed.
    async fn flag_id(&self) -> Option<ID> {
        self.flag_id.clone().map(ID)
    }
    /// Whether the patient record shows the command yet. It is committed either way; when
    /// false, `patient` is null and `extensions.notYetVisible` names the mutation.
    async fn visible(&self) -> bool {
        self.visible
    }
    /// The patient's record after the command; null while not `visible`.
    async fn patient(&self, ctx: &Context<'_>) -> Result<Option<Patient>, GqlError> {
        if !self.visible {
            return Ok(None);
        }
        record(ctx, &self.nhs_number).await
    }
}

/// Waits for the patient summaries to reach the command.
async fn payload(
    ctx: &Context<'_>,
    position: Option<u64>,
    nhs_number: String,
    flag_id: Option<String>,
) -> Result<PatientPayload, GqlError> {
    let position = position.ok_or_else(|| ApiError::internal(&"a command response without an ack"))?;
    let reader = patients(ctx)?;
    let visible = visible(ctx, position, |p, timeout| reader.wait_for(p, timeout)).await;
    Ok(PatientPayload { position, nhs_number, flag_id, visible })
}

macro_rules! mpi {
    ($ctx:expr, $method:ident, $message:expr) => {{
        let message = $message;
        let nhs = message.nhs_number.clone();
        let response = send!($ctx, PatientServiceClient<Channel>, Action::UpdatePatients, $method, message);
        let ack = response.ack;
        payload($ctx, ack.as_ref().map(|a| a.position), ack.map(|a| a.nhs_number).unwrap_or(nhs), None).await
    }};
}

macro_rules! flags {
    ($ctx:expr, $method:ident, $message:expr) => {{
        let response = send!($ctx, FlagServiceClient<Channel>, Action::UpdateFlags, $method, $message);
        let ack = response.ack.ok_or_else(|| ApiError::internal(&"a command response without an ack"))?;
        payload($ctx, Some(ack.position), ack.nhs_number, Some(ack.flag_id)).await
    }};
}

/// The patients and flags mutations.
#[derive(Default)]
pub struct PatientsMutation;

#[Object]
impl PatientsMutation {
    /// Register a patient in the MPI (once: again is CONFLICT naming the NHS number).
    async fn register_patient(
        &self,
        ctx: &Context<'_>,
        input: RegisterPatientInput,
    ) -> Result<PatientPayload, GqlError> {
        mpi!(
            ctx,
            register_patient,
            ppb::RegisterPatientRequest {
                command_id: command_id(input.command_id),
                nhs_number: input.nhs_number,
                given_name: input.given_name,
                family_name: input.family_name,
                date_of_birth: input.date_of_birth,
                gender: input.gender.proto(),
                postcode: input.postcode.unwrap_or_default(),
                gp_practice: input.gp_practice.unwrap_or_default(),
            }
        )
    }

    /// Change some of a patient's demographics.
    async fn update_patient_demographics(
        &self,
        ctx: &Context<'_>,
        input: UpdatePatientDemographicsInput,
    ) -> Result<PatientPayload, GqlError> {
        mpi!(
            ctx,
            update_patient_demographics,
            ppb::UpdatePatientDemographicsRequest {
                command_id: command_id(input.command_id),
                nhs_number: input.nhs_number,
                given_name: input.given_name.unwrap_or_default(),
                family_name: input.family_name.unwrap_or_default(),
                date_of_birth: input.date_of_birth.unwrap_or_default(),
                gender: input.gender.map_or(ppb::Gender::Unspecified as i32, Gender::proto),
                postcode: input.postcode.unwrap_or_default(),
                gp_practice: input.gp_practice.unwrap_or_default(),
            }
        )
    }

    /// Record that the patient dissents from sharing their record beyond those caring for them.
    async fn record_sharing_dissent(
        &self,
        ctx: &Context<'_>,
        input: RecordSharingDissentInput,
    ) -> Result<PatientPayload, GqlError> {
        mpi!(
            ctx,
            record_sharing_dissent,
            ppb::RecordSharingDissentRequest {
                command_id: command_id(input.command_id),
                nhs_number: input.nhs_number,
                note: input.note.unwrap_or_default(),
            }
        )
    }

    /// The patient withdraws their dissent.
    async fn withdraw_sharing_dissent(
        &self,
        ctx: &Context<'_>,
        input: PatientInput,
    ) -> Result<PatientPayload, GqlError> {
        mpi!(
            ctx,
            withdraw_sharing_dissent,
            ppb::WithdrawSharingDissentRequest {
                command_id: command_id(input.command_id),
                nhs_number: input.nhs_number,
            }
        )
    }

    /// Record the patient's death.
    async fn record_death(
        &self,
        ctx: &Context<'_>,
        input: RecordDeathInput,
    ) -> Result<PatientPayload, GqlError> {
        mpi!(
            ctx,
            record_death,
            ppb::RecordDeathRequest {
                command_id: command_id(input.command_id),
                nhs_number: input.nhs_number,
                date_of_death: input.date_of_death,
            }
        )
    }

    /// Raise a flag (one active flag per kind).
    async fn raise_flag(&self, ctx: &Context<'_>, input: RaiseFlagInput) -> Result<PatientPayload, GqlError> {
        // Out-of-range numbers are passed on as values the service refuses, naming the field.
        let score = input.frailty_score.map_or(0, |s| u32::try_from(s).unwrap_or(u32::MAX));
        flags!(
            ctx,
            raise_flag,
            fpb::RaiseFlagRequest {
                command_id: command_id(input.command_id),
                nhs_number: input.nhs_number,
                kind: input.kind.proto(),
                frailty_score: score,
                severity: input.severity.proto(),
                reason: input.reason,
                review_on: input.review_on.unwrap_or_default(),
            }
        )
    }

    /// Review an active flag: it stands, with a new review date.
    async fn review_flag(
        &self,
        ctx: &Context<'_>,
        input: ReviewFlagInput,
    ) -> Result<PatientPayload, GqlError> {
        flags!(
            ctx,
            review_flag,
            fpb::ReviewFlagRequest {
                command_id: command_id(input.command_id),
                nhs_number: input.nhs_number,
                flag_id: input.flag_id.0,
                review_on: input.review_on,
                note: input.note.unwrap_or_default(),
            }
        )
    }

    /// Resolve an active flag: it no longer applies.
    async fn resolve_flag(
        &self,
        ctx: &Context<'_>,
        input: ResolveFlagInput,
    ) -> Result<PatientPayload, GqlError> {
        flags!(
            ctx,
            resolve_flag,
            fpb::ResolveFlagRequest {
                command_id: command_id(input.command_id),
                nhs_number: input.nhs_number,
                flag_id: input.flag_id.0,
                reason: input.reason,
            }
        )
    }
}

/// What one wake-up of a patient summary subscription sends.
type Items = Vec<Result<Patient, GqlError>>;

/// The patients subscriptions.
#[derive(Default)]
pub struct PatientsSubscription;

/// A live `patientSummary` subscription.
struct Following {
    changes: broadcast::Receiver<DocChange<PatientDoc>>,
    reader: PatientReader,
    caller: Caller,
    nhs: String,
    key: String,
    /// The record last sent.
    last: PatientSummary,
    /// Counts the subscription while it lives.
    _guard: Option<SubscriptionGuard>,
}

/// Reads the summary again and checks the policy: the record to send, or the error that ends
/// the subscription (dissent recorded meanwhile).
async fn reread(reader: &PatientReader, caller: &Caller, nhs: &str) -> Result<Option<Patient>, GqlError> {
    let Some(summary) = summary_of(reader.get(&patient_key(nhs)).await?) else { return Ok(None) };
    may_see(caller, &summary)?;
    Ok(Some(Patient(summary)))
}

#[Subscription]
impl PatientsSubscription {
    /// The patient's record now, then again each time it changes. A client that falls behind
    /// gets the current record. Ends with FORBIDDEN if the patient dissents meanwhile and the
    /// caller's organisation is not caring for them, and with UNAUTHENTICATED when the token
    /// expires.
    async fn patient_summary(
        &self,
        ctx: &Context<'_>,
        nhs_number: String,
    ) -> Result<impl Stream<Item = Result<Patient, GqlError>> + use<>, GqlError> {
        let caller = viewer(ctx)?.clone();
        let nhs = nhs_number_arg(&nhs_number)?;
        let reader = patients(ctx)?.clone();
        let changes = reader.changes();
        let guard = ctx.data::<GatewayMetrics>().ok().map(SubscriptionGuard::new);
        let Some(first) = reread(&reader, &caller, &nhs).await? else {
            return Err(ApiError::NotFound(format!("patient {nhs} is not known to careflow")).into());
        };
        let expires = expiry(&caller);
        let key = patient_key(&nhs);
        let state =
            Some(Following { changes, reader, caller, nhs, key, last: first.0.clone(), _guard: guard });
        let updates = stream::unfold(state, move |state| async move {
            let mut live = state?;
            loop {
                let change = tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(expires) => {
                        let expired: Items = vec![Err(ApiError::Unauthenticated("the token has expired".into()).into())];
                        return Some((expired, None));
                    }
                    change = live.changes.recv() => change,
                };
                let again = match change {
                    Ok(DocChange::Changed { key: changed, doc, .. }) if changed == live.key => {
                        match summary_of(doc) {
                            Some(summary) => may_see(&live.caller, &summary)
                                .map(|()| Some(summary))
                                .map_err(GqlError::from),
                            None => Ok(None),
                        }
                    }
                    Ok(DocChange::Changed { .. }) => continue,
                    Ok(DocChange::Resync) | Err(RecvError::Lagged(_)) => {
                        reread(&live.reader, &live.caller, &live.nhs).await.map(|p| p.map(|p| p.0))
                    }
                    Err(RecvError::Closed) => return None,
                };
                return match again {
                    // What the client already has (a change it was first sent the result of, a
                    // re-read that found nothing new) is not sent again.
                    Ok(Some(summary)) if summary == live.last => continue,
                    Ok(Some(summary)) => {
                        live.last = summary.clone();
                        Some((vec![Ok(Patient(summary))], Some(live)))
                    }
                    Ok(None) => continue,
                    // Forbidden now: the error, then the end.
                    Err(error) if is_forbidden(&error) => Some((vec![Err(error)], None)),
                    Err(error) => Some((vec![Err(error)], Some(live))),
                };
            }
        });
        Ok(stream::iter([Ok(first)]).chain(updates.flat_map(stream::iter)))
    }
}

fn is_forbidden(error: &GqlError) -> bool {
    error.code() == Some("FORBIDDEN")
}
