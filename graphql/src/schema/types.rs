//! GraphQL object types: sites, wards, beds, capacity, and the mutation payload.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use careflow_domain::beds as domain;
use careflow_projections::bed_board::{
    BedBoardReader, BedView, Capacity as CapacityView, SiteView, WardView,
};

use careflow_auth::policy::{self, Action};
use careflow_projections::patient_summary::{PatientSummary, patient_key};

use super::authenticated;
use super::patients::{FlagKind, may_see, patients, summary_of};
use super::virtualwards::types::VirtualCapacity;
use super::virtualwards::virtual_capacity;
use crate::error::{ApiError, GqlError};

/// Where a bed is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::BedStatus")]
pub enum BedStatus {
    /// Clean and free.
    Available,
    /// Held for an incoming patient.
    Reserved,
    /// A patient is in it.
    Occupied,
    /// Vacated, waiting for housekeeping.
    AwaitingCleaning,
    /// Out of use.
    Blocked,
}

/// Why a bed is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::BlockReason")]
pub enum BlockReason {
    /// Infection control or isolation; needs cleaning when unblocked.
    InfectionControl,
    /// Equipment or estates work.
    Maintenance,
    /// Not enough staff to open it.
    Staffing,
}

/// Where a patient went on discharge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::DischargeDestination")]
pub enum DischargeDestination {
    /// Their usual place of residence.
    UsualResidence,
    /// Temporary residence (e.g. with family).
    TemporaryResidence,
    /// A residential care home.
    CareHome,
    /// A nursing home.
    NursingHome,
    /// A community or rehabilitation bed.
    CommunityBed,
    /// Another hospital.
    OtherHospital,
    /// A hospice.
    Hospice,
}

/// Bed counts for a ward or a site.
#[derive(Debug, Clone, Copy, Default, SimpleObject)]
pub struct Capacity {
    /// All beds.
    pub total: u32,
    /// Occupied.
    pub occupied: u32,
    /// Available.
    pub available: u32,
    /// Awaiting cleaning.
    pub awaiting_cleaning: u32,
    /// Blocked.
    pub blocked: u32,
    /// Reserved.
    pub reserved: u32,
    /// Occupied by a medically optimised patient: a bed that could be freed.
    pub medically_optimised_in_bed: u32,
}

impl From<CapacityView> for Capacity {
    fn from(c: CapacityView) -> Self {
        Self {
            total: c.total,
            occupied: c.occupied,
            available: c.available,
            awaiting_cleaning: c.awaiting_cleaning,
            blocked: c.blocked,
            reserved: c.reserved,
            medically_optimised_in_bed: c.medically_optimised_in_bed,
        }
    }
}

/// The patient in a bed, as the caller may see them.
#[derive(Debug, Clone, SimpleObject)]
pub struct BedPatient {
    /// NHS number.
    pub nhs_number: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// The kinds of the patient's active flags (end of life, frailty, infection control…).
    pub active_flags: Vec<FlagKind>,
}

/// A bed on the board.
pub struct Bed(pub BedView);

#[Object]
impl Bed {
    /// Bed id.
    async fn id(&self) -> ID {
        ID(self.0.bed_id.clone())
    }
    /// Its ward.
    async fn ward_id(&self) -> ID {
        ID(self.0.ward_id.clone())
    }
    /// Its site.
    async fn site_id(&self) -> ID {
        ID(self.0.site_id.clone())
    }
    /// What staff call it.
    async fn label(&self) -> &str {
        &self.0.label
    }
    /// State.
    async fn status(&self) -> BedStatus {
        self.0.status.into()
    }
    /// In this state since (RFC 3339, UTC).
    async fn since(&self) -> String {
        self.0.since.to_rfc3339()
    }
    /// The open stay in it, when OCCUPIED.
    async fn stay_id(&self) -> Option<ID> {
        self.0.stay_id.clone().map(ID)
    }
    /// The patient, when OCCUPIED and the caller may see who it is: null for a role that may
    /// not see patient records, and for a patient who dissents from sharing when the caller's
    /// organisation is not caring for them (the bed still shows OCCUPIED).
    async fn patient(&self, ctx: &Context<'_>) -> Result<Option<BedPatient>, GqlError> {
        let Some(patient) = &self.0.patient else { return Ok(None) };
        let Some(summary) = visible_patient(ctx, &patient.nhs_number).await? else { return Ok(None) };
        let active_flags = summary.active_flag_kinds().into_iter().map(Into::into).collect();
        Ok(Some(BedPatient {
            nhs_number: patient.nhs_number.clone(),
            given_name: patient.given_name.clone(),
            family_name: patient.family_name.clone(),
            active_flags,
        }))
    }
    /// Expected discharge date (YYYY-MM-DD).
    async fn expected_discharge_date(&self) -> Option<String> {
        self.0.expected_discharge_date.map(|d| d.to_string())
    }
    /// The patient no longer meets the criteria to reside.
    async fn medically_optimised(&self) -> bool {
        self.0.medically_optimised
    }
    /// Discharge Ready Date (YYYY-MM-DD).
    async fn discharge_ready_date(&self) -> Option<String> {
        self.0.discharge_ready_date.map(|d| d.to_string())
    }
    /// Planned discharge pathway, 0–3.
    async fn pathway(&self) -> Option<i32> {
        self.0.pathway.map(i32::from)
    }
    /// NHS number of the patient it is reserved for, when the caller may see who it is (as
    /// for `patient`).
    async fn reserved_for(&self, ctx: &Context<'_>) -> Result<Option<String>, GqlError> {
        let Some(nhs) = &self.0.reserved_for else { return Ok(None) };
        Ok(visible_patient(ctx, nhs).await?.map(|_| nhs.clone()))
    }
    /// Why it is blocked.
    async fn blocked_reason(&self) -> Option<BlockReason> {
        self.0.blocked_reason.map(Into::into)
    }
}

/// The summary of the patient with `nhs_number` if the caller may see who they are: their
/// role allows patient records, and the policy lets them see this patient. Fails closed: no
/// summary (not built yet, being rebuilt) shows no one.
async fn visible_patient(ctx: &Context<'_>, nhs_number: &str) -> Result<Option<PatientSummary>, GqlError> {
    let caller = authenticated(ctx)?;
    if !policy::role_allows(caller.actor.role, Action::ViewPatients) {
        return Ok(None);
    }
    let summary = summary_of(patients(ctx)?.get(&patient_key(nhs_number)).await?);
    Ok(summary.filter(|s| may_see(caller, s).is_ok()))
}

pub(crate) fn reader<'a>(ctx: &Context<'a>) -> Result<&'a Arc<dyn BedBoardReader>, ApiError> {
    ctx.data::<Arc<dyn BedBoardReader>>().map_err(|e| ApiError::internal(&e.message))
}

/// A ward.
pub struct Ward(pub WardView);

#[Object]
impl Ward {
    /// Ward id.
    async fn id(&self) -> ID {
        ID(self.0.ward_id.clone())
    }
    /// Its site.
    async fn site_id(&self) -> ID {
        ID(self.0.site_id.clone())
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Specialty.
    async fn specialty(&self) -> Option<&str> {
        self.0.specialty.as_deref()
    }
    /// The bed board: every bed of the ward.
    async fn beds(&self, ctx: &Context<'_>) -> Result<Vec<Bed>, GqlError> {
        let beds = reader(ctx)?.bed_board(&self.0.ward_id).await?.unwrap_or_default();
        Ok(beds.into_iter().map(Bed).collect())
    }
    /// The ward's capacity.
    async fn capacity(&self, ctx: &Context<'_>) -> Result<Capacity, GqlError> {
        Ok(reader(ctx)?.ward_capacity(&self.0.ward_id).await?.unwrap_or_default().into())
    }
}

/// A hospital site.
pub struct Site(pub SiteView);

#[Object]
impl Site {
    /// Site id (ODS site code).
    async fn id(&self) -> ID {
        ID(self.0.site_id.clone())
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Its wards.
    async fn wards(&self, ctx: &Context<'_>) -> Result<Vec<Ward>, GqlError> {
        Ok(reader(ctx)?.wards(Some(&self.0.site_id)).await?.into_iter().map(Ward).collect())
    }
    /// The site's capacity.
    async fn capacity(&self, ctx: &Context<'_>) -> Result<Capacity, GqlError> {
        Ok(reader(ctx)?.site_capacity(&self.0.site_id).await?.unwrap_or_default().into())
    }
    /// The site's virtual beds (its virtual wards'), counted apart from its beds.
    async fn virtual_beds(&self, ctx: &Context<'_>) -> Result<VirtualCapacity, GqlError> {
        Ok(virtual_capacity(ctx, Some(&self.0.site_id)).await?)
    }
}

/// Beds and virtual beds across every site.
#[derive(Debug, Clone, Copy, SimpleObject)]
pub struct SystemCapacity {
    /// Every site's beds.
    pub beds: Capacity,
    /// Every virtual ward's beds, apart.
    pub virtual_beds: VirtualCapacity,
}

impl std::ops::Add for Capacity {
    type Output = Capacity;
    fn add(self, o: Capacity) -> Capacity {
        Capacity {
            total: self.total + o.total,
            occupied: self.occupied + o.occupied,
            available: self.available + o.available,
            awaiting_cleaning: self.awaiting_cleaning + o.awaiting_cleaning,
            blocked: self.blocked + o.blocked,
            reserved: self.reserved + o.reserved,
            medically_optimised_in_bed: self.medically_optimised_in_bed + o.medically_optimised_in_bed,
        }
    }
}

/// What a bed command returns: its position, and the beds it touched once the bed board
/// reflects it.
pub struct CommandPayload {
    pub(crate) position: u64,
    pub(crate) stay_id: Option<String>,
    /// Whether the bed board reflected the command within the wait.
    pub(crate) visible: bool,
    /// Empty unless `visible`.
    pub(crate) beds: Vec<BedView>,
}

#[Object]
impl CommandPayload {
    /// Global position of the command's last event (a decimal string: it can exceed 2^31).
    async fn position(&self) -> String {
        self.position.to_string()
    }
    /// The stay the command opened, for admissions.
    async fn stay_id(&self) -> Option<ID> {
        self.stay_id.clone().map(ID)
    }
    /// Whether the read models show the command yet. The command is committed either way; when
    /// false, `bed` is null and `beds` empty (the board would show an older state), and the
    /// response's `extensions.notYetVisible` names this mutation: read the bed again later.
    async fn visible(&self) -> bool {
        self.visible
    }
    /// The bed the command changed (the destination, for a transfer); null while not `visible`.
    async fn bed(&self) -> Option<Bed> {
        self.beds.last().cloned().map(Bed)
    }
    /// Every bed the command touched; empty while not `visible`.
    async fn beds(&self) -> Vec<Bed> {
        self.beds.iter().cloned().map(Bed).collect()
    }
}
