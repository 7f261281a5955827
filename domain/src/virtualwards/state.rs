//! The state of the virtual wards' streams, folded from their events.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};

use super::{
    AdmissionId, AdmissionRoute, CarePathway, MonitoringPlan, ReadingId, VirtualWardEvent, VirtualWardOutcome,
};
use crate::beds::{Label, PatientName};
use crate::{NhsNumber, OdsCode, SiteId, WardId};

/// A virtual ward's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualWardConfig {
    /// Its site.
    pub site_id: SiteId,
    /// Its organisation (the site's).
    pub organisation: OdsCode,
    /// Its name.
    pub name: Label,
    /// What it looks after.
    pub pathway: CarePathway,
    /// Its virtual beds.
    pub beds: u16,
}

/// A `virtualward-` stream: the ward, and the admissions holding its beds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VirtualWardState {
    /// Set once configured.
    pub config: Option<VirtualWardConfig>,
    /// The open admissions, with their patients.
    pub open: BTreeMap<AdmissionId, NhsNumber>,
}

impl VirtualWardState {
    /// `evolve`.
    pub fn evolve(&mut self, event: &VirtualWardEvent) {
        match event {
            VirtualWardEvent::VirtualWardConfigured {
                site_id, organisation, name, pathway, beds, ..
            } => {
                self.config = Some(VirtualWardConfig {
                    site_id: site_id.clone(),
                    organisation: organisation.clone(),
                    name: name.clone(),
                    pathway: *pathway,
                    beds: *beds,
                });
            }
            VirtualWardEvent::VirtualWardChanged { name, pathway, beds, .. } => {
                if let Some(config) = self.config.as_mut() {
                    config.name = name.clone();
                    config.pathway = *pathway;
                    config.beds = *beds;
                }
            }
            VirtualWardEvent::VirtualBedTaken { admission_id, nhs_number, .. } => {
                self.open.insert(*admission_id, *nhs_number);
            }
            VirtualWardEvent::VirtualBedFreed { admission_id, .. } => {
                self.open.remove(admission_id);
            }
            VirtualWardEvent::AdmittedToVirtualWard { .. }
            | VirtualWardEvent::MonitoringPlanChanged { .. }
            | VirtualWardEvent::ObservationsRecorded { .. }
            | VirtualWardEvent::ReadingMissed { .. }
            | VirtualWardEvent::DischargedFromVirtualWard { .. } => {}
        }
    }
}

/// An admission, as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAdmission {
    /// The virtual ward.
    pub ward_id: WardId,
    /// Its organisation.
    pub organisation: OdsCode,
    /// The patient.
    pub nhs_number: NhsNumber,
    /// Their name.
    pub patient: PatientName,
    /// How they came.
    pub route: AdmissionRoute,
    /// The plan now.
    pub plan: MonitoringPlan,
    /// When admitted.
    pub admitted_at: DateTime<Utc>,
    /// When the latest reading was taken (a baseline may predate the admission).
    pub latest_taken: Option<DateTime<Utc>>,
    /// Readings missed in a row since then.
    pub missed: u32,
    /// When the next reading is missed.
    pub next_due: DateTime<Utc>,
    /// How it ended, once discharged.
    pub discharged: Option<VirtualWardOutcome>,
}

impl OpenAdmission {
    /// When readings are due from: the latest reading, or the admission if later (a baseline
    /// taken before it does not make the first reading overdue).
    pub fn since(&self) -> DateTime<Utc> {
        self.latest_taken.map_or(self.admitted_at, |taken| taken.max(self.admitted_at))
    }
}

/// A `vw-admission-` stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdmissionState {
    /// Set once admitted.
    pub admission: Option<OpenAdmission>,
    /// Every reading recorded, by id.
    pub readings: HashSet<ReadingId>,
}

impl AdmissionState {
    /// `evolve`.
    pub fn evolve(&mut self, event: &VirtualWardEvent) {
        match event {
            VirtualWardEvent::AdmittedToVirtualWard {
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
                self.admission = Some(OpenAdmission {
                    ward_id: ward_id.clone(),
                    organisation: organisation.clone(),
                    nhs_number: *nhs_number,
                    patient: patient.clone(),
                    route: route.clone(),
                    plan: plan.clone(),
                    admitted_at: *at,
                    latest_taken: None,
                    missed: 0,
                    next_due: *next_due,
                    discharged: None,
                });
            }
            VirtualWardEvent::MonitoringPlanChanged { plan, next_due, .. } => {
                if let Some(a) = self.admission.as_mut() {
                    a.plan = plan.clone();
                    a.next_due = *next_due;
                }
            }
            VirtualWardEvent::ObservationsRecorded { reading_id, taken_at, latest, next_due, .. } => {
                self.readings.insert(*reading_id);
                if let Some(a) = self.admission.as_mut()
                    && *latest
                {
                    a.latest_taken = Some(*taken_at);
                    a.missed = 0;
                    a.next_due = *next_due;
                }
            }
            VirtualWardEvent::ReadingMissed { missed, next_due, .. } => {
                if let Some(a) = self.admission.as_mut() {
                    a.missed = *missed;
                    a.next_due = *next_due;
                }
            }
            VirtualWardEvent::DischargedFromVirtualWard { outcome, .. } => {
                if let Some(a) = self.admission.as_mut() {
                    a.discharged = Some(*outcome);
                }
            }
            VirtualWardEvent::VirtualWardConfigured { .. }
            | VirtualWardEvent::VirtualWardChanged { .. }
            | VirtualWardEvent::VirtualBedTaken { .. }
            | VirtualWardEvent::VirtualBedFreed { .. } => {}
        }
    }
}
