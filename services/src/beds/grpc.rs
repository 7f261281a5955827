//! `careflow.beds.v1.BedService`: parses requests into domain commands (every bad field named),
//! checks the caller's token and role, and hands the command to [`BedCommandHandler`].

use careflow_auth::{Actor, Authenticator};
use careflow_domain::beds::{
    AddBed, AdmitPatient, BedCommand, BlockBed, BlockReason, ConfigureWard, DischargeDestination,
    DischargePatient, Label, MarkBedCleaned, MarkMedicallyOptimised, Note, Pathway, PatientName,
    RegisterSite, ReleaseBedReservation, ReserveBed, SetExpectedDischargeDate, TransferPatient, UnblockBed,
};
use careflow_domain::{BedId, NhsNumber, SiteId, StayId, WardId};
use careflow_proto::beds::v1 as pb;
use chrono::{NaiveDate, Utc};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::handler::{BedCommandHandler, Outcome};
use crate::{CommandContext, FieldViolation, ServiceError};

/// The gRPC adapter of the beds context.
#[derive(Clone)]
pub struct BedGrpc {
    handler: BedCommandHandler,
    auth: Authenticator,
}

impl BedGrpc {
    /// An adapter over `handler`, checking tokens with `auth`.
    pub fn new(handler: BedCommandHandler, auth: Authenticator) -> Self {
        Self { handler, auth }
    }

    /// Wraps it as a tonic service.
    pub fn into_server(self) -> pb::bed_service_server::BedServiceServer<Self> {
        pb::bed_service_server::BedServiceServer::new(self)
    }
}

/// What a command needs the caller's role to allow.
#[derive(Clone, Copy)]
enum Permission {
    Configure,
    Update,
}

/// The caller, from the request's metadata, before the request is consumed.
struct Caller {
    actor: Actor,
    correlation_id: Option<Uuid>,
    traceparent: Option<String>,
}

fn caller<T>(
    auth: &Authenticator,
    request: &Request<T>,
    permission: Permission,
) -> Result<Caller, ServiceError> {
    let metadata = request.metadata();
    let header = |name: &str| metadata.get(name).and_then(|v| v.to_str().ok());
    let actor = auth.verify_header(header("authorization"))?;
    let allowed = match permission {
        Permission::Configure => actor.role.can_configure_beds(),
        Permission::Update => actor.role.can_update_beds(),
    };
    if !allowed {
        return Err(ServiceError::PermissionDenied(format!("role {} may not do this", actor.role)));
    }
    Ok(Caller {
        actor,
        correlation_id: header("x-correlation-id").and_then(|v| Uuid::parse_str(v).ok()),
        traceparent: header("traceparent").filter(|t| is_traceparent(t)).map(str::to_owned),
    })
}

/// Whether `value` is a W3C `traceparent` (`version-trace_id-parent_id-flags`, lower-case hex);
/// anything else is dropped rather than stored.
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    parts.len() == 4 && hex(parts[0], 2) && hex(parts[1], 32) && hex(parts[2], 16) && hex(parts[3], 2)
}

impl Caller {
    fn context(self, command_id: Uuid) -> CommandContext {
        CommandContext {
            command_id,
            actor: self.actor,
            correlation_id: self.correlation_id.unwrap_or(command_id),
            traceparent: self.traceparent,
            at: Utc::now(),
        }
    }
}

/// Parses every field, collecting every violation, then binds the parsed values.
macro_rules! fields {
    ($($name:ident: $field:literal => $parse:expr),+ $(,)?) => {
        let mut violations = Vec::new();
        $(
            let $name = match $parse {
                Ok(value) => Some(value),
                Err(error) => {
                    violations.push(FieldViolation { field: $field.into(), description: error.to_string() });
                    None
                }
            };
        )+
        if !violations.is_empty() {
            return Err(ServiceError::InvalidArgument(violations).into());
        }
        $(let Some($name) = $name else { return Err(ServiceError::invalid($field, "missing").into()) };)+
    };
}

fn command_id(input: &str) -> Result<Uuid, String> {
    if input.trim().is_empty() {
        return Err("required: a UUID the client generates once per action and reuses on retry".into());
    }
    Uuid::parse_str(input.trim()).map_err(|_| "must be a UUID".to_owned())
}

fn date(input: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(input.trim(), "%Y-%m-%d").map_err(|_| "must be a date, YYYY-MM-DD".to_owned())
}

fn stay_id(input: &str) -> Result<StayId, String> {
    Uuid::parse_str(input.trim()).map(StayId).map_err(|_| "must be a stay id (UUID)".to_owned())
}

fn pathway(input: u32) -> Result<Pathway, String> {
    u8::try_from(input)
        .ok()
        .and_then(|p| Pathway::try_from(p).ok())
        .ok_or_else(|| "must be 0, 1, 2 or 3".to_owned())
}

fn optional<T, E>(input: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<Option<T>, E> {
    if input.trim().is_empty() { Ok(None) } else { parse(input).map(Some) }
}

fn destination(input: i32) -> Result<DischargeDestination, String> {
    use pb::DischargeDestination as D;
    match D::try_from(input) {
        Ok(D::UsualResidence) => Ok(DischargeDestination::UsualResidence),
        Ok(D::TemporaryResidence) => Ok(DischargeDestination::TemporaryResidence),
        Ok(D::CareHome) => Ok(DischargeDestination::CareHome),
        Ok(D::NursingHome) => Ok(DischargeDestination::NursingHome),
        Ok(D::CommunityBed) => Ok(DischargeDestination::CommunityBed),
        Ok(D::OtherHospital) => Ok(DischargeDestination::OtherHospital),
        Ok(D::Hospice) => Ok(DischargeDestination::Hospice),
        Ok(D::Unspecified) | Err(_) => Err("required: one of the DischargeDestination values".into()),
    }
}

fn block_reason(input: i32) -> Result<BlockReason, String> {
    use pb::BlockReason as R;
    match R::try_from(input) {
        Ok(R::InfectionControl) => Ok(BlockReason::InfectionControl),
        Ok(R::Maintenance) => Ok(BlockReason::Maintenance),
        Ok(R::Staffing) => Ok(BlockReason::Staffing),
        Ok(R::Unspecified) | Err(_) => Err("required: one of the BlockReason values".into()),
    }
}

impl Outcome {
    fn ack(self) -> Option<pb::CommandAck> {
        Some(pb::CommandAck { position: self.position, bed_ids: self.bed_ids })
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl pb::bed_service_server::BedService for BedGrpc {
    async fn register_site(
        &self,
        request: Request<pb::RegisterSiteRequest>,
    ) -> Reply<pb::RegisterSiteResponse> {
        let caller = caller(&self.auth, &request, Permission::Configure)?;
        let r = request.into_inner();
        fields! {
            command_id: "command_id" => command_id(&r.command_id),
            site_id: "site_id" => SiteId::parse(&r.site_id),
            name: "name" => Label::parse(&r.name),
        }
        let action = BedCommand::RegisterSite(RegisterSite { site_id, name });
        let outcome = self.handler.handle(&caller.context(command_id), action).await?;
        Ok(Response::new(pb::RegisterSiteResponse { ack: outcome.ack() }))
    }

    async fn configure_ward(
        &self,
        request: Request<pb::ConfigureWardRequest>,
    ) -> Reply<pb::ConfigureWardResponse> {
        let caller = caller(&self.auth, &request, Permission::Configure)?;
        let r = request.into_inner();
        fields! {
            command_id: "command_id" => command_id(&r.command_id),
            ward_id: "ward_id" => WardId::parse(&r.ward_id),
            site_id: "site_id" => SiteId::parse(&r.site_id),
            name: "name" => Label::parse(&r.name),
            specialty: "specialty" => optional(&r.specialty, Label::parse),
        }
        let action = BedCommand::ConfigureWard(ConfigureWard { ward_id, site_id, name, specialty });
        let outcome = self.handler.handle(&caller.context(command_id), action).await?;
        Ok(Response::new(pb::ConfigureWardResponse { ack: outcome.ack() }))
    }

    async fn add_bed(&self, request: Request<pb::AddBedRequest>) -> Reply<pb::AddBedResponse> {
        let caller = caller(&self.auth, &request, Permission::Configure)?;
        let r = request.into_inner();
        fields! {
            command_id: "command_id" => command_id(&r.command_id),
            bed_id: "bed_id" => BedId::parse(&r.bed_id),
            ward_id: "ward_id" => WardId::parse(&r.ward_id),
            label: "label" => Label::parse(&r.label),
        }
        let action = BedCommand::AddBed(AddBed { bed_id, ward_id, label });
        let outcome = self.handler.handle(&caller.context(command_id), action).await?;
        Ok(Response::new(pb::AddBedResponse { ack: outcome.ack() }))
    }

    async fn admit_patient(
        &self,
        request: Request<pb::AdmitPatientRequest>,
    ) -> Reply<pb::AdmitPatientResponse> {
        let caller = caller(&self.auth, &request, Permission::Update)?;
        let r = request.into_inner();
        fields! {
            command_id: "command_id" => command_id(&r.command_id),
            bed_id: "bed_id" => BedId::parse(&r.bed_id),
            nhs_number: "nhs_number" => NhsNumber::parse(&r.nhs_number),
            given: "given_name" => PatientName::part(&r.given_name),
            family: "family_name" => PatientName::part(&r.family_name),
        }
        let context = caller.context(command_id);
        let stay_id = StayId(context.derived_id("stay"));
        let patient = PatientName { given, family };
        let action = BedCommand::AdmitPatient(AdmitPatient { stay_id, bed_id, nhs_number, patient });
        let outcome = self.handler.handle(&context, action).await?;
        Ok(Response::new(pb::AdmitPatientResponse { ack: outcome.ack(), stay_id: stay_id.to_string() }))
    }

    async fn transfer_patient(
        &self,
        request: Request<pb::TransferPatientRequest>,
    ) -> Reply<pb::TransferPatientResponse> {
        let caller = caller(&self.auth, &request, Permission::Update)?;
        let r = request.into_inner();
        fields! {
            command_id: "command_id" => command_id(&r.command_id),
            stay_id: "stay_id" => stay_id(&r.stay_id),
            to_bed_id: "to_bed_id" => BedId::parse(&r.to_bed_id),
        }
        let action = BedCommand::TransferPatient(TransferPatient { stay_id, to_bed_id });
        let outcome = self.handler.handle(&caller.context(command_id), action).await?;
        Ok(Response::new(pb::TransferPatientResponse { ack: outcome.ack() }))
    }

    async fn set_expected_discharge_date(
        &self,
        request: Request<pb::SetExpectedDischargeDateRequest>,
    ) -> Reply<pb::SetExpectedDischargeDateResponse> {
        let caller = caller(&self.auth, &request, Permission::Update)?;
        let r = request.into_inner();
        fields! {
            command_id: "command_id" => command_id(&r.command_id),
            stay_id: "stay_id" => stay_id(&r.stay_id),
            date: "date" => date(&r.date),
        }
        let action = BedCommand::SetExpectedDischargeDate(SetExpectedDischargeDate { stay_id, date });
        let outcome = self.handler.handle(&caller.context(command_id), action).await?;
        Ok(Response::new(pb::SetExpectedDischargeDateResponse { ack: outcome.ack() }))
    }

    async fn mark_medically_optimised(
        &self,
        request: Request<pb::MarkMedicallyOptimisedRequest>,
    ) -> Reply<pb::MarkMedicallyOptimisedResponse> {
        let caller = caller(&self.auth, &request, Permission::Update)?;
        let r = request.into_inner();
        fields! {
            command_id: "command_id" => command_id(&r.command_id),
            stay_id: "stay_id" => stay_id(&r.stay_id),
            discharge_ready_date: "discharge_ready_date" => date(&r.discharge_ready_date),
            pathway: "pathway" => pathway(r.pathway),
        }
        let action = BedCommand::MarkMedicallyOptimised(MarkMedicallyOptimised {
            stay_id,
            discharge_ready_date,
            pathway,
        });
        let outcome = self.handler.handle(&caller.context(command_id), action).await?;
        Ok(Response::new(pb::MarkMedicallyOptimisedResponse { ack: outcome.ack() }))
    }

    async fn discharge_patient(
        &self,
        request: Request<pb::DischargePatientRequest>,
    ) -> Reply<pb::DischargePatientResponse> {
        let caller = caller(&self.auth, &request, Permission::Update)?;
        let r = request.into_inner();
        fields! {
            command_id: "command_id" => command_id(&r.command_id),
            stay_id: "stay_id" => stay_id(&r.stay_id),
            destination: "destination" => destination(r.destination),
            pathway: "pathway" => pathway(r.pathway),
        }
        let action = BedCommand::DischargePatient(DischargePatient { stay_id, destination, pathway });
        let outcome = self.handler.handle(&caller.context(command_id), action).await?;
        Ok(Response::new(pb::DischargePatientResponse { ack: outcome.ack() }))
    }

    async fn mark_bed_cleaned(
        &self,
        request: Request<pb::MarkBedCleanedRequest>,
    ) -> Reply<pb::MarkBedCleanedResponse> {
        let caller = caller(&self.auth, &request, Permission::Update)?;
        let r = request.into_inner();
        fields! {
            command_id: "command_id" => command_id(&r.command_id),
            bed_id: "bed_id" => BedId::parse(&r.bed_id),
        }
        let action = BedCommand::MarkBedCleaned(MarkBedCleaned { bed_id });
        let outcome = self.handler.handle(&caller.context(command_id), action).await?;
        Ok(Response::new(pb::MarkBedCleanedResponse { ack: outcome.ack() }))
    }

    async fn block_bed(&self, request: Request<pb::BlockBedRequest>) -> Reply<pb::BlockBedResponse> {
        let caller = caller(&self.auth, &request, Permission::Update)?;
        let r = request.into_inner();
        fields! {
            command_id: "command_id" => command_id(&r.command_id),
            bed_id: "bed_id" => BedId::parse(&r.bed_id),
            reason: "reason" => block_reason(r.reason),
            note: "note" => optional(&r.note, Note::parse),
        }
        let action = BedCommand::BlockBed(BlockBed { bed_id, reason, note });
        let outcome = self.handler.handle(&caller.context(command_id), action).await?;
        Ok(Response::new(pb::BlockBedResponse { ack: outcome.ack() }))
    }

    async fn unblock_bed(&self, request: Request<pb::UnblockBedRequest>) -> Reply<pb::UnblockBedResponse> {
        let caller = caller(&self.auth, &request, Permission::Update)?;
        let r = request.into_inner();
        fields! {
            command_id: "command_id" => command_id(&r.command_id),
            bed_id: "bed_id" => BedId::parse(&r.bed_id),
        }
        let action = BedCommand::UnblockBed(UnblockBed { bed_id });
        let outcome = self.handler.handle(&caller.context(command_id), action).await?;
        Ok(Response::new(pb::UnblockBedResponse { ack: outcome.ack() }))
    }

    async fn reserve_bed(&self, request: Request<pb::ReserveBedRequest>) -> Reply<pb::ReserveBedResponse> {
        let caller = caller(&self.auth, &request, Permission::Update)?;
        let r = request.into_inner();
        fields! {
            command_id: "command_id" => command_id(&r.command_id),
            bed_id: "bed_id" => BedId::parse(&r.bed_id),
            for_nhs_number: "for_nhs_number" => optional(&r.for_nhs_number, NhsNumber::parse),
            note: "note" => optional(&r.note, Note::parse),
        }
        let action = BedCommand::ReserveBed(ReserveBed { bed_id, for_nhs_number, note });
        let outcome = self.handler.handle(&caller.context(command_id), action).await?;
        Ok(Response::new(pb::ReserveBedResponse { ack: outcome.ack() }))
    }

    async fn release_bed_reservation(
        &self,
        request: Request<pb::ReleaseBedReservationRequest>,
    ) -> Reply<pb::ReleaseBedReservationResponse> {
        let caller = caller(&self.auth, &request, Permission::Update)?;
        let r = request.into_inner();
        fields! {
            command_id: "command_id" => command_id(&r.command_id),
            bed_id: "bed_id" => BedId::parse(&r.bed_id),
        }
        let action = BedCommand::ReleaseBedReservation(ReleaseBedReservation { bed_id });
        let outcome = self.handler.handle(&caller.context(command_id), action).await?;
        Ok(Response::new(pb::ReleaseBedReservationResponse { ack: outcome.ack() }))
    }
}
