//! The patient summary read model (DESIGN.md §6) and the MPI search indexes, as one document
//! [`Fold`]: per patient their demographics, dissent and death, every flag (active and past),
//! where they are (their open stay: site, ward, bed), and the timeline of their events.
//!
//! | key | document |
//! | --- | --- |
//! | `patient:{nhs}` | [`PatientDoc::Summary`] |
//! | `stay:{id}` | [`PatientDoc::Stay`]: whose open stay it is (a transfer names only the stay) |
//! | `name:{FAMILY}|{YYYY-MM-DD}` | [`PatientDoc::Index`]: patients with that family name and date of birth |
//! | `postcode:{POSTCODE}` | [`PatientDoc::Index`]: patients living there |
//! | `task:{id}` | [`PatientDoc::Task`]: whose open task it is (later task events name only the task) |
//!
//! Reads the patients (`patient-`), flags (`flags-`), stay (`stay-`) and task (`task-`) streams. The timeline
//! keeps the most recent [`MAX_TIMELINE`] entries.

use std::collections::BTreeSet;

use careflow_domain::beds::{BedEvent, DischargeDestination};
use careflow_domain::flags::FlagEvent;
use careflow_domain::patients::PatientEvent;
use careflow_domain::tasks::TaskEvent;
use careflow_eventstore::{Filter, RecordedEvent};
use chrono::NaiveDate;

use crate::ProjectionError;
use crate::documents::{Docs, Fold, decode};

mod model;

pub use model::{
    DemographicsView, FlagView, OpenTaskView, PatientDoc, PatientSummary, StayView, TimelineEntry,
};

/// How many timeline entries a summary keeps (the most recent).
pub const MAX_TIMELINE: usize = 200;

/// The model's name.
pub const NAME: &str = "patient_summary";

/// The summary's key.
pub fn patient_key(nhs_number: &str) -> String {
    format!("patient:{nhs_number}")
}

/// The index key of a family name and date of birth (the name compared case-insensitively,
/// spaces trimmed).
pub fn name_key(family_name: &str, date_of_birth: NaiveDate) -> String {
    format!("name:{}|{date_of_birth}", family_name.trim().to_uppercase())
}

/// The index key of a postcode, as normalised by [`careflow_domain::patients::Postcode`].
pub fn postcode_key(postcode: &str) -> String {
    format!("postcode:{postcode}")
}

fn stay_key(stay_id: &str) -> String {
    format!("stay:{stay_id}")
}

fn task_key(task_id: &str) -> String {
    format!("task:{task_id}")
}

/// The patient summary fold.
#[derive(Debug, Clone, Copy, Default)]
pub struct PatientSummaries;

/// The patient's summary, taken out to change (a new one if there is none); give it back
/// with [`put`].
fn take(docs: &mut Docs<PatientDoc>, nhs: &str) -> PatientSummary {
    match docs.get(&patient_key(nhs)) {
        Some(PatientDoc::Summary(summary)) => (**summary).clone(),
        _ => PatientSummary::new(nhs),
    }
}

fn put(docs: &mut Docs<PatientDoc>, summary: PatientSummary) {
    docs.put(patient_key(&summary.nhs_number), PatientDoc::Summary(Box::new(summary)));
}

fn index(docs: &mut Docs<PatientDoc>, key: &str, nhs: &str, add: bool) {
    let doc = docs.entry(key, || PatientDoc::Index { nhs_numbers: BTreeSet::new() });
    if let PatientDoc::Index { nhs_numbers } = doc {
        if add {
            nhs_numbers.insert(nhs.to_owned());
        } else {
            nhs_numbers.remove(nhs);
        }
        if nhs_numbers.is_empty() {
            docs.remove(key);
        }
    }
}

/// Re-indexes a patient whose demographics went from `before` to `after`.
fn reindex(
    docs: &mut Docs<PatientDoc>,
    nhs: &str,
    before: Option<&DemographicsView>,
    after: &DemographicsView,
) {
    let old: Vec<String> = before.map(DemographicsView::index_keys).unwrap_or_default();
    let new = after.index_keys();
    for key in old.iter().filter(|k| !new.contains(k)) {
        index(docs, key, nhs, false);
    }
    for key in new.iter().filter(|k| !old.contains(k)) {
        index(docs, key, nhs, true);
    }
}

fn destination(destination: DischargeDestination) -> String {
    serde_json::to_value(destination).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl PatientSummaries {
    fn patient(&self, docs: &mut Docs<PatientDoc>, event: &RecordedEvent) -> Result<(), ProjectionError> {
        let decoded = decode::<PatientEvent>(event)?;
        let nhs = decoded.nhs_number().to_string();
        let mut patient = take(docs, &nhs);
        let (at, line) = match &*decoded {
            PatientEvent::PatientRegistered { demographics, at, .. } => {
                let view = DemographicsView::of(demographics);
                reindex(docs, &nhs, patient.demographics.as_ref(), &view);
                patient.demographics = Some(view);
                (*at, "Registered".to_owned())
            }
            PatientEvent::PatientDemographicsUpdated { change, at, .. } => {
                if let Some(before) = &patient.demographics {
                    let mut after = before.clone();
                    if let Some(name) = &change.name {
                        after.given_name = name.given.clone();
                        after.family_name = name.family.clone();
                    }
                    after.date_of_birth = change.date_of_birth.or(after.date_of_birth);
                    if let Some(gender) = change.gender {
                        after.gender = gender.fhir_code().to_owned();
                    }
                    if let Some(postcode) = &change.postcode {
                        after.postcode = Some(postcode.as_str().to_owned());
                    }
                    if let Some(gp) = &change.gp_practice {
                        after.gp_practice = Some(gp.as_str().to_owned());
                    }
                    reindex(docs, &nhs, Some(before), &after);
                    patient.demographics = Some(after);
                }
                (*at, "Demographics updated".to_owned())
            }
            PatientEvent::SharingDissentRecorded { at, .. } => {
                patient.dissent = true;
                (*at, "Dissent to sharing recorded".to_owned())
            }
            PatientEvent::SharingDissentWithdrawn { at, .. } => {
                patient.dissent = false;
                (*at, "Dissent to sharing withdrawn".to_owned())
            }
            PatientEvent::PatientDied { date_of_death, at, .. } => {
                patient.date_of_death = Some(*date_of_death);
                (*at, format!("Died on {date_of_death}"))
            }
        };
        patient.record(event, "patients", at, line);
        put(docs, patient);
        Ok(())
    }

    fn flag(&self, docs: &mut Docs<PatientDoc>, event: &RecordedEvent) -> Result<(), ProjectionError> {
        let decoded = decode::<FlagEvent>(event)?;
        let nhs = decoded.nhs_number().to_string();
        let mut patient = take(docs, &nhs);
        let (at, line) = match &*decoded {
            FlagEvent::FlagRaised {
                flag_id,
                kind,
                frailty_score,
                severity,
                reason,
                review_on,
                source,
                at,
                ..
            } => {
                let score = frailty_score.map(|s| s.get());
                patient.flags.push(FlagView {
                    flag_id: flag_id.to_string(),
                    kind: *kind,
                    frailty_score: score,
                    severity: *severity,
                    reason: reason.as_str().to_owned(),
                    review_on: *review_on,
                    source: source.clone(),
                    raised_at: *at,
                    reviewed_at: None,
                    resolved_at: None,
                    resolution: None,
                });
                let score = score.map(|s| format!(" (CFS {s})")).unwrap_or_default();
                (*at, format!("Flag raised: {kind}{score}"))
            }
            FlagEvent::FlagReviewed { flag_id, review_on, at, .. } => {
                let id = flag_id.to_string();
                let mut kind = None;
                if let Some(flag) = patient.flags.iter_mut().find(|f| f.flag_id == id) {
                    flag.review_on = Some(*review_on);
                    flag.reviewed_at = Some(*at);
                    kind = Some(flag.kind);
                }
                let kind = kind.map(|k| k.to_string()).unwrap_or_default();
                (*at, format!("Flag reviewed: {kind}, next review {review_on}"))
            }
            FlagEvent::FlagResolved { flag_id, reason, at, .. } => {
                let id = flag_id.to_string();
                let mut kind = None;
                if let Some(flag) = patient.flags.iter_mut().find(|f| f.flag_id == id) {
                    flag.resolved_at = Some(*at);
                    flag.resolution = Some(reason.as_str().to_owned());
                    kind = Some(flag.kind);
                }
                (*at, format!("Flag resolved: {}", kind.map(|k| k.to_string()).unwrap_or_default()))
            }
            FlagEvent::FlagRescored { flag_id, frailty_score, severity, reason, source, at, .. } => {
                let id = flag_id.to_string();
                if let Some(flag) = patient.flags.iter_mut().find(|f| f.flag_id == id) {
                    flag.frailty_score = Some(frailty_score.get());
                    flag.severity = *severity;
                    flag.reason = reason.as_str().to_owned();
                    flag.source = source.clone();
                }
                (*at, format!("Frailty flag updated: CFS {}", frailty_score.get()))
            }
        };
        patient.record(event, "flags", at, line);
        put(docs, patient);
        Ok(())
    }

    fn stay(&self, docs: &mut Docs<PatientDoc>, event: &RecordedEvent) -> Result<(), ProjectionError> {
        let decoded = decode::<BedEvent>(event)?;
        let patient_of = |docs: &Docs<PatientDoc>, stay_id: &str| match docs.get(&stay_key(stay_id)) {
            Some(PatientDoc::Stay { nhs_number }) => Some(nhs_number.clone()),
            _ => None,
        };
        match &*decoded {
            BedEvent::PatientAdmitted {
                stay_id,
                nhs_number,
                bed_id,
                ward_id,
                site_id,
                organisation,
                at,
                ..
            } => {
                let (stay, nhs) = (stay_id.to_string(), nhs_number.to_string());
                docs.put(stay_key(&stay), PatientDoc::Stay { nhs_number: nhs.clone() });
                let mut patient = take(docs, &nhs);
                patient.stay = Some(StayView {
                    stay_id: stay,
                    site_id: site_id.to_string(),
                    ward_id: ward_id.to_string(),
                    bed_id: bed_id.to_string(),
                    organisation: organisation.as_ref().map(|o| o.as_str().to_owned()),
                    admitted_at: *at,
                    expected_discharge_date: None,
                    discharge_ready_date: None,
                });
                patient.record(event, "beds", *at, format!("Admitted to {ward_id}, bed {bed_id}"));
                put(docs, patient);
            }
            BedEvent::PatientTransferred { stay_id, to_bed_id, to_ward_id, at, .. } => {
                let Some(nhs) = patient_of(docs, &stay_id.to_string()) else { return Ok(()) };
                let mut patient = take(docs, &nhs);
                if let Some(stay) = patient.stay.as_mut() {
                    stay.bed_id = to_bed_id.to_string();
                    stay.ward_id = to_ward_id.to_string();
                }
                patient.record(event, "beds", *at, format!("Moved to {to_ward_id}, bed {to_bed_id}"));
                put(docs, patient);
            }
            BedEvent::ExpectedDischargeDateSet { stay_id, date, at } => {
                let Some(nhs) = patient_of(docs, &stay_id.to_string()) else { return Ok(()) };
                let mut patient = take(docs, &nhs);
                if let Some(stay) = patient.stay.as_mut() {
                    stay.expected_discharge_date = Some(*date);
                }
                patient.record(event, "beds", *at, format!("Expected discharge date set: {date}"));
                put(docs, patient);
            }
            BedEvent::PatientMedicallyOptimised { stay_id, discharge_ready_date, pathway, at } => {
                let Some(nhs) = patient_of(docs, &stay_id.to_string()) else { return Ok(()) };
                let mut patient = take(docs, &nhs);
                if let Some(stay) = patient.stay.as_mut() {
                    stay.discharge_ready_date = Some(*discharge_ready_date);
                }
                let line = format!(
                    "Medically optimised, ready {discharge_ready_date}, pathway {}",
                    pathway.number()
                );
                patient.record(event, "beds", *at, line);
                put(docs, patient);
            }
            BedEvent::PatientDischarged { stay_id, nhs_number, destination: to, pathway, at, .. } => {
                docs.remove(&stay_key(&stay_id.to_string()));
                let mut patient = take(docs, &nhs_number.to_string());
                patient.stay = None;
                let line = format!("Discharged: {}, pathway {}", destination(*to), pathway.number());
                patient.record(event, "beds", *at, line);
                put(docs, patient);
            }
            _ => {}
        }
        Ok(())
    }
}

impl PatientSummaries {
    /// Open tasks about a patient: raised, offered on, accepted, overdue, then finished.
    fn task(&self, docs: &mut Docs<PatientDoc>, event: &RecordedEvent) -> Result<(), ProjectionError> {
        let decoded = decode::<TaskEvent>(event)?;
        let Some(task_id) = decoded.task_id().map(|t| t.to_string()) else { return Ok(()) };
        if let TaskEvent::TaskCreated {
            nhs_number: Some(nhs),
            title,
            kind,
            team_id,
            organisation,
            due,
            at,
            ..
        } = &*decoded
        {
            let nhs = nhs.to_string();
            docs.put(task_key(&task_id), PatientDoc::Task { nhs_number: nhs.clone() });
            let mut patient = take(docs, &nhs);
            patient.tasks.push(OpenTaskView {
                task_id,
                title: title.to_string(),
                kind: *kind,
                team_id: team_id.to_string(),
                organisation: organisation.to_string(),
                offered_to: None,
                due: *due,
                overdue: false,
            });
            patient.record(event, "tasks", *at, format!("Task for {team_id} ({organisation}): {kind}"));
            put(docs, patient);
            return Ok(());
        }
        let Some(PatientDoc::Task { nhs_number }) = docs.get(&task_key(&task_id)).cloned() else {
            return Ok(());
        };
        let mut patient = take(docs, &nhs_number);
        let line = {
            let Some(task) = patient.tasks.iter_mut().find(|t| t.task_id == task_id) else { return Ok(()) };
            match &*decoded {
                TaskEvent::TaskHandOffOffered { to_organisation, .. } => {
                    task.offered_to = Some(to_organisation.to_string());
                    None
                }
                TaskEvent::TaskHandOffAccepted { team_id, organisation, at, .. } => {
                    task.team_id = team_id.to_string();
                    task.organisation = organisation.to_string();
                    task.offered_to = None;
                    Some((*at, format!("Task handed to {team_id} ({organisation}): {}", task.kind)))
                }
                TaskEvent::TaskOverdue { .. } => {
                    task.overdue = true;
                    None
                }
                TaskEvent::TaskCompleted { at, .. } => Some((*at, format!("Task completed: {}", task.kind))),
                TaskEvent::TaskCancelled { at, .. } => Some((*at, format!("Task cancelled: {}", task.kind))),
                _ => None,
            }
        };
        if matches!(&*decoded, TaskEvent::TaskCompleted { .. } | TaskEvent::TaskCancelled { .. }) {
            patient.tasks.retain(|t| t.task_id != task_id);
            docs.remove(&task_key(&task_id));
        }
        if let Some((at, line)) = line {
            patient.record(event, "tasks", at, line);
        }
        put(docs, patient);
        Ok(())
    }
}

impl Fold for PatientSummaries {
    type Doc = PatientDoc;

    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self) -> Filter {
        Filter::categories(["patient", "flags", "stay", "task"])
    }

    fn apply(&self, docs: &mut Docs<PatientDoc>, event: &RecordedEvent) -> Result<(), ProjectionError> {
        match event.stream.category() {
            "patient" => self.patient(docs, event),
            "flags" => self.flag(docs, event),
            "stay" => self.stay(docs, event),
            "task" => self.task(docs, event),
            _ => Ok(()),
        }
    }
}
