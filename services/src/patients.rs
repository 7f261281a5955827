//! `careflow.patients.v1.PatientService`: the MPI's commands. Each request parses into a
//! [`PatientCommand`] (every bad field named) and goes to the generic handler.

use careflow_auth::policy::Action;
use careflow_domain::beds::{Note, PatientName};
use careflow_domain::patients::{
    Demographics, DemographicsChange, Gender, PatientCommand, Patients, Postcode,
};
use careflow_domain::{NhsNumber, OdsCode};
use careflow_proto::patients::v1 as pb;
use tonic::{Request, Response, Status};

use crate::grpc::{CommandRequest, Fields, date, optional, rpc};
use crate::handler::{CommandHandler, Outcome};
use crate::{CommandContext, fields};

/// The gRPC adapter of the patients context.
#[derive(Clone)]
pub struct PatientGrpc {
    handler: CommandHandler<Patients>,
}

impl PatientGrpc {
    /// An adapter over `handler`.
    pub fn new(handler: CommandHandler<Patients>) -> Self {
        Self { handler }
    }
}

const UPDATE: Action = Action::UpdatePatients;

fn gender(input: i32, required: bool) -> Result<Option<Gender>, String> {
    use pb::Gender as G;
    match G::try_from(input) {
        Ok(G::Male) => Ok(Some(Gender::Male)),
        Ok(G::Female) => Ok(Some(Gender::Female)),
        Ok(G::Other) => Ok(Some(Gender::Other)),
        Ok(G::Unknown) => Ok(Some(Gender::Unknown)),
        Ok(G::Unspecified) if !required => Ok(None),
        Ok(G::Unspecified) | Err(_) => Err("required: one of the Gender values".into()),
    }
}

/// Both names or neither: a name change gives both parts.
fn names(given: &str, family: &str) -> Result<Option<PatientName>, String> {
    match (given.trim().is_empty(), family.trim().is_empty()) {
        (true, true) => Ok(None),
        (false, false) => PatientName::parse(given, family).map(Some).map_err(|e| e.to_string()),
        _ => Err("give both given_name and family_name to change the name".into()),
    }
}

fn ack(outcome: Outcome, nhs_number: &str) -> Option<pb::CommandAck> {
    Some(pb::CommandAck { position: outcome.position, nhs_number: nhs_number.to_owned() })
}

/// The NHS number a command is about, normalised (the request's may have spaces).
fn nhs_of(raw: &str) -> String {
    NhsNumber::parse(raw).map(|n| n.to_string()).unwrap_or_default()
}

macro_rules! patients_request {
    ($($message:ident => |$r:ident, $f:ident| $body:block)+) => {$(
        impl CommandRequest for pb::$message {
            type Decider = Patients;
            fn command_id(&self) -> &str {
                &self.command_id
            }
            fn parse(self, $f: &mut Fields, _: &CommandContext) -> Option<PatientCommand> {
                let $r = self;
                $body
            }
        }
    )+};
}

patients_request! {
    RegisterPatientRequest => |r, f| {
        let (nhs_number, given, family, date_of_birth, gender, postcode, gp_practice) = fields!(f,
            nhs_number: "nhs_number" => NhsNumber::parse(&r.nhs_number),
            given: "given_name" => PatientName::part(&r.given_name),
            family: "family_name" => PatientName::part(&r.family_name),
            date_of_birth: "date_of_birth" => date(&r.date_of_birth),
            gender: "gender" => gender(r.gender, true),
            postcode: "postcode" => optional(&r.postcode, Postcode::parse),
            gp_practice: "gp_practice" => optional(&r.gp_practice, OdsCode::parse),
        )?;
        let demographics = Demographics {
            name: PatientName { given, family },
            date_of_birth: Some(date_of_birth),
            gender: gender.unwrap_or(Gender::Unknown),
            postcode,
            gp_practice,
        };
        Some(PatientCommand::Register { nhs_number, demographics })
    }
    UpdatePatientDemographicsRequest => |r, f| {
        let (nhs_number, name, date_of_birth, gender, postcode, gp_practice) = fields!(f,
            nhs_number: "nhs_number" => NhsNumber::parse(&r.nhs_number),
            name: "given_name" => names(&r.given_name, &r.family_name),
            date_of_birth: "date_of_birth" => optional(&r.date_of_birth, date),
            gender: "gender" => gender(r.gender, false),
            postcode: "postcode" => optional(&r.postcode, Postcode::parse),
            gp_practice: "gp_practice" => optional(&r.gp_practice, OdsCode::parse),
        )?;
        let change = DemographicsChange { name, date_of_birth, gender, postcode, gp_practice };
        Some(PatientCommand::UpdateDemographics { nhs_number, change })
    }
    RecordSharingDissentRequest => |r, f| {
        let (nhs_number, note) = fields!(f,
            nhs_number: "nhs_number" => NhsNumber::parse(&r.nhs_number),
            note: "note" => optional(&r.note, Note::parse),
        )?;
        Some(PatientCommand::RecordSharingDissent { nhs_number, note })
    }
    WithdrawSharingDissentRequest => |r, f| {
        let (nhs_number,) = fields!(f, nhs_number: "nhs_number" => NhsNumber::parse(&r.nhs_number))?;
        Some(PatientCommand::WithdrawSharingDissent { nhs_number })
    }
    RecordDeathRequest => |r, f| {
        let (nhs_number, date_of_death) = fields!(f,
            nhs_number: "nhs_number" => NhsNumber::parse(&r.nhs_number),
            date_of_death: "date_of_death" => date(&r.date_of_death),
        )?;
        Some(PatientCommand::RecordDeath { nhs_number, date_of_death })
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl pb::patient_service_server::PatientService for PatientGrpc {
    async fn register_patient(
        &self,
        request: Request<pb::RegisterPatientRequest>,
    ) -> Reply<pb::RegisterPatientResponse> {
        let nhs = nhs_of(&request.get_ref().nhs_number);
        rpc(&self.handler, request, UPDATE, |_, o| pb::RegisterPatientResponse { ack: ack(o, &nhs) }).await
    }

    async fn update_patient_demographics(
        &self,
        request: Request<pb::UpdatePatientDemographicsRequest>,
    ) -> Reply<pb::UpdatePatientDemographicsResponse> {
        let nhs = nhs_of(&request.get_ref().nhs_number);
        rpc(&self.handler, request, UPDATE, |_, o| pb::UpdatePatientDemographicsResponse {
            ack: ack(o, &nhs),
        })
        .await
    }

    async fn record_sharing_dissent(
        &self,
        request: Request<pb::RecordSharingDissentRequest>,
    ) -> Reply<pb::RecordSharingDissentResponse> {
        let nhs = nhs_of(&request.get_ref().nhs_number);
        rpc(&self.handler, request, UPDATE, |_, o| pb::RecordSharingDissentResponse { ack: ack(o, &nhs) })
            .await
    }

    async fn withdraw_sharing_dissent(
        &self,
        request: Request<pb::WithdrawSharingDissentRequest>,
    ) -> Reply<pb::WithdrawSharingDissentResponse> {
        let nhs = nhs_of(&request.get_ref().nhs_number);
        rpc(&self.handler, request, UPDATE, |_, o| pb::WithdrawSharingDissentResponse { ack: ack(o, &nhs) })
            .await
    }

    async fn record_death(&self, request: Request<pb::RecordDeathRequest>) -> Reply<pb::RecordDeathResponse> {
        let nhs = nhs_of(&request.get_ref().nhs_number);
        rpc(&self.handler, request, UPDATE, |_, o| pb::RecordDeathResponse { ack: ack(o, &nhs) }).await
    }
}
