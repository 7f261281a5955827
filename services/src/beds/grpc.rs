//! `careflow.beds.v1.BedService`: each request parses into a beds command (every bad field
//! named), the caller's role is checked, and the generic [`rpc`] hands it to the handler.

use careflow_auth::policy::Action;
use careflow_domain::beds::{
    AddBed, AdmitPatient, BedCommand, Beds, BlockBed, BlockReason, ConfigureWard, DischargeDestination,
    DischargePatient, Label, MarkBedCleaned, MarkMedicallyOptimised, Note, Pathway, PatientName,
    RegisterSite, ReleaseBedReservation, ReserveBed, SetExpectedDischargeDate, TransferPatient, UnblockBed,
};
use careflow_domain::{BedId, NhsNumber, OdsCode, SiteId, StayId, WardId};
use careflow_proto::beds::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::grpc::{CommandRequest, Fields, date, optional, rpc};
use crate::handler::{CommandHandler, Outcome};
use crate::{CommandContext, fields};

/// The gRPC adapter of the beds context.
#[derive(Clone)]
pub struct BedGrpc {
    handler: CommandHandler<Beds>,
}

impl BedGrpc {
    /// An adapter over `handler`.
    pub fn new(handler: CommandHandler<Beds>) -> Self {
        Self { handler }
    }
}

const CONFIGURE: Action = Action::ConfigureBeds;
const UPDATE: Action = Action::UpdateBeds;

fn stay_id(input: &str) -> Result<StayId, String> {
    Uuid::parse_str(input.trim()).map(StayId).map_err(|_| "must be a stay id (UUID)".to_owned())
}

fn pathway(input: u32) -> Result<Pathway, String> {
    u8::try_from(input)
        .ok()
        .and_then(|p| Pathway::try_from(p).ok())
        .ok_or_else(|| "must be 0, 1, 2 or 3".to_owned())
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

/// The id of the stay an admission opens: derived from the command id, so a retry names the
/// same stay.
fn admitted_stay(context: &CommandContext) -> StayId {
    StayId(context.derived_id("stay"))
}

fn ack(outcome: Outcome) -> Option<pb::CommandAck> {
    Some(pb::CommandAck { position: outcome.position, bed_ids: outcome.touched })
}

/// `impl CommandRequest` for a beds request: `message => |r, f, context| -> Option<BedCommand>`.
macro_rules! beds_request {
    ($($message:ident => |$r:ident, $f:ident, $context:tt| $body:block)+) => {$(
        impl CommandRequest for pb::$message {
            type Decider = Beds;
            fn command_id(&self) -> &str {
                &self.command_id
            }
            fn parse(self, $f: &mut Fields, $context: &CommandContext) -> Option<BedCommand> {
                let $r = self;
                $body
            }
        }
    )+};
}

beds_request! {
    RegisterSiteRequest => |r, f, context| {
        let (site_id, name, organisation) = fields!(f,
            site_id: "site_id" => SiteId::parse(&r.site_id),
            name: "name" => Label::parse(&r.name),
            // The site belongs to the registering admin's organisation (the token's).
            organisation: "authorization" => OdsCode::parse(&context.actor.organisation),
        )?;
        Some(BedCommand::RegisterSite(RegisterSite { site_id, name, organisation }))
    }
    ConfigureWardRequest => |r, f, _| {
        let (ward_id, site_id, name, specialty) = fields!(f,
            ward_id: "ward_id" => WardId::parse(&r.ward_id),
            site_id: "site_id" => SiteId::parse(&r.site_id),
            name: "name" => Label::parse(&r.name),
            specialty: "specialty" => optional(&r.specialty, Label::parse),
        )?;
        Some(BedCommand::ConfigureWard(ConfigureWard { ward_id, site_id, name, specialty }))
    }
    AddBedRequest => |r, f, _| {
        let (bed_id, ward_id, label) = fields!(f,
            bed_id: "bed_id" => BedId::parse(&r.bed_id),
            ward_id: "ward_id" => WardId::parse(&r.ward_id),
            label: "label" => Label::parse(&r.label),
        )?;
        Some(BedCommand::AddBed(AddBed { bed_id, ward_id, label }))
    }
    AdmitPatientRequest => |r, f, context| {
        let (bed_id, nhs_number, given, family) = fields!(f,
            bed_id: "bed_id" => BedId::parse(&r.bed_id),
            nhs_number: "nhs_number" => NhsNumber::parse(&r.nhs_number),
            given: "given_name" => PatientName::part(&r.given_name),
            family: "family_name" => PatientName::part(&r.family_name),
        )?;
        let patient = PatientName { given, family };
        Some(BedCommand::AdmitPatient(AdmitPatient { stay_id: admitted_stay(context), bed_id, nhs_number, patient }))
    }
    TransferPatientRequest => |r, f, _| {
        let (stay_id, to_bed_id) = fields!(f,
            stay_id: "stay_id" => stay_id(&r.stay_id),
            to_bed_id: "to_bed_id" => BedId::parse(&r.to_bed_id),
        )?;
        Some(BedCommand::TransferPatient(TransferPatient { stay_id, to_bed_id }))
    }
    SetExpectedDischargeDateRequest => |r, f, _| {
        let (stay_id, date) = fields!(f,
            stay_id: "stay_id" => stay_id(&r.stay_id),
            date: "date" => date(&r.date),
        )?;
        Some(BedCommand::SetExpectedDischargeDate(SetExpectedDischargeDate { stay_id, date }))
    }
    MarkMedicallyOptimisedRequest => |r, f, _| {
        let (stay_id, discharge_ready_date, pathway) = fields!(f,
            stay_id: "stay_id" => stay_id(&r.stay_id),
            discharge_ready_date: "discharge_ready_date" => date(&r.discharge_ready_date),
            pathway: "pathway" => pathway(r.pathway),
        )?;
        Some(BedCommand::MarkMedicallyOptimised(MarkMedicallyOptimised { stay_id, discharge_ready_date, pathway }))
    }
    DischargePatientRequest => |r, f, _| {
        let (stay_id, destination, pathway) = fields!(f,
            stay_id: "stay_id" => stay_id(&r.stay_id),
            destination: "destination" => destination(r.destination),
            pathway: "pathway" => pathway(r.pathway),
        )?;
        Some(BedCommand::DischargePatient(DischargePatient { stay_id, destination, pathway }))
    }
    MarkBedCleanedRequest => |r, f, _| {
        let (bed_id,) = fields!(f, bed_id: "bed_id" => BedId::parse(&r.bed_id))?;
        Some(BedCommand::MarkBedCleaned(MarkBedCleaned { bed_id }))
    }
    BlockBedRequest => |r, f, _| {
        let (bed_id, reason, note) = fields!(f,
            bed_id: "bed_id" => BedId::parse(&r.bed_id),
            reason: "reason" => block_reason(r.reason),
            note: "note" => optional(&r.note, Note::parse),
        )?;
        Some(BedCommand::BlockBed(BlockBed { bed_id, reason, note }))
    }
    UnblockBedRequest => |r, f, _| {
        let (bed_id,) = fields!(f, bed_id: "bed_id" => BedId::parse(&r.bed_id))?;
        Some(BedCommand::UnblockBed(UnblockBed { bed_id }))
    }
    ReserveBedRequest => |r, f, _| {
        let (bed_id, for_nhs_number, note) = fields!(f,
            bed_id: "bed_id" => BedId::parse(&r.bed_id),
            for_nhs_number: "for_nhs_number" => optional(&r.for_nhs_number, NhsNumber::parse),
            note: "note" => optional(&r.note, Note::parse),
        )?;
        Some(BedCommand::ReserveBed(ReserveBed { bed_id, for_nhs_number, note }))
    }
    ReleaseBedReservationRequest => |r, f, _| {
        let (bed_id,) = fields!(f, bed_id: "bed_id" => BedId::parse(&r.bed_id))?;
        Some(BedCommand::ReleaseBedReservation(ReleaseBedReservation { bed_id }))
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl pb::bed_service_server::BedService for BedGrpc {
    async fn register_site(
        &self,
        request: Request<pb::RegisterSiteRequest>,
    ) -> Reply<pb::RegisterSiteResponse> {
        rpc(&self.handler, request, CONFIGURE, |_, o| pb::RegisterSiteResponse { ack: ack(o) }).await
    }

    async fn configure_ward(
        &self,
        request: Request<pb::ConfigureWardRequest>,
    ) -> Reply<pb::ConfigureWardResponse> {
        rpc(&self.handler, request, CONFIGURE, |_, o| pb::ConfigureWardResponse { ack: ack(o) }).await
    }

    async fn add_bed(&self, request: Request<pb::AddBedRequest>) -> Reply<pb::AddBedResponse> {
        rpc(&self.handler, request, CONFIGURE, |_, o| pb::AddBedResponse { ack: ack(o) }).await
    }

    async fn admit_patient(
        &self,
        request: Request<pb::AdmitPatientRequest>,
    ) -> Reply<pb::AdmitPatientResponse> {
        rpc(&self.handler, request, UPDATE, |context, o| pb::AdmitPatientResponse {
            ack: ack(o),
            stay_id: admitted_stay(context).to_string(),
        })
        .await
    }

    async fn transfer_patient(
        &self,
        request: Request<pb::TransferPatientRequest>,
    ) -> Reply<pb::TransferPatientResponse> {
        rpc(&self.handler, request, UPDATE, |_, o| pb::TransferPatientResponse { ack: ack(o) }).await
    }

    async fn set_expected_discharge_date(
        &self,
        request: Request<pb::SetExpectedDischargeDateRequest>,
    ) -> Reply<pb::SetExpectedDischargeDateResponse> {
        rpc(&self.handler, request, UPDATE, |_, o| pb::SetExpectedDischargeDateResponse { ack: ack(o) }).await
    }

    async fn mark_medically_optimised(
        &self,
        request: Request<pb::MarkMedicallyOptimisedRequest>,
    ) -> Reply<pb::MarkMedicallyOptimisedResponse> {
        rpc(&self.handler, request, UPDATE, |_, o| pb::MarkMedicallyOptimisedResponse { ack: ack(o) }).await
    }

    async fn discharge_patient(
        &self,
        request: Request<pb::DischargePatientRequest>,
    ) -> Reply<pb::DischargePatientResponse> {
        rpc(&self.handler, request, UPDATE, |_, o| pb::DischargePatientResponse { ack: ack(o) }).await
    }

    async fn mark_bed_cleaned(
        &self,
        request: Request<pb::MarkBedCleanedRequest>,
    ) -> Reply<pb::MarkBedCleanedResponse> {
        rpc(&self.handler, request, UPDATE, |_, o| pb::MarkBedCleanedResponse { ack: ack(o) }).await
    }

    async fn block_bed(&self, request: Request<pb::BlockBedRequest>) -> Reply<pb::BlockBedResponse> {
        rpc(&self.handler, request, UPDATE, |_, o| pb::BlockBedResponse { ack: ack(o) }).await
    }

    async fn unblock_bed(&self, request: Request<pb::UnblockBedRequest>) -> Reply<pb::UnblockBedResponse> {
        rpc(&self.handler, request, UPDATE, |_, o| pb::UnblockBedResponse { ack: ack(o) }).await
    }

    async fn reserve_bed(&self, request: Request<pb::ReserveBedRequest>) -> Reply<pb::ReserveBedResponse> {
        rpc(&self.handler, request, UPDATE, |_, o| pb::ReserveBedResponse { ack: ack(o) }).await
    }

    async fn release_bed_reservation(
        &self,
        request: Request<pb::ReleaseBedReservationRequest>,
    ) -> Reply<pb::ReleaseBedReservationResponse> {
        rpc(&self.handler, request, UPDATE, |_, o| pb::ReleaseBedReservationResponse { ack: ack(o) }).await
    }
}
