//! The discharge-to-assess flow (DESIGN.md §5, §6) as one document [`Fold`]: for each hospital
//! stay marked medically optimised, when each hand-off happened, from the events' own times —
//! medically optimised → trusted assessment submitted → care request posted → placement agreed
//! → discharged → bed available — and so the time spent in each leg; and per ward and pathway,
//! the sums from which the averages are read.
//!
//! | key | document |
//! | --- | --- |
//! | `stay:{id}` | [`FlowDoc::Stay`]: one stay's hand-offs |
//! | `ward:{id}` | [`FlowDoc::Ward`]: the ward's medically optimised stays, the latest last (at most [`MAX_STAYS`]) |
//! | `patient:{nhs}` | [`FlowDoc::Patient`]: the patient's latest stay, to which their assessments and care requests belong |
//! | `assessment:{id}` | [`FlowDoc::Assessment`]: whose assessment it is |
//! | `bed:{id}` | [`FlowDoc::Bed`]: the stay whose discharge the bed awaits cleaning after |
//! | `summary` | [`FlowDoc::Summary`]: per ward and pathway, each leg's count and total |
//!
//! An assessment or request after the discharge (discharge to assess: assessed at home) still
//! counts for the stay; a leg counts once both its ends are known and in order. Holds NHS
//! numbers only as keys to correlate by: the gateway shows stays, not people.

use std::collections::BTreeMap;

use careflow_domain::assessments::AssessmentEvent;
use careflow_domain::beds::{BedEvent, Pathway};
use careflow_domain::brokerage::BrokerageEvent;
use careflow_eventstore::{Filter, RecordedEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ProjectionError;
use crate::documents::{Docs, Fold, decode};

/// The model's name.
pub const NAME: &str = "flow";

/// The key of the per ward and pathway sums.
pub const SUMMARY_KEY: &str = "summary";

/// How many stays a ward's list keeps.
pub const MAX_STAYS: usize = 500;

/// A stay's key.
pub fn stay_key(stay_id: &str) -> String {
    format!("stay:{stay_id}")
}

/// A ward's key.
pub fn ward_key(ward_id: &str) -> String {
    format!("ward:{ward_id}")
}

fn patient_key(nhs: &str) -> String {
    format!("patient:{nhs}")
}

fn assessment_key(id: &str) -> String {
    format!("assessment:{id}")
}

fn bed_key(id: &str) -> String {
    format!("bed:{id}")
}

/// The legs of the flow, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

impl Leg {
    /// Every leg, in order.
    pub const ALL: [Leg; 5] =
        [Self::Assessment, Self::Request, Self::Award, Self::Discharge, Self::BedAvailable];
}

/// One stay's hand-offs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StayFlow {
    /// The stay.
    pub stay_id: String,
    /// Its ward (the latest).
    pub ward_id: String,
    /// Its bed (the latest).
    pub bed_id: String,
    /// The organisation whose bed it is (absent: recorded before owners were).
    pub organisation: Option<String>,
    /// The discharge pathway (as last marked, or as discharged).
    pub pathway: Option<u8>,
    /// When the patient was admitted.
    pub admitted_at: DateTime<Utc>,
    /// When first marked medically optimised.
    pub medically_optimised_at: Option<DateTime<Utc>>,
    /// When their trusted assessment was first submitted.
    pub assessment_submitted_at: Option<DateTime<Utc>>,
    /// When a care request was first posted for them.
    pub request_posted_at: Option<DateTime<Utc>>,
    /// When a placement was (last) agreed.
    pub placement_agreed_at: Option<DateTime<Utc>>,
    /// When they were discharged.
    pub discharged_at: Option<DateTime<Utc>>,
    /// When their bed was available again.
    pub bed_available_at: Option<DateTime<Utc>>,
    /// The legs already counted in the summary.
    pub counted: Vec<Leg>,
}

impl StayFlow {
    /// A leg's start and end, when both are known and in order.
    pub fn leg(&self, leg: Leg) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let (from, to) = match leg {
            Leg::Assessment => (self.medically_optimised_at, self.assessment_submitted_at),
            Leg::Request => (self.assessment_submitted_at, self.request_posted_at),
            Leg::Award => (self.request_posted_at, self.placement_agreed_at),
            Leg::Discharge => (self.placement_agreed_at.or(self.medically_optimised_at), self.discharged_at),
            Leg::BedAvailable => (self.discharged_at, self.bed_available_at),
        };
        let (from, to) = (from?, to?);
        (to >= from).then_some((from, to))
    }

    /// A leg's length in seconds, when known.
    pub fn seconds(&self, leg: Leg) -> Option<i64> {
        self.leg(leg).map(|(from, to)| (to - from).num_seconds())
    }
}

/// One ward and pathway's sums: per leg, how many stays and their total seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegSums {
    /// Per leg: stays counted, total seconds.
    pub legs: BTreeMap<Leg, (u64, i64)>,
}

/// One document of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "doc", rename_all = "snake_case")]
pub enum FlowDoc {
    /// One stay's hand-offs.
    Stay(Box<StayFlow>),
    /// A ward's medically optimised stays.
    Ward {
        /// The stays, the latest last.
        stays: Vec<String>,
    },
    /// A patient's latest stay.
    Patient {
        /// The stay.
        stay_id: String,
    },
    /// Whose an assessment is.
    Assessment {
        /// The patient's NHS number.
        nhs_number: String,
    },
    /// The stay a bed awaits cleaning after.
    Bed {
        /// The stay.
        stay_id: String,
    },
    /// Per ward and pathway (`"<ward>/<pathway>"`, pathway `-` when unknown), the legs' sums.
    Summary {
        /// The sums.
        rows: BTreeMap<String, LegSums>,
    },
}

/// The flow fold.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlowModel;

fn stay_mut<'a>(docs: &'a mut Docs<FlowDoc>, stay_id: &str) -> Option<&'a mut StayFlow> {
    match docs.get_mut(&stay_key(stay_id)) {
        Some(FlowDoc::Stay(flow)) => Some(flow),
        _ => None,
    }
}

fn stay_of_patient(docs: &Docs<FlowDoc>, nhs: &str) -> Option<String> {
    match docs.get(&patient_key(nhs)) {
        Some(FlowDoc::Patient { stay_id }) => Some(stay_id.clone()),
        _ => None,
    }
}

/// The summary's key of a ward and pathway.
pub fn summary_row(ward_id: &str, pathway: Option<u8>) -> String {
    format!("{ward_id}/{}", pathway.map_or_else(|| "-".to_owned(), |p| p.to_string()))
}

/// Changes stay `stay_id` with `change`, then counts in the summary every leg that is now
/// complete and not yet counted.
fn change(docs: &mut Docs<FlowDoc>, stay_id: &str, change: impl FnOnce(&mut StayFlow)) {
    let Some(flow) = stay_mut(docs, stay_id) else { return };
    change(flow);
    let fresh: Vec<(Leg, i64)> = Leg::ALL
        .into_iter()
        .filter(|leg| !flow.counted.contains(leg))
        .filter_map(|leg| flow.seconds(leg).map(|s| (leg, s)))
        .collect();
    if fresh.is_empty() {
        return;
    }
    flow.counted.extend(fresh.iter().map(|(leg, _)| *leg));
    let row = summary_row(&flow.ward_id, flow.pathway);
    if let FlowDoc::Summary { rows } = docs.entry(SUMMARY_KEY, || FlowDoc::Summary { rows: BTreeMap::new() })
    {
        let sums = rows.entry(row).or_default();
        for (leg, seconds) in fresh {
            let (count, total) = sums.legs.entry(leg).or_insert((0, 0));
            *count += 1;
            *total += seconds;
        }
    }
}

fn pathway(p: Pathway) -> u8 {
    p.number()
}

impl FlowModel {
    fn beds(docs: &mut Docs<FlowDoc>, event: &BedEvent) {
        match event {
            BedEvent::PatientAdmitted { stay_id, nhs_number, bed_id, ward_id, organisation, at, .. } => {
                let id = stay_id.to_string();
                let flow = StayFlow {
                    stay_id: id.clone(),
                    ward_id: ward_id.to_string(),
                    bed_id: bed_id.to_string(),
                    organisation: organisation.as_ref().map(ToString::to_string),
                    pathway: None,
                    admitted_at: *at,
                    medically_optimised_at: None,
                    assessment_submitted_at: None,
                    request_posted_at: None,
                    placement_agreed_at: None,
                    discharged_at: None,
                    bed_available_at: None,
                    counted: Vec::new(),
                };
                docs.put(stay_key(&id), FlowDoc::Stay(Box::new(flow)));
                docs.put(patient_key(&nhs_number.to_string()), FlowDoc::Patient { stay_id: id });
            }
            BedEvent::PatientTransferred { stay_id, to_bed_id, to_ward_id, .. } => {
                change(docs, &stay_id.to_string(), |f| {
                    f.ward_id = to_ward_id.to_string();
                    f.bed_id = to_bed_id.to_string();
                });
            }
            BedEvent::PatientMedicallyOptimised { stay_id, pathway: p, at, .. } => {
                let id = stay_id.to_string();
                let Some(flow) = stay_mut(docs, &id) else { return };
                let first = flow.medically_optimised_at.is_none();
                let ward = flow.ward_id.clone();
                change(docs, &id, |f| {
                    f.medically_optimised_at.get_or_insert(*at);
                    f.pathway = Some(pathway(*p));
                });
                if first
                    && let FlowDoc::Ward { stays } =
                        docs.entry(&ward_key(&ward), || FlowDoc::Ward { stays: Vec::new() })
                {
                    stays.push(id);
                    if stays.len() > MAX_STAYS {
                        stays.remove(0);
                    }
                }
            }
            BedEvent::PatientDischarged { stay_id, bed_id, pathway: p, at, .. } => {
                let id = stay_id.to_string();
                change(docs, &id, |f| {
                    f.discharged_at = Some(*at);
                    f.pathway = Some(pathway(*p));
                });
                docs.put(bed_key(bed_id.as_str()), FlowDoc::Bed { stay_id: id });
            }
            BedEvent::BedCleaned { bed_id, at } => {
                let Some(FlowDoc::Bed { stay_id }) = docs.remove(&bed_key(bed_id.as_str())) else { return };
                change(docs, &stay_id, |f| {
                    f.bed_available_at.get_or_insert(*at);
                });
            }
            _ => {}
        }
    }

    fn assessment(docs: &mut Docs<FlowDoc>, event: &AssessmentEvent) {
        match event {
            AssessmentEvent::AssessmentStarted { assessment_id, nhs_number, .. } => {
                docs.put(
                    assessment_key(&assessment_id.to_string()),
                    FlowDoc::Assessment { nhs_number: nhs_number.to_string() },
                );
            }
            AssessmentEvent::AssessmentSubmitted { assessment_id, at, .. } => {
                let Some(FlowDoc::Assessment { nhs_number }) =
                    docs.get(&assessment_key(&assessment_id.to_string()))
                else {
                    return;
                };
                let Some(stay) = stay_of_patient(docs, &nhs_number.clone()) else { return };
                change(docs, &stay, |f| {
                    if f.medically_optimised_at.is_some() {
                        f.assessment_submitted_at.get_or_insert(*at);
                    }
                });
            }
            _ => {}
        }
    }

    fn brokerage(docs: &mut Docs<FlowDoc>, event: &BrokerageEvent) {
        let (nhs, at, placed) = match event {
            BrokerageEvent::CareRequestPosted { nhs_number, at, .. } => (nhs_number, at, false),
            BrokerageEvent::PlacementAgreed { nhs_number, at, .. } => (nhs_number, at, true),
            _ => return,
        };
        let Some(stay) = stay_of_patient(docs, &nhs.to_string()) else { return };
        change(docs, &stay, |f| {
            if f.medically_optimised_at.is_none() {
                return;
            }
            if placed {
                f.placement_agreed_at = Some(*at);
            } else {
                f.request_posted_at.get_or_insert(*at);
            }
        });
    }
}

impl Fold for FlowModel {
    type Doc = FlowDoc;

    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self) -> Filter {
        Filter::categories(["stay", "bed", "assessment", "care"])
    }

    fn apply(&self, docs: &mut Docs<FlowDoc>, event: &RecordedEvent) -> Result<(), ProjectionError> {
        match event.stream.category() {
            "stay" | "bed" => Self::beds(docs, &*decode::<BedEvent>(event)?),
            "assessment" => Self::assessment(docs, &*decode::<AssessmentEvent>(event)?),
            _ => Self::brokerage(docs, &*decode::<BrokerageEvent>(event)?),
        }
        Ok(())
    }
}
