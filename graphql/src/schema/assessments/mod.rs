//! The assessments context's schema: an assessment as a whole (its pinned template's sections
//! with their answers, versions and sign-offs, who is in which section now), a patient's
//! assessments, a team's and an organisation's in progress, and the templates, read from the
//! assessment models; the assessment commands; and a live `assessment` subscription that
//! pushes every saved change and every change of presence. Every read goes through the
//! policy ([`policy::authorize_assessment`]): the assessing organisation and the receivers
//! see an assessment, others as they would the patient's record.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Subscription};
use careflow_auth::policy::{self, Action, AssessmentAccess, PatientAccess, TeamAccess};
use careflow_domain::assessments::{
    self as domain, Answer as DomainAnswer, Contributor as DomainContributor,
};
use careflow_projections::assessments::{
    AssessmentDoc, AssessmentRow, AssessmentView, SectionView, TEMPLATES_KEY, TemplateRow, TemplateView,
    assessment_key, history_key, organisation_key, patient_key as assessments_of,
    team_key as team_assessments_key, template_key,
};
use careflow_projections::documents::{DocChange, DocumentReader};
use careflow_projections::patient_summary::patient_key;
use careflow_projections::task_board::{TaskDoc, team_key};
use careflow_proto::assessments::v1 as pb;
use careflow_proto::assessments::v1::assessment_service_client::AssessmentServiceClient;
use futures::Stream;
use futures::stream::{self, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tonic::transport::Channel;

use super::command::{command_id, send, visible};
use super::patients::{PatientReader, patients, summary_of};
use super::subscription::expiry;
use super::{Caller, authenticated};
use crate::error::{ApiError, FieldViolation, GqlError};
use crate::metrics::{GatewayMetrics, SubscriptionGuard};

mod mutation;
pub mod presence;
mod query;
mod subscription;
mod types;

pub use mutation::AssessmentsMutation;
pub use presence::Presence;
pub use query::AssessmentsQuery;
pub use subscription::AssessmentsSubscription;
pub(crate) use types::Assessment;
use types::{AssessmentSummary, AssessmentTemplate};

/// The assessment models, as the gateway reads them.
pub type AssessmentReader = Arc<dyn DocumentReader<AssessmentDoc>>;

fn assessments<'a>(ctx: &Context<'a>) -> Result<&'a AssessmentReader, ApiError> {
    ctx.data::<AssessmentReader>().map_err(|e| ApiError::internal(&e.message))
}

fn presence<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Presence>, ApiError> {
    ctx.data::<Arc<Presence>>().map_err(|e| ApiError::internal(&e.message))
}

/// The caller, whose role may see assessments.
fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Caller, ApiError> {
    let caller = authenticated(ctx)?;
    if !policy::role_allows(caller.actor.role, Action::ViewAssessments) {
        return Err(ApiError::Forbidden(format!(
            "role {} may not {}",
            caller.actor.role,
            Action::ViewAssessments
        )));
    }
    Ok(caller)
}

fn bad_input(field: &str, description: impl Into<String>) -> ApiError {
    let description = description.into();
    ApiError::BadUserInput {
        message: format!("{field}: {description}"),
        violations: vec![FieldViolation { field: field.to_owned(), description }],
    }
}

/// The assessment under `id`, as stored (`None`: careflow does not know it, or the id is not
/// one).
async fn stored(reader: &AssessmentReader, id: &str) -> Result<Option<AssessmentView>, ApiError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Ok(None);
    }
    Ok(match reader.get(&assessment_key(id)).await? {
        Some(AssessmentDoc::Assessment(view)) => Some(*view),
        _ => None,
    })
}

/// Whether `caller` may see `view` (the policy decides, with the patient's dissent and the
/// organisations caring for them from the patient summary).
async fn may_see(ctx: &Context<'_>, caller: &Caller, view: &AssessmentView) -> Result<(), ApiError> {
    may_see_with(patients(ctx)?, caller, view).await
}

/// [`may_see`], with the patient summaries given.
async fn may_see_with(
    patients: &PatientReader,
    caller: &Caller,
    view: &AssessmentView,
) -> Result<(), ApiError> {
    let summary = summary_of(patients.get(&patient_key(&view.nhs_number)).await?);
    let caring = summary.as_ref().map(|s| s.caring_organisations()).unwrap_or_default();
    let receivers: Vec<String> = view.submitted_to.iter().cloned().collect();
    let access = AssessmentAccess {
        patient: PatientAccess { dissent: summary.is_some_and(|s| s.dissent), caring: &caring },
        organisation: &view.organisation,
        receivers: &receivers,
    };
    policy::authorize_assessment(&caller.actor, Action::ViewAssessments, access)
        .map_err(|d| ApiError::Forbidden(d.to_string()))
}

/// A template version, whole.
async fn template(
    reader: &AssessmentReader,
    template_id: &str,
    version: u32,
) -> Result<Option<Arc<TemplateView>>, ApiError> {
    Ok(match reader.get(&template_key(template_id, version)).await? {
        Some(AssessmentDoc::Template(view)) => Some(Arc::new(*view)),
        _ => None,
    })
}

/// The assessment, if the caller may see it, with its template and who is in it now.
async fn assessment(ctx: &Context<'_>, id: &str) -> Result<Option<Assessment>, ApiError> {
    let caller = viewer(ctx)?;
    let reader = assessments(ctx)?;
    let Some(view) = stored(reader, id).await? else { return Ok(None) };
    may_see(ctx, caller, &view).await?;
    let template = template(reader, &view.template_id, view.template_version).await?;
    let here = presence(ctx)?.here(id);
    Ok(Some(Assessment::new(view, template, here, caller)))
}

/// The assessment linked to a care request, for a viewer the brokerage policy identified (the
/// council that posted the request, the provider awarded its placement): checked there, not by
/// [`may_see`], since a provider is never one of an assessment's receivers.
pub(crate) async fn placed_assessment(ctx: &Context<'_>, id: &str) -> Result<Option<Assessment>, ApiError> {
    let caller = authenticated(ctx)?;
    let reader = assessments(ctx)?;
    let Some(view) = stored(reader, id).await? else { return Ok(None) };
    let template = template(reader, &view.template_id, view.template_version).await?;
    let here = presence(ctx)?.here(id);
    Ok(Some(Assessment::new(view, template, here, caller)))
}

/// The rows the caller may see, each checked as its assessment would be.
async fn visible_rows(
    ctx: &Context<'_>,
    caller: &Caller,
    rows: Vec<AssessmentRow>,
) -> Result<Vec<AssessmentSummary>, ApiError> {
    let reader = assessments(ctx)?;
    let keys: Vec<String> = rows.iter().map(|r| assessment_key(&r.assessment_id)).collect();
    let mut shown = Vec::new();
    for (row, doc) in rows.into_iter().zip(reader.get_many(&keys).await?) {
        let Some(AssessmentDoc::Assessment(view)) = doc else { continue };
        match may_see(ctx, caller, &view).await {
            Ok(()) => shown.push(AssessmentSummary::of(row, caller)),
            // Not the caller's to see: left out of the list.
            Err(ApiError::Forbidden(_)) => {}
            // The read models could not be read: say so, rather than show a shorter list.
            Err(error) => return Err(error),
        }
    }
    Ok(shown)
}

async fn list(reader: &AssessmentReader, key: &str) -> Result<Vec<AssessmentRow>, ApiError> {
    Ok(match reader.get(key).await? {
        Some(AssessmentDoc::List { rows }) => rows,
        _ => Vec::new(),
    })
}

/// Whether the caller may see the work of team `team_id` (a member, or a manager of its
/// organisation), from the task models' team.
async fn may_see_team(ctx: &Context<'_>, caller: &Caller, team_id: &str) -> Result<(), ApiError> {
    let tasks = ctx.data::<Arc<dyn DocumentReader<TaskDoc>>>().map_err(|e| ApiError::internal(&e.message))?;
    let Some(TaskDoc::Team(team)) = tasks.get(&team_key(team_id)).await? else {
        return Err(ApiError::NotFound(format!("team {team_id} does not exist")));
    };
    let access = TeamAccess {
        team_id: &team.team_id,
        organisation: &team.organisation,
        member: team.has_member(&caller.actor.user_id),
    };
    policy::authorize_team(&caller.actor, Action::ViewAssessments, &[access])
        .map_err(|d| ApiError::Forbidden(d.to_string()))
}
