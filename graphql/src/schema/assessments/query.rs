//! The assessment queries.

use super::types::TemplateSummary;
use super::*;

/// The assessment queries.
#[derive(Default)]
pub struct AssessmentsQuery;

#[Object]
impl AssessmentsQuery {
    /// An assessment as a whole; null when careflow does not know it. FORBIDDEN when the
    /// caller may not see it (another organisation's, of a patient who dissents from sharing).
    async fn assessment(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Assessment>, GqlError> {
        Ok(assessment(ctx, id.as_str()).await?)
    }

    /// Every template's latest version.
    async fn assessment_templates(&self, ctx: &Context<'_>) -> Result<Vec<TemplateSummary>, GqlError> {
        viewer(ctx)?;
        Ok(match assessments(ctx)?.get(TEMPLATES_KEY).await? {
            Some(AssessmentDoc::Templates { rows }) => rows.into_iter().map(Into::into).collect(),
            _ => Vec::new(),
        })
    }

    /// One version of a template, whole (the latest when `version` is left out); null when
    /// there is no such template.
    async fn assessment_template(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: Option<u32>,
    ) -> Result<Option<AssessmentTemplate>, GqlError> {
        viewer(ctx)?;
        let reader = assessments(ctx)?;
        let version = match version {
            Some(version) => version,
            None => match reader.get(TEMPLATES_KEY).await? {
                Some(AssessmentDoc::Templates { rows }) => {
                    match rows.iter().find(|r| r.template_id == id.as_str()) {
                        Some(row) => row.version,
                        None => return Ok(None),
                    }
                }
                _ => return Ok(None),
            },
        };
        Ok(template(reader, id.as_str(), version).await?.map(AssessmentTemplate))
    }

    /// A patient's assessments, the most recently changed first (those the caller may see).
    async fn patient_assessments(
        &self,
        ctx: &Context<'_>,
        nhs_number: String,
    ) -> Result<Vec<AssessmentSummary>, GqlError> {
        let caller = viewer(ctx)?;
        // Looking a patient up by NHS number is a read of their record: a care provider, who
        // sees only what is submitted to it, may not link a number to an assessment.
        if !policy::role_allows(caller.actor.role, Action::ViewPatients) {
            return Err(ApiError::Forbidden(format!(
                "role {} may not {}",
                caller.actor.role,
                Action::ViewPatients
            ))
            .into());
        }
        let nhs = careflow_domain::NhsNumber::parse(&nhs_number)
            .map_err(|e| bad_input("nhsNumber", e.to_string()))?
            .to_string();
        let rows = list(assessments(ctx)?, &assessments_of(&nhs)).await?;
        Ok(visible_rows(ctx, caller, rows).await?)
    }

    /// The assessments answering a team's tasks, not yet accepted, the most recently changed
    /// first; for the team's members and its organisation's managers.
    async fn team_assessments(
        &self,
        ctx: &Context<'_>,
        team_id: ID,
    ) -> Result<Vec<AssessmentSummary>, GqlError> {
        let caller = viewer(ctx)?;
        may_see_team(ctx, caller, team_id.as_str()).await?;
        let rows = list(assessments(ctx)?, &team_assessments_key(team_id.as_str())).await?;
        Ok(visible_rows(ctx, caller, rows).await?)
    }

    /// The caller's organisation's assessments not yet accepted, the most recently changed
    /// first.
    async fn assessments_in_progress(&self, ctx: &Context<'_>) -> Result<Vec<AssessmentSummary>, GqlError> {
        let caller = viewer(ctx)?;
        let rows = list(assessments(ctx)?, &organisation_key(&caller.actor.organisation)).await?;
        Ok(visible_rows(ctx, caller, rows).await?)
    }
}
