//! The patient summary's documents: what each key holds (see the parent module's table), and
//! what they answer (who is caring for a patient, their active flag kinds).

use std::collections::BTreeSet;

use careflow_domain::flags::{FlagKind, FlagSource, Severity};
use careflow_domain::patients::Demographics;
use careflow_domain::tasks::TaskKind;
use careflow_eventstore::{Position, RecordedEvent};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{MAX_TIMELINE, name_key, postcode_key};

/// One document of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "doc", rename_all = "snake_case")]
pub enum PatientDoc {
    /// A patient's summary.
    Summary(Box<PatientSummary>),
    /// An open stay's patient.
    Stay {
        /// The patient's NHS number.
        nhs_number: String,
    },
    /// An open task's patient.
    Task {
        /// The patient's NHS number.
        nhs_number: String,
    },
    /// A search index entry.
    Index {
        /// The patients it finds.
        nhs_numbers: BTreeSet<String>,
    },
}

/// What everyone caring for a patient sees first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatientSummary {
    /// The NHS number, 10 digits.
    pub nhs_number: String,
    /// Registered demographics (`None`: never registered, known only from other contexts).
    pub demographics: Option<DemographicsView>,
    /// The patient dissents from sharing their record.
    pub dissent: bool,
    /// The date of death, if recorded.
    pub date_of_death: Option<NaiveDate>,
    /// Every flag, in the order raised.
    pub flags: Vec<FlagView>,
    /// The open hospital stay, if any.
    pub stay: Option<StayView>,
    /// The open tasks about them, oldest first.
    #[serde(default)]
    pub tasks: Vec<OpenTaskView>,
    /// The patient's events, oldest first (the most recent [`MAX_TIMELINE`]).
    pub timeline: Vec<TimelineEntry>,
}

/// Demographics as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemographicsView {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth, if known.
    pub date_of_birth: Option<NaiveDate>,
    /// FHIR administrative gender code.
    pub gender: String,
    /// Postcode, if known.
    pub postcode: Option<String>,
    /// Registered GP practice (ODS code), if known.
    pub gp_practice: Option<String>,
}

/// A flag as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagView {
    /// Its id.
    pub flag_id: String,
    /// What it warns of.
    pub kind: FlagKind,
    /// The Clinical Frailty Scale score (frailty only).
    pub frailty_score: Option<u8>,
    /// How much it matters.
    pub severity: Severity,
    /// Why it was raised.
    pub reason: String,
    /// When it is next to be reviewed.
    pub review_on: Option<NaiveDate>,
    /// Who or what raised it.
    pub source: FlagSource,
    /// When it was raised.
    pub raised_at: DateTime<Utc>,
    /// When it was last reviewed.
    pub reviewed_at: Option<DateTime<Utc>>,
    /// When it was resolved (`None`: active).
    pub resolved_at: Option<DateTime<Utc>>,
    /// Why it was resolved.
    pub resolution: Option<String>,
}

impl FlagView {
    /// Whether the flag still applies.
    pub fn is_active(&self) -> bool {
        self.resolved_at.is_none()
    }
}

/// An open stay: where the patient is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StayView {
    /// The stay.
    pub stay_id: String,
    /// The site.
    pub site_id: String,
    /// The ward.
    pub ward_id: String,
    /// The bed.
    pub bed_id: String,
    /// The organisation whose bed it is, if recorded.
    pub organisation: Option<String>,
    /// When the stay began.
    pub admitted_at: DateTime<Utc>,
    /// The expected discharge date.
    pub expected_discharge_date: Option<NaiveDate>,
    /// The Discharge Ready Date, once medically optimised.
    pub discharge_ready_date: Option<NaiveDate>,
}

/// An open task about a patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenTaskView {
    /// The task.
    pub task_id: String,
    /// What to do.
    pub title: String,
    /// What kind of work.
    pub kind: TaskKind,
    /// The owning team.
    pub team_id: String,
    /// Its organisation.
    pub organisation: String,
    /// The organisation it is offered to, while a hand-off is pending.
    pub offered_to: Option<String>,
    /// When it is due.
    pub due: Option<DateTime<Utc>>,
    /// Whether it passed its due time undone.
    pub overdue: bool,
}

/// One event in a patient's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Its global position.
    pub position: Position,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The context that recorded it (`patients`, `flags`, `beds`).
    pub context: String,
    /// The event type.
    pub event_type: String,
    /// What happened, in a few words.
    pub summary: String,
}

impl PatientSummary {
    pub(super) fn new(nhs_number: &str) -> Self {
        Self { nhs_number: nhs_number.to_owned(), ..Self::default() }
    }

    /// The organisations with a direct care relationship: the one holding the open stay, the
    /// registered GP practice, and those holding (or offered) an open task about them.
    pub fn caring_organisations(&self) -> Vec<String> {
        let stay = self.stay.as_ref().and_then(|s| s.organisation.clone());
        let gp = self.demographics.as_ref().and_then(|d| d.gp_practice.clone());
        let tasks = self
            .tasks
            .iter()
            .flat_map(|t| std::iter::once(t.organisation.clone()).chain(t.offered_to.clone()));
        let mut caring: Vec<String> = Vec::new();
        for org in stay.into_iter().chain(gp).chain(tasks) {
            if !caring.contains(&org) {
                caring.push(org);
            }
        }
        caring
    }

    /// The kinds of the active flags, in kind order.
    pub fn active_flag_kinds(&self) -> Vec<FlagKind> {
        let kinds: BTreeSet<FlagKind> = self.flags.iter().filter(|f| f.is_active()).map(|f| f.kind).collect();
        kinds.into_iter().collect()
    }

    pub(super) fn record(
        &mut self,
        event: &RecordedEvent,
        context: &str,
        at: DateTime<Utc>,
        summary: String,
    ) {
        self.timeline.push(TimelineEntry {
            position: event.position,
            at,
            context: context.to_owned(),
            event_type: event.event_type.clone(),
            summary,
        });
        if self.timeline.len() > MAX_TIMELINE {
            let excess = self.timeline.len() - MAX_TIMELINE;
            self.timeline.drain(..excess);
        }
    }
}

impl DemographicsView {
    pub(super) fn of(demographics: &Demographics) -> Self {
        Self {
            given_name: demographics.name.given.clone(),
            family_name: demographics.name.family.clone(),
            date_of_birth: demographics.date_of_birth,
            gender: demographics.gender.fhir_code().to_owned(),
            postcode: demographics.postcode.as_ref().map(|p| p.as_str().to_owned()),
            gp_practice: demographics.gp_practice.as_ref().map(|g| g.as_str().to_owned()),
        }
    }

    /// The index keys that find this patient.
    pub(super) fn index_keys(&self) -> Vec<String> {
        let name = self.date_of_birth.map(|dob| name_key(&self.family_name, dob));
        let postcode = self.postcode.as_deref().map(postcode_key);
        name.into_iter().chain(postcode).collect()
    }
}
