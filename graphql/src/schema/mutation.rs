//! The beds context's mutations: one per beds command, each authorised by the command's own
//! action. Each sends the gRPC command with the caller's token and a deadline, then answers
//! once the bed board reflects it (read-your-writes, bounded wait). When
//! the wait times out the payload says so (`visible: false`, no beds) instead of presenting the
//! board's older state as the command's result.

use async_graphql::{Context, ID, InputObject, Object};
use careflow_auth::policy::Action;
use careflow_proto::beds::v1 as pb;
use careflow_proto::beds::v1::bed_service_client::BedServiceClient;
use tonic::transport::Channel;

use super::command::{command_id, send, visible};
use super::types::{BlockReason, CommandPayload, DischargeDestination, reader};
use crate::error::{ApiError, GqlError};

/// The beds context's mutations.
#[derive(Default)]
pub struct BedsMutation;

/// Register a hospital site (admin).
#[derive(InputObject)]
pub struct RegisterSiteInput {
    /// Idempotency key: a UUID, reused when retrying. Generated when absent.
    pub command_id: Option<ID>,
    /// Site id (ODS site code).
    pub site_id: ID,
    /// Name.
    pub name: String,
}

/// Configure a ward (admin).
#[derive(InputObject)]
pub struct ConfigureWardInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// Ward id.
    pub ward_id: ID,
    /// Its site.
    pub site_id: ID,
    /// Name.
    pub name: String,
    /// Specialty.
    pub specialty: Option<String>,
}

/// Add a bed (admin).
#[derive(InputObject)]
pub struct AddBedInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// Bed id.
    pub bed_id: ID,
    /// Its ward.
    pub ward_id: ID,
    /// What staff call it.
    pub label: String,
}

/// Admit a patient into a bed.
#[derive(InputObject)]
pub struct AdmitPatientInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The bed.
    pub bed_id: ID,
    /// NHS number (10 digits).
    pub nhs_number: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
}

/// Move a patient to another bed.
#[derive(InputObject)]
pub struct TransferPatientInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The open stay.
    pub stay_id: ID,
    /// The bed to move to.
    pub to_bed_id: ID,
}

/// Set the expected discharge date.
#[derive(InputObject)]
pub struct SetExpectedDischargeDateInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The open stay.
    pub stay_id: ID,
    /// YYYY-MM-DD.
    pub date: String,
}

/// The patient no longer meets the criteria to reside.
#[derive(InputObject)]
pub struct MarkMedicallyOptimisedInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The open stay.
    pub stay_id: ID,
    /// Discharge Ready Date, YYYY-MM-DD.
    pub discharge_ready_date: String,
    /// Planned pathway, 0–3.
    pub pathway: i32,
}

/// Discharge the patient.
#[derive(InputObject)]
pub struct DischargePatientInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The open stay.
    pub stay_id: ID,
    /// Where they went.
    pub destination: DischargeDestination,
    /// The pathway they left on, 0–3.
    pub pathway: i32,
}

/// A command on one bed.
#[derive(InputObject)]
pub struct BedInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The bed.
    pub bed_id: ID,
}

/// Block a bed.
#[derive(InputObject)]
pub struct BlockBedInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The bed.
    pub bed_id: ID,
    /// Why.
    pub reason: BlockReason,
    /// Details.
    pub note: Option<String>,
}

/// Reserve a bed.
#[derive(InputObject)]
pub struct ReserveBedInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The bed.
    pub bed_id: ID,
    /// NHS number of the patient it is held for.
    pub for_nhs_number: Option<String>,
    /// Details.
    pub note: Option<String>,
}

/// Out-of-range numbers are passed on as values the service rejects with the field named.
fn pathway(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn destination(d: DischargeDestination) -> i32 {
    use pb::DischargeDestination as P;
    let proto = match d {
        DischargeDestination::UsualResidence => P::UsualResidence,
        DischargeDestination::TemporaryResidence => P::TemporaryResidence,
        DischargeDestination::CareHome => P::CareHome,
        DischargeDestination::NursingHome => P::NursingHome,
        DischargeDestination::CommunityBed => P::CommunityBed,
        DischargeDestination::OtherHospital => P::OtherHospital,
        DischargeDestination::Hospice => P::Hospice,
    };
    proto as i32
}

fn block_reason(r: BlockReason) -> i32 {
    let proto = match r {
        BlockReason::InfectionControl => pb::BlockReason::InfectionControl,
        BlockReason::Maintenance => pb::BlockReason::Maintenance,
        BlockReason::Staffing => pb::BlockReason::Staffing,
    };
    proto as i32
}

/// Waits for the bed board to reach the command, then reads the beds it touched.
async fn payload(
    ctx: &Context<'_>,
    ack: Option<pb::CommandAck>,
    stay_id: Option<String>,
) -> Result<CommandPayload, GqlError> {
    let ack = ack.ok_or_else(|| ApiError::internal(&"a command response without an ack"))?;
    let reader = reader(ctx)?;
    let visible = visible(ctx, ack.position, |position, timeout| reader.wait_for(position, timeout)).await;
    if !visible {
        return Ok(CommandPayload { position: ack.position, stay_id, visible, beds: Vec::new() });
    }
    let mut beds = Vec::with_capacity(ack.bed_ids.len());
    for id in &ack.bed_ids {
        beds.extend(reader.bed(id).await?);
    }
    Ok(CommandPayload { position: ack.position, stay_id, visible, beds })
}

/// Sends one beds command under `action`'s rule.
macro_rules! beds {
    ($ctx:expr, $action:expr, $method:ident, $message:expr) => {
        send!($ctx, BedServiceClient<Channel>, $action, $method, $message)
    };
}

const CONFIGURE: Action = Action::ConfigureBeds;
const UPDATE: Action = Action::UpdateBeds;

#[Object]
impl BedsMutation {
    /// Register a hospital site (admin, bed manager).
    async fn register_site(
        &self,
        ctx: &Context<'_>,
        input: RegisterSiteInput,
    ) -> Result<CommandPayload, GqlError> {
        let message = pb::RegisterSiteRequest {
            command_id: command_id(input.command_id),
            site_id: input.site_id.0,
            name: input.name,
        };
        let response = beds!(ctx, CONFIGURE, register_site, message);
        payload(ctx, response.ack, None).await
    }

    /// Configure a ward on a site (admin, bed manager).
    async fn configure_ward(
        &self,
        ctx: &Context<'_>,
        input: ConfigureWardInput,
    ) -> Result<CommandPayload, GqlError> {
        let message = pb::ConfigureWardRequest {
            command_id: command_id(input.command_id),
            ward_id: input.ward_id.0,
            site_id: input.site_id.0,
            name: input.name,
            specialty: input.specialty.unwrap_or_default(),
        };
        let response = beds!(ctx, CONFIGURE, configure_ward, message);
        payload(ctx, response.ack, None).await
    }

    /// Add a bed to a ward (admin, bed manager).
    async fn add_bed(&self, ctx: &Context<'_>, input: AddBedInput) -> Result<CommandPayload, GqlError> {
        let message = pb::AddBedRequest {
            command_id: command_id(input.command_id),
            bed_id: input.bed_id.0,
            ward_id: input.ward_id.0,
            label: input.label,
        };
        let response = beds!(ctx, CONFIGURE, add_bed, message);
        payload(ctx, response.ack, None).await
    }

    /// Admit a patient into an available (or suitably reserved) bed.
    async fn admit_patient(
        &self,
        ctx: &Context<'_>,
        input: AdmitPatientInput,
    ) -> Result<CommandPayload, GqlError> {
        let message = pb::AdmitPatientRequest {
            command_id: command_id(input.command_id),
            bed_id: input.bed_id.0,
            nhs_number: input.nhs_number,
            given_name: input.given_name,
            family_name: input.family_name,
        };
        let response = beds!(ctx, UPDATE, admit_patient, message);
        payload(ctx, response.ack, Some(response.stay_id)).await
    }

    /// Move a patient to another bed; the old bed awaits cleaning.
    async fn transfer_patient(
        &self,
        ctx: &Context<'_>,
        input: TransferPatientInput,
    ) -> Result<CommandPayload, GqlError> {
        let message = pb::TransferPatientRequest {
            command_id: command_id(input.command_id),
            stay_id: input.stay_id.0,
            to_bed_id: input.to_bed_id.0,
        };
        let response = beds!(ctx, UPDATE, transfer_patient, message);
        payload(ctx, response.ack, None).await
    }

    /// Set or change the expected discharge date.
    async fn set_expected_discharge_date(
        &self,
        ctx: &Context<'_>,
        input: SetExpectedDischargeDateInput,
    ) -> Result<CommandPayload, GqlError> {
        let message = pb::SetExpectedDischargeDateRequest {
            command_id: command_id(input.command_id),
            stay_id: input.stay_id.0,
            date: input.date,
        };
        let response = beds!(ctx, UPDATE, set_expected_discharge_date, message);
        payload(ctx, response.ack, None).await
    }

    /// Record that the patient no longer meets the criteria to reside.
    async fn mark_medically_optimised(
        &self,
        ctx: &Context<'_>,
        input: MarkMedicallyOptimisedInput,
    ) -> Result<CommandPayload, GqlError> {
        let message = pb::MarkMedicallyOptimisedRequest {
            command_id: command_id(input.command_id),
            stay_id: input.stay_id.0,
            discharge_ready_date: input.discharge_ready_date,
            pathway: pathway(input.pathway),
        };
        let response = beds!(ctx, UPDATE, mark_medically_optimised, message);
        payload(ctx, response.ack, None).await
    }

    /// Discharge the patient; the bed awaits cleaning.
    async fn discharge_patient(
        &self,
        ctx: &Context<'_>,
        input: DischargePatientInput,
    ) -> Result<CommandPayload, GqlError> {
        let message = pb::DischargePatientRequest {
            command_id: command_id(input.command_id),
            stay_id: input.stay_id.0,
            destination: destination(input.destination),
            pathway: pathway(input.pathway),
        };
        let response = beds!(ctx, UPDATE, discharge_patient, message);
        payload(ctx, response.ack, None).await
    }

    /// Housekeeping cleaned the bed.
    async fn mark_bed_cleaned(&self, ctx: &Context<'_>, input: BedInput) -> Result<CommandPayload, GqlError> {
        let message =
            pb::MarkBedCleanedRequest { command_id: command_id(input.command_id), bed_id: input.bed_id.0 };
        let response = beds!(ctx, UPDATE, mark_bed_cleaned, message);
        payload(ctx, response.ack, None).await
    }

    /// Take a bed out of use.
    async fn block_bed(&self, ctx: &Context<'_>, input: BlockBedInput) -> Result<CommandPayload, GqlError> {
        let message = pb::BlockBedRequest {
            command_id: command_id(input.command_id),
            bed_id: input.bed_id.0,
            reason: block_reason(input.reason),
            note: input.note.unwrap_or_default(),
        };
        let response = beds!(ctx, UPDATE, block_bed, message);
        payload(ctx, response.ack, None).await
    }

    /// Bring a blocked bed back into use.
    async fn unblock_bed(&self, ctx: &Context<'_>, input: BedInput) -> Result<CommandPayload, GqlError> {
        let message =
            pb::UnblockBedRequest { command_id: command_id(input.command_id), bed_id: input.bed_id.0 };
        let response = beds!(ctx, UPDATE, unblock_bed, message);
        payload(ctx, response.ack, None).await
    }

    /// Hold an available bed for an incoming patient.
    async fn reserve_bed(
        &self,
        ctx: &Context<'_>,
        input: ReserveBedInput,
    ) -> Result<CommandPayload, GqlError> {
        let message = pb::ReserveBedRequest {
            command_id: command_id(input.command_id),
            bed_id: input.bed_id.0,
            for_nhs_number: input.for_nhs_number.unwrap_or_default(),
            note: input.note.unwrap_or_default(),
        };
        let response = beds!(ctx, UPDATE, reserve_bed, message);
        payload(ctx, response.ack, None).await
    }

    /// Release a reservation.
    async fn release_bed_reservation(
        &self,
        ctx: &Context<'_>,
        input: BedInput,
    ) -> Result<CommandPayload, GqlError> {
        let message = pb::ReleaseBedReservationRequest {
            command_id: command_id(input.command_id),
            bed_id: input.bed_id.0,
        };
        let response = beds!(ctx, UPDATE, release_bed_reservation, message);
        payload(ctx, response.ack, None).await
    }
}
