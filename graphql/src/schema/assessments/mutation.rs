//! The assessment mutations, and `setAssessmentPresence` (kept by the gateway, not the log).

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;

use super::presence::{Here, MAX_PER_ASSESSMENT};
use super::types::{Answer, Contributor, SectionPresence};
use super::*;
use crate::schema::command::{ReadYourWrites, deadline_passed, prepare};
use tonic_types::StatusExt;

/// Publish a template (admin): its first version, or its next.
#[derive(InputObject)]
pub struct PublishAssessmentTemplateInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The template's id, e.g. `reablement-trusted-assessor`.
    pub template_id: ID,
    /// The template as JSON (the files under `domain/templates/` are examples).
    pub content_json: String,
}

/// Start an assessment of a patient.
#[derive(InputObject)]
pub struct StartAssessmentInput {
    /// Idempotency key; the assessment's id is derived from it.
    pub command_id: Option<ID>,
    /// The patient.
    pub nhs_number: String,
    /// The template.
    pub template_id: ID,
    /// Its version (the latest when left out).
    pub template_version: Option<i32>,
    /// The task it answers (a discharge's "complete a trusted assessment").
    pub task_id: Option<ID>,
}

/// An answer: the question, and exactly one value of the kind it takes.
#[derive(InputObject)]
pub struct AnswerInput {
    /// The question.
    pub question_id: String,
    /// To a text question.
    pub text: Option<String>,
    /// To a choice question: the option's value.
    pub choice: Option<String>,
    /// To a multi-choice question: the options' values.
    pub choices: Option<Vec<String>>,
    /// To a number question.
    pub number: Option<f64>,
    /// To a date question, YYYY-MM-DD.
    pub date: Option<String>,
    /// To a yes/no question.
    pub yes_no: Option<bool>,
    /// To a score question.
    pub score: Option<i32>,
}

/// Save a section's answers.
#[derive(InputObject)]
pub struct SaveAssessmentSectionInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The assessment.
    pub assessment_id: ID,
    /// The section.
    pub section_id: String,
    /// The section's version the answers were based on (0: none saved yet). When someone
    /// saved it since, the save is refused with CONFLICT and `extensions.section` holds the
    /// section as they left it.
    pub base_version: i32,
    /// Every answer of the section (a question left out is unanswered).
    #[graphql(default)]
    pub answers: Vec<AnswerInput>,
}

/// Sign a section off.
#[derive(InputObject)]
pub struct SignOffAssessmentSectionInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The assessment.
    pub assessment_id: ID,
    /// The section.
    pub section_id: String,
    /// The version signed (the one the signer read).
    pub version: i32,
}

/// Submit an assessment to the organisations that receive it.
#[derive(InputObject)]
pub struct SubmitAssessmentInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The assessment.
    pub assessment_id: ID,
    /// ODS codes of the receiving organisations (a council, a care provider).
    pub to: Vec<String>,
}

/// Reopen a submitted assessment.
#[derive(InputObject)]
pub struct ReopenAssessmentInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The assessment.
    pub assessment_id: ID,
    /// Why.
    pub reason: String,
}

/// Accept an assessment submitted to the caller's organisation.
#[derive(InputObject)]
pub struct AcceptAssessmentInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The assessment.
    pub assessment_id: ID,
}

/// Return an assessment submitted to the caller's organisation, saying what must change.
#[derive(InputObject)]
pub struct ReturnAssessmentInput {
    /// Idempotency key.
    pub command_id: Option<ID>,
    /// The assessment.
    pub assessment_id: ID,
    /// What must change.
    pub reasons: String,
}

/// Say where the caller is in an assessment; repeat it while there (it lapses after 30 s).
#[derive(InputObject)]
pub struct SetAssessmentPresenceInput {
    /// The assessment.
    pub assessment_id: ID,
    /// The section the caller is in; null: looking at the assessment.
    pub section_id: Option<String>,
}

/// What an assessment command returns.
pub struct AssessmentPayload {
    position: u64,
    assessment_id: String,
    visible: bool,
}

#[Object]
impl AssessmentPayload {
    /// Global position of the command's last event (a decimal string).
    async fn position(&self) -> String {
        self.position.to_string()
    }
    /// The assessment.
    async fn assessment_id(&self) -> ID {
        ID(self.assessment_id.clone())
    }
    /// Whether the assessment models show the command yet. It is committed either way; when
    /// false, `assessment` is null and `extensions.notYetVisible` names the mutation.
    async fn visible(&self) -> bool {
        self.visible
    }
    /// The assessment after the command; null while not `visible`, or when the caller may no
    /// longer see it.
    async fn assessment(&self, ctx: &Context<'_>) -> Result<Option<Assessment>, GqlError> {
        if !self.visible {
            return Ok(None);
        }
        match assessment(ctx, &self.assessment_id).await {
            Ok(found) => Ok(found),
            Err(ApiError::Forbidden(_)) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

/// What publishing a template returns.
pub struct TemplatePayload {
    position: u64,
    template_id: String,
    visible: bool,
}

#[Object]
impl TemplatePayload {
    /// Global position of the command's event (a decimal string).
    async fn position(&self) -> String {
        self.position.to_string()
    }
    /// The template.
    async fn template_id(&self) -> ID {
        ID(self.template_id.clone())
    }
    /// Whether the assessment models show it yet.
    async fn visible(&self) -> bool {
        self.visible
    }
    /// The template's latest version; null while not `visible`.
    async fn template(&self, ctx: &Context<'_>) -> Result<Option<AssessmentTemplate>, GqlError> {
        if !self.visible {
            return Ok(None);
        }
        let reader = assessments(ctx)?;
        let Some(AssessmentDoc::Templates { rows }) = reader.get(TEMPLATES_KEY).await? else {
            return Ok(None);
        };
        let Some(row) = rows.iter().find(|r| r.template_id == self.template_id) else { return Ok(None) };
        Ok(template(reader, &row.template_id, row.version).await?.map(AssessmentTemplate))
    }
}

/// Waits for the assessment models to reach the command's ack.
async fn wait(ctx: &Context<'_>, ack: Option<pb::CommandAck>) -> Result<(u64, String, bool), GqlError> {
    let ack = ack.ok_or_else(|| ApiError::internal(&"a command response without an ack"))?;
    let reader = assessments(ctx)?;
    let visible = visible(ctx, ack.position, |p, timeout| reader.wait_for(p, timeout)).await;
    Ok((ack.position, ack.assessment_id, visible))
}

macro_rules! assessment_command {
    ($ctx:expr, $action:expr, $method:ident, $message:expr) => {{
        let response = send!($ctx, AssessmentServiceClient<Channel>, $action, $method, $message);
        let (position, assessment_id, visible) = wait($ctx, response.ack).await?;
        Ok(AssessmentPayload { position, assessment_id, visible })
    }};
}

/// Out-of-range numbers are passed on as values the service refuses, naming the field.
fn unsigned(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// The answers as the service takes them; each one that is not exactly one value, or answers
/// its question a second time, named by its question.
fn answers_of(input: Vec<AnswerInput>) -> Result<HashMap<String, pb::Answer>, ApiError> {
    use pb::answer::Value as V;
    let mut violations = Vec::new();
    let mut answers = HashMap::new();
    for answer in input {
        let field = format!("answers.{}", answer.question_id);
        let values: Vec<V> = [
            answer.text.map(V::Text),
            answer.choice.map(V::Choice),
            answer.choices.map(|values| V::Choices(pb::Choices { values })),
            answer.number.map(V::Number),
            answer.date.map(V::Date),
            answer.yes_no.map(V::YesNo),
            answer.score.map(|s| V::Score(unsigned(s))),
        ]
        .into_iter()
        .flatten()
        .collect();
        if values.len() != 1 {
            violations.push(FieldViolation {
                field,
                description: "give exactly one of text, choice, choices, number, date, yesNo and score"
                    .into(),
            });
            continue;
        }
        if answers.contains_key(&answer.question_id) {
            violations
                .push(FieldViolation { field, description: "answers its question a second time".into() });
            continue;
        }
        answers.insert(answer.question_id, pb::Answer { value: values.into_iter().next() });
    }
    if violations.is_empty() {
        Ok(answers)
    } else {
        let message =
            violations.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>();
        Err(ApiError::BadUserInput { message: message.join("; "), violations })
    }
}

/// The section someone else saved, as the assessment models show it once they have caught up
/// with that save (at most the read-your-writes timeout): `extensions.section` of a CONFLICT.
async fn saved_since(
    ctx: &Context<'_>,
    assessment_id: &str,
    section_id: &str,
    base_version: u32,
) -> Option<async_graphql::Value> {
    let reader = assessments(ctx).ok()?;
    let caller = viewer(ctx).ok()?;
    let timeout = ctx.data::<ReadYourWrites>().map_or(Duration::from_secs(2), |r| r.0);
    let mut changes = reader.changes();
    let found = tokio::time::timeout(timeout, async {
        loop {
            if let Ok(Some(view)) = stored(reader, assessment_id).await
                && view.sections.get(section_id).is_some_and(|s| s.version > base_version)
            {
                return Some(view);
            }
            match changes.recv().await {
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()?;
    may_see(ctx, caller, &found).await.ok()?;
    let section = found.sections.get(section_id)?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Saved {
        id: String,
        version: u32,
        saved_by: Contributor,
        saved_at: String,
        answers: Vec<Answer>,
    }
    let saved = Saved {
        id: section_id.to_owned(),
        version: section.version,
        saved_by: (&section.saved_by).into(),
        saved_at: section.saved_at.to_rfc3339(),
        answers: Answer::all(&section.answers),
    };
    async_graphql::Value::from_json(serde_json::to_value(saved).ok()?).ok()
}

use serde::Serialize;

/// The assessment mutations.
#[derive(Default)]
pub struct AssessmentsMutation;

#[Object]
impl AssessmentsMutation {
    /// Publish an assessment template (admin): its first version, or its next. Assessments
    /// started before keep the version they were started from.
    async fn publish_assessment_template(
        &self,
        ctx: &Context<'_>,
        input: PublishAssessmentTemplateInput,
    ) -> Result<TemplatePayload, GqlError> {
        let template_id = input.template_id.0.trim().to_owned();
        let response = send!(
            ctx,
            AssessmentServiceClient<Channel>,
            Action::ConfigureTemplates,
            publish_assessment_template,
            pb::PublishAssessmentTemplateRequest {
                command_id: command_id(input.command_id),
                template_id: template_id.clone(),
                content_json: input.content_json,
            }
        );
        let (position, _, visible) = wait(ctx, response.ack).await?;
        Ok(TemplatePayload { position, template_id, visible })
    }

    /// Start an assessment of a patient from a template, pinned to its version.
    async fn start_assessment(
        &self,
        ctx: &Context<'_>,
        input: StartAssessmentInput,
    ) -> Result<AssessmentPayload, GqlError> {
        assessment_command!(
            ctx,
            Action::UpdateAssessments,
            start_assessment,
            pb::StartAssessmentRequest {
                command_id: command_id(input.command_id),
                nhs_number: input.nhs_number,
                template_id: input.template_id.0,
                template_version: input.template_version.map_or(0, unsigned),
                task_id: input.task_id.map(|t| t.0).unwrap_or_default(),
            }
        )
    }

    /// Save a section's answers, on top of the version they were based on. Two people saving
    /// different sections both succeed; the second of two saves of one section gets CONFLICT,
    /// with the section as the first left it in `extensions.section` (its version, who saved
    /// it, when, and its answers).
    async fn save_assessment_section(
        &self,
        ctx: &Context<'_>,
        input: SaveAssessmentSectionInput,
    ) -> Result<AssessmentPayload, GqlError> {
        let answers = answers_of(input.answers)?;
        let base_version = unsigned(input.base_version);
        let (assessment_id, section_id) = (input.assessment_id.0, input.section_id);
        let (mut client, request, deadline) = prepare::<AssessmentServiceClient<Channel>, _>(
            ctx,
            Action::UpdateAssessments,
            pb::SaveAssessmentSectionRequest {
                command_id: command_id(input.command_id),
                assessment_id: assessment_id.clone(),
                section_id: section_id.clone(),
                base_version,
                answers,
            },
        )?;
        let response = match tokio::time::timeout(deadline, client.save_assessment_section(request)).await {
            Ok(Ok(response)) => response.into_inner(),
            Ok(Err(status)) => {
                // Only a save someone else's save overtook waits for the section as they left
                // it; any other refusal answers at once.
                let conflict = status
                    .get_details_error_info()
                    .is_some_and(|info| info.reason == domain::SECTION_CONFLICT);
                let error = GqlError::from(ApiError::from(status));
                if conflict
                    && let Some(section) = saved_since(ctx, &assessment_id, &section_id, base_version).await
                {
                    return Err(error.with_extension("section", section));
                }
                return Err(error);
            }
            Err(_) => return Err(deadline_passed(deadline).into()),
        };
        let (position, assessment_id, visible) = wait(ctx, response.ack).await?;
        Ok(AssessmentPayload { position, assessment_id, visible })
    }

    /// Sign a section off as it is at `version` (what the signer read).
    async fn sign_off_assessment_section(
        &self,
        ctx: &Context<'_>,
        input: SignOffAssessmentSectionInput,
    ) -> Result<AssessmentPayload, GqlError> {
        assessment_command!(
            ctx,
            Action::UpdateAssessments,
            sign_off_assessment_section,
            pb::SignOffAssessmentSectionRequest {
                command_id: command_id(input.command_id),
                assessment_id: input.assessment_id.0,
                section_id: input.section_id,
                version: unsigned(input.version),
            }
        )
    }

    /// Submit the assessment to the organisations that receive it, once every required section
    /// is signed off. Completes the task it answers.
    async fn submit_assessment(
        &self,
        ctx: &Context<'_>,
        input: SubmitAssessmentInput,
    ) -> Result<AssessmentPayload, GqlError> {
        assessment_command!(
            ctx,
            Action::UpdateAssessments,
            submit_assessment,
            pb::SubmitAssessmentRequest {
                command_id: command_id(input.command_id),
                assessment_id: input.assessment_id.0,
                to: input.to,
            }
        )
    }

    /// Reopen a submitted assessment to change it, saying why (the assessing organisation).
    async fn reopen_assessment(
        &self,
        ctx: &Context<'_>,
        input: ReopenAssessmentInput,
    ) -> Result<AssessmentPayload, GqlError> {
        assessment_command!(
            ctx,
            Action::UpdateAssessments,
            reopen_assessment,
            pb::ReopenAssessmentRequest {
                command_id: command_id(input.command_id),
                assessment_id: input.assessment_id.0,
                reason: input.reason,
            }
        )
    }

    /// Accept an assessment submitted to the caller's organisation.
    async fn accept_assessment(
        &self,
        ctx: &Context<'_>,
        input: AcceptAssessmentInput,
    ) -> Result<AssessmentPayload, GqlError> {
        assessment_command!(
            ctx,
            Action::ReceiveAssessments,
            accept_assessment,
            pb::AcceptAssessmentRequest {
                command_id: command_id(input.command_id),
                assessment_id: input.assessment_id.0,
            }
        )
    }

    /// Return an assessment submitted to the caller's organisation, saying what must change:
    /// it becomes editable again.
    async fn return_assessment(
        &self,
        ctx: &Context<'_>,
        input: ReturnAssessmentInput,
    ) -> Result<AssessmentPayload, GqlError> {
        assessment_command!(
            ctx,
            Action::ReceiveAssessments,
            return_assessment,
            pb::ReturnAssessmentRequest {
                command_id: command_id(input.command_id),
                assessment_id: input.assessment_id.0,
                reasons: input.reasons,
            }
        )
    }

    /// Say which section of an assessment the caller is in (null: none), for everyone else
    /// working on it; repeat it every few seconds while there: it lapses 30 s after it was
    /// last said, and when the caller's last `assessment` subscription to it ends. Returns who
    /// is in the assessment now. Not recorded in the log.
    async fn set_assessment_presence(
        &self,
        ctx: &Context<'_>,
        input: SetAssessmentPresenceInput,
    ) -> Result<Vec<SectionPresence>, GqlError> {
        let caller = viewer(ctx)?;
        let reader = assessments(ctx)?;
        let id = input.assessment_id.0;
        let Some(view) = stored(reader, &id).await? else {
            return Err(ApiError::NotFound(format!("assessment {id} does not exist")).into());
        };
        may_see(ctx, caller, &view).await?;
        if let Some(section) = &input.section_id {
            let template = template(reader, &view.template_id, view.template_version).await?;
            let known = template.is_some_and(|t| t.content.sections.iter().any(|s| s.id.as_str() == section));
            if !known {
                return Err(bad_input("sectionId", "is not a section of the assessment's template").into());
            }
        }
        let presence = presence(ctx)?;
        let here = Here {
            user_id: caller.actor.user_id.clone(),
            role: caller.actor.role.as_str().to_owned(),
            organisation: caller.actor.organisation.clone(),
            section_id: input.section_id,
            since: Utc::now(),
        };
        presence.set(&id, here).map_err(|e| {
            tracing::warn!(limit = MAX_PER_ASSESSMENT, "presence refused: {e}");
            ApiError::Unavailable(e.to_string())
        })?;
        Ok(presence.here(&id).iter().map(Into::into).collect())
    }
}
