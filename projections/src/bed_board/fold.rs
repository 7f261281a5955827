//! The bed board as a document [`Fold`]: every site, ward and bed as a document (a bed's
//! document is its whole view, the patient's details included), open stays, and the indexes the
//! reads need. Stored in memory or Redis by the generic document code.
//!
//! | key | document |
//! | --- | --- |
//! | `site:{id}`, `ward:{id}`, `bed:{id}` | [`BedDoc::Site`], [`BedDoc::Ward`], [`BedDoc::Bed`] |
//! | `stay:{id}` | [`BedDoc::Stay`]: an open stay (bed, patient, dates), gone at discharge |
//! | `sites`, `wards` | [`BedDoc::Index`]: every site id, every ward id |
//! | `ward-beds:{id}`, `site-beds:{id}` | [`BedDoc::Index`]: the bed ids of a ward, of a site |
//!
//! Pure: depends on the domain and the model shapes only.

use std::collections::BTreeSet;

use careflow_domain::beds::{BedEvent, BedStatus, Pathway, PatientName};
use careflow_eventstore::{Filter, Position, RecordedEvent};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::model::{BedView, PatientView, SiteView, WardView};
use crate::ProjectionError;
use crate::documents::{Docs, Fold};

/// The model's name.
pub const NAME: &str = "bed_board";

/// One document of the bed board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "doc", rename_all = "snake_case")]
pub enum BedDoc {
    /// A site.
    Site(SiteView),
    /// A ward.
    Ward(WardView),
    /// A bed, as shown.
    Bed(Box<BedView>),
    /// An open stay.
    Stay(StayRecord),
    /// Ids.
    Index {
        /// The ids, in order.
        ids: BTreeSet<String>,
    },
}

/// An open stay: what a bed view shows of its patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StayRecord {
    /// The bed it is in.
    pub bed_id: String,
    /// The patient's NHS number.
    pub nhs_number: String,
    /// Their name.
    pub patient: PatientName,
    /// Expected discharge date.
    pub expected_discharge_date: Option<NaiveDate>,
    /// Discharge Ready Date and pathway, once medically optimised.
    pub medically_optimised: Option<(NaiveDate, Pathway)>,
}

/// The key of a site.
pub fn site_key(id: &str) -> String {
    format!("site:{id}")
}
/// The key of a ward.
pub fn ward_key(id: &str) -> String {
    format!("ward:{id}")
}
/// The key of a bed.
pub fn bed_key(id: &str) -> String {
    format!("bed:{id}")
}
/// The key of a ward's bed ids.
pub fn ward_beds_key(id: &str) -> String {
    format!("ward-beds:{id}")
}
/// The key of a site's bed ids.
pub fn site_beds_key(id: &str) -> String {
    format!("site-beds:{id}")
}
/// The key of every site id.
pub const SITES: &str = "sites";
/// The key of every ward id.
pub const WARDS: &str = "wards";

fn stay_key(id: &str) -> String {
    format!("stay:{id}")
}

/// The bed board fold.
#[derive(Debug, Clone, Copy, Default)]
pub struct BedBoardFold;

fn index(docs: &mut Docs<BedDoc>, key: &str, id: &str) {
    if let BedDoc::Index { ids } = docs.entry(key, || BedDoc::Index { ids: BTreeSet::new() }) {
        ids.insert(id.to_owned());
    }
}

fn stay_of(docs: &Docs<BedDoc>, stay_id: &str) -> Option<StayRecord> {
    match docs.get(&stay_key(stay_id)) {
        Some(BedDoc::Stay(stay)) => Some(stay.clone()),
        _ => None,
    }
}

/// Shows `stay`'s patient and dates on `bed` (or none).
fn render(bed: &mut BedView, stay: Option<&StayRecord>) {
    bed.patient = stay.map(|s| PatientView {
        nhs_number: s.nhs_number.clone(),
        given_name: s.patient.given.clone(),
        family_name: s.patient.family.clone(),
    });
    bed.expected_discharge_date = stay.and_then(|s| s.expected_discharge_date);
    bed.medically_optimised = stay.is_some_and(|s| s.medically_optimised.is_some());
    bed.discharge_ready_date = stay.and_then(|s| s.medically_optimised.map(|(date, _)| date));
    bed.pathway = stay.and_then(|s| s.medically_optimised.map(|(_, p)| p.number()));
}

/// Changes the bed under `bed_id` with `change`, if it exists.
fn with_bed(docs: &mut Docs<BedDoc>, bed_id: &str, change: impl FnOnce(&mut BedView)) {
    if let Some(BedDoc::Bed(bed)) = docs.get_mut(&bed_key(bed_id)) {
        change(bed);
    }
}

/// Sets a bed's state, clearing what belonged to the state it leaves.
fn set_status(bed: &mut BedView, status: BedStatus, at: DateTime<Utc>, position: Position) {
    bed.status = status;
    bed.since = at;
    bed.stay_id = None;
    bed.reserved_for = None;
    bed.blocked_reason = None;
    bed.position = position;
    render(bed, None);
}

/// Shows a changed stay on the bed holding it (if it is still in it).
fn touch_stay_bed(docs: &mut Docs<BedDoc>, stay_id: &str, position: Position) {
    let Some(stay) = stay_of(docs, stay_id) else { return };
    with_bed(docs, &stay.bed_id, |bed| {
        if bed.stay_id.as_deref() == Some(stay_id) {
            bed.position = position;
            render(bed, Some(&stay));
        }
    });
}

fn change_stay(docs: &mut Docs<BedDoc>, stay_id: &str, change: impl FnOnce(&mut StayRecord)) -> bool {
    match docs.get_mut(&stay_key(stay_id)) {
        Some(BedDoc::Stay(stay)) => {
            change(stay);
            true
        }
        _ => false,
    }
}

impl Fold for BedBoardFold {
    type Doc = BedDoc;

    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self) -> Filter {
        Filter::categories(careflow_domain::beds::BedStream::CATEGORIES)
    }

    fn apply(&self, docs: &mut Docs<BedDoc>, event: &RecordedEvent) -> Result<(), ProjectionError> {
        let position = event.position;
        // Decoded once for every read model of the host that reads it.
        let decoded = event
            .decode_shared::<BedEvent>()
            .map_err(|e| ProjectionError::Decode { position, message: e.to_string() })?;
        match &*decoded {
            BedEvent::SiteRegistered { site_id, name, .. } => {
                let site_id = site_id.to_string();
                index(docs, SITES, &site_id);
                docs.put(site_key(&site_id), BedDoc::Site(SiteView { site_id, name: name.to_string() }));
            }
            BedEvent::WardConfigured { ward_id, site_id, name, specialty, .. } => {
                let ward_id = ward_id.to_string();
                index(docs, WARDS, &ward_id);
                let ward = WardView {
                    ward_id: ward_id.clone(),
                    site_id: site_id.to_string(),
                    name: name.to_string(),
                    specialty: specialty.as_ref().map(|s| s.to_string()),
                };
                docs.put(ward_key(&ward_id), BedDoc::Ward(ward));
            }
            BedEvent::BedAdded { bed_id, ward_id, site_id, label, at, .. } => {
                let (bed_id, ward_id, site_id) =
                    (bed_id.to_string(), ward_id.to_string(), site_id.to_string());
                index(docs, &ward_beds_key(&ward_id), &bed_id);
                index(docs, &site_beds_key(&site_id), &bed_id);
                let bed = BedView {
                    bed_id: bed_id.clone(),
                    ward_id,
                    site_id,
                    label: label.to_string(),
                    status: BedStatus::Available,
                    since: *at,
                    stay_id: None,
                    patient: None,
                    expected_discharge_date: None,
                    medically_optimised: false,
                    discharge_ready_date: None,
                    pathway: None,
                    reserved_for: None,
                    blocked_reason: None,
                    position,
                };
                docs.put(bed_key(&bed_id), BedDoc::Bed(Box::new(bed)));
            }
            BedEvent::BedReserved { bed_id, for_nhs_number, at, .. } => {
                with_bed(docs, bed_id.as_str(), |bed| {
                    set_status(bed, BedStatus::Reserved, *at, position);
                    bed.reserved_for = for_nhs_number.map(|n| n.to_string());
                })
            }
            BedEvent::BedReservationReleased { bed_id, at } | BedEvent::BedCleaned { bed_id, at } => {
                with_bed(docs, bed_id.as_str(), |bed| set_status(bed, BedStatus::Available, *at, position));
            }
            BedEvent::BedOccupied { bed_id, stay_id, at, .. } => {
                let stay_id = stay_id.to_string();
                change_stay(docs, &stay_id, |stay| stay.bed_id = bed_id.to_string());
                let stay = stay_of(docs, &stay_id);
                with_bed(docs, bed_id.as_str(), |bed| {
                    set_status(bed, BedStatus::Occupied, *at, position);
                    bed.stay_id = Some(stay_id);
                    render(bed, stay.as_ref());
                });
            }
            BedEvent::BedVacated { bed_id, at, .. } => {
                with_bed(docs, bed_id.as_str(), |bed| {
                    set_status(bed, BedStatus::AwaitingCleaning, *at, position)
                });
            }
            BedEvent::BedBlocked { bed_id, reason, at, .. } => with_bed(docs, bed_id.as_str(), |bed| {
                set_status(bed, BedStatus::Blocked, *at, position);
                bed.blocked_reason = Some(*reason);
            }),
            BedEvent::BedUnblocked { bed_id, to, at } => {
                with_bed(docs, bed_id.as_str(), |bed| set_status(bed, *to, *at, position));
            }
            BedEvent::PatientAdmitted { stay_id, nhs_number, patient, bed_id, .. } => {
                let stay_id = stay_id.to_string();
                let stay = StayRecord {
                    bed_id: bed_id.to_string(),
                    nhs_number: nhs_number.to_string(),
                    patient: patient.clone(),
                    expected_discharge_date: None,
                    medically_optimised: None,
                };
                docs.put(stay_key(&stay_id), BedDoc::Stay(stay));
                touch_stay_bed(docs, &stay_id, position);
            }
            BedEvent::ExpectedDischargeDateSet { stay_id, date, .. } => {
                let stay_id = stay_id.to_string();
                if change_stay(docs, &stay_id, |stay| stay.expected_discharge_date = Some(*date)) {
                    touch_stay_bed(docs, &stay_id, position);
                }
            }
            BedEvent::PatientMedicallyOptimised { stay_id, discharge_ready_date, pathway, .. } => {
                let stay_id = stay_id.to_string();
                if change_stay(docs, &stay_id, |stay| {
                    stay.medically_optimised = Some((*discharge_ready_date, *pathway))
                }) {
                    touch_stay_bed(docs, &stay_id, position);
                }
            }
            BedEvent::PatientDischarged { stay_id, .. } => {
                docs.remove(&stay_key(&stay_id.to_string()));
            }
            // The bed events of the same append carry what the board shows.
            BedEvent::PatientTransferred { .. }
            | BedEvent::InpatientStayOpened { .. }
            | BedEvent::InpatientStayClosed { .. }
            | BedEvent::Patient(_) => {}
        }
        Ok(())
    }
}
