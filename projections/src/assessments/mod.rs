//! The assessment read models (DESIGN.md §6) as one document [`Fold`]: every assessment as a
//! whole (sections, answers, versions, who saved and signed what and when, its state and
//! history), each patient's assessments, the assessments in progress per team and per
//! organisation, and the templates.
//!
//! | key | document |
//! | --- | --- |
//! | `assessment:{id}` | [`AssessmentDoc::Assessment`]: the assessment as a whole |
//! | `history:{id}` | [`AssessmentDoc::History`]: its steps, who and when |
//! | `patient:{nhs}` | [`AssessmentDoc::List`]: the patient's assessments, every state |
//! | `team:{id}` | [`AssessmentDoc::List`]: assessments answering the team's tasks, not yet accepted |
//! | `org:{ods}` | [`AssessmentDoc::List`]: the organisation's assessments, not yet accepted |
//! | `task:{id}` | [`AssessmentDoc::Task`]: a trusted-assessment task's team, and its assessments |
//! | `templates` | [`AssessmentDoc::Templates`]: every template's latest version |
//! | `template:{id}:{version}` | [`AssessmentDoc::Template`]: one version, whole |
//!
//! Reads the `template` and `assessment` streams, and the `task` streams for the team of a
//! trusted-assessment task (created, and handed off): an assessment answering it is listed
//! under that team, and moves with the task. Lists are the most recently changed first.

use std::collections::BTreeSet;

use careflow_domain::assessments::{AssessmentEvent, AssessmentStatus, Contributor};
use careflow_domain::tasks::{TaskEvent, TaskKind};
use careflow_eventstore::{Filter, RecordedEvent};
use chrono::{DateTime, Utc};

use crate::ProjectionError;
use crate::documents::{Docs, Fold, decode};

mod model;

pub use model::{
    AssessmentDoc, AssessmentRow, AssessmentStep, AssessmentView, DecisionView, SectionView, SignOffView,
    TemplateRow, TemplateView,
};

/// The model's name.
pub const NAME: &str = "assessments";

/// How many steps an assessment's history keeps: its start and the most recent others.
pub const MAX_HISTORY: usize = 500;

/// The key of every template's latest version.
pub const TEMPLATES_KEY: &str = "templates";

/// An assessment's key.
pub fn assessment_key(assessment_id: &str) -> String {
    format!("assessment:{assessment_id}")
}

/// An assessment's history's key.
pub fn history_key(assessment_id: &str) -> String {
    format!("history:{assessment_id}")
}

/// Adds `step` to the assessment's history, keeping its start and the most recent steps.
fn record(docs: &mut Docs<AssessmentDoc>, assessment_id: &str, step: AssessmentStep) {
    if let AssessmentDoc::History { steps } =
        docs.entry(&history_key(assessment_id), || AssessmentDoc::History { steps: Vec::new() })
    {
        steps.push(step);
        if steps.len() > MAX_HISTORY {
            // Keep the start (who, from which template) and the most recent steps.
            steps.remove(1);
        }
    }
}

/// A patient's assessments' key.
pub fn patient_key(nhs_number: &str) -> String {
    format!("patient:{nhs_number}")
}

/// A team's assessments in progress' key.
pub fn team_key(team_id: &str) -> String {
    format!("team:{team_id}")
}

/// An organisation's assessments in progress' key.
pub fn organisation_key(ods: &str) -> String {
    format!("org:{ods}")
}

/// A template version's key.
pub fn template_key(template_id: &str, version: u32) -> String {
    format!("template:{template_id}:{version}")
}

fn task_key(task_id: &str) -> String {
    format!("task:{task_id}")
}

/// The assessment fold.
#[derive(Debug, Clone, Copy, Default)]
pub struct AssessmentModel;

/// Puts `row` first in the list under `key` (or, `None`, takes assessment `id` out of it; an
/// emptied list is removed).
fn list(docs: &mut Docs<AssessmentDoc>, key: &str, id: &str, row: Option<&AssessmentRow>) {
    if row.is_none() && docs.get(key).is_none() {
        return;
    }
    let mut emptied = false;
    if let AssessmentDoc::List { rows } = docs.entry(key, || AssessmentDoc::List { rows: Vec::new() }) {
        rows.retain(|r| r.assessment_id != id);
        if let Some(row) = row {
            rows.insert(0, row.clone());
        }
        emptied = rows.is_empty();
    }
    if emptied {
        docs.remove(key);
    }
}

/// Files the assessment in every list that shows it, given how it was listed `before`.
fn file(docs: &mut Docs<AssessmentDoc>, before: Option<&AssessmentRow>, after: &AssessmentRow) {
    let id = after.assessment_id.as_str();
    let in_progress = after.status != AssessmentStatus::Accepted;
    list(docs, &patient_key(&after.nhs_number), id, Some(after));
    let org = organisation_key(&after.organisation);
    list(docs, &org, id, in_progress.then_some(after));
    if let Some(old) =
        before.and_then(|b| b.team_id.as_deref()).filter(|t| after.team_id.as_deref() != Some(*t))
    {
        list(docs, &team_key(old), id, None);
    }
    if let Some(team) = &after.team_id {
        list(docs, &team_key(team), id, in_progress.then_some(after));
    }
}

fn step(
    recorded: &RecordedEvent,
    event: &AssessmentEvent,
    by: &Contributor,
    at: DateTime<Utc>,
    section: Option<(&str, u32)>,
) -> AssessmentStep {
    AssessmentStep {
        position: recorded.position,
        at,
        event_type: event.event_type().to_owned(),
        by: by.user_id.to_string(),
        organisation: by.organisation.to_string(),
        section_id: section.map(|(s, _)| s.to_owned()),
        version: section.map(|(_, v)| v),
    }
}

impl AssessmentModel {
    fn template(docs: &mut Docs<AssessmentDoc>, event: &AssessmentEvent) {
        let AssessmentEvent::TemplatePublished { template_id, version, content, by, at } = event else {
            return;
        };
        let id = template_id.to_string();
        docs.put(
            template_key(&id, *version),
            AssessmentDoc::Template(Box::new(TemplateView {
                template_id: id.clone(),
                version: *version,
                content: content.clone(),
                by: by.clone(),
                at: *at,
            })),
        );
        if let AssessmentDoc::Templates { rows } =
            docs.entry(TEMPLATES_KEY, || AssessmentDoc::Templates { rows: Vec::new() })
        {
            let owner = rows.iter().find(|r| r.template_id == id).map(|r| r.organisation.clone());
            rows.retain(|r| r.template_id != id);
            let row = TemplateRow {
                template_id: id.clone(),
                version: *version,
                title: content.title.to_string(),
                organisation: owner.unwrap_or_else(|| by.organisation.to_string()),
                published_at: *at,
            };
            let at = rows.partition_point(|r| r.template_id < id);
            rows.insert(at, row);
        }
    }

    fn task(docs: &mut Docs<AssessmentDoc>, event: &TaskEvent) {
        match event {
            TaskEvent::TaskCreated { task_id, kind: TaskKind::TrustedAssessment, team_id, .. } => {
                docs.put(
                    task_key(&task_id.to_string()),
                    AssessmentDoc::Task { team_id: team_id.to_string(), assessments: BTreeSet::new() },
                );
            }
            TaskEvent::TaskHandOffAccepted { task_id, team_id, .. } => {
                let key = task_key(&task_id.to_string());
                let Some(AssessmentDoc::Task { assessments, .. }) = docs.get(&key).cloned() else { return };
                let team = team_id.to_string();
                docs.put(
                    key,
                    AssessmentDoc::Task { team_id: team.clone(), assessments: assessments.clone() },
                );
                for id in assessments {
                    let key = assessment_key(&id);
                    let Some(AssessmentDoc::Assessment(view)) = docs.get(&key).cloned() else { continue };
                    let before = view.row();
                    let mut view = *view;
                    view.team_id = Some(team.clone());
                    file(docs, Some(&before), &view.row());
                    docs.put(key, AssessmentDoc::Assessment(Box::new(view)));
                }
            }
            _ => {}
        }
    }

    fn started(docs: &mut Docs<AssessmentDoc>, recorded: &RecordedEvent, event: &AssessmentEvent) {
        let AssessmentEvent::AssessmentStarted {
            assessment_id,
            nhs_number,
            template_id,
            template_version,
            organisation,
            task_id,
            by,
            at,
        } = event
        else {
            return;
        };
        let id = assessment_id.to_string();
        let (title, required) = match docs.get(&template_key(template_id.as_str(), *template_version)) {
            Some(AssessmentDoc::Template(t)) => (
                t.content.title.to_string(),
                t.content.sections.iter().filter(|s| s.required).map(|s| s.id.to_string()).collect(),
            ),
            _ => (template_id.to_string(), Vec::new()),
        };
        let task = task_id.map(|t| t.to_string());
        let mut team_id = None;
        if let Some(key) = task.as_deref().map(task_key)
            && let Some(AssessmentDoc::Task { team_id: team, assessments }) = docs.get_mut(&key)
        {
            assessments.insert(id.clone());
            team_id = Some(team.clone());
        }
        let view = AssessmentView {
            assessment_id: id.clone(),
            nhs_number: nhs_number.to_string(),
            template_id: template_id.to_string(),
            template_version: *template_version,
            title,
            organisation: organisation.to_string(),
            task_id: task,
            team_id,
            status: AssessmentStatus::InProgress,
            started_by: by.clone(),
            started_at: *at,
            updated_at: *at,
            sections: Default::default(),
            required,
            submitted_to: BTreeSet::new(),
            submitted: None,
            accepted_by: BTreeSet::new(),
            returned: None,
            reopened: None,
        };
        record(docs, &id, step(recorded, event, by, *at, None));
        file(docs, None, &view.row());
        docs.put(assessment_key(&id), AssessmentDoc::Assessment(Box::new(view)));
    }

    fn changed(docs: &mut Docs<AssessmentDoc>, recorded: &RecordedEvent, event: &AssessmentEvent) {
        let Some(id) = assessment_of(event) else { return };
        let key = assessment_key(&id);
        // An event of an assessment never started: nothing to show it in.
        let Some(AssessmentDoc::Assessment(view)) = docs.get(&key) else { return };
        let mut view = (**view).clone();
        let before = view.row();
        let entry = match event {
            AssessmentEvent::SectionSaved { section_id, version, answers, by, at, .. } => {
                view.sections.insert(
                    section_id.to_string(),
                    SectionView {
                        version: *version,
                        answers: answers.clone(),
                        saved_by: by.clone(),
                        saved_at: *at,
                        sign_off: None,
                    },
                );
                step(recorded, event, by, *at, Some((section_id.as_str(), *version)))
            }
            AssessmentEvent::SectionSignedOff { section_id, version, by, at, .. } => {
                if let Some(section) = view.sections.get_mut(section_id.as_str()) {
                    section.sign_off = Some(SignOffView { version: *version, by: by.clone(), at: *at });
                }
                step(recorded, event, by, *at, Some((section_id.as_str(), *version)))
            }
            AssessmentEvent::AssessmentSubmitted { to, by, at, .. } => {
                view.status = AssessmentStatus::Submitted;
                view.submitted_to = to.iter().map(ToString::to_string).collect();
                view.submitted = Some((by.clone(), *at));
                view.accepted_by.clear();
                view.returned = None;
                step(recorded, event, by, *at, None)
            }
            AssessmentEvent::AssessmentReopened { reason, by, at, .. } => {
                view.status = AssessmentStatus::InProgress;
                view.accepted_by.clear();
                view.reopened = Some(DecisionView {
                    organisation: by.organisation.to_string(),
                    note: reason.to_string(),
                    by: by.clone(),
                    at: *at,
                });
                step(recorded, event, by, *at, None)
            }
            AssessmentEvent::AssessmentAccepted { organisation, by, at, .. } => {
                view.accepted_by.insert(organisation.to_string());
                if view.submitted_to.iter().all(|o| view.accepted_by.contains(o)) {
                    view.status = AssessmentStatus::Accepted;
                }
                step(recorded, event, by, *at, None)
            }
            AssessmentEvent::AssessmentReturned { organisation, reasons, by, at, .. } => {
                view.status = AssessmentStatus::Returned;
                view.accepted_by.clear();
                view.returned = Some(DecisionView {
                    organisation: organisation.to_string(),
                    note: reasons.to_string(),
                    by: by.clone(),
                    at: *at,
                });
                step(recorded, event, by, *at, None)
            }
            AssessmentEvent::TemplatePublished { .. } | AssessmentEvent::AssessmentStarted { .. } => return,
        };
        view.updated_at = entry.at;
        record(docs, &id, entry);
        file(docs, Some(&before), &view.row());
        docs.put(key, AssessmentDoc::Assessment(Box::new(view)));
    }
}

/// The assessment an event is about (`None` for a template's).
fn assessment_of(event: &AssessmentEvent) -> Option<String> {
    match event {
        AssessmentEvent::TemplatePublished { .. } => None,
        AssessmentEvent::AssessmentStarted { assessment_id, .. }
        | AssessmentEvent::SectionSaved { assessment_id, .. }
        | AssessmentEvent::SectionSignedOff { assessment_id, .. }
        | AssessmentEvent::AssessmentSubmitted { assessment_id, .. }
        | AssessmentEvent::AssessmentReopened { assessment_id, .. }
        | AssessmentEvent::AssessmentAccepted { assessment_id, .. }
        | AssessmentEvent::AssessmentReturned { assessment_id, .. } => Some(assessment_id.to_string()),
    }
}

impl Fold for AssessmentModel {
    type Doc = AssessmentDoc;

    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self) -> Filter {
        Filter::categories(["template", "assessment", "task"])
    }

    fn apply(&self, docs: &mut Docs<AssessmentDoc>, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if event.stream.category() == "task" {
            let decoded = decode::<TaskEvent>(event)?;
            Self::task(docs, &decoded);
            return Ok(());
        }
        let decoded = decode::<AssessmentEvent>(event)?;
        match &*decoded {
            AssessmentEvent::TemplatePublished { .. } => Self::template(docs, &decoded),
            AssessmentEvent::AssessmentStarted { .. } => Self::started(docs, event, &decoded),
            _ => Self::changed(docs, event, &decoded),
        }
        Ok(())
    }
}
