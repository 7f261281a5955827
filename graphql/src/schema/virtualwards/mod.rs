//! The virtual wards context's schema: the virtual wards (their beds counted apart in
//! capacity), a ward's census sorted by risk, a patient's observation chart, the commands, and
//! a live census that pushes each changed patient's row. Every read goes through the policy
//! ([`policy::authorize_virtual_ward`]): the ward's organisation sees its census; a patient's
//! chart is seen also by whoever may see that patient's record.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use careflow_auth::policy::{self, Action, PatientAccess, VirtualWardAccess};
use careflow_projections::documents::DocumentReader;
use careflow_projections::patient_summary::patient_key;
use careflow_projections::virtual_wards::{
    CensusRow, ChartView, VirtualWardDoc, WARDS_KEY, WardRow, census_key, chart_key, row_key,
};
use chrono::Utc;

use super::patients::{patients, summary_of};
use super::{Caller, authenticated};
use crate::error::{ApiError, FieldViolation, GqlError};

mod mutation;
mod subscription;
pub mod types;

pub use mutation::VirtualWardsMutation;
pub use subscription::VirtualWardsSubscription;
use types::{CensusEntry, ObservationChart, VirtualCapacity, VirtualWard};

/// The virtual-ward models, as the gateway reads them.
pub type VirtualWardReader = Arc<dyn DocumentReader<VirtualWardDoc>>;

pub(crate) fn virtual_wards<'a>(ctx: &Context<'a>) -> Result<&'a VirtualWardReader, ApiError> {
    ctx.data::<VirtualWardReader>().map_err(|e| ApiError::internal(&e.message))
}

fn bad_input(field: &str, description: impl Into<String>) -> ApiError {
    let description = description.into();
    ApiError::BadUserInput {
        message: format!("{field}: {description}"),
        violations: vec![FieldViolation { field: field.to_owned(), description }],
    }
}

/// The caller, whose role may see virtual wards.
fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Caller, ApiError> {
    let caller = authenticated(ctx)?;
    if !policy::role_allows(caller.actor.role, Action::ViewVirtualWards) {
        return Err(ApiError::Forbidden(format!(
            "role {} may not {}",
            caller.actor.role,
            Action::ViewVirtualWards
        )));
    }
    Ok(caller)
}

/// Every virtual ward.
pub(crate) async fn wards(reader: &VirtualWardReader) -> Result<Vec<WardRow>, ApiError> {
    Ok(match reader.get(WARDS_KEY).await? {
        Some(VirtualWardDoc::Wards { rows }) => rows,
        _ => Vec::new(),
    })
}

/// The virtual beds of `site_id` (every site: `None`).
pub(crate) async fn virtual_capacity(
    ctx: &Context<'_>,
    site_id: Option<&str>,
) -> Result<VirtualCapacity, ApiError> {
    let wards = wards(virtual_wards(ctx)?).await?;
    Ok(VirtualCapacity::of(wards.iter().filter(|w| site_id.is_none_or(|s| w.site_id == s))))
}

/// A ward's census as stored: the ward and its patients' rows.
async fn census(
    reader: &VirtualWardReader,
    ward_id: &str,
) -> Result<Option<(WardRow, Vec<CensusRow>)>, ApiError> {
    let Some(VirtualWardDoc::Census { ward, admissions }) = reader.get(&census_key(ward_id)).await? else {
        return Ok(None);
    };
    let keys: Vec<String> = admissions.iter().map(|a| row_key(a)).collect();
    let rows = reader
        .get_many(&keys)
        .await?
        .into_iter()
        .filter_map(|doc| match doc {
            Some(VirtualWardDoc::Row(row)) => Some(*row),
            _ => None,
        })
        .collect();
    Ok(Some((ward, rows)))
}

/// Whether `caller` may see the census of a ward of `organisation`.
fn may_see_census(caller: &Caller, organisation: &str) -> Result<(), ApiError> {
    let access = VirtualWardAccess { organisation, patient: None };
    policy::authorize_virtual_ward(&caller.actor, Action::ViewVirtualWards, access)
        .map_err(|d| ApiError::Forbidden(d.to_string()))
}

/// The census, sorted by risk (highest first).
pub(crate) fn sorted(rows: Vec<CensusRow>) -> Vec<CensusEntry> {
    let now = Utc::now();
    let mut entries: Vec<CensusEntry> = rows.into_iter().map(|row| CensusEntry { row, now }).collect();
    entries.sort_by_key(CensusEntry::rank);
    entries
}

/// A virtual ward's census.
pub struct VirtualWardCensus {
    ward: WardRow,
    patients: Vec<CensusEntry>,
}

#[Object]
impl VirtualWardCensus {
    /// The ward.
    async fn ward(&self) -> VirtualWard {
        VirtualWard(self.ward.clone())
    }
    /// Every patient on it, the highest risk first (then the highest score, the most readings
    /// missed, the longest since a reading).
    async fn patients(&self) -> &[CensusEntry] {
        &self.patients
    }
}

/// The virtual wards' queries.
#[derive(Default)]
pub struct VirtualWardsQuery;

#[Object]
impl VirtualWardsQuery {
    /// Every virtual ward (counts only: who is on them is the census).
    async fn virtual_wards(&self, ctx: &Context<'_>) -> Result<Vec<VirtualWard>, GqlError> {
        super::viewer(ctx)?;
        Ok(wards(virtual_wards(ctx)?).await?.into_iter().map(VirtualWard).collect())
    }

    /// A virtual ward's census: every patient with their latest NEWS2, its risk and colour,
    /// the trend, time since the last reading, readings missed and open tasks; the highest risk
    /// first. Only the ward's organisation sees it.
    async fn virtual_ward_census(
        &self,
        ctx: &Context<'_>,
        ward_id: ID,
    ) -> Result<VirtualWardCensus, GqlError> {
        let caller = viewer(ctx)?;
        let Some((ward, rows)) = census(virtual_wards(ctx)?, ward_id.as_str()).await? else {
            return Err(
                ApiError::NotFound(format!("virtual ward {} does not exist", ward_id.as_str())).into()
            );
        };
        may_see_census(caller, &ward.organisation)?;
        Ok(VirtualWardCensus { ward, patients: sorted(rows) })
    }

    /// A virtual-ward patient's observation chart: every reading (the most recent 500) with
    /// each parameter's NEWS2 sub-score, the total and the risk.
    async fn observation_chart(
        &self,
        ctx: &Context<'_>,
        admission_id: ID,
    ) -> Result<Option<ObservationChart>, GqlError> {
        let caller = viewer(ctx)?;
        if uuid::Uuid::parse_str(admission_id.as_str()).is_err() {
            return Err(bad_input("admissionId", "must be an admission id (UUID)").into());
        }
        let Some(VirtualWardDoc::Chart(chart)) =
            virtual_wards(ctx)?.get(&chart_key(admission_id.as_str())).await?
        else {
            return Ok(None);
        };
        may_see_chart(ctx, caller, &chart).await?;
        Ok(Some(ObservationChart(*chart)))
    }
}

/// Whether `caller` may see a chart: the ward's organisation, or anyone who may see the
/// patient's record.
async fn may_see_chart(ctx: &Context<'_>, caller: &Caller, chart: &ChartView) -> Result<(), ApiError> {
    let summary = summary_of(patients(ctx)?.get(&patient_key(&chart.nhs_number)).await?);
    let caring = summary.as_ref().map(|s| s.caring_organisations()).unwrap_or_default();
    let access = VirtualWardAccess {
        organisation: &chart.organisation,
        patient: Some(PatientAccess { dissent: summary.is_some_and(|s| s.dissent), caring: &caring }),
    };
    policy::authorize_virtual_ward(&caller.actor, Action::ViewVirtualWards, access)
        .map_err(|d| ApiError::Forbidden(d.to_string()))
}
