//! The trusted assessment leg of discharge to assess: submitting an assessment that answers a
//! task (the social care team's "complete a trusted assessment", named when it was started)
//! completes that task, as careflow, with an outcome naming the assessment and its receivers.

use std::collections::HashMap;

use careflow_domain::assessments::{AssessmentEvent, AssessmentId};
use careflow_domain::tasks::TaskId;
use careflow_eventstore::{Filter, RecordedEvent};
use careflow_proto::tasks::v1 as tasks;

use crate::commands::{Ack, Command, command_id};
use crate::runner::Process;

/// The assessments process manager.
#[derive(Debug, Default)]
pub struct AssessmentFlows {
    /// The task each assessment answers.
    tasks: HashMap<AssessmentId, TaskId>,
}

impl AssessmentFlows {
    /// The process, knowing nothing yet (the runner folds the log into it).
    pub fn new() -> Self {
        Self::default()
    }
}

impl Process for AssessmentFlows {
    fn name(&self) -> &'static str {
        "assessments"
    }

    fn filter(&self) -> Filter {
        Filter::categories(["assessment"])
    }

    fn handle(&mut self, event: &RecordedEvent, live: bool) -> Vec<Command> {
        match event.decode::<AssessmentEvent>() {
            Ok(AssessmentEvent::AssessmentStarted { assessment_id, task_id: Some(task_id), .. }) => {
                self.tasks.insert(assessment_id, task_id);
                Vec::new()
            }
            Ok(AssessmentEvent::AssessmentSubmitted { assessment_id, to, .. }) if live => {
                let Some(task_id) = self.tasks.get(&assessment_id) else { return Vec::new() };
                let receivers = to.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                vec![Command::CompleteTask(tasks::CompleteTaskRequest {
                    command_id: command_id(&event.id.to_string(), "complete-task"),
                    task_id: task_id.to_string(),
                    outcome: format!("Trusted assessment {assessment_id} submitted to {receivers}"),
                })]
            }
            Ok(_) => Vec::new(),
            Err(error) => {
                tracing::warn!(%error, "an assessment event careflow cannot read");
                Vec::new()
            }
        }
    }

    fn acknowledged(&mut self, _: &Command, _: &Ack) {}

    fn refused(&mut self, command: &Command) {
        // Completed or cancelled meanwhile (by its team, or because the pathway changed).
        tracing::info!(command = command.name(), "an assessment's task was not completed");
    }
}
