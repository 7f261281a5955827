//! The assessments context's folded state: a template's versions, and an assessment with its
//! sections.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Answers, AssessmentEvent, Contributor, TemplateContent};
use crate::beds::Note;
use crate::tasks::TaskId;
use crate::{NhsNumber, OdsCode, SectionId, TemplateId};

/// Every published version of one template.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateState {
    /// By version, from 1.
    pub versions: BTreeMap<u32, TemplateContent>,
    /// The organisation that published its first version: only it publishes the next.
    pub owner: Option<OdsCode>,
}

impl TemplateState {
    /// The latest version and its content.
    pub fn latest(&self) -> Option<(u32, &TemplateContent)> {
        self.versions.iter().next_back().map(|(v, c)| (*v, c))
    }
}

/// Where an assessment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssessmentStatus {
    /// Being completed.
    InProgress,
    /// Submitted, awaiting the receiving organisations.
    Submitted,
    /// Every receiving organisation accepted it.
    Accepted,
    /// A receiving organisation returned it: being corrected.
    Returned,
}

impl AssessmentStatus {
    /// As the refusals name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Submitted => "SUBMITTED",
            Self::Accepted => "ACCEPTED",
            Self::Returned => "RETURNED",
        }
    }

    /// Whether sections may be saved and signed off.
    pub fn editable(self) -> bool {
        matches!(self, Self::InProgress | Self::Returned)
    }
}

/// A sign-off of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOff {
    /// The version signed.
    pub version: u32,
    /// Who signed it.
    pub by: Contributor,
    /// When.
    pub at: DateTime<Utc>,
}

/// A section as saved.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Its version: 1 for the first save.
    pub version: u32,
    /// Its answers.
    pub answers: Answers,
    /// Who saved this version.
    pub saved_by: Contributor,
    /// When.
    pub saved_at: DateTime<Utc>,
    /// Its sign-off, if this version is signed.
    pub sign_off: Option<SignOff>,
}

/// An assessment.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The patient.
    pub nhs_number: NhsNumber,
    /// Its template.
    pub template_id: TemplateId,
    /// The template's version it is pinned to.
    pub template_version: u32,
    /// The organisation that started it (the assessing organisation).
    pub organisation: OdsCode,
    /// The task it answers.
    pub task_id: Option<TaskId>,
    /// Where it is.
    pub status: AssessmentStatus,
    /// The sections saved so far.
    pub sections: BTreeMap<SectionId, Section>,
    /// The organisations it was last submitted to.
    pub submitted_to: BTreeSet<OdsCode>,
    /// Those of them that accepted it.
    pub accepted_by: BTreeSet<OdsCode>,
    /// The last return: by whom, and why.
    pub returned: Option<(OdsCode, Note)>,
}

impl Assessment {
    /// A section's version (0: never saved).
    pub fn version_of(&self, section: &SectionId) -> u32 {
        self.sections.get(section).map_or(0, |s| s.version)
    }
}

/// One assessment stream: nothing yet, or the assessment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssessmentState {
    /// The assessment, once started.
    pub assessment: Option<Assessment>,
}

impl TemplateState {
    /// `evolve` for a template stream.
    pub fn evolve(&mut self, event: &AssessmentEvent) {
        if let AssessmentEvent::TemplatePublished { version, content, by, .. } = event {
            self.versions.insert(*version, content.clone());
            self.owner.get_or_insert_with(|| by.organisation.clone());
        }
    }
}

impl AssessmentState {
    /// `evolve` for an assessment stream.
    pub fn evolve(&mut self, event: &AssessmentEvent) {
        if let AssessmentEvent::AssessmentStarted {
            nhs_number,
            template_id,
            template_version,
            organisation,
            task_id,
            ..
        } = event
        {
            self.assessment = Some(Assessment {
                nhs_number: *nhs_number,
                template_id: template_id.clone(),
                template_version: *template_version,
                organisation: organisation.clone(),
                task_id: *task_id,
                status: AssessmentStatus::InProgress,
                sections: BTreeMap::new(),
                submitted_to: BTreeSet::new(),
                accepted_by: BTreeSet::new(),
                returned: None,
            });
            return;
        }
        let Some(a) = self.assessment.as_mut() else { return };
        match event {
            AssessmentEvent::SectionSaved { section_id, version, answers, by, at, .. } => {
                a.sections.insert(
                    section_id.clone(),
                    Section {
                        version: *version,
                        answers: answers.clone(),
                        saved_by: by.clone(),
                        saved_at: *at,
                        sign_off: None,
                    },
                );
            }
            AssessmentEvent::SectionSignedOff { section_id, version, by, at, .. } => {
                if let Some(section) = a.sections.get_mut(section_id) {
                    section.sign_off = Some(SignOff { version: *version, by: by.clone(), at: *at });
                }
            }
            AssessmentEvent::AssessmentSubmitted { to, .. } => {
                a.status = AssessmentStatus::Submitted;
                a.submitted_to = to.clone();
                a.accepted_by.clear();
                a.returned = None;
            }
            AssessmentEvent::AssessmentReopened { .. } => {
                a.status = AssessmentStatus::InProgress;
                a.accepted_by.clear();
            }
            AssessmentEvent::AssessmentAccepted { organisation, .. } => {
                a.accepted_by.insert(organisation.clone());
                if a.submitted_to.iter().all(|o| a.accepted_by.contains(o)) {
                    a.status = AssessmentStatus::Accepted;
                }
            }
            AssessmentEvent::AssessmentReturned { organisation, reasons, .. } => {
                a.status = AssessmentStatus::Returned;
                a.accepted_by.clear();
                a.returned = Some((organisation.clone(), reasons.clone()));
            }
            AssessmentEvent::TemplatePublished { .. } | AssessmentEvent::AssessmentStarted { .. } => {}
        }
    }
}
