//! The virtual-ward models' documents: what each key holds (see the parent module's table).

use careflow_domain::tasks::{Priority, TaskKind};
use careflow_domain::virtualwards::{
    AdmissionRoute, CarePathway, MonitoringPlan, News2, Observations, ReadingSource, Risk, Spo2Scale,
    VirtualWardOutcome,
};
use careflow_eventstore::Position;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One document of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "doc", rename_all = "snake_case")]
pub enum VirtualWardDoc {
    /// Every virtual ward, by id.
    Wards {
        /// The wards.
        rows: Vec<WardRow>,
    },
    /// A ward's census: which admissions are on it, in admission order.
    Census {
        /// The ward.
        ward: WardRow,
        /// Its open admissions.
        admissions: Vec<String>,
    },
    /// One patient's row on the census.
    Row(Box<CensusRow>),
    /// One admission's observation chart.
    Chart(Box<ChartView>),
    /// A task raised for an admission (to find its row again when it is done).
    Task {
        /// The admission.
        admission_id: String,
    },
}

/// A virtual ward, listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WardRow {
    /// The ward.
    pub ward_id: String,
    /// Its site.
    pub site_id: String,
    /// Its organisation.
    pub organisation: String,
    /// Its name.
    pub name: String,
    /// What it looks after.
    pub pathway: CarePathway,
    /// Its virtual beds.
    pub beds: u16,
    /// How many are taken.
    pub occupied: u16,
}

/// A reading's score, in brief.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreView {
    /// The total.
    pub total: u8,
    /// The clinical risk.
    pub risk: Risk,
    /// Whether every parameter was scored.
    pub complete: bool,
    /// When the reading was taken.
    pub taken_at: DateTime<Utc>,
}

/// An open task of an admission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenTaskView {
    /// The task.
    pub task_id: String,
    /// What kind of task.
    pub kind: TaskKind,
    /// How soon.
    pub priority: Priority,
    /// Its title.
    pub title: String,
    /// When it is due.
    pub due: Option<DateTime<Utc>>,
}

/// How many of the latest scores the census's trend shows.
pub const TREND: usize = 6;

/// One patient on a virtual ward's census.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CensusRow {
    /// The admission.
    pub admission_id: String,
    /// The ward.
    pub ward_id: String,
    /// Its organisation.
    pub organisation: String,
    /// The patient.
    pub nhs_number: String,
    /// Their given name(s).
    pub given: String,
    /// Their family name.
    pub family: String,
    /// How they came.
    pub route: AdmissionRoute,
    /// When admitted.
    pub admitted_at: DateTime<Utc>,
    /// How often a reading is due, in minutes.
    pub every_minutes: u32,
    /// The SpO2 scale.
    pub spo2_scale: Spo2Scale,
    /// The latest reading's score.
    pub latest: Option<ScoreView>,
    /// The totals of the latest readings, oldest first (at most [`TREND`]).
    pub trend: Vec<u8>,
    /// When the next reading is missed.
    pub next_due: DateTime<Utc>,
    /// Readings missed in a row.
    pub missed: u32,
    /// Open tasks raised for the admission.
    pub open_tasks: Vec<OpenTaskView>,
    /// Position of the last event that changed the row.
    pub position: Position,
}

/// One reading on the chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartPoint {
    /// Its id.
    pub reading_id: String,
    /// When taken.
    pub taken_at: DateTime<Utc>,
    /// From where.
    pub source: ReadingSource,
    /// What was observed.
    pub observations: Observations,
    /// Its score.
    pub news2: News2,
}

/// How many readings a chart keeps: the most recent (every 15 minutes for 5 days, every 8 hours for 5 months; the log keeps them all).
pub const MAX_CHART: usize = 500;

/// An admission's observation chart: the plan and every reading, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartView {
    /// The admission.
    pub admission_id: String,
    /// The ward.
    pub ward_id: String,
    /// Its organisation.
    pub organisation: String,
    /// The patient.
    pub nhs_number: String,
    /// How they came.
    pub route: AdmissionRoute,
    /// When admitted.
    pub admitted_at: DateTime<Utc>,
    /// The plan now.
    pub plan: MonitoringPlan,
    /// The readings, by when they were taken (at most [`MAX_CHART`]).
    pub readings: Vec<ChartPoint>,
    /// When readings were missed.
    pub missed: Vec<DateTime<Utc>>,
    /// How it ended, once discharged, and when.
    pub discharged: Option<(VirtualWardOutcome, DateTime<Utc>)>,
}
