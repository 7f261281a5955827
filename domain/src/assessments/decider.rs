//! The assessments context as a [`Decider`]: its streams, what each command reads, and whose
//! the things it touches are.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Assessment, AssessmentCommand, AssessmentError, AssessmentEvent, AssessmentId, AssessmentState,
    TemplateState, decide,
};
use crate::decider::{Decider, Loaded, Owner};
use crate::patients::{PatientEvent, PatientState};
use crate::{NhsNumber, TemplateId};

/// A stream an assessments decision reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AssessmentStream {
    /// `template-<id>`: every version of a template.
    Template(TemplateId),
    /// `assessment-<uuid>`.
    Assessment(AssessmentId),
    /// `patient-<nhs>`: the patient in the MPI (read only, to start an assessment).
    Patient(NhsNumber),
}

/// The state of a stream an assessments decision reads.
#[derive(Debug, Clone, PartialEq)]
pub enum AssessmentStreamState {
    /// A template.
    Template(TemplateState),
    /// An assessment.
    Assessment(AssessmentState),
    /// A patient in the MPI.
    Patient(PatientState),
}

/// An event on a stream an assessments decision reads. Stored as the event itself (its `type`
/// tells which), so this enum is untagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AssessmentStreamEvent {
    /// An assessments event.
    Assessment(AssessmentEvent),
    /// A patients (MPI) event.
    Patient(PatientEvent),
}

/// The assessments context as a [`Decider`].
#[derive(Debug, Clone, Copy)]
pub struct Assessments;

fn assessment_of<'a>(loaded: &'a Loaded<Assessments>, command: &AssessmentCommand) -> Option<&'a Assessment> {
    match loaded.get(&AssessmentStream::Assessment(command.assessment_id()?)) {
        Some(AssessmentStreamState::Assessment(state)) => state.assessment.as_ref(),
        _ => None,
    }
}

impl Decider for Assessments {
    type Command = AssessmentCommand;
    type Event = AssessmentStreamEvent;
    type Stream = AssessmentStream;
    type State = AssessmentStreamState;
    type Error = AssessmentError;

    const CONTEXT: &'static str = "assessments";
    const SCHEMA_VERSION: u32 = AssessmentEvent::SCHEMA_VERSION;
    const CATEGORIES: &'static [&'static str] = &["template", "assessment"];

    fn command_name(command: &AssessmentCommand) -> &'static str {
        match command {
            AssessmentCommand::PublishTemplate { .. } => "PublishAssessmentTemplate",
            AssessmentCommand::Start { .. } => "StartAssessment",
            AssessmentCommand::SaveSection { .. } => "SaveAssessmentSection",
            AssessmentCommand::SignOffSection { .. } => "SignOffAssessmentSection",
            AssessmentCommand::Submit { .. } => "SubmitAssessment",
            AssessmentCommand::Reopen { .. } => "ReopenAssessment",
            AssessmentCommand::Accept { .. } => "AcceptAssessment",
            AssessmentCommand::Return { .. } => "ReturnAssessment",
        }
    }

    fn stream_name(stream: &AssessmentStream) -> String {
        match stream {
            AssessmentStream::Template(id) => format!("template-{id}"),
            AssessmentStream::Assessment(id) => format!("assessment-{id}"),
            AssessmentStream::Patient(nhs) => format!("patient-{nhs}"),
        }
    }

    fn stream_of(event: &AssessmentStreamEvent) -> AssessmentStream {
        match event {
            AssessmentStreamEvent::Assessment(e) => e.stream(),
            AssessmentStreamEvent::Patient(e) => AssessmentStream::Patient(e.nhs_number()),
        }
    }

    fn event_type(event: &AssessmentStreamEvent) -> &'static str {
        match event {
            AssessmentStreamEvent::Assessment(e) => e.event_type(),
            AssessmentStreamEvent::Patient(e) => e.event_type(),
        }
    }

    fn initial(stream: &AssessmentStream) -> AssessmentStreamState {
        match stream {
            AssessmentStream::Template(_) => AssessmentStreamState::Template(TemplateState::default()),
            AssessmentStream::Assessment(_) => AssessmentStreamState::Assessment(AssessmentState::default()),
            AssessmentStream::Patient(_) => AssessmentStreamState::Patient(PatientState::default()),
        }
    }

    fn evolve(state: &mut AssessmentStreamState, event: &AssessmentStreamEvent) {
        match (state, event) {
            (AssessmentStreamState::Template(t), AssessmentStreamEvent::Assessment(e)) => t.evolve(e),
            (AssessmentStreamState::Assessment(a), AssessmentStreamEvent::Assessment(e)) => a.evolve(e),
            (AssessmentStreamState::Patient(p), AssessmentStreamEvent::Patient(e)) => p.evolve(e),
            (
                AssessmentStreamState::Template(_) | AssessmentStreamState::Assessment(_),
                AssessmentStreamEvent::Patient(_),
            )
            | (AssessmentStreamState::Patient(_), AssessmentStreamEvent::Assessment(_)) => {}
        }
    }

    /// A template command reads its template; starting reads the template, the (new) assessment
    /// and the patient; every other command reads the assessment, then the template it is
    /// pinned to.
    fn streams(command: &AssessmentCommand, loaded: &Loaded<Self>) -> Vec<AssessmentStream> {
        match command {
            AssessmentCommand::PublishTemplate { template_id, .. } => {
                vec![AssessmentStream::Template(template_id.clone())]
            }
            AssessmentCommand::Start { assessment_id, nhs_number, template_id, .. } => vec![
                AssessmentStream::Template(template_id.clone()),
                AssessmentStream::Assessment(*assessment_id),
                AssessmentStream::Patient(*nhs_number),
            ],
            AssessmentCommand::SaveSection { assessment_id, .. }
            | AssessmentCommand::SignOffSection { assessment_id, .. }
            | AssessmentCommand::Submit { assessment_id, .. }
            | AssessmentCommand::Reopen { assessment_id, .. }
            | AssessmentCommand::Accept { assessment_id, .. }
            | AssessmentCommand::Return { assessment_id, .. } => {
                let mut streams = vec![AssessmentStream::Assessment(*assessment_id)];
                if let Some(a) = assessment_of(loaded, command) {
                    streams.push(AssessmentStream::Template(a.template_id.clone()));
                }
                streams
            }
        }
    }

    /// A template is its first publisher's. An assessment is part of the patient's shared record: every organisation whose role may
    /// edit a section does (the template's section roles decide, and the policy checks the
    /// patient's sharing). Submitting and reopening are the assessing organisation's; accepting
    /// and returning its receivers' (the decision checks that).
    fn owners(loaded: &Loaded<Self>, command: &AssessmentCommand) -> Vec<Owner> {
        match command {
            // A template's next version is its first publisher's to publish.
            AssessmentCommand::PublishTemplate { template_id, .. } => {
                match loaded.get(&AssessmentStream::Template(template_id.clone())) {
                    Some(AssessmentStreamState::Template(TemplateState { owner: Some(owner), .. })) => {
                        vec![Owner::Organisation(owner.clone())]
                    }
                    _ => vec![Owner::New],
                }
            }
            AssessmentCommand::Submit { .. } | AssessmentCommand::Reopen { .. } => {
                assessment_of(loaded, command)
                    .map(|a| vec![Owner::Organisation(a.organisation.clone())])
                    .unwrap_or_default()
            }
            AssessmentCommand::Start { .. }
            | AssessmentCommand::SaveSection { .. }
            | AssessmentCommand::SignOffSection { .. }
            | AssessmentCommand::Accept { .. }
            | AssessmentCommand::Return { .. } => vec![Owner::New],
        }
    }

    fn decide(
        loaded: &Loaded<Self>,
        command: &AssessmentCommand,
        at: DateTime<Utc>,
    ) -> Result<Vec<AssessmentStreamEvent>, AssessmentError> {
        let (no_template, no_assessment, no_patient) =
            (TemplateState::default(), AssessmentState::default(), PatientState::default());
        let template_id = match command {
            AssessmentCommand::PublishTemplate { template_id, .. }
            | AssessmentCommand::Start { template_id, .. } => Some(template_id.clone()),
            _ => assessment_of(loaded, command).map(|a| a.template_id.clone()),
        };
        let template = match template_id.and_then(|id| loaded.get(&AssessmentStream::Template(id))) {
            Some(AssessmentStreamState::Template(t)) => t,
            _ => &no_template,
        };
        let assessment =
            match command.assessment_id().and_then(|id| loaded.get(&AssessmentStream::Assessment(id))) {
                Some(AssessmentStreamState::Assessment(a)) => a,
                _ => &no_assessment,
            };
        let patient = match command {
            AssessmentCommand::Start { nhs_number, .. } => {
                match loaded.get(&AssessmentStream::Patient(*nhs_number)) {
                    Some(AssessmentStreamState::Patient(p)) => p,
                    _ => &no_patient,
                }
            }
            _ => &no_patient,
        };
        Ok(decide(template, assessment, patient, command, at)?
            .into_iter()
            .map(AssessmentStreamEvent::Assessment)
            .collect())
    }

    fn touched(_: &Loaded<Self>, events: &[AssessmentStreamEvent]) -> Vec<String> {
        let mut touched: Vec<String> = Vec::new();
        for event in events {
            let id = match Self::stream_of(event) {
                AssessmentStream::Template(id) => id.to_string(),
                AssessmentStream::Assessment(id) => id.to_string(),
                AssessmentStream::Patient(nhs) => nhs.to_string(),
            };
            if !touched.contains(&id) {
                touched.push(id);
            }
        }
        touched
    }
}
