//! The virtual wards context (hospital at home, DESIGN.md §4, §5): patients monitored in their
//! own homes, sending observation sets that are scored with [NEWS2](news2) as they arrive.
//!
//! | stream | holds |
//! | --- | --- |
//! | `virtualward-<id>` | a virtual ward's configuration (organisation, site, pathway, virtual beds) and which admissions hold its beds |
//! | `vw-admission-<uuid>` | one admission, from admission to discharge: its monitoring plan, every reading and its score, missed readings |
//!
//! Rules: a virtual ward belongs to the organisation of its site, and its beds count in that
//! site's capacity apart from the real ones. Admitting takes one of its virtual beds (never
//! more than it has; a patient once per ward), step-up from home or step-down from a hospital
//! stay of the same patient; the admission carries a monitoring plan: which observations, how
//! often, the SpO2 scale, whom to call. **Every reading is scored when recorded**, and recorded
//! once: a reading id seen before is a duplicate, whatever else it says (a device that
//! reconnects resends). A reading is **due** every plan interval after the latest one (or the
//! admission), and **missed** a grace period later (a quarter of the interval, at most an
//! hour); careflow's clock marks it missed, and again each interval after, until a reading
//! arrives. Every event that moves the next due time says it (`next_due`), so the clock needs
//! no state of its own.

mod decider;
mod error;
pub mod news2;
#[cfg(test)]
mod scenarios;
mod state;

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use decider::{VirtualWardStream, VirtualWardStreamEvent, VirtualWardStreamState, VirtualWards};
pub use error::VirtualWardError;
pub use news2::{Acvpu, News2, Observations, Parameter, Risk, Spo2Scale, Temperature};
pub use state::{AdmissionState, OpenAdmission, VirtualWardConfig, VirtualWardState};

use crate::beds::{Label, Note, PatientName, ValueError};
use crate::tasks::UserId;
use crate::{NhsNumber, OdsCode, SiteId, StayId, WardId};

/// A virtual-ward admission: the same id from admission to discharge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AdmissionId(pub Uuid);

impl fmt::Display for AdmissionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A reading, as its device or app names it: recorded once, whatever is resent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReadingId(pub Uuid);

impl fmt::Display for ReadingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a virtual ward looks after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CarePathway {
    /// Frailty (step-up from home, often).
    Frailty,
    /// Respiratory (COPD, pneumonia, COVID-19).
    Respiratory,
    /// Heart failure.
    HeartFailure,
    /// Anything else.
    Other,
}

/// How a patient came to the virtual ward.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "route", rename_all = "snake_case")]
pub enum AdmissionRoute {
    /// From home, instead of a hospital admission.
    StepUp,
    /// From a hospital stay, to leave hospital sooner.
    StepDown {
        /// The stay it follows.
        stay_id: StayId,
    },
}

/// Where a reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReadingSource {
    /// The patient (or a carer) entering it in the app.
    PatientApp,
    /// A connected device, through a device gateway.
    Device,
    /// A clinician on a visit or a call.
    Clinician,
}

/// How a virtual-ward admission ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VirtualWardOutcome {
    /// Monitoring completed: the patient is well enough to stop.
    Completed,
    /// Admitted to hospital.
    AdmittedToHospital,
    /// The patient died.
    Died,
    /// The patient withdrew.
    Withdrew,
}

/// A telephone number: 6–20 digits, with spaces, `+`, `-` and brackets as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parses a telephone number.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(ValueError::Empty);
        }
        if input.chars().count() > 30 {
            return Err(ValueError::TooLong { max: 30 });
        }
        let digits = input.chars().filter(char::is_ascii_digit).count();
        let allowed = input.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'));
        if !allowed || !(6..=20).contains(&digits) {
            return Err(ValueError::Malformed { expected: "a telephone number of 6–20 digits" });
        }
        Ok(Self(input.to_owned()))
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Phone> for String {
    fn from(value: Phone) -> Self {
        value.0
    }
}

/// Whom to call when the patient deteriorates (a relative, the GP, a community team).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EscalationContact {
    /// Their name.
    pub name: Label,
    /// Who they are to the patient ("daughter", "GP surgery").
    pub relationship: Label,
    /// Their number.
    pub phone: Phone,
}

/// How a patient is monitored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MonitoringPlan {
    /// Which observations each reading should hold.
    pub observations: BTreeSet<Parameter>,
    /// How often a reading is due, in minutes.
    pub every_minutes: u32,
    /// The SpO2 scale (2 only as a clinician sets it, for a target of 88–92%).
    pub spo2_scale: Spo2Scale,
    /// Whom to call, in order.
    pub escalation_contacts: Vec<EscalationContact>,
}

impl MonitoringPlan {
    /// The shortest interval between readings, in minutes.
    pub const MIN_EVERY_MINUTES: u32 = 15;
    /// The longest (a week).
    pub const MAX_EVERY_MINUTES: u32 = 7 * 24 * 60;
    /// The most escalation contacts.
    pub const MAX_CONTACTS: usize = 5;

    /// A plan, checked: at least one observation, an interval of 15 minutes to a week, at most
    /// five contacts. The error names the part that is wrong.
    pub fn new(
        observations: BTreeSet<Parameter>,
        every_minutes: u32,
        spo2_scale: Spo2Scale,
        escalation_contacts: Vec<EscalationContact>,
    ) -> Result<Self, (&'static str, String)> {
        if observations.is_empty() {
            return Err(("observations", "must name at least one observation".into()));
        }
        if !(Self::MIN_EVERY_MINUTES..=Self::MAX_EVERY_MINUTES).contains(&every_minutes) {
            return Err((
                "every_minutes",
                format!(
                    "must be {}–{} minutes (15 minutes to a week)",
                    Self::MIN_EVERY_MINUTES,
                    Self::MAX_EVERY_MINUTES
                ),
            ));
        }
        if escalation_contacts.len() > Self::MAX_CONTACTS {
            return Err(("escalation_contacts", format!("may name at most {} contacts", Self::MAX_CONTACTS)));
        }
        Ok(Self { observations, every_minutes, spo2_scale, escalation_contacts })
    }

    /// The interval between readings.
    pub fn every(&self) -> Duration {
        Duration::minutes(i64::from(self.every_minutes))
    }

    /// How late a reading may be before it is missed: a quarter of the interval, at most an
    /// hour.
    pub fn grace(&self) -> Duration {
        (self.every() / 4).min(Duration::hours(1))
    }

    /// When the reading after `since` (the latest reading, or the admission) is missed, given
    /// `missed` intervals already marked missed since then.
    pub fn missed_at(&self, since: DateTime<Utc>, missed: u32) -> DateTime<Utc> {
        since + self.every() * (i32::try_from(missed).unwrap_or(i32::MAX - 1) + 1) + self.grace()
    }
}

/// One reading: an observation set, when it was taken, and by what.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reading {
    /// Its id, from the device or app.
    pub reading_id: ReadingId,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
    /// Where it came from.
    pub source: ReadingSource,
    /// What was observed (at least one parameter).
    pub observations: Observations,
}

/// Every command of the virtual wards context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum VirtualWardCommand {
    /// Configure a virtual ward on a site, or change its name, pathway or beds.
    Configure {
        /// The ward.
        ward_id: WardId,
        /// Its site (whose organisation owns it).
        site_id: SiteId,
        /// Its name.
        name: Label,
        /// What it looks after.
        pathway: CarePathway,
        /// Its virtual beds.
        beds: u16,
    },
    /// Admit a patient to a virtual ward.
    Admit {
        /// The new admission.
        admission_id: AdmissionId,
        /// The virtual ward.
        ward_id: WardId,
        /// The patient.
        nhs_number: NhsNumber,
        /// From home, or from a hospital stay.
        route: AdmissionRoute,
        /// How they are monitored.
        plan: MonitoringPlan,
        /// Who admits them.
        by: UserId,
    },
    /// Change an admission's monitoring plan.
    ChangePlan {
        /// The admission.
        admission_id: AdmissionId,
        /// The plan from now on.
        plan: MonitoringPlan,
        /// Who changes it.
        by: UserId,
    },
    /// Record readings of one admission (a batch from a device gateway, or one set).
    Record {
        /// The admission.
        admission_id: AdmissionId,
        /// The readings, each scored as recorded.
        readings: Vec<Reading>,
    },
    /// careflow's clock: the reading due by `due` has not arrived.
    MarkReadingMissed {
        /// The admission.
        admission_id: AdmissionId,
        /// When it became missed, as the admission last said (`next_due`).
        due: DateTime<Utc>,
    },
    /// Discharge a patient from the virtual ward.
    Discharge {
        /// The admission.
        admission_id: AdmissionId,
        /// How it ended.
        outcome: VirtualWardOutcome,
        /// Anything to add.
        note: Option<Note>,
        /// Who discharges them.
        by: UserId,
    },
}

impl VirtualWardCommand {
    /// The admission the command is about (`None` for configuring a ward).
    pub fn admission_id(&self) -> Option<AdmissionId> {
        match self {
            Self::Configure { .. } => None,
            Self::Admit { admission_id, .. }
            | Self::ChangePlan { admission_id, .. }
            | Self::Record { admission_id, .. }
            | Self::MarkReadingMissed { admission_id, .. }
            | Self::Discharge { admission_id, .. } => Some(*admission_id),
        }
    }
}

/// Every event of the virtual wards context. Serialized with its type name in `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[allow(missing_docs)] // fields are named for what they hold
pub enum VirtualWardEvent {
    /// A virtual ward was configured, on `virtualward-<id>`.
    VirtualWardConfigured {
        ward_id: WardId,
        site_id: SiteId,
        organisation: OdsCode,
        name: Label,
        pathway: CarePathway,
        beds: u16,
        at: DateTime<Utc>,
    },
    /// Its name, pathway or number of beds changed.
    VirtualWardChanged { ward_id: WardId, name: Label, pathway: CarePathway, beds: u16, at: DateTime<Utc> },
    /// An admission took one of its beds (on the ward's stream).
    VirtualBedTaken { ward_id: WardId, admission_id: AdmissionId, nhs_number: NhsNumber, at: DateTime<Utc> },
    /// A discharge freed it.
    VirtualBedFreed { ward_id: WardId, admission_id: AdmissionId, at: DateTime<Utc> },
    /// A patient was admitted, on `vw-admission-<id>`.
    AdmittedToVirtualWard {
        admission_id: AdmissionId,
        ward_id: WardId,
        organisation: OdsCode,
        nhs_number: NhsNumber,
        patient: PatientName,
        #[serde(flatten)]
        route: AdmissionRoute,
        plan: MonitoringPlan,
        by: UserId,
        at: DateTime<Utc>,
        /// When the first reading is missed.
        next_due: DateTime<Utc>,
    },
    /// The monitoring plan changed.
    MonitoringPlanChanged {
        admission_id: AdmissionId,
        plan: MonitoringPlan,
        by: UserId,
        at: DateTime<Utc>,
        next_due: DateTime<Utc>,
    },
    /// A reading was recorded and scored.
    ObservationsRecorded {
        admission_id: AdmissionId,
        reading_id: ReadingId,
        taken_at: DateTime<Utc>,
        source: ReadingSource,
        observations: Observations,
        spo2_scale: Spo2Scale,
        news2: News2,
        /// Whether it is the latest reading (one taken earlier may arrive late).
        latest: bool,
        at: DateTime<Utc>,
        next_due: DateTime<Utc>,
    },
    /// A due reading did not arrive; `missed` in a row now.
    ReadingMissed { admission_id: AdmissionId, due: DateTime<Utc>, missed: u32, next_due: DateTime<Utc> },
    /// The patient was discharged from the virtual ward.
    DischargedFromVirtualWard {
        admission_id: AdmissionId,
        ward_id: WardId,
        outcome: VirtualWardOutcome,
        note: Option<Note>,
        by: UserId,
        at: DateTime<Utc>,
    },
}

impl VirtualWardEvent {
    /// The schema version of the events' data.
    pub const SCHEMA_VERSION: u32 = 1;

    /// The event's type name, as stored.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::VirtualWardConfigured { .. } => "VirtualWardConfigured",
            Self::VirtualWardChanged { .. } => "VirtualWardChanged",
            Self::VirtualBedTaken { .. } => "VirtualBedTaken",
            Self::VirtualBedFreed { .. } => "VirtualBedFreed",
            Self::AdmittedToVirtualWard { .. } => "AdmittedToVirtualWard",
            Self::MonitoringPlanChanged { .. } => "MonitoringPlanChanged",
            Self::ObservationsRecorded { .. } => "ObservationsRecorded",
            Self::ReadingMissed { .. } => "ReadingMissed",
            Self::DischargedFromVirtualWard { .. } => "DischargedFromVirtualWard",
        }
    }

    /// The stream it belongs to.
    pub fn stream(&self) -> VirtualWardStream {
        match self {
            Self::VirtualWardConfigured { ward_id, .. }
            | Self::VirtualWardChanged { ward_id, .. }
            | Self::VirtualBedTaken { ward_id, .. }
            | Self::VirtualBedFreed { ward_id, .. } => VirtualWardStream::Ward(ward_id.clone()),
            Self::AdmittedToVirtualWard { admission_id, .. }
            | Self::MonitoringPlanChanged { admission_id, .. }
            | Self::ObservationsRecorded { admission_id, .. }
            | Self::ReadingMissed { admission_id, .. }
            | Self::DischargedFromVirtualWard { admission_id, .. } => {
                VirtualWardStream::Admission(*admission_id)
            }
        }
    }

    /// The admission it is about, if any.
    pub fn admission_id(&self) -> Option<AdmissionId> {
        match self {
            Self::VirtualWardConfigured { .. } | Self::VirtualWardChanged { .. } => None,
            Self::VirtualBedTaken { admission_id, .. }
            | Self::VirtualBedFreed { admission_id, .. }
            | Self::AdmittedToVirtualWard { admission_id, .. }
            | Self::MonitoringPlanChanged { admission_id, .. }
            | Self::ObservationsRecorded { admission_id, .. }
            | Self::ReadingMissed { admission_id, .. }
            | Self::DischargedFromVirtualWard { admission_id, .. } => Some(*admission_id),
        }
    }
}
