//! The MPI and flag mutations.

use super::*;

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

/// Set a flag rule: when a scored answer in an assessment reaches `atLeast`, careflow raises
/// the flag (or updates the patient's active one), naming the rule and its version.
#[derive(InputObject)]
pub struct SetFlagRuleInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The rule (a slug, e.g. `cfs-frailty`); setting it again makes its next version.
    pub rule_id: ID,
    /// What it is, for people.
    pub name: String,
    /// The scored question it watches, in any template (e.g. `clinical-frailty-scale`).
    pub question_id: String,
    /// The lowest score that raises the flag (6–9 for FRAILTY).
    pub at_least: i32,
    /// The flag it raises.
    pub kind: FlagKind,
    /// Its severity below `severeFrom`.
    pub severity: Severity,
    /// From this score on, the flag is of HIGH severity.
    pub severe_from: Option<i32>,
    /// Review the flag this many days after raising it.
    pub review_in_days: Option<i32>,
    /// Whether it applies.
    #[graphql(default = true)]
    pub enabled: bool,
}

/// What setting a flag rule returns.
#[derive(SimpleObject)]
pub struct FlagRulePayload {
    /// Global position of the command's last event (a decimal string).
    pub position: String,
    /// The rule.
    pub rule_id: ID,
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

    /// Set a flag rule (admin): its first version, or its next. It applies to scores saved
    /// from then on.
    async fn set_flag_rule(
        &self,
        ctx: &Context<'_>,
        input: SetFlagRuleInput,
    ) -> Result<FlagRulePayload, GqlError> {
        // Negative numbers are passed on as values the service refuses, naming the field.
        let number = |n: Option<i32>| n.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
        let rule_id = input.rule_id.0.trim().to_owned();
        let response = send!(
            ctx,
            FlagServiceClient<Channel>,
            Action::ConfigureTeams,
            set_flag_rule,
            fpb::SetFlagRuleRequest {
                command_id: command_id(input.command_id),
                rule_id: rule_id.clone(),
                name: input.name,
                question_id: input.question_id,
                at_least: number(Some(input.at_least)),
                kind: input.kind.proto(),
                severity: input.severity.proto(),
                severe_from: number(input.severe_from),
                review_in_days: number(input.review_in_days),
                enabled: input.enabled,
            }
        );
        let ack = response.ack.ok_or_else(|| ApiError::internal(&"a command response without an ack"))?;
        Ok(FlagRulePayload { position: ack.position.to_string(), rule_id: ID(rule_id) })
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
