//! The virtual-ward mutations. `recordObservations` takes a batch from a device gateway
//! (readings of many patients), checks every reading here first (each bad field named by its
//! place, `readings[3].spo2`; nothing is stored if one is bad), then records each patient's
//! readings as one command, the patients' commands at once. A reading id seen before is a
//! duplicate, whatever else it says.

use std::collections::HashMap;

use async_graphql::{Enum, InputObject, SimpleObject};
use careflow_domain::virtualwards::{Temperature, news2};
use careflow_proto::virtualwards::v1 as pb;
use careflow_proto::virtualwards::v1::virtual_ward_service_client::VirtualWardServiceClient;
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt};
use tonic::transport::Channel;

use super::types::{
    CarePathway, Consciousness, News2Summary, Parameter, ReadingSource, Spo2Scale, VirtualWard,
    VirtualWardOutcome,
};
use super::*;
use crate::schema::command::{actor_for, command_id, deadline_passed, prepare, send, visible};

/// The most readings one `recordObservations` takes.
pub const MAX_READINGS: usize = 500;
/// How many patients' readings are recorded at once.
const CONCURRENCY: usize = 16;
/// How far ahead of the gateway's clock a reading may say it was taken.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Configure a virtual ward (or change its name, pathway or beds).
#[derive(InputObject)]
pub struct ConfigureVirtualWardInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The ward's id, e.g. `RXA-VW-RESP`.
    pub ward_id: ID,
    /// Its site (whose organisation owns it).
    pub site_id: ID,
    /// Its name.
    pub name: String,
    /// What it looks after.
    pub pathway: CarePathway,
    /// Its virtual beds.
    pub beds: i32,
}

/// Whom to call when the patient deteriorates.
#[derive(InputObject)]
pub struct EscalationContactInput {
    /// Their name.
    pub name: String,
    /// Who they are to the patient.
    pub relationship: String,
    /// Their number.
    pub phone: String,
}

/// How a patient is monitored.
#[derive(InputObject)]
pub struct MonitoringPlanInput {
    /// Which observations each reading should hold.
    pub observations: Vec<Parameter>,
    /// How often a reading is due, in minutes (15 to 10080).
    pub every_minutes: i32,
    /// The SpO2 scale (scale 2 only a virtual ward clinician sets).
    #[graphql(default_with = "Spo2Scale::Scale1")]
    pub spo2_scale: Spo2Scale,
    /// Whom to call, in order (at most 5).
    #[graphql(default)]
    pub escalation_contacts: Vec<EscalationContactInput>,
}

/// Admit a patient to a virtual ward.
#[derive(InputObject)]
pub struct AdmitToVirtualWardInput {
    /// Idempotency key; the admission's id is derived from it.
    pub command_id: Option<ID>,
    /// The virtual ward.
    pub ward_id: ID,
    /// The patient.
    pub nhs_number: String,
    /// A step-down: the hospital stay they leave (none: a step-up from home).
    pub from_stay_id: Option<ID>,
    /// How they are monitored.
    pub plan: MonitoringPlanInput,
}

/// Change an admission's monitoring plan.
#[derive(InputObject)]
pub struct ChangeMonitoringPlanInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The admission.
    pub admission_id: ID,
    /// The plan from now on.
    pub plan: MonitoringPlanInput,
}

/// Discharge a patient from a virtual ward.
#[derive(InputObject)]
pub struct DischargeFromVirtualWardInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The admission.
    pub admission_id: ID,
    /// How it ended.
    pub outcome: VirtualWardOutcome,
    /// Anything to add.
    pub note: Option<String>,
}

/// One observation set: any subset of the chart, at least one.
#[derive(InputObject)]
pub struct ReadingInput {
    /// The admission.
    pub admission_id: ID,
    /// The device's or app's id of the reading (a UUID): recorded once.
    pub reading_id: ID,
    /// When it was taken (RFC 3339).
    pub taken_at: String,
    /// Where it came from.
    pub source: ReadingSource,
    /// Breaths per minute.
    pub respiration_rate: Option<i32>,
    /// SpO2, %.
    pub spo2: Option<i32>,
    /// On supplemental oxygen (false: air).
    pub on_oxygen: Option<bool>,
    /// Systolic blood pressure, mmHg.
    pub systolic_bp: Option<i32>,
    /// Beats per minute.
    pub pulse: Option<i32>,
    /// ACVPU.
    pub consciousness: Option<Consciousness>,
    /// °C.
    pub temperature: Option<f64>,
}

/// Record readings (a device gateway's batch, or one set).
#[derive(InputObject)]
pub struct RecordObservationsInput {
    /// Idempotency key of the batch.
    pub command_id: Option<ID>,
    /// The readings (at most 500).
    pub readings: Vec<ReadingInput>,
}

/// What happened to one reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ReadingStatus {
    /// Recorded and scored now.
    Recorded,
    /// Recorded before (the same reading id): nothing new.
    Duplicate,
    /// Refused: `code` and `message` say why (the patient's readings in this batch were all
    /// refused together).
    Refused,
}

/// One reading's outcome.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ReadingOutcome {
    /// The reading.
    pub reading_id: ID,
    /// Its admission.
    pub admission_id: ID,
    /// What happened.
    pub status: ReadingStatus,
    /// Refused: the error code (`NOT_FOUND`, `CONFLICT`, `FORBIDDEN`, …).
    pub code: Option<String>,
    /// Refused: why.
    pub message: Option<String>,
}

#[async_graphql::ComplexObject]
impl ReadingOutcome {
    /// Its NEWS2, from the chart (none if refused, or the chart has not caught up).
    async fn news2(&self, ctx: &Context<'_>) -> Result<Option<News2Summary>, GqlError> {
        if self.status == ReadingStatus::Refused {
            return Ok(None);
        }
        let caller = viewer(ctx)?;
        let Some(VirtualWardDoc::Chart(chart)) =
            virtual_wards(ctx)?.get(&chart_key(self.admission_id.as_str())).await?
        else {
            return Ok(None);
        };
        may_see_chart(ctx, caller, &chart).await?;
        Ok(chart.readings.iter().find(|p| p.reading_id == *self.reading_id).map(|p| News2Summary {
            total: p.news2.total.into(),
            risk: p.news2.risk.into(),
            colour: p.news2.risk.colour().to_owned(),
            complete: p.news2.complete,
            taken_at: p.taken_at.to_rfc3339(),
        }))
    }
}

/// What `recordObservations` returns.
#[derive(SimpleObject)]
pub struct RecordObservationsPayload {
    /// Global position of the last event appended.
    pub position: u64,
    /// Every reading, in the order sent.
    pub readings: Vec<ReadingOutcome>,
    /// Whether the census and charts reflect it (false: not yet, within the wait).
    pub visible: bool,
}

/// What configuring a virtual ward returns.
pub struct VirtualWardPayload {
    position: u64,
    ward_id: String,
    visible: bool,
}

#[Object]
impl VirtualWardPayload {
    /// Global position of the command's last event.
    async fn position(&self) -> u64 {
        self.position
    }
    /// Whether the read models reflect it.
    async fn visible(&self) -> bool {
        self.visible
    }
    /// The ward now (none when not yet visible).
    async fn ward(&self, ctx: &Context<'_>) -> Result<Option<VirtualWard>, GqlError> {
        if !self.visible {
            return Ok(None);
        }
        let wards = wards(virtual_wards(ctx)?).await?;
        Ok(wards.into_iter().find(|w| w.ward_id == self.ward_id).map(VirtualWard))
    }
}

/// What an admission command returns.
pub struct AdmissionPayload {
    position: u64,
    admission_id: String,
    visible: bool,
}

#[Object]
impl AdmissionPayload {
    /// Global position of the command's last event.
    async fn position(&self) -> u64 {
        self.position
    }
    /// The admission.
    async fn admission_id(&self) -> ID {
        ID(self.admission_id.clone())
    }
    /// Whether the read models reflect it.
    async fn visible(&self) -> bool {
        self.visible
    }
    /// The patient's census row now (none when not yet visible, or discharged).
    async fn entry(&self, ctx: &Context<'_>) -> Result<Option<types::CensusEntry>, GqlError> {
        if !self.visible {
            return Ok(None);
        }
        let caller = viewer(ctx)?;
        let Some(VirtualWardDoc::Row(row)) = virtual_wards(ctx)?.get(&row_key(&self.admission_id)).await?
        else {
            return Ok(None);
        };
        may_see_census(caller, &row.organisation)?;
        Ok(sorted(vec![*row]).pop())
    }
}

fn plan(input: MonitoringPlanInput) -> pb::MonitoringPlan {
    let parameter = |p: Parameter| match p {
        Parameter::RespirationRate => pb::Parameter::RespirationRate,
        Parameter::OxygenSaturation => pb::Parameter::OxygenSaturation,
        Parameter::AirOrOxygen => pb::Parameter::AirOrOxygen,
        Parameter::SystolicBloodPressure => pb::Parameter::SystolicBloodPressure,
        Parameter::Pulse => pb::Parameter::Pulse,
        Parameter::Consciousness => pb::Parameter::Consciousness,
        Parameter::Temperature => pb::Parameter::Temperature,
    } as i32;
    pb::MonitoringPlan {
        observations: input.observations.into_iter().map(parameter).collect(),
        every_minutes: u32::try_from(input.every_minutes).unwrap_or(0),
        spo2_scale: match input.spo2_scale {
            Spo2Scale::Scale1 => pb::Spo2Scale::Spo2Scale1,
            Spo2Scale::Scale2 => pb::Spo2Scale::Spo2Scale2,
        } as i32,
        escalation_contacts: input
            .escalation_contacts
            .into_iter()
            .map(|c| pb::EscalationContact { name: c.name, relationship: c.relationship, phone: c.phone })
            .collect(),
    }
}

async fn wait(ctx: &Context<'_>, ack: Option<pb::CommandAck>) -> Result<(u64, String, bool), GqlError> {
    let ack = ack.ok_or_else(|| ApiError::internal(&"a command response without an ack"))?;
    let reader = virtual_wards(ctx)?;
    let visible = visible(ctx, ack.position, |p, timeout| reader.wait_for(p, timeout)).await;
    Ok((ack.position, ack.id, visible))
}

/// One reading, checked as the service would, each bad field named by its place.
fn reading(
    i: usize,
    r: ReadingInput,
    now: DateTime<Utc>,
    violations: &mut Vec<FieldViolation>,
) -> Option<(String, pb::Reading)> {
    let before = violations.len();
    let mut bad = |field: &str, description: String| {
        violations.push(FieldViolation { field: format!("readings[{i}].{field}"), description });
    };
    if uuid::Uuid::parse_str(r.admission_id.as_str()).is_err() {
        bad("admissionId", "must be an admission id (UUID)".into());
    }
    if uuid::Uuid::parse_str(r.reading_id.as_str()).is_err() {
        bad("readingId", "must be a reading id (UUID)".into());
    }
    match DateTime::parse_from_rfc3339(r.taken_at.trim()) {
        Ok(t) if t.with_timezone(&Utc) > now + CLOCK_SKEW => bad("takenAt", "is in the future".into()),
        Ok(_) => {}
        Err(_) => bad("takenAt", "must be a time in RFC 3339, e.g. 2026-12-02T09:00:00Z".into()),
    }
    let mut check = |field: &str, result: Result<(), news2::ImpossibleValue>| {
        if let Err(e) = result {
            bad(field, e.to_string());
        }
    };
    if let Some(v) = r.respiration_rate {
        check("respirationRate", news2::respiration_rate(v.into()).map(|_| ()));
    }
    if let Some(v) = r.spo2 {
        check("spo2", news2::oxygen_saturation(v.into()).map(|_| ()));
    }
    if let Some(v) = r.systolic_bp {
        check("systolicBp", news2::systolic_blood_pressure(v.into()).map(|_| ()));
    }
    if let Some(v) = r.pulse {
        check("pulse", news2::pulse(v.into()).map(|_| ()));
    }
    if let Some(v) = r.temperature {
        check("temperature", Temperature::celsius(v).map(|_| ()));
    }
    let empty = r.respiration_rate.is_none()
        && r.spo2.is_none()
        && r.on_oxygen.is_none()
        && r.systolic_bp.is_none()
        && r.pulse.is_none()
        && r.consciousness.is_none()
        && r.temperature.is_none();
    if empty {
        violations.push(FieldViolation {
            field: format!("readings[{i}]"),
            description: "must hold at least one observation".into(),
        });
    }
    if violations.len() > before {
        return None;
    }
    let consciousness = r.consciousness.map_or(pb::Consciousness::Unspecified, |c| match c {
        Consciousness::Alert => pb::Consciousness::Alert,
        Consciousness::NewConfusion => pb::Consciousness::NewConfusion,
        Consciousness::Voice => pb::Consciousness::Voice,
        Consciousness::Pain => pb::Consciousness::Pain,
        Consciousness::Unresponsive => pb::Consciousness::Unresponsive,
    });
    let source = match r.source {
        ReadingSource::PatientApp => pb::ReadingSource::PatientApp,
        ReadingSource::Device => pb::ReadingSource::Device,
        ReadingSource::Clinician => pb::ReadingSource::Clinician,
    };
    Some((
        r.admission_id.0.trim().to_owned(),
        pb::Reading {
            reading_id: r.reading_id.0.trim().to_owned(),
            taken_at: r.taken_at,
            source: source as i32,
            respiration_rate: r.respiration_rate,
            spo2: r.spo2,
            on_oxygen: r.on_oxygen,
            systolic_bp: r.systolic_bp,
            pulse: r.pulse,
            consciousness: consciousness as i32,
            temperature: r.temperature,
        },
    ))
}

/// The command id of one patient's part of a batch: derived from the batch's, so a retried
/// batch is answered as the first.
fn part_id(batch: Option<&ID>, admission_id: &str) -> String {
    match batch.and_then(|b| uuid::Uuid::parse_str(b.as_str()).ok()) {
        Some(batch) => uuid::Uuid::new_v5(&batch, admission_id.as_bytes()).to_string(),
        None => command_id(batch.cloned()),
    }
}

/// The virtual-ward mutations.
#[derive(Default)]
pub struct VirtualWardsMutation;

#[Object]
impl VirtualWardsMutation {
    /// Configure a virtual ward on a site (a bed manager or admin of the site's organisation),
    /// or change its name, pathway or beds (not below the patients on it).
    async fn configure_virtual_ward(
        &self,
        ctx: &Context<'_>,
        input: ConfigureVirtualWardInput,
    ) -> Result<VirtualWardPayload, GqlError> {
        let pathway = match input.pathway {
            CarePathway::Frailty => pb::CarePathway::Frailty,
            CarePathway::Respiratory => pb::CarePathway::Respiratory,
            CarePathway::HeartFailure => pb::CarePathway::HeartFailure,
            CarePathway::Other => pb::CarePathway::Other,
        } as i32;
        let beds = u32::try_from(input.beds).map_err(|_| bad_input("beds", "must not be negative"))?;
        let response = send!(
            ctx,
            VirtualWardServiceClient<Channel>,
            Action::ConfigureVirtualWards,
            configure_virtual_ward,
            pb::ConfigureVirtualWardRequest {
                command_id: command_id(input.command_id),
                ward_id: input.ward_id.0,
                site_id: input.site_id.0,
                name: input.name,
                pathway,
                beds,
            }
        );
        let (position, ward_id, visible) = wait(ctx, response.ack).await?;
        Ok(VirtualWardPayload { position, ward_id, visible })
    }

    /// Admit a patient to a virtual ward: a step-up from home, or a step-down from a hospital
    /// stay (`fromStayId`), with their monitoring plan.
    async fn admit_to_virtual_ward(
        &self,
        ctx: &Context<'_>,
        input: AdmitToVirtualWardInput,
    ) -> Result<AdmissionPayload, GqlError> {
        let response = send!(
            ctx,
            VirtualWardServiceClient<Channel>,
            Action::UpdateVirtualWards,
            admit_to_virtual_ward,
            pb::AdmitToVirtualWardRequest {
                command_id: command_id(input.command_id),
                ward_id: input.ward_id.0,
                nhs_number: input.nhs_number,
                from_stay_id: input.from_stay_id.map(|s| s.0).unwrap_or_default(),
                plan: Some(plan(input.plan)),
            }
        );
        let (position, admission_id, visible) = wait(ctx, response.ack).await?;
        Ok(AdmissionPayload { position, admission_id, visible })
    }

    /// Change an admission's monitoring plan.
    async fn change_monitoring_plan(
        &self,
        ctx: &Context<'_>,
        input: ChangeMonitoringPlanInput,
    ) -> Result<AdmissionPayload, GqlError> {
        let response = send!(
            ctx,
            VirtualWardServiceClient<Channel>,
            Action::UpdateVirtualWards,
            change_monitoring_plan,
            pb::ChangeMonitoringPlanRequest {
                command_id: command_id(input.command_id),
                admission_id: input.admission_id.0,
                plan: Some(plan(input.plan)),
            }
        );
        let (position, admission_id, visible) = wait(ctx, response.ack).await?;
        Ok(AdmissionPayload { position, admission_id, visible })
    }

    /// Discharge a patient from a virtual ward: frees the virtual bed; open escalation and
    /// missed-reading tasks are cancelled.
    async fn discharge_from_virtual_ward(
        &self,
        ctx: &Context<'_>,
        input: DischargeFromVirtualWardInput,
    ) -> Result<AdmissionPayload, GqlError> {
        let outcome = match input.outcome {
            VirtualWardOutcome::Completed => pb::VirtualWardOutcome::Completed,
            VirtualWardOutcome::AdmittedToHospital => pb::VirtualWardOutcome::AdmittedToHospital,
            VirtualWardOutcome::Died => pb::VirtualWardOutcome::Died,
            VirtualWardOutcome::Withdrew => pb::VirtualWardOutcome::Withdrew,
        } as i32;
        let response = send!(
            ctx,
            VirtualWardServiceClient<Channel>,
            Action::UpdateVirtualWards,
            discharge_from_virtual_ward,
            pb::DischargeFromVirtualWardRequest {
                command_id: command_id(input.command_id),
                admission_id: input.admission_id.0,
                outcome,
                note: input.note.unwrap_or_default(),
            }
        );
        let (position, admission_id, visible) = wait(ctx, response.ack).await?;
        Ok(AdmissionPayload { position, admission_id, visible })
    }

    /// Record observation sets (a device gateway's batch of many patients', or one set), each
    /// scored with NEWS2 as it is recorded. A reading id recorded before is a DUPLICATE (a
    /// device that reconnects and resends records nothing twice). A bad field anywhere refuses
    /// the whole batch, naming it (`readings[3].spo2`); a patient whose readings cannot be
    /// recorded (discharged, another organisation's) has them REFUSED, the others recorded.
    async fn record_observations(
        &self,
        ctx: &Context<'_>,
        input: RecordObservationsInput,
    ) -> Result<RecordObservationsPayload, GqlError> {
        actor_for(ctx, Action::RecordObservations)?;
        if input.readings.is_empty() {
            return Err(bad_input("readings", "must hold at least one reading").into());
        }
        if input.readings.len() > MAX_READINGS {
            return Err(bad_input("readings", format!("may hold at most {MAX_READINGS} readings")).into());
        }
        let now = Utc::now();
        let mut violations = Vec::new();
        let mut order: Vec<(String, String)> = Vec::with_capacity(input.readings.len());
        let mut groups: Vec<(String, Vec<pb::Reading>)> = Vec::new();
        let mut group_of: HashMap<String, usize> = HashMap::new();
        for (i, r) in input.readings.into_iter().enumerate() {
            let Some((admission, reading)) = reading(i, r, now, &mut violations) else { continue };
            order.push((admission.clone(), reading.reading_id.clone()));
            let g = *group_of.entry(admission.clone()).or_insert_with(|| {
                groups.push((admission.clone(), Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(reading);
        }
        if !violations.is_empty() {
            violations.truncate(50);
            let message =
                format!("{} reading field(s) are not acceptable; nothing was recorded", violations.len());
            return Err(ApiError::BadUserInput { message, violations }.into());
        }
        let batch = input.command_id.clone();
        let sends = groups.into_iter().map(|(admission, readings)| {
            let message = pb::RecordObservationsRequest {
                command_id: part_id(batch.as_ref(), &admission),
                admission_id: admission.clone(),
                readings,
            };
            let prepared =
                prepare::<VirtualWardServiceClient<Channel>, _>(ctx, Action::RecordObservations, message);
            async move {
                let (mut client, request, deadline) = match prepared {
                    Ok(prepared) => prepared,
                    Err(error) => return (admission, Err(error)),
                };
                let answer = match tokio::time::timeout(deadline, client.record_observations(request)).await {
                    Ok(Ok(response)) => response
                        .into_inner()
                        .ack
                        .ok_or_else(|| ApiError::internal(&"a command response without an ack")),
                    Ok(Err(status)) => Err(ApiError::from(status)),
                    Err(_) => Err(deadline_passed(deadline)),
                };
                (admission, answer)
            }
        });
        let answers: HashMap<String, Result<pb::CommandAck, ApiError>> =
            stream::iter(sends).buffer_unordered(CONCURRENCY).collect().await;
        let position =
            answers.values().filter_map(|a| a.as_ref().ok()).map(|a| a.position).max().unwrap_or(0);
        let mut recorded: HashMap<&str, std::collections::HashSet<&str>> = HashMap::new();
        for (admission, answer) in &answers {
            if let Ok(ack) = answer {
                recorded.insert(admission.as_str(), ack.recorded.iter().map(String::as_str).collect());
            }
        }
        let mut readings = Vec::with_capacity(order.len());
        for (admission, reading_id) in &order {
            let outcome = match answers.get(admission) {
                Some(Ok(_)) => {
                    let now_recorded =
                        recorded.get_mut(admission.as_str()).is_some_and(|r| r.remove(reading_id.as_str()));
                    let status =
                        if now_recorded { ReadingStatus::Recorded } else { ReadingStatus::Duplicate };
                    ReadingOutcome {
                        reading_id: ID(reading_id.clone()),
                        admission_id: ID(admission.clone()),
                        status,
                        code: None,
                        message: None,
                    }
                }
                Some(Err(error)) => ReadingOutcome {
                    reading_id: ID(reading_id.clone()),
                    admission_id: ID(admission.clone()),
                    status: ReadingStatus::Refused,
                    code: Some(error.code().to_owned()),
                    message: Some(error.to_string()),
                },
                None => ReadingOutcome {
                    reading_id: ID(reading_id.clone()),
                    admission_id: ID(admission.clone()),
                    status: ReadingStatus::Refused,
                    code: Some("INTERNAL".into()),
                    message: Some("no answer for this patient's readings".into()),
                },
            };
            readings.push(outcome);
        }
        // Every part unavailable: the batch as a whole is (retry it with the same commandId).
        if let Some(Err(ApiError::Unavailable(message))) = answers.values().next()
            && answers.values().all(|a| matches!(a, Err(ApiError::Unavailable(_))))
        {
            return Err(ApiError::Unavailable(message.clone()).into());
        }
        let reader = virtual_wards(ctx)?;
        let visible = position == 0 || visible(ctx, position, |p, timeout| reader.wait_for(p, timeout)).await;
        Ok(RecordObservationsPayload { position, readings, visible })
    }
}
