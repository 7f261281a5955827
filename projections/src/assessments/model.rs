//! The assessment models' documents: what each key holds (see the parent module's table).

use std::collections::{BTreeMap, BTreeSet};

use careflow_domain::assessments::{Answers, AssessmentStatus, Contributor, TemplateContent};
use careflow_eventstore::Position;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One document of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "doc", rename_all = "snake_case")]
pub enum AssessmentDoc {
    /// An assessment as a whole.
    Assessment(Box<AssessmentView>),
    /// A list of assessments (a patient's; a team's or an organisation's in progress), the
    /// most recently changed first.
    List {
        /// The rows.
        rows: Vec<AssessmentRow>,
    },
    /// A trusted-assessment task: its team now, and the assessments answering it.
    Task {
        /// The team that owns it.
        team_id: String,
        /// The assessments started from it.
        assessments: BTreeSet<String>,
    },
    /// Every template's latest version.
    Templates {
        /// By template id.
        rows: Vec<TemplateRow>,
    },
    /// One version of a template, whole.
    Template(Box<TemplateView>),
    /// An assessment's history: its start and the most recent
    /// [`MAX_HISTORY`](super::MAX_HISTORY) − 1 steps, oldest first (apart from the assessment,
    /// so that a push of its every change does not carry it).
    History {
        /// The steps.
        steps: Vec<AssessmentStep>,
    },
}

/// A template's latest version, listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateRow {
    /// The template.
    pub template_id: String,
    /// Its latest version.
    pub version: u32,
    /// Its title.
    pub title: String,
    /// The organisation that owns it.
    pub organisation: String,
    /// When the version was published.
    pub published_at: DateTime<Utc>,
}

/// One version of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateView {
    /// The template.
    pub template_id: String,
    /// The version.
    pub version: u32,
    /// What it holds.
    pub content: TemplateContent,
    /// Who published it.
    pub by: Contributor,
    /// When.
    pub at: DateTime<Utc>,
}

/// A section's sign-off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignOffView {
    /// The version signed.
    pub version: u32,
    /// Who signed it.
    pub by: Contributor,
    /// When.
    pub at: DateTime<Utc>,
}

/// A section as last saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionView {
    /// Its version: 1 for the first save.
    pub version: u32,
    /// Its answers.
    pub answers: Answers,
    /// Who saved this version.
    pub saved_by: Contributor,
    /// When.
    pub saved_at: DateTime<Utc>,
    /// Its sign-off, while this version is signed.
    pub sign_off: Option<SignOffView>,
}

/// A decision on the assessment: a return (by a receiver, with reasons) or a reopening.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionView {
    /// The organisation that took it.
    pub organisation: String,
    /// Why.
    pub note: String,
    /// Who.
    pub by: Contributor,
    /// When.
    pub at: DateTime<Utc>,
}

/// One step of an assessment's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessmentStep {
    /// Its global position.
    pub position: Position,
    /// When.
    pub at: DateTime<Utc>,
    /// The event type.
    pub event_type: String,
    /// Who.
    pub by: String,
    /// Their organisation.
    pub organisation: String,
    /// The section, for a save or sign-off.
    pub section_id: Option<String>,
    /// Its version then.
    pub version: Option<u32>,
}

/// An assessment as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessmentView {
    /// Its id.
    pub assessment_id: String,
    /// The patient.
    pub nhs_number: String,
    /// Its template.
    pub template_id: String,
    /// The template's version it is pinned to.
    pub template_version: u32,
    /// The template's title.
    pub title: String,
    /// The assessing organisation.
    pub organisation: String,
    /// The task it answers.
    pub task_id: Option<String>,
    /// The team that owns that task (when it is a trusted-assessment task careflow knows).
    pub team_id: Option<String>,
    /// Where it is.
    pub status: AssessmentStatus,
    /// Who started it.
    pub started_by: Contributor,
    /// When.
    pub started_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The sections saved so far, by id.
    pub sections: BTreeMap<String, SectionView>,
    /// The required sections of its template, in order.
    pub required: Vec<String>,
    /// The organisations it was last submitted to.
    pub submitted_to: BTreeSet<String>,
    /// When it was last submitted, and by whom.
    pub submitted: Option<(Contributor, DateTime<Utc>)>,
    /// Those receivers that accepted it.
    pub accepted_by: BTreeSet<String>,
    /// The last return.
    pub returned: Option<DecisionView>,
    /// The last reopening.
    pub reopened: Option<DecisionView>,
}

impl AssessmentView {
    /// Whether `section` is signed off at its current version.
    pub fn signed(&self, section: &str) -> bool {
        self.sections
            .get(section)
            .is_some_and(|s| s.sign_off.as_ref().is_some_and(|o| o.version == s.version))
    }

    /// The assessment as listed.
    pub fn row(&self) -> AssessmentRow {
        AssessmentRow {
            assessment_id: self.assessment_id.clone(),
            nhs_number: self.nhs_number.clone(),
            template_id: self.template_id.clone(),
            title: self.title.clone(),
            organisation: self.organisation.clone(),
            task_id: self.task_id.clone(),
            team_id: self.team_id.clone(),
            status: self.status,
            required_signed: self.required.iter().filter(|s| self.signed(s)).count() as u32,
            required: self.required.len() as u32,
            updated_at: self.updated_at,
        }
    }
}

/// An assessment as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessmentRow {
    /// Its id.
    pub assessment_id: String,
    /// The patient.
    pub nhs_number: String,
    /// Its template.
    pub template_id: String,
    /// The template's title.
    pub title: String,
    /// The assessing organisation.
    pub organisation: String,
    /// The task it answers.
    #[serde(default)]
    pub task_id: Option<String>,
    /// The team whose task it answers.
    pub team_id: Option<String>,
    /// Where it is.
    pub status: AssessmentStatus,
    /// Required sections signed off at their current version.
    pub required_signed: u32,
    /// Required sections.
    pub required: u32,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}
