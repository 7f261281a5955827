//! The discharge-to-assess flow's schema: for a ward, each medically optimised stay's hand-offs
//! and the hours spent in each leg (medically optimised → assessment → request → award →
//! discharge → bed available), and per ward and pathway the mean hours of each leg. Stays are
//! shown by stay and bed, never by patient: flow figures are for the people who run the
//! system (the policy's [`Action::ViewBeds`]).

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use careflow_auth::policy::{self, Action};
use careflow_projections::documents::DocumentReader;
use careflow_projections::flow::{
    self as model, FlowDoc, Leg as StoredLeg, SUMMARY_KEY, StayFlow, stay_key, ward_key,
};

use super::authenticated;
use crate::error::{ApiError, GqlError};

type FlowReader = std::sync::Arc<dyn DocumentReader<FlowDoc>>;

/// A leg of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "model::Leg")]
pub enum Leg {
    /// Medically optimised → trusted assessment submitted.
    Assessment,
    /// Assessment submitted → care request posted.
    Request,
    /// Request posted → placement agreed.
    Award,
    /// Placement agreed (or, without one, medically optimised) → discharged.
    Discharge,
    /// Discharged → bed available.
    BedAvailable,
}

/// Hours spent in one leg.
#[derive(SimpleObject)]
pub struct LegTime {
    /// The leg.
    pub leg: Leg,
    /// Hours in it (null: not yet over, or not part of this stay's flow).
    pub hours: Option<f64>,
}

/// One stay's way through the flow.
pub struct FlowStay(StayFlow);

fn rfc(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339())
}

fn hours(seconds: i64) -> f64 {
    seconds as f64 / 3600.0
}

#[Object]
impl FlowStay {
    /// The stay.
    async fn stay_id(&self) -> ID {
        ID(self.0.stay_id.clone())
    }
    /// Its ward.
    async fn ward_id(&self) -> &str {
        &self.0.ward_id
    }
    /// Its bed.
    async fn bed_id(&self) -> &str {
        &self.0.bed_id
    }
    /// The discharge pathway (0–3).
    async fn pathway(&self) -> Option<u8> {
        self.0.pathway
    }
    /// When marked medically optimised (RFC 3339).
    async fn medically_optimised_at(&self) -> Option<String> {
        rfc(self.0.medically_optimised_at)
    }
    /// When the trusted assessment was submitted.
    async fn assessment_submitted_at(&self) -> Option<String> {
        rfc(self.0.assessment_submitted_at)
    }
    /// When the care request was posted.
    async fn request_posted_at(&self) -> Option<String> {
        rfc(self.0.request_posted_at)
    }
    /// When the placement was agreed.
    async fn placement_agreed_at(&self) -> Option<String> {
        rfc(self.0.placement_agreed_at)
    }
    /// When discharged.
    async fn discharged_at(&self) -> Option<String> {
        rfc(self.0.discharged_at)
    }
    /// When the bed was available again.
    async fn bed_available_at(&self) -> Option<String> {
        rfc(self.0.bed_available_at)
    }
    /// Hours in each leg, in order.
    async fn legs(&self) -> Vec<LegTime> {
        StoredLeg::ALL
            .into_iter()
            .map(|leg| LegTime { leg: leg.into(), hours: self.0.seconds(leg).map(hours) })
            .collect()
    }
}

/// The mean hours of one leg, over the stays that went through it.
#[derive(SimpleObject)]
pub struct LegAverage {
    /// The leg.
    pub leg: Leg,
    /// How many stays it is the mean of.
    pub stays: u64,
    /// Mean hours.
    pub mean_hours: f64,
}

/// The averages of one ward and pathway.
#[derive(SimpleObject)]
pub struct FlowAverages {
    /// The ward.
    pub ward_id: String,
    /// The discharge pathway (null: never marked).
    pub pathway: Option<u8>,
    /// Each leg's mean, for the legs any stay went through.
    pub legs: Vec<LegAverage>,
}

/// The flow queries.
#[derive(Default)]
pub struct FlowQuery;

fn reader<'a>(ctx: &Context<'a>) -> Result<&'a FlowReader, GqlError> {
    let caller = authenticated(ctx)?;
    if !policy::role_allows(caller.actor.role, Action::ViewBeds) {
        return Err(
            ApiError::Forbidden(format!("role {} may not {}", caller.actor.role, Action::ViewBeds)).into()
        );
    }
    Ok(ctx.data::<FlowReader>().map_err(|e| ApiError::internal(&e.message))?)
}

#[Object]
impl FlowQuery {
    /// A ward's medically optimised stays (the latest 500), the latest first, each with the
    /// times of its hand-offs and the hours in each leg, from the events' own times. Only the
    /// ward's organisation sees its stays (the averages are for everyone who sees bed state).
    async fn discharge_flow(&self, ctx: &Context<'_>, ward_id: ID) -> Result<Vec<FlowStay>, GqlError> {
        let reader = reader(ctx)?;
        let caller = authenticated(ctx)?;
        let Some(FlowDoc::Ward { stays }) =
            reader.get(&ward_key(ward_id.as_str())).await.map_err(ApiError::from)?
        else {
            return Ok(Vec::new());
        };
        let keys: Vec<String> = stays.iter().rev().map(|s| stay_key(s)).collect();
        let stays: Vec<FlowStay> = reader
            .get_many(&keys)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .filter_map(|doc| match doc {
                Some(FlowDoc::Stay(flow)) => Some(FlowStay(*flow)),
                _ => None,
            })
            .collect();
        for stay in &stays {
            let owner =
                stay.0.organisation.as_deref().map_or(policy::Owner::Unrecorded, policy::Owner::Organisation);
            policy::authorize(&caller.actor, Action::ViewBeds, owner)
                .map_err(|d| ApiError::Forbidden(d.to_string()))?;
        }
        Ok(stays)
    }

    /// The mean hours in each leg per ward and pathway (one ward's, if named).
    async fn discharge_flow_averages(
        &self,
        ctx: &Context<'_>,
        ward_id: Option<ID>,
    ) -> Result<Vec<FlowAverages>, GqlError> {
        let reader = reader(ctx)?;
        let Some(FlowDoc::Summary { rows }) = reader.get(SUMMARY_KEY).await.map_err(ApiError::from)? else {
            return Ok(Vec::new());
        };
        Ok(rows
            .into_iter()
            .filter_map(|(key, sums)| {
                let (ward, pathway) = key.rsplit_once('/')?;
                if ward_id.as_ref().is_some_and(|w| w.as_str() != ward) {
                    return None;
                }
                let legs = sums
                    .legs
                    .into_iter()
                    .filter(|(_, (count, _))| *count > 0)
                    .map(|(leg, (count, total))| LegAverage {
                        leg: leg.into(),
                        stays: count,
                        mean_hours: hours(total) / count as f64,
                    })
                    .collect();
                Some(FlowAverages { ward_id: ward.to_owned(), pathway: pathway.parse().ok(), legs })
            })
            .collect())
    }
}
