//! The shapes the bed board serves.

use careflow_domain::beds::{BedStatus, BlockReason};
use careflow_eventstore::Position;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A hospital site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteView {
    /// Site id (ODS site code).
    pub site_id: String,
    /// Name.
    pub name: String,
}

/// A ward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WardView {
    /// Ward id.
    pub ward_id: String,
    /// Its site.
    pub site_id: String,
    /// Name.
    pub name: String,
    /// Specialty, if recorded.
    pub specialty: Option<String>,
}

/// The patient in a bed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientView {
    /// NHS number.
    pub nhs_number: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
}

/// One bed on the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BedView {
    /// Bed id.
    pub bed_id: String,
    /// Its ward.
    pub ward_id: String,
    /// Its site.
    pub site_id: String,
    /// What staff call it.
    pub label: String,
    /// State.
    pub status: BedStatus,
    /// In this state since.
    pub since: DateTime<Utc>,
    /// The open stay in it, when OCCUPIED.
    pub stay_id: Option<String>,
    /// The patient, when OCCUPIED.
    pub patient: Option<PatientView>,
    /// Expected discharge date of the patient in it.
    pub expected_discharge_date: Option<NaiveDate>,
    /// The patient in it no longer meets the criteria to reside.
    pub medically_optimised: bool,
    /// Their Discharge Ready Date.
    pub discharge_ready_date: Option<NaiveDate>,
    /// Their planned discharge pathway (0–3).
    pub pathway: Option<u8>,
    /// Who it is reserved for, when RESERVED for a known patient.
    pub reserved_for: Option<String>,
    /// Why it is blocked, when BLOCKED.
    pub blocked_reason: Option<BlockReason>,
    /// Position of the last event that changed this view.
    pub position: Position,
}

/// Bed counts for a ward or a site.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// All beds.
    pub total: u32,
    /// OCCUPIED.
    pub occupied: u32,
    /// AVAILABLE.
    pub available: u32,
    /// AWAITING_CLEANING.
    pub awaiting_cleaning: u32,
    /// BLOCKED.
    pub blocked: u32,
    /// RESERVED.
    pub reserved: u32,
    /// Occupied by a patient who is medically optimised: a bed that could be freed.
    pub medically_optimised_in_bed: u32,
}

impl Capacity {
    /// Counts `beds`.
    pub fn of<'a>(beds: impl IntoIterator<Item = &'a BedView>) -> Self {
        let mut capacity = Self::default();
        for bed in beds {
            capacity.total += 1;
            match bed.status {
                BedStatus::Available => capacity.available += 1,
                BedStatus::Reserved => capacity.reserved += 1,
                BedStatus::Occupied => capacity.occupied += 1,
                BedStatus::AwaitingCleaning => capacity.awaiting_cleaning += 1,
                BedStatus::Blocked => capacity.blocked += 1,
            }
            if bed.status == BedStatus::Occupied && bed.medically_optimised {
                capacity.medically_optimised_in_bed += 1;
            }
        }
        capacity
    }
}

/// A bed whose view changed, as pushed to subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BedChange {
    /// The bed's ward.
    pub ward_id: String,
    /// The bed as it now is.
    pub bed: BedView,
    /// The `traceparent` of the projection batch that changed it, when traced.
    #[serde(skip)]
    pub trace: Option<std::sync::Arc<str>>,
}
