//! The assessments context: one trusted assessment of a patient, completed together by the
//! professionals who own its sections (a ward nurse, a therapist, a council social worker), and
//! trusted by the organisations that receive it (DESIGN.md §4, §5).
//!
//! | stream | holds |
//! | --- | --- |
//! | `template-<id>` | every published version of an assessment template |
//! | `assessment-<uuid>` | one assessment, from start to acceptance |
//!
//! Rules: an assessment is pinned to the template version it started from. **Each section has
//! its own version**: a save names the version it was based on, so two people saving different
//! sections at once both succeed (the losing append is decided again and still fits), while the
//! second of two saves of one section is refused with the section's current version and who
//! saved it. Answers are checked against the template, each bad one named by its question; only
//! the section's editor roles save it and its signer roles sign it off, once its required
//! questions are answered; a save after a sign-off needs a new sign-off. Submitting needs every
//! required section signed off at its current version, and names the organisations that
//! receive the assessment; each of them accepts it or returns it with reasons (the provider's
//! right to refuse a flawed assessment), which makes it editable again. The assessing
//! organisation may reopen a submitted assessment, with a reason.

mod decide;
mod decider;
mod error;
#[cfg(test)]
mod scenarios;
mod state;
pub mod template;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use decide::decide;
pub use decider::{AssessmentStream, AssessmentStreamState, Assessments};
pub use error::{AssessmentError, SECTION_CONFLICT};
pub use state::{Assessment, AssessmentState, AssessmentStatus, Section, SignOff, TemplateState};
pub use template::{
    Answer, ChoiceOption, Question, QuestionKind, RoleName, ScoreLevel, SectionTemplate, TemplateContent,
};

use crate::beds::Note;
use crate::tasks::{TaskId, UserId};
use crate::{NhsNumber, OdsCode, QuestionId, SectionId, TemplateId};

/// An assessment: the same id from start to acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssessmentId(pub Uuid);

impl fmt::Display for AssessmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Who takes part: a person, in their role, for their organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contributor {
    /// Their user id.
    pub user_id: UserId,
    /// Their role (as the token names it).
    pub role: RoleName,
    /// Their organisation.
    pub organisation: OdsCode,
}

/// The answers of one section, by question.
pub type Answers = BTreeMap<QuestionId, Answer>;

/// Every command of the assessments context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum AssessmentCommand {
    /// Publish a template: its first version, or the next.
    PublishTemplate {
        /// The template.
        template_id: TemplateId,
        /// What it holds.
        content: TemplateContent,
        /// Who publishes it.
        by: Contributor,
    },
    /// Start an assessment of a patient from a template.
    Start {
        /// The new assessment's id.
        assessment_id: AssessmentId,
        /// The patient.
        nhs_number: NhsNumber,
        /// The template.
        template_id: TemplateId,
        /// Its version; `None`: the latest.
        template_version: Option<u32>,
        /// The task it answers (a discharge's "complete a trusted assessment"), if any.
        task_id: Option<TaskId>,
        /// Who starts it.
        by: Contributor,
    },
    /// Save a section's answers.
    SaveSection {
        /// The assessment.
        assessment_id: AssessmentId,
        /// The section.
        section_id: SectionId,
        /// The section's version the answers were based on (0: none saved yet).
        base_version: u32,
        /// Every answer of the section (a question left out is unanswered).
        answers: Answers,
        /// Who saves them.
        by: Contributor,
    },
    /// Sign a section off, as it is at `version`.
    SignOffSection {
        /// The assessment.
        assessment_id: AssessmentId,
        /// The section.
        section_id: SectionId,
        /// The version signed (what the signer saw).
        version: u32,
        /// Who signs.
        by: Contributor,
    },
    /// Submit the assessment to the organisations that receive it.
    Submit {
        /// The assessment.
        assessment_id: AssessmentId,
        /// The receiving organisations (a council, a care provider).
        to: BTreeSet<OdsCode>,
        /// Who submits it.
        by: Contributor,
    },
    /// Reopen a submitted assessment to change it.
    Reopen {
        /// The assessment.
        assessment_id: AssessmentId,
        /// Why.
        reason: Note,
        /// Who reopens it.
        by: Contributor,
    },
    /// A receiving organisation accepts the assessment.
    Accept {
        /// The assessment.
        assessment_id: AssessmentId,
        /// Who accepts it, for their organisation.
        by: Contributor,
    },
    /// A receiving organisation returns the assessment, saying what is wrong.
    Return {
        /// The assessment.
        assessment_id: AssessmentId,
        /// What must change.
        reasons: Note,
        /// Who returns it, for their organisation.
        by: Contributor,
    },
}

impl AssessmentCommand {
    /// The assessment the command is about (`None` for a template).
    pub fn assessment_id(&self) -> Option<AssessmentId> {
        match self {
            Self::PublishTemplate { .. } => None,
            Self::Start { assessment_id, .. }
            | Self::SaveSection { assessment_id, .. }
            | Self::SignOffSection { assessment_id, .. }
            | Self::Submit { assessment_id, .. }
            | Self::Reopen { assessment_id, .. }
            | Self::Accept { assessment_id, .. }
            | Self::Return { assessment_id, .. } => Some(*assessment_id),
        }
    }
}

/// Every event of the assessments context. Serialized with its type name in `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[allow(missing_docs)] // fields are named for what they hold
pub enum AssessmentEvent {
    /// A template's version was published, on `template-<id>`.
    TemplatePublished {
        template_id: TemplateId,
        version: u32,
        content: TemplateContent,
        by: Contributor,
        at: DateTime<Utc>,
    },
    /// An assessment was started.
    AssessmentStarted {
        assessment_id: AssessmentId,
        nhs_number: NhsNumber,
        template_id: TemplateId,
        template_version: u32,
        organisation: OdsCode,
        task_id: Option<TaskId>,
        by: Contributor,
        at: DateTime<Utc>,
    },
    /// A section's answers were saved: its new version (any sign-off of it lapses).
    SectionSaved {
        assessment_id: AssessmentId,
        section_id: SectionId,
        version: u32,
        answers: Answers,
        by: Contributor,
        at: DateTime<Utc>,
    },
    /// A section was signed off as it is at `version`.
    SectionSignedOff {
        assessment_id: AssessmentId,
        section_id: SectionId,
        version: u32,
        by: Contributor,
        at: DateTime<Utc>,
    },
    /// The assessment was submitted to the organisations that receive it.
    AssessmentSubmitted {
        assessment_id: AssessmentId,
        to: BTreeSet<OdsCode>,
        by: Contributor,
        at: DateTime<Utc>,
    },
    /// The assessment was reopened: editable again; earlier decisions on it lapse.
    AssessmentReopened { assessment_id: AssessmentId, reason: Note, by: Contributor, at: DateTime<Utc> },
    /// A receiving organisation accepted it.
    AssessmentAccepted {
        assessment_id: AssessmentId,
        organisation: OdsCode,
        by: Contributor,
        at: DateTime<Utc>,
    },
    /// A receiving organisation returned it: editable again, to be submitted anew.
    AssessmentReturned {
        assessment_id: AssessmentId,
        organisation: OdsCode,
        reasons: Note,
        by: Contributor,
        at: DateTime<Utc>,
    },
}

impl AssessmentEvent {
    /// The schema version of the events' data.
    pub const SCHEMA_VERSION: u32 = 1;

    /// The event's type name, as stored.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::TemplatePublished { .. } => "TemplatePublished",
            Self::AssessmentStarted { .. } => "AssessmentStarted",
            Self::SectionSaved { .. } => "SectionSaved",
            Self::SectionSignedOff { .. } => "SectionSignedOff",
            Self::AssessmentSubmitted { .. } => "AssessmentSubmitted",
            Self::AssessmentReopened { .. } => "AssessmentReopened",
            Self::AssessmentAccepted { .. } => "AssessmentAccepted",
            Self::AssessmentReturned { .. } => "AssessmentReturned",
        }
    }

    /// The stream it belongs to.
    pub fn stream(&self) -> AssessmentStream {
        match self {
            Self::TemplatePublished { template_id, .. } => AssessmentStream::Template(template_id.clone()),
            Self::AssessmentStarted { assessment_id, .. }
            | Self::SectionSaved { assessment_id, .. }
            | Self::SectionSignedOff { assessment_id, .. }
            | Self::AssessmentSubmitted { assessment_id, .. }
            | Self::AssessmentReopened { assessment_id, .. }
            | Self::AssessmentAccepted { assessment_id, .. }
            | Self::AssessmentReturned { assessment_id, .. } => AssessmentStream::Assessment(*assessment_id),
        }
    }
}
