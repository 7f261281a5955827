//! Why the assessments context refuses a command. Nothing is written.

use chrono::{DateTime, Utc};

use super::{AssessmentId, AssessmentStatus, RoleName};
use crate::decider::{Refusal, RefusalKind};
use crate::tasks::UserId;
use crate::{NhsNumber, OdsCode, SectionId, TemplateId};

/// A command the assessments context refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssessmentError {
    /// The template content is not usable: every problem, by where it is.
    #[error("the template has problems: {}", describe(.0))]
    InvalidTemplate(Vec<(String, String)>),
    /// No such template (or version).
    #[error("template {template_id}{} does not exist", .version.map(|v| format!(" version {v}")).unwrap_or_default())]
    TemplateNotFound {
        /// The template.
        template_id: TemplateId,
        /// The version asked for.
        version: Option<u32>,
    },
    /// The patient is not in the MPI.
    #[error("the patient is not registered")]
    PatientNotRegistered {
        /// The patient.
        nhs_number: NhsNumber,
    },
    /// The patient has died.
    #[error("the patient's death is recorded: no assessment is started")]
    PatientDied {
        /// The patient.
        nhs_number: NhsNumber,
    },
    /// An assessment with this id exists.
    #[error("assessment {assessment_id} already exists")]
    AssessmentExists {
        /// The assessment.
        assessment_id: AssessmentId,
    },
    /// No such assessment.
    #[error("assessment {assessment_id} does not exist")]
    AssessmentNotFound {
        /// The assessment.
        assessment_id: AssessmentId,
    },
    /// The template has no such section.
    #[error("the assessment's template has no section {section_id}")]
    SectionNotFound {
        /// The section.
        section_id: SectionId,
    },
    /// The command does not fit the assessment's state.
    #[error("assessment is {}: cannot {action}", .status.as_str())]
    InvalidState {
        /// Its state.
        status: AssessmentStatus,
        /// What was attempted.
        action: &'static str,
    },
    /// The section was saved since the version the answers were based on.
    #[error(
        "section {section_id} was changed by {saved_by} at {saved_at} (version {current_version}); \
         these answers were based on version {base_version}: read it again and save on top"
    )]
    SectionConflict {
        /// The section.
        section_id: SectionId,
        /// The version the save was based on.
        base_version: u32,
        /// Its version now.
        current_version: u32,
        /// Who saved that version.
        saved_by: UserId,
        /// When.
        saved_at: DateTime<Utc>,
    },
    /// Answers that do not fit their questions: each, by question.
    #[error("answers do not fit their questions: {}", describe(.0))]
    InvalidAnswers(Vec<(String, String)>),
    /// The role may not do this to the section.
    #[error("role {role} may not {action} section {section_id}")]
    RoleMayNot {
        /// The role.
        role: RoleName,
        /// What was attempted.
        action: &'static str,
        /// The section.
        section_id: SectionId,
    },
    /// A sign-off of another version than the section's current one.
    #[error(
        "section {section_id} is at version {current_version}, not {version}: read it again before signing"
    )]
    SignOffStale {
        /// The section.
        section_id: SectionId,
        /// The version the signer saw.
        version: u32,
        /// Its version now.
        current_version: u32,
    },
    /// A sign-off of a section whose required questions are not all answered.
    #[error("section {section_id} cannot be signed off: {} unanswered", .unanswered.join(", "))]
    Unanswered {
        /// The section.
        section_id: SectionId,
        /// The required questions without an answer.
        unanswered: Vec<String>,
    },
    /// A submission before every required section is signed off.
    #[error("the assessment cannot be submitted: not signed off: {}", .sections.join(", "))]
    NotSignedOff {
        /// The required sections not signed off at their current version.
        sections: Vec<String>,
    },
    /// A submission to nobody.
    #[error("name at least one organisation to submit the assessment to")]
    NoReceivers,
    /// A submission to the assessing organisation itself.
    #[error(
        "{organisation} assessed the patient: submit the assessment to the organisations that receive it"
    )]
    SelfReceiver {
        /// The assessing organisation.
        organisation: OdsCode,
    },
    /// Accepting or returning by an organisation it was not submitted to.
    #[error("the assessment was not submitted to {organisation}: only its receivers may {action}")]
    NotAReceiver {
        /// The actor's organisation.
        organisation: OdsCode,
        /// What was attempted.
        action: &'static str,
    },
}

fn describe(problems: &[(String, String)]) -> String {
    problems.iter().map(|(field, problem)| format!("{field} {problem}")).collect::<Vec<_>>().join("; ")
}

impl Refusal for AssessmentError {
    fn kind(&self) -> RefusalKind {
        match self {
            Self::TemplateNotFound { .. }
            | Self::PatientNotRegistered { .. }
            | Self::AssessmentNotFound { .. }
            | Self::SectionNotFound { .. } => RefusalKind::NotFound,
            Self::AssessmentExists { .. } => RefusalKind::AlreadyExists,
            Self::RoleMayNot { .. } | Self::NotAReceiver { .. } => RefusalKind::Forbidden,
            Self::InvalidTemplate(_)
            | Self::InvalidAnswers(_)
            | Self::PatientDied { .. }
            | Self::InvalidState { .. }
            | Self::SectionConflict { .. }
            | Self::SignOffStale { .. }
            | Self::Unanswered { .. }
            | Self::NotSignedOff { .. }
            | Self::NoReceivers
            | Self::SelfReceiver { .. } => RefusalKind::Precondition,
        }
    }

    fn violations(&self) -> Vec<(String, String)> {
        match self {
            Self::InvalidTemplate(problems) => problems
                .iter()
                .map(|(field, problem)| (format!("content_json.{field}"), problem.clone()))
                .collect(),
            Self::InvalidAnswers(problems) => problems.clone(),
            _ => Vec::new(),
        }
    }

    fn reason(&self) -> Option<&'static str> {
        match self {
            Self::SectionConflict { .. } => Some(SECTION_CONFLICT),
            _ => None,
        }
    }
}

/// The reason a refused save carries when the section was saved since its base version.
pub const SECTION_CONFLICT: &str = "SECTION_CONFLICT";
