//! `careflow.virtualwards.v1.VirtualWardService`: virtual wards, admissions to them, readings
//! and discharges. Each request parses into a [`VirtualWardCommand`] (every bad field named,
//! each reading's by its place in the batch: `readings[2].spo2`); the person acting comes from
//! the token. Only a virtual ward clinician may put a patient on SpO2 scale 2.

use std::collections::BTreeSet;

use careflow_auth::policy::{self, Action};
use careflow_domain::beds::{Label, Note};
use careflow_domain::tasks::UserId;
use careflow_domain::virtualwards::{
    AdmissionId, AdmissionRoute, CarePathway, EscalationContact, MonitoringPlan, Observations, Parameter,
    Phone, Reading, ReadingId, ReadingSource, Spo2Scale, Temperature, VirtualWardCommand, VirtualWardOutcome,
    VirtualWards, news2,
};
use careflow_domain::{NhsNumber, SiteId, StayId, WardId};
use careflow_proto::virtualwards::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::grpc::{Caller, CommandRequest, Fields, optional, rpc, timestamp};
use crate::handler::{CommandHandler, Outcome};
use crate::{CommandContext, ServiceError, fields};

/// The most readings one request may carry.
pub const MAX_READINGS: usize = 500;
/// The most virtual beds a ward may have.
const MAX_BEDS: u32 = 10_000;

/// The gRPC adapter of the virtual wards context.
#[derive(Clone)]
pub struct VirtualWardGrpc {
    handler: CommandHandler<VirtualWards>,
}

impl VirtualWardGrpc {
    /// An adapter over `handler`.
    pub fn new(handler: CommandHandler<VirtualWards>) -> Self {
        Self { handler }
    }
}

fn user(context: &CommandContext) -> Result<UserId, String> {
    UserId::parse(&context.actor.user_id).map_err(|e| format!("the token's subject {e}"))
}

fn admission_id(input: &str) -> Result<AdmissionId, String> {
    Uuid::parse_str(input.trim()).map(AdmissionId).map_err(|_| "must be an admission id (UUID)".to_owned())
}

/// The id of the admission an admit creates: derived from the command id, so a retry names the
/// same admission.
fn admitted(context: &CommandContext) -> AdmissionId {
    AdmissionId(context.derived_id("vw-admission"))
}

fn pathway(input: i32) -> Result<CarePathway, String> {
    use pb::CarePathway as P;
    match P::try_from(input) {
        Ok(P::Frailty) => Ok(CarePathway::Frailty),
        Ok(P::Respiratory) => Ok(CarePathway::Respiratory),
        Ok(P::HeartFailure) => Ok(CarePathway::HeartFailure),
        Ok(P::Other) => Ok(CarePathway::Other),
        Ok(P::Unspecified) | Err(_) => {
            Err("must be one of FRAILTY, RESPIRATORY, HEART_FAILURE, OTHER".into())
        }
    }
}

fn beds(input: u32) -> Result<u16, String> {
    if input > MAX_BEDS {
        return Err(format!("must be at most {MAX_BEDS}"));
    }
    u16::try_from(input).map_err(|_| format!("must be at most {MAX_BEDS}"))
}

fn parameter(input: i32) -> Result<Parameter, String> {
    use pb::Parameter as P;
    match P::try_from(input) {
        Ok(P::RespirationRate) => Ok(Parameter::RespirationRate),
        Ok(P::OxygenSaturation) => Ok(Parameter::OxygenSaturation),
        Ok(P::AirOrOxygen) => Ok(Parameter::AirOrOxygen),
        Ok(P::SystolicBloodPressure) => Ok(Parameter::SystolicBloodPressure),
        Ok(P::Pulse) => Ok(Parameter::Pulse),
        Ok(P::Consciousness) => Ok(Parameter::Consciousness),
        Ok(P::Temperature) => Ok(Parameter::Temperature),
        Ok(P::Unspecified) | Err(_) => Err(format!("{input} is not an observation of the NEWS2 chart")),
    }
}

fn scale(input: i32) -> Result<Spo2Scale, String> {
    match pb::Spo2Scale::try_from(input) {
        Ok(pb::Spo2Scale::Unspecified | pb::Spo2Scale::Spo2Scale1) => Ok(Spo2Scale::Scale1),
        Ok(pb::Spo2Scale::Spo2Scale2) => Ok(Spo2Scale::Scale2),
        Err(_) => Err("must be SPO2_SCALE_1 or SPO2_SCALE_2".into()),
    }
}

/// A monitoring plan, each bad part recorded under `plan.<part>`.
fn plan(input: Option<&pb::MonitoringPlan>, fields: &mut Fields) -> Option<MonitoringPlan> {
    let Some(input) = input else {
        fields.violation("plan", "required: which observations, how often, the SpO2 scale");
        return None;
    };
    let mut ok = true;
    let mut observations = BTreeSet::new();
    if input.observations.len() > Parameter::ALL.len() * 2 {
        fields.violation("plan.observations", "names too many observations");
        ok = false;
    }
    for (i, p) in input.observations.iter().enumerate().take(Parameter::ALL.len() * 2) {
        match parameter(*p) {
            Ok(p) => {
                observations.insert(p);
            }
            Err(e) => {
                fields.violation(format!("plan.observations[{i}]"), e);
                ok = false;
            }
        }
    }
    let spo2_scale = match scale(input.spo2_scale) {
        Ok(s) => s,
        Err(e) => {
            fields.violation("plan.spo2_scale", e);
            ok = false;
            Spo2Scale::Scale1
        }
    };
    if input.escalation_contacts.len() > MonitoringPlan::MAX_CONTACTS {
        fields.violation(
            "plan.escalation_contacts",
            format!("may name at most {} contacts", MonitoringPlan::MAX_CONTACTS),
        );
        return None;
    }
    let mut contacts = Vec::new();
    for (i, c) in input.escalation_contacts.iter().enumerate() {
        let name =
            Label::parse(&c.name).map_err(|e| (format!("plan.escalation_contacts[{i}].name"), e.to_string()));
        let relationship = Label::parse(&c.relationship)
            .map_err(|e| (format!("plan.escalation_contacts[{i}].relationship"), e.to_string()));
        let phone = Phone::parse(&c.phone)
            .map_err(|e| (format!("plan.escalation_contacts[{i}].phone"), e.to_string()));
        match (name, relationship, phone) {
            (Ok(name), Ok(relationship), Ok(phone)) => {
                contacts.push(EscalationContact { name, relationship, phone })
            }
            (name, relationship, phone) => {
                ok = false;
                for (field, e) in [name.err(), relationship.err(), phone.err()].into_iter().flatten() {
                    fields.violation(field, e);
                }
            }
        }
    }
    if !ok {
        return None;
    }
    match MonitoringPlan::new(observations, input.every_minutes, spo2_scale, contacts) {
        Ok(plan) => Some(plan),
        Err((part, e)) => {
            fields.violation(format!("plan.{part}"), e);
            None
        }
    }
}

fn consciousness(input: i32) -> Result<Option<news2::Acvpu>, String> {
    use pb::Consciousness as C;
    match C::try_from(input) {
        Ok(C::Unspecified) => Ok(None),
        Ok(C::Alert) => Ok(Some(news2::Acvpu::Alert)),
        Ok(C::NewConfusion) => Ok(Some(news2::Acvpu::NewConfusion)),
        Ok(C::Voice) => Ok(Some(news2::Acvpu::Voice)),
        Ok(C::Pain) => Ok(Some(news2::Acvpu::Pain)),
        Ok(C::Unresponsive) => Ok(Some(news2::Acvpu::Unresponsive)),
        Err(_) => Err("must be one of ALERT, NEW_CONFUSION, VOICE, PAIN, UNRESPONSIVE".into()),
    }
}

fn source(input: i32) -> Result<ReadingSource, String> {
    use pb::ReadingSource as S;
    match S::try_from(input) {
        Ok(S::PatientApp) => Ok(ReadingSource::PatientApp),
        Ok(S::Device) => Ok(ReadingSource::Device),
        Ok(S::Clinician) => Ok(ReadingSource::Clinician),
        Ok(S::Unspecified) | Err(_) => Err("must be one of PATIENT_APP, DEVICE, CLINICIAN".into()),
    }
}

/// One reading, each bad field recorded under `readings[i].<field>`.
fn reading(i: usize, r: &pb::Reading, fields: &mut Fields) -> Option<Reading> {
    let mut errors: Vec<(&str, String)> = Vec::new();
    let mut check = |field: &'static str, result: Result<(), String>| {
        if let Err(e) = result {
            errors.push((field, e));
        }
    };
    let reading_id = Uuid::parse_str(r.reading_id.trim())
        .map(ReadingId)
        .map_err(|_| "must be a reading id (UUID)".to_owned());
    let taken_at = timestamp(&r.taken_at);
    let source = source(r.source);
    let rr =
        r.respiration_rate.map(|v| news2::respiration_rate(v.into())).transpose().map_err(|e| e.to_string());
    let spo2 = r.spo2.map(|v| news2::oxygen_saturation(v.into())).transpose().map_err(|e| e.to_string());
    let bp = r
        .systolic_bp
        .map(|v| news2::systolic_blood_pressure(v.into()))
        .transpose()
        .map_err(|e| e.to_string());
    let pulse = r.pulse.map(|v| news2::pulse(v.into())).transpose().map_err(|e| e.to_string());
    let temperature = r.temperature.map(Temperature::celsius).transpose().map_err(|e| e.to_string());
    let level = consciousness(r.consciousness);
    check("reading_id", reading_id.as_ref().map(|_| ()).map_err(Clone::clone));
    check("taken_at", taken_at.as_ref().map(|_| ()).map_err(Clone::clone));
    check("source", source.as_ref().map(|_| ()).map_err(Clone::clone));
    check("respiration_rate", rr.as_ref().map(|_| ()).map_err(Clone::clone));
    check("spo2", spo2.as_ref().map(|_| ()).map_err(Clone::clone));
    check("systolic_bp", bp.as_ref().map(|_| ()).map_err(Clone::clone));
    check("pulse", pulse.as_ref().map(|_| ()).map_err(Clone::clone));
    check("temperature", temperature.as_ref().map(|_| ()).map_err(Clone::clone));
    check("consciousness", level.as_ref().map(|_| ()).map_err(Clone::clone));
    let observations = Observations {
        respiration_rate: rr.ok().flatten(),
        spo2: spo2.ok().flatten(),
        on_oxygen: r.on_oxygen,
        systolic_bp: bp.ok().flatten(),
        pulse: pulse.ok().flatten(),
        consciousness: level.ok().flatten(),
        temperature: temperature.ok().flatten(),
    };
    if errors.is_empty() && observations.is_empty() {
        errors.push(("observations", "must hold at least one observation".into()));
    }
    let ok = errors.is_empty();
    for (field, e) in errors {
        fields.violation(format!("readings[{i}].{field}"), e);
    }
    match (ok, reading_id, taken_at, source) {
        (true, Ok(reading_id), Ok(taken_at), Ok(source)) => {
            Some(Reading { reading_id, taken_at, source, observations })
        }
        _ => None,
    }
}

fn readings(input: &[pb::Reading], fields: &mut Fields) -> Option<Vec<Reading>> {
    if input.is_empty() {
        fields.violation("readings", "must hold at least one reading");
        return None;
    }
    if input.len() > MAX_READINGS {
        fields.violation("readings", format!("may hold at most {MAX_READINGS} readings"));
        return None;
    }
    let parsed: Vec<Option<Reading>> = input.iter().enumerate().map(|(i, r)| reading(i, r, fields)).collect();
    parsed.into_iter().collect()
}

fn outcome(input: i32) -> Result<VirtualWardOutcome, String> {
    use pb::VirtualWardOutcome as O;
    match O::try_from(input) {
        Ok(O::Completed) => Ok(VirtualWardOutcome::Completed),
        Ok(O::AdmittedToHospital) => Ok(VirtualWardOutcome::AdmittedToHospital),
        Ok(O::Died) => Ok(VirtualWardOutcome::Died),
        Ok(O::Withdrew) => Ok(VirtualWardOutcome::Withdrew),
        Ok(O::Unspecified) | Err(_) => {
            Err("must be one of COMPLETED, ADMITTED_TO_HOSPITAL, DIED, WITHDREW".into())
        }
    }
}

macro_rules! virtual_ward_requests {
    ($($message:ident => |$r:ident, $f:ident, $context:tt| $body:block)+) => {$(
        impl CommandRequest for pb::$message {
            type Decider = VirtualWards;
            fn command_id(&self) -> &str {
                &self.command_id
            }
            fn parse(self, $f: &mut Fields, $context: &CommandContext) -> Option<VirtualWardCommand> {
                let $r = self;
                $body
            }
        }
    )+};
}

virtual_ward_requests! {
    ConfigureVirtualWardRequest => |r, f, _| {
        let (ward_id, site_id, name, pathway, beds) = fields!(f,
            ward_id: "ward_id" => WardId::parse(&r.ward_id),
            site_id: "site_id" => SiteId::parse(&r.site_id),
            name: "name" => Label::parse(&r.name),
            pathway: "pathway" => pathway(r.pathway),
            beds: "beds" => beds(r.beds),
        )?;
        Some(VirtualWardCommand::Configure { ward_id, site_id, name, pathway, beds })
    }
    AdmitToVirtualWardRequest => |r, f, context| {
        let plan = plan(r.plan.as_ref(), f);
        let (ward_id, nhs_number, from_stay, by) = fields!(f,
            ward_id: "ward_id" => WardId::parse(&r.ward_id),
            nhs_number: "nhs_number" => NhsNumber::parse(&r.nhs_number),
            from_stay: "from_stay_id" => optional(&r.from_stay_id, |s| Uuid::parse_str(s.trim()).map(StayId).map_err(|_| "must be a stay id (UUID)")),
            by: "authorization" => user(context),
        )?;
        let route = from_stay.map_or(AdmissionRoute::StepUp, |stay_id| AdmissionRoute::StepDown { stay_id });
        Some(VirtualWardCommand::Admit { admission_id: admitted(context), ward_id, nhs_number, route, plan: plan?, by })
    }
    ChangeMonitoringPlanRequest => |r, f, context| {
        let plan = plan(r.plan.as_ref(), f);
        let (admission_id, by) = fields!(f,
            admission_id: "admission_id" => admission_id(&r.admission_id),
            by: "authorization" => user(context),
        )?;
        Some(VirtualWardCommand::ChangePlan { admission_id, plan: plan?, by })
    }
    RecordObservationsRequest => |r, f, _| {
        let readings = readings(&r.readings, f);
        let (admission_id,) = fields!(f, admission_id: "admission_id" => admission_id(&r.admission_id))?;
        Some(VirtualWardCommand::Record { admission_id, readings: readings? })
    }
    MarkReadingMissedRequest => |r, f, _| {
        let (admission_id, due) = fields!(f,
            admission_id: "admission_id" => admission_id(&r.admission_id),
            due: "due" => timestamp(&r.due),
        )?;
        Some(VirtualWardCommand::MarkReadingMissed { admission_id, due })
    }
    DischargeFromVirtualWardRequest => |r, f, context| {
        let (admission_id, outcome, note, by) = fields!(f,
            admission_id: "admission_id" => admission_id(&r.admission_id),
            outcome: "outcome" => outcome(r.outcome),
            note: "note" => optional(&r.note, Note::parse),
            by: "authorization" => user(context),
        )?;
        Some(VirtualWardCommand::Discharge { admission_id, outcome, note, by })
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn ack(outcome: Outcome, id: String, recording: bool) -> Option<pb::CommandAck> {
    let recorded = if recording { outcome.touched } else { Vec::new() };
    Some(pb::CommandAck { position: outcome.position, id, recorded })
}

/// A plan on SpO2 scale 2 is a clinician's to set.
fn oxygen_target<T>(request: &Request<T>, plan: Option<&pb::MonitoringPlan>) -> Result<(), Status> {
    if plan.is_some_and(|p| p.spo2_scale == pb::Spo2Scale::Spo2Scale2 as i32) {
        let caller = request.extensions().get::<Caller>().ok_or_else(|| {
            ServiceError::Invariant("a careflow service registered without Authenticate".into())
        })?;
        policy::authorize(&caller.actor, Action::SetOxygenTarget, policy::Owner::Actor)
            .map_err(ServiceError::from)?;
    }
    Ok(())
}

#[tonic::async_trait]
impl pb::virtual_ward_service_server::VirtualWardService for VirtualWardGrpc {
    async fn configure_virtual_ward(
        &self,
        request: Request<pb::ConfigureVirtualWardRequest>,
    ) -> Reply<pb::ConfigureVirtualWardResponse> {
        let id = request.get_ref().ward_id.trim().to_owned();
        rpc(&self.handler, request, Action::ConfigureVirtualWards, move |_, outcome| {
            pb::ConfigureVirtualWardResponse { ack: ack(outcome, id, false) }
        })
        .await
    }

    async fn admit_to_virtual_ward(
        &self,
        request: Request<pb::AdmitToVirtualWardRequest>,
    ) -> Reply<pb::AdmitToVirtualWardResponse> {
        oxygen_target(&request, request.get_ref().plan.as_ref())?;
        rpc(&self.handler, request, Action::UpdateVirtualWards, |context, outcome| {
            pb::AdmitToVirtualWardResponse { ack: ack(outcome, admitted(context).to_string(), false) }
        })
        .await
    }

    async fn change_monitoring_plan(
        &self,
        request: Request<pb::ChangeMonitoringPlanRequest>,
    ) -> Reply<pb::ChangeMonitoringPlanResponse> {
        oxygen_target(&request, request.get_ref().plan.as_ref())?;
        let id = request.get_ref().admission_id.trim().to_owned();
        rpc(&self.handler, request, Action::UpdateVirtualWards, move |_, outcome| {
            pb::ChangeMonitoringPlanResponse { ack: ack(outcome, id, false) }
        })
        .await
    }

    async fn record_observations(
        &self,
        request: Request<pb::RecordObservationsRequest>,
    ) -> Reply<pb::RecordObservationsResponse> {
        let id = request.get_ref().admission_id.trim().to_owned();
        rpc(&self.handler, request, Action::RecordObservations, move |_, outcome| {
            pb::RecordObservationsResponse { ack: ack(outcome, id, true) }
        })
        .await
    }

    async fn mark_reading_missed(
        &self,
        request: Request<pb::MarkReadingMissedRequest>,
    ) -> Reply<pb::MarkReadingMissedResponse> {
        let id = request.get_ref().admission_id.trim().to_owned();
        rpc(&self.handler, request, Action::FireTimers, move |_, outcome| pb::MarkReadingMissedResponse {
            ack: ack(outcome, id, false),
        })
        .await
    }

    async fn discharge_from_virtual_ward(
        &self,
        request: Request<pb::DischargeFromVirtualWardRequest>,
    ) -> Reply<pb::DischargeFromVirtualWardResponse> {
        let id = request.get_ref().admission_id.trim().to_owned();
        rpc(&self.handler, request, Action::UpdateVirtualWards, move |_, outcome| {
            pb::DischargeFromVirtualWardResponse { ack: ack(outcome, id, false) }
        })
        .await
    }
}
