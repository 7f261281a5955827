//! The virtual wards' GraphQL types, over the read models' documents.

use async_graphql::{Enum, ID, Object, SimpleObject};
use careflow_domain::virtualwards::{self as domain, Parameter as DomainParameter};
use careflow_projections::virtual_wards::{CensusRow, ChartPoint, ChartView, OpenTaskView, WardRow};
use chrono::{DateTime, Utc};

use crate::schema::tasks::{Priority, TaskKind};

/// What a virtual ward looks after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::CarePathway")]
pub enum CarePathway {
    /// Frailty.
    Frailty,
    /// Respiratory (COPD, pneumonia, COVID-19).
    Respiratory,
    /// Heart failure.
    HeartFailure,
    /// Anything else.
    Other,
}

/// An observation of the NEWS2 chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::Parameter")]
pub enum Parameter {
    /// Breaths per minute.
    RespirationRate,
    /// Oxygen saturation, %.
    OxygenSaturation,
    /// Breathing air or supplemental oxygen.
    AirOrOxygen,
    /// Systolic blood pressure, mmHg.
    SystolicBloodPressure,
    /// Heart rate.
    Pulse,
    /// ACVPU.
    Consciousness,
    /// Temperature, °C.
    Temperature,
}

/// Which SpO2 scale scores the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::Spo2Scale")]
pub enum Spo2Scale {
    /// Scale 1.
    Scale1,
    /// Scale 2: a target of 88–92%, set by a virtual ward clinician.
    Scale2,
}

/// Level of consciousness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::Acvpu")]
pub enum Consciousness {
    /// Alert.
    Alert,
    /// New confusion.
    NewConfusion,
    /// Responds to voice.
    Voice,
    /// Responds to pain.
    Pain,
    /// Unresponsive.
    Unresponsive,
}

/// Where a reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::ReadingSource")]
pub enum ReadingSource {
    /// The patient app.
    PatientApp,
    /// A connected device.
    Device,
    /// A clinician.
    Clinician,
}

/// The clinical risk a NEWS2 calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::Risk")]
pub enum Risk {
    /// 0–4: ward-based response.
    Low,
    /// A 3 in one parameter: urgent ward-based response.
    LowMedium,
    /// 5–6: urgent response.
    Medium,
    /// 7 or more: emergency response.
    High,
}

/// How a virtual-ward admission ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::VirtualWardOutcome")]
pub enum VirtualWardOutcome {
    /// Monitoring completed.
    Completed,
    /// Admitted to hospital.
    AdmittedToHospital,
    /// The patient died.
    Died,
    /// The patient withdrew.
    Withdrew,
}

/// A virtual ward.
pub struct VirtualWard(pub WardRow);

#[Object]
impl VirtualWard {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.0.ward_id.clone())
    }
    /// Its site.
    async fn site_id(&self) -> ID {
        ID(self.0.site_id.clone())
    }
    /// Its organisation (ODS code).
    async fn organisation(&self) -> &str {
        &self.0.organisation
    }
    /// Its name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What it looks after.
    async fn pathway(&self) -> CarePathway {
        self.0.pathway.into()
    }
    /// Its virtual beds.
    async fn beds(&self) -> u32 {
        self.0.beds.into()
    }
    /// Those taken.
    async fn occupied(&self) -> u32 {
        self.0.occupied.into()
    }
    /// Those free.
    async fn free(&self) -> u32 {
        self.0.beds.saturating_sub(self.0.occupied).into()
    }
}

/// Virtual beds, counted apart from real ones.
#[derive(Debug, Clone, Copy, Default, SimpleObject)]
pub struct VirtualCapacity {
    /// Virtual wards.
    pub wards: u32,
    /// Their virtual beds.
    pub total: u32,
    /// Taken.
    pub occupied: u32,
    /// Free.
    pub free: u32,
}

impl VirtualCapacity {
    /// Counts `wards`.
    pub fn of<'a>(wards: impl IntoIterator<Item = &'a WardRow>) -> Self {
        wards.into_iter().fold(Self::default(), |mut c, w| {
            c.wards += 1;
            c.total += u32::from(w.beds);
            c.occupied += u32::from(w.occupied);
            c.free += u32::from(w.beds.saturating_sub(w.occupied));
            c
        })
    }
}

/// A score, in brief.
#[derive(Debug, Clone, SimpleObject)]
pub struct News2Summary {
    /// The total (a floor, when incomplete).
    pub total: u32,
    /// The clinical risk.
    pub risk: Risk,
    /// The chart's colour for it: green, yellow, amber, red.
    pub colour: String,
    /// Whether every parameter was scored.
    pub complete: bool,
    /// When the reading was taken (RFC 3339).
    pub taken_at: String,
}

/// A task open for a virtual-ward patient.
#[derive(Debug, Clone, SimpleObject)]
pub struct CensusTask {
    /// The task.
    pub task_id: ID,
    /// What kind.
    pub kind: TaskKind,
    /// How soon.
    pub priority: Priority,
    /// Its title.
    pub title: String,
    /// When due (RFC 3339).
    pub due: Option<String>,
}

impl From<&OpenTaskView> for CensusTask {
    fn from(t: &OpenTaskView) -> Self {
        Self {
            task_id: ID(t.task_id.clone()),
            kind: t.kind.into(),
            priority: t.priority.into(),
            title: t.title.clone(),
            due: t.due.map(|d| d.to_rfc3339()),
        }
    }
}

/// One patient on a virtual ward's census.
pub struct CensusEntry {
    pub(crate) row: CensusRow,
    pub(crate) now: DateTime<Utc>,
}

impl CensusEntry {
    /// Its place on the census: the highest risk first, then the highest score, then the most
    /// readings missed, then the longest wait.
    pub(crate) fn rank(&self) -> impl Ord + use<> {
        let r = &self.row;
        let risk = r.latest.as_ref().map(|l| l.risk);
        (
            std::cmp::Reverse(risk),
            std::cmp::Reverse(r.latest.as_ref().map(|l| l.total)),
            std::cmp::Reverse(r.missed),
            r.latest.as_ref().map(|l| l.taken_at),
            r.admission_id.clone(),
        )
    }
}

#[Object]
impl CensusEntry {
    /// The admission.
    async fn admission_id(&self) -> ID {
        ID(self.row.admission_id.clone())
    }
    /// The virtual ward.
    async fn ward_id(&self) -> ID {
        ID(self.row.ward_id.clone())
    }
    /// The patient's NHS number.
    async fn nhs_number(&self) -> &str {
        &self.row.nhs_number
    }
    /// Their given name(s).
    async fn given_name(&self) -> &str {
        &self.row.given
    }
    /// Their family name.
    async fn family_name(&self) -> &str {
        &self.row.family
    }
    /// The hospital stay they stepped down from (none: a step-up from home).
    async fn from_stay_id(&self) -> Option<ID> {
        match &self.row.route {
            domain::AdmissionRoute::StepUp => None,
            domain::AdmissionRoute::StepDown { stay_id } => Some(ID(stay_id.to_string())),
        }
    }
    /// When admitted (RFC 3339).
    async fn admitted_at(&self) -> String {
        self.row.admitted_at.to_rfc3339()
    }
    /// How often a reading is due, in minutes.
    async fn every_minutes(&self) -> u32 {
        self.row.every_minutes
    }
    /// The SpO2 scale.
    async fn spo2_scale(&self) -> Spo2Scale {
        self.row.spo2_scale.into()
    }
    /// The latest reading's NEWS2.
    async fn latest(&self) -> Option<News2Summary> {
        self.row.latest.as_ref().map(|l| News2Summary {
            total: l.total.into(),
            risk: l.risk.into(),
            colour: l.risk.colour().to_owned(),
            complete: l.complete,
            taken_at: l.taken_at.to_rfc3339(),
        })
    }
    /// The latest readings' totals, oldest first (at most 6).
    async fn trend(&self) -> Vec<u32> {
        self.row.trend.iter().map(|t| u32::from(*t)).collect()
    }
    /// Minutes since the latest reading was taken (none yet: since admission).
    async fn minutes_since_last_reading(&self) -> i64 {
        let since = self.row.latest.as_ref().map_or(self.row.admitted_at, |l| l.taken_at);
        (self.now - since).num_minutes().max(0)
    }
    /// When the next reading is missed (RFC 3339).
    async fn next_due_at(&self) -> String {
        self.row.next_due.to_rfc3339()
    }
    /// Readings missed in a row.
    async fn missed_readings(&self) -> u32 {
        self.row.missed
    }
    /// Whether the patient is flagged: their latest NEWS2 is high.
    async fn flagged(&self) -> bool {
        self.row.latest.as_ref().is_some_and(|l| l.risk == domain::Risk::High)
    }
    /// Open tasks raised for them (escalations, missed readings).
    async fn open_tasks(&self) -> Vec<CensusTask> {
        self.row.open_tasks.iter().map(CensusTask::from).collect()
    }
}

/// A parameter's sub-score.
#[derive(Debug, Clone, SimpleObject)]
pub struct ParameterScore {
    /// The parameter.
    pub parameter: Parameter,
    /// 0–3.
    pub score: u32,
}

/// One reading on a chart, with its NEWS2.
pub struct ChartReading(pub ChartPoint);

#[Object]
impl ChartReading {
    /// Its id.
    async fn reading_id(&self) -> ID {
        ID(self.0.reading_id.clone())
    }
    /// When taken (RFC 3339).
    async fn taken_at(&self) -> String {
        self.0.taken_at.to_rfc3339()
    }
    /// From where.
    async fn source(&self) -> ReadingSource {
        self.0.source.into()
    }
    /// Breaths per minute.
    async fn respiration_rate(&self) -> Option<u32> {
        self.0.observations.respiration_rate.map(u32::from)
    }
    /// SpO2, %.
    async fn spo2(&self) -> Option<u32> {
        self.0.observations.spo2.map(u32::from)
    }
    /// On supplemental oxygen.
    async fn on_oxygen(&self) -> Option<bool> {
        self.0.observations.on_oxygen
    }
    /// Systolic blood pressure, mmHg.
    async fn systolic_bp(&self) -> Option<u32> {
        self.0.observations.systolic_bp.map(u32::from)
    }
    /// Beats per minute.
    async fn pulse(&self) -> Option<u32> {
        self.0.observations.pulse.map(u32::from)
    }
    /// ACVPU.
    async fn consciousness(&self) -> Option<Consciousness> {
        self.0.observations.consciousness.map(Into::into)
    }
    /// °C.
    async fn temperature(&self) -> Option<f64> {
        self.0.observations.temperature.map(domain::Temperature::degrees)
    }
    /// Each parameter's sub-score, for those scored.
    async fn scores(&self) -> Vec<ParameterScore> {
        self.0
            .news2
            .scores
            .iter()
            .map(|(p, s)| ParameterScore { parameter: (*p).into(), score: (*s).into() })
            .collect()
    }
    /// The total (a floor, when incomplete).
    async fn total(&self) -> u32 {
        self.0.news2.total.into()
    }
    /// The clinical risk.
    async fn risk(&self) -> Risk {
        self.0.news2.risk.into()
    }
    /// The chart's colour for it.
    async fn colour(&self) -> &'static str {
        self.0.news2.risk.colour()
    }
    /// Whether every parameter was scored.
    async fn complete(&self) -> bool {
        self.0.news2.complete
    }
    /// The parameters not scored.
    async fn missing(&self) -> Vec<Parameter> {
        self.0.news2.missing().into_iter().map(Into::into).collect()
    }
}

/// Whom to call.
#[derive(Debug, Clone, SimpleObject)]
pub struct EscalationContact {
    /// Their name.
    pub name: String,
    /// Who they are to the patient.
    pub relationship: String,
    /// Their number.
    pub phone: String,
}

/// A monitoring plan.
#[derive(Debug, Clone, SimpleObject)]
pub struct MonitoringPlan {
    /// Which observations each reading should hold.
    pub observations: Vec<Parameter>,
    /// How often a reading is due, in minutes.
    pub every_minutes: u32,
    /// The SpO2 scale.
    pub spo2_scale: Spo2Scale,
    /// Whom to call, in order.
    pub escalation_contacts: Vec<EscalationContact>,
}

impl From<&domain::MonitoringPlan> for MonitoringPlan {
    fn from(p: &domain::MonitoringPlan) -> Self {
        Self {
            observations: p.observations.iter().map(|o: &DomainParameter| (*o).into()).collect(),
            every_minutes: p.every_minutes,
            spo2_scale: p.spo2_scale.into(),
            escalation_contacts: p
                .escalation_contacts
                .iter()
                .map(|c| EscalationContact {
                    name: c.name.to_string(),
                    relationship: c.relationship.to_string(),
                    phone: c.phone.as_str().to_owned(),
                })
                .collect(),
        }
    }
}

/// A patient's observation chart on a virtual ward.
pub struct ObservationChart(pub ChartView);

#[Object]
impl ObservationChart {
    /// The admission.
    async fn admission_id(&self) -> ID {
        ID(self.0.admission_id.clone())
    }
    /// The virtual ward.
    async fn ward_id(&self) -> ID {
        ID(self.0.ward_id.clone())
    }
    /// The patient's NHS number.
    async fn nhs_number(&self) -> &str {
        &self.0.nhs_number
    }
    /// When admitted (RFC 3339).
    async fn admitted_at(&self) -> String {
        self.0.admitted_at.to_rfc3339()
    }
    /// The plan now.
    async fn plan(&self) -> MonitoringPlan {
        (&self.0.plan).into()
    }
    /// The readings by when they were taken, oldest first (the most recent 500).
    async fn readings(&self) -> Vec<ChartReading> {
        self.0.readings.iter().cloned().map(ChartReading).collect()
    }
    /// When readings were missed (RFC 3339).
    async fn missed_at(&self) -> Vec<String> {
        self.0.missed.iter().map(DateTime::to_rfc3339).collect()
    }
    /// How it ended, once discharged.
    async fn outcome(&self) -> Option<VirtualWardOutcome> {
        self.0.discharged.map(|(o, _)| o.into())
    }
    /// When discharged (RFC 3339).
    async fn discharged_at(&self) -> Option<String> {
        self.0.discharged.map(|(_, at)| at.to_rfc3339())
    }
}
