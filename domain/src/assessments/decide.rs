//! The assessments context's decisions, on the streams a command needs.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::{
    AssessmentCommand, AssessmentError, AssessmentEvent, AssessmentState, AssessmentStatus, Contributor,
    SectionTemplate, TemplateContent, TemplateState,
};
use crate::patients::PatientState;

/// Decides `command` on the template it needs (`template`: the `template-<id>` stream), the
/// assessment and, to start one, the patient's MPI record.
pub fn decide(
    template: &TemplateState,
    assessment: &AssessmentState,
    patient: &PatientState,
    command: &AssessmentCommand,
    at: DateTime<Utc>,
) -> Result<Vec<AssessmentEvent>, AssessmentError> {
    use AssessmentCommand as C;
    use AssessmentError as E;
    match command {
        C::PublishTemplate { template_id, content, by } => {
            let problems = content.problems();
            if !problems.is_empty() {
                return Err(E::InvalidTemplate(problems));
            }
            // Publishing what is already the latest version is a retry: nothing new.
            if let Some((_, latest)) = template.latest()
                && latest == content
            {
                return Ok(Vec::new());
            }
            let version = template.latest().map_or(1, |(v, _)| v + 1);
            Ok(vec![AssessmentEvent::TemplatePublished {
                template_id: template_id.clone(),
                version,
                content: content.clone(),
                by: by.clone(),
                at,
            }])
        }
        C::Start { assessment_id, nhs_number, template_id, template_version, task_id, by } => {
            if assessment.assessment.is_some() {
                return Err(E::AssessmentExists { assessment_id: *assessment_id });
            }
            let version = match template_version {
                Some(v) if template.versions.contains_key(v) => *v,
                None if !template.versions.is_empty() => template.latest().map_or(1, |(v, _)| v),
                version => {
                    return Err(E::TemplateNotFound { template_id: template_id.clone(), version: *version });
                }
            };
            if patient.demographics.is_none() {
                return Err(E::PatientNotRegistered { nhs_number: *nhs_number });
            }
            if patient.date_of_death.is_some() {
                return Err(E::PatientDied { nhs_number: *nhs_number });
            }
            Ok(vec![AssessmentEvent::AssessmentStarted {
                assessment_id: *assessment_id,
                nhs_number: *nhs_number,
                template_id: template_id.clone(),
                template_version: version,
                organisation: by.organisation.clone(),
                task_id: *task_id,
                by: by.clone(),
                at,
            }])
        }
        C::SaveSection { assessment_id, section_id, base_version, answers, by } => {
            let (a, content) = started(template, assessment, *assessment_id)?;
            editable(a.status, "save a section")?;
            let section = section_of(content, section_id)?;
            may(&section.editors, by, "edit", section)?;
            let current = a.sections.get(section_id);
            let current_version = a.version_of(section_id);
            if *base_version != current_version {
                return Err(match current {
                    Some(current) => E::SectionConflict {
                        section_id: section_id.clone(),
                        base_version: *base_version,
                        current_version,
                        saved_by: current.saved_by.user_id.clone(),
                        saved_at: current.saved_at,
                    },
                    // A base version never saved: the client made it up.
                    None => E::InvalidAnswers(vec![(
                        "base_version".into(),
                        format!("section {section_id} has no version {base_version}; it has none yet (0)"),
                    )]),
                });
            }
            let mut problems = Vec::new();
            for (question_id, answer) in answers {
                match section.questions.iter().find(|q| &q.id == question_id) {
                    None => problems.push((
                        format!("answers.{question_id}"),
                        format!("is not a question of section {section_id}"),
                    )),
                    Some(question) => {
                        if let Err(problem) = question.check(answer) {
                            problems.push((format!("answers.{question_id}"), problem));
                        }
                    }
                }
            }
            if !problems.is_empty() {
                return Err(E::InvalidAnswers(problems));
            }
            // The same answers again: nothing changes (and a sign-off stands).
            if current.is_some_and(|c| &c.answers == answers) {
                return Ok(Vec::new());
            }
            Ok(vec![AssessmentEvent::SectionSaved {
                assessment_id: *assessment_id,
                section_id: section_id.clone(),
                version: current_version + 1,
                answers: answers.clone(),
                by: by.clone(),
                at,
            }])
        }
        C::SignOffSection { assessment_id, section_id, version, by } => {
            let (a, content) = started(template, assessment, *assessment_id)?;
            editable(a.status, "sign off a section")?;
            let section = section_of(content, section_id)?;
            may(&section.signers, by, "sign off", section)?;
            let current_version = a.version_of(section_id);
            if *version != current_version || current_version == 0 {
                return Err(E::SignOffStale {
                    section_id: section_id.clone(),
                    version: *version,
                    current_version,
                });
            }
            let saved = a.sections.get(section_id);
            if saved.and_then(|s| s.sign_off.as_ref()).is_some_and(|s| s.version == *version) {
                return Ok(Vec::new());
            }
            let unanswered: Vec<String> = section
                .questions
                .iter()
                .filter(|q| q.required)
                .filter(|q| saved.and_then(|s| s.answers.get(&q.id)).is_none_or(|answer| answer.is_blank()))
                .map(|q| q.id.to_string())
                .collect();
            if !unanswered.is_empty() {
                return Err(E::Unanswered { section_id: section_id.clone(), unanswered });
            }
            Ok(vec![AssessmentEvent::SectionSignedOff {
                assessment_id: *assessment_id,
                section_id: section_id.clone(),
                version: *version,
                by: by.clone(),
                at,
            }])
        }
        C::Submit { assessment_id, to, by } => {
            let (a, content) = started(template, assessment, *assessment_id)?;
            editable(a.status, "submit it")?;
            if to.is_empty() {
                return Err(E::NoReceivers);
            }
            // The receivers check the assessment: the assessing organisation is not one of them.
            if to.contains(&a.organisation) {
                return Err(E::SelfReceiver { organisation: a.organisation.clone() });
            }
            let missing: Vec<String> = content
                .sections
                .iter()
                .filter(|s| s.required)
                .filter(|s| {
                    a.sections.get(&s.id).is_none_or(|saved| {
                        saved.sign_off.as_ref().is_none_or(|o| o.version != saved.version)
                    })
                })
                .map(|s| s.id.to_string())
                .collect();
            if !missing.is_empty() {
                return Err(E::NotSignedOff { sections: missing });
            }
            Ok(vec![AssessmentEvent::AssessmentSubmitted {
                assessment_id: *assessment_id,
                to: to.clone(),
                by: by.clone(),
                at,
            }])
        }
        C::Reopen { assessment_id, reason, by } => {
            let (a, _) = started(template, assessment, *assessment_id)?;
            match a.status {
                AssessmentStatus::Submitted | AssessmentStatus::Accepted => {}
                status @ (AssessmentStatus::InProgress | AssessmentStatus::Returned) => {
                    return Err(E::InvalidState { status, action: "reopen it (it is open)" });
                }
            }
            Ok(vec![AssessmentEvent::AssessmentReopened {
                assessment_id: *assessment_id,
                reason: reason.clone(),
                by: by.clone(),
                at,
            }])
        }
        C::Accept { assessment_id, by } => {
            let (a, _) = started(template, assessment, *assessment_id)?;
            receiver(&a.submitted_to, by, "accept it")?;
            if a.accepted_by.contains(&by.organisation) && a.status != AssessmentStatus::Returned {
                return Ok(Vec::new());
            }
            if a.status != AssessmentStatus::Submitted {
                return Err(E::InvalidState { status: a.status, action: "accept it" });
            }
            Ok(vec![AssessmentEvent::AssessmentAccepted {
                assessment_id: *assessment_id,
                organisation: by.organisation.clone(),
                by: by.clone(),
                at,
            }])
        }
        C::Return { assessment_id, reasons, by } => {
            let (a, _) = started(template, assessment, *assessment_id)?;
            receiver(&a.submitted_to, by, "return it")?;
            if a.status != AssessmentStatus::Submitted {
                return Err(E::InvalidState { status: a.status, action: "return it" });
            }
            Ok(vec![AssessmentEvent::AssessmentReturned {
                assessment_id: *assessment_id,
                organisation: by.organisation.clone(),
                reasons: reasons.clone(),
                by: by.clone(),
                at,
            }])
        }
    }
}

/// The started assessment and the template version it is pinned to.
fn started<'a>(
    template: &'a TemplateState,
    assessment: &'a AssessmentState,
    assessment_id: super::AssessmentId,
) -> Result<(&'a super::Assessment, &'a TemplateContent), AssessmentError> {
    let a = assessment.assessment.as_ref().ok_or(AssessmentError::AssessmentNotFound { assessment_id })?;
    let content =
        template.versions.get(&a.template_version).ok_or_else(|| AssessmentError::TemplateNotFound {
            template_id: a.template_id.clone(),
            version: Some(a.template_version),
        })?;
    Ok((a, content))
}

fn editable(status: AssessmentStatus, action: &'static str) -> Result<(), AssessmentError> {
    if status.editable() { Ok(()) } else { Err(AssessmentError::InvalidState { status, action }) }
}

fn section_of<'a>(
    content: &'a TemplateContent,
    section_id: &crate::SectionId,
) -> Result<&'a SectionTemplate, AssessmentError> {
    content
        .section(section_id)
        .ok_or_else(|| AssessmentError::SectionNotFound { section_id: section_id.clone() })
}

fn may(
    roles: &BTreeSet<super::RoleName>,
    by: &Contributor,
    action: &'static str,
    section: &SectionTemplate,
) -> Result<(), AssessmentError> {
    if roles.contains(&by.role) {
        Ok(())
    } else {
        Err(AssessmentError::RoleMayNot { role: by.role.clone(), action, section_id: section.id.clone() })
    }
}

fn receiver(
    to: &BTreeSet<crate::OdsCode>,
    by: &Contributor,
    action: &'static str,
) -> Result<(), AssessmentError> {
    if to.contains(&by.organisation) {
        Ok(())
    } else {
        Err(AssessmentError::NotAReceiver { organisation: by.organisation.clone(), action })
    }
}
