//! The virtual-ward read models (DESIGN.md §6) as one document [`Fold`]: every virtual ward
//! with its beds taken (for capacity), each ward's census (every patient: the latest NEWS2 and
//! its risk, the trend, when the next reading is due, readings missed, open escalation tasks),
//! and each admission's observation chart.
//!
//! | key | document |
//! | --- | --- |
//! | `wards` | [`VirtualWardDoc::Wards`]: every virtual ward, beds and beds taken |
//! | `census:{ward}` | [`VirtualWardDoc::Census`]: the ward and its open admissions |
//! | `row:{admission}` | [`VirtualWardDoc::Row`]: one patient's census row (removed at discharge) |
//! | `chart:{admission}` | [`VirtualWardDoc::Chart`]: the plan and every reading |
//! | `task:{id}` | [`VirtualWardDoc::Task`]: the admission a task was raised for |
//!
//! Reads the `virtualward` and `vw` streams, and the `task` streams for tasks linked to an
//! admission (created, completed, cancelled). A push of one reading changes one row, not the
//! whole census.

use careflow_domain::tasks::{TaskEvent, TaskLink};
use careflow_domain::virtualwards::VirtualWardEvent;
use careflow_eventstore::{Filter, RecordedEvent};

use crate::ProjectionError;
use crate::documents::{Docs, Fold, decode};

mod model;

pub use model::{
    CensusRow, ChartPoint, ChartView, MAX_CHART, OpenTaskView, ScoreView, TREND, VirtualWardDoc, WardRow,
};

/// The model's name.
pub const NAME: &str = "virtualwards";

/// The key of every virtual ward.
pub const WARDS_KEY: &str = "wards";

/// A ward's census key.
pub fn census_key(ward_id: &str) -> String {
    format!("census:{ward_id}")
}

/// A census row's key.
pub fn row_key(admission_id: &str) -> String {
    format!("row:{admission_id}")
}

/// A chart's key.
pub fn chart_key(admission_id: &str) -> String {
    format!("chart:{admission_id}")
}

fn task_key(task_id: &str) -> String {
    format!("task:{task_id}")
}

/// The virtual-ward fold.
#[derive(Debug, Clone, Copy, Default)]
pub struct VirtualWardModel;

/// Changes ward `ward_id` in the list and in its census.
fn change_ward(docs: &mut Docs<VirtualWardDoc>, ward_id: &str, change: impl Fn(&mut WardRow)) {
    if let Some(VirtualWardDoc::Wards { rows }) = docs.get_mut(WARDS_KEY)
        && let Some(row) = rows.iter_mut().find(|r| r.ward_id == ward_id)
    {
        change(row);
    }
    if let Some(VirtualWardDoc::Census { ward, .. }) = docs.get_mut(&census_key(ward_id)) {
        change(ward);
    }
}

fn row_mut<'a>(docs: &'a mut Docs<VirtualWardDoc>, admission_id: &str) -> Option<&'a mut CensusRow> {
    match docs.get_mut(&row_key(admission_id)) {
        Some(VirtualWardDoc::Row(row)) => Some(row),
        _ => None,
    }
}

fn chart_mut<'a>(docs: &'a mut Docs<VirtualWardDoc>, admission_id: &str) -> Option<&'a mut ChartView> {
    match docs.get_mut(&chart_key(admission_id)) {
        Some(VirtualWardDoc::Chart(chart)) => Some(chart),
        _ => None,
    }
}

impl VirtualWardModel {
    fn virtual_ward(docs: &mut Docs<VirtualWardDoc>, recorded: &RecordedEvent, event: &VirtualWardEvent) {
        let position = recorded.position;
        match event {
            VirtualWardEvent::VirtualWardConfigured {
                ward_id,
                site_id,
                organisation,
                name,
                pathway,
                beds,
                ..
            } => {
                let row = WardRow {
                    ward_id: ward_id.to_string(),
                    site_id: site_id.to_string(),
                    organisation: organisation.to_string(),
                    name: name.to_string(),
                    pathway: *pathway,
                    beds: *beds,
                    occupied: 0,
                };
                if let VirtualWardDoc::Wards { rows } =
                    docs.entry(WARDS_KEY, || VirtualWardDoc::Wards { rows: Vec::new() })
                {
                    rows.retain(|r| r.ward_id != row.ward_id);
                    let at = rows.partition_point(|r| r.ward_id < row.ward_id);
                    rows.insert(at, row.clone());
                }
                docs.put(
                    census_key(ward_id.as_str()),
                    VirtualWardDoc::Census { ward: row, admissions: Vec::new() },
                );
            }
            VirtualWardEvent::VirtualWardChanged { ward_id, name, pathway, beds, .. } => {
                change_ward(docs, ward_id.as_str(), |row| {
                    row.name = name.to_string();
                    row.pathway = *pathway;
                    row.beds = *beds;
                });
            }
            VirtualWardEvent::VirtualBedTaken { ward_id, admission_id, .. } => {
                let id = admission_id.to_string();
                if let Some(VirtualWardDoc::Census { admissions, .. }) =
                    docs.get_mut(&census_key(ward_id.as_str()))
                    && !admissions.contains(&id)
                {
                    admissions.push(id);
                }
                let occupied = Self::occupied(docs, ward_id.as_str());
                change_ward(docs, ward_id.as_str(), |row| row.occupied = occupied);
            }
            VirtualWardEvent::VirtualBedFreed { ward_id, admission_id, .. } => {
                let id = admission_id.to_string();
                if let Some(VirtualWardDoc::Census { admissions, .. }) =
                    docs.get_mut(&census_key(ward_id.as_str()))
                {
                    admissions.retain(|a| *a != id);
                }
                let occupied = Self::occupied(docs, ward_id.as_str());
                change_ward(docs, ward_id.as_str(), |row| row.occupied = occupied);
                docs.remove(&row_key(&id));
            }
            VirtualWardEvent::AdmittedToVirtualWard {
                admission_id,
                ward_id,
                organisation,
                nhs_number,
                patient,
                route,
                plan,
                at,
                next_due,
                ..
            } => {
                let id = admission_id.to_string();
                docs.put(
                    row_key(&id),
                    VirtualWardDoc::Row(Box::new(CensusRow {
                        admission_id: id.clone(),
                        ward_id: ward_id.to_string(),
                        organisation: organisation.to_string(),
                        nhs_number: nhs_number.to_string(),
                        given: patient.given.clone(),
                        family: patient.family.clone(),
                        route: route.clone(),
                        admitted_at: *at,
                        every_minutes: plan.every_minutes,
                        spo2_scale: plan.spo2_scale,
                        latest: None,
                        trend: Vec::new(),
                        next_due: *next_due,
                        missed: 0,
                        open_tasks: Vec::new(),
                        position,
                    })),
                );
                docs.put(
                    chart_key(&id),
                    VirtualWardDoc::Chart(Box::new(ChartView {
                        admission_id: id.clone(),
                        ward_id: ward_id.to_string(),
                        organisation: organisation.to_string(),
                        nhs_number: nhs_number.to_string(),
                        route: route.clone(),
                        admitted_at: *at,
                        plan: plan.clone(),
                        readings: Vec::new(),
                        missed: Vec::new(),
                        discharged: None,
                    })),
                );
            }
            VirtualWardEvent::MonitoringPlanChanged { admission_id, plan, next_due, .. } => {
                let id = admission_id.to_string();
                if let Some(row) = row_mut(docs, &id) {
                    row.every_minutes = plan.every_minutes;
                    row.spo2_scale = plan.spo2_scale;
                    row.next_due = *next_due;
                    row.position = position;
                }
                if let Some(chart) = chart_mut(docs, &id) {
                    chart.plan = plan.clone();
                }
            }
            VirtualWardEvent::ObservationsRecorded {
                admission_id,
                reading_id,
                taken_at,
                source,
                observations,
                news2,
                latest,
                next_due,
                ..
            } => {
                let id = admission_id.to_string();
                if *latest && let Some(row) = row_mut(docs, &id) {
                    row.latest = Some(ScoreView {
                        total: news2.total,
                        risk: news2.risk,
                        complete: news2.complete,
                        taken_at: *taken_at,
                    });
                    row.trend.push(news2.total);
                    if row.trend.len() > TREND {
                        row.trend.remove(0);
                    }
                    row.next_due = *next_due;
                    row.missed = 0;
                    row.position = position;
                }
                if let Some(chart) = chart_mut(docs, &id) {
                    let point = ChartPoint {
                        reading_id: reading_id.to_string(),
                        taken_at: *taken_at,
                        source: *source,
                        observations: *observations,
                        news2: news2.clone(),
                    };
                    let at = chart.readings.partition_point(|p| p.taken_at <= *taken_at);
                    chart.readings.insert(at, point);
                    if chart.readings.len() > MAX_CHART {
                        chart.readings.remove(0);
                    }
                }
            }
            VirtualWardEvent::ReadingMissed { admission_id, due, missed, next_due } => {
                let id = admission_id.to_string();
                if let Some(row) = row_mut(docs, &id) {
                    row.missed = *missed;
                    row.next_due = *next_due;
                    row.position = position;
                }
                if let Some(chart) = chart_mut(docs, &id) {
                    chart.missed.push(*due);
                    if chart.missed.len() > MAX_CHART {
                        chart.missed.remove(0);
                    }
                }
            }
            VirtualWardEvent::DischargedFromVirtualWard { admission_id, outcome, at, .. } => {
                if let Some(chart) = chart_mut(docs, &admission_id.to_string()) {
                    chart.discharged = Some((*outcome, *at));
                }
            }
        }
    }

    fn occupied(docs: &Docs<VirtualWardDoc>, ward_id: &str) -> u16 {
        match docs.get(&census_key(ward_id)) {
            Some(VirtualWardDoc::Census { admissions, .. }) => {
                u16::try_from(admissions.len()).unwrap_or(u16::MAX)
            }
            _ => 0,
        }
    }

    fn task(docs: &mut Docs<VirtualWardDoc>, recorded: &RecordedEvent, event: &TaskEvent) {
        match event {
            TaskEvent::TaskCreated { task_id, kind, priority, title, due, links, .. } => {
                let Some(admission) = links.iter().find_map(|l| match l {
                    TaskLink::VirtualWardAdmission(id) => Some(id.to_string()),
                    _ => None,
                }) else {
                    return;
                };
                let Some(row) = row_mut(docs, &admission) else { return };
                row.open_tasks.push(OpenTaskView {
                    task_id: task_id.to_string(),
                    kind: *kind,
                    priority: *priority,
                    title: title.to_string(),
                    due: *due,
                });
                row.position = recorded.position;
                docs.put(task_key(&task_id.to_string()), VirtualWardDoc::Task { admission_id: admission });
            }
            TaskEvent::TaskCompleted { task_id, .. } | TaskEvent::TaskCancelled { task_id, .. } => {
                let id = task_id.to_string();
                let Some(VirtualWardDoc::Task { admission_id }) = docs.remove(&task_key(&id)) else { return };
                if let Some(row) = row_mut(docs, &admission_id) {
                    row.open_tasks.retain(|t| t.task_id != id);
                    row.position = recorded.position;
                }
            }
            _ => {}
        }
    }
}

impl Fold for VirtualWardModel {
    type Doc = VirtualWardDoc;

    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self) -> Filter {
        Filter::categories(["virtualward", "vw", "task"])
    }

    fn apply(&self, docs: &mut Docs<VirtualWardDoc>, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if event.stream.category() == "task" {
            let decoded = decode::<TaskEvent>(event)?;
            Self::task(docs, event, &decoded);
            return Ok(());
        }
        let decoded = decode::<VirtualWardEvent>(event)?;
        Self::virtual_ward(docs, event, &decoded);
        Ok(())
    }
}
