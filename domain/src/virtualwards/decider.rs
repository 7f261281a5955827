//! The virtual wards context as a [`Decider`]: its streams, what each command reads, whose the
//! things it touches are, and the decisions.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{
    AdmissionId, AdmissionRoute, AdmissionState, OpenAdmission, VirtualWardCommand, VirtualWardError,
    VirtualWardEvent, VirtualWardState, news2,
};
use crate::beds::{BedEvent, BedStream, BedStreamState};
use crate::decider::{Decider, Loaded, Owner};
use crate::patients::{PatientEvent, PatientState};
use crate::{NhsNumber, WardId};

/// How far ahead of the services' clock a reading's time may be (devices' clocks drift).
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// How long before the admission a reading may have been taken (a baseline taken at home).
const BEFORE_ADMISSION: Duration = Duration::hours(24);

/// A stream a virtual wards decision reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VirtualWardStream {
    /// `virtualward-<id>`.
    Ward(WardId),
    /// `vw-admission-<uuid>`.
    Admission(AdmissionId),
    /// A beds stream, read only: a `site-<id>` for its organisation, a `stay-<id>` to step
    /// down from.
    Beds(BedStream),
    /// `patient-<nhs>` (the MPI; read only).
    Patient(NhsNumber),
}

/// The state of a stream a virtual wards decision reads.
#[derive(Debug, Clone, PartialEq)]
pub enum VirtualWardStreamState {
    /// A virtual ward.
    Ward(VirtualWardState),
    /// An admission.
    Admission(AdmissionState),
    /// A site or a stay.
    Beds(BedStreamState),
    /// A patient in the MPI.
    Patient(PatientState),
}

/// An event on a stream a virtual wards decision reads. Stored as the event itself (its `type`
/// tells which), so this enum is untagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VirtualWardStreamEvent {
    /// A virtual wards event.
    VirtualWard(VirtualWardEvent),
    /// A patients (MPI) event. Before beds: a beds event can hold a patients event too (an
    /// admission registering a patient), and the patient's stream must read it as the MPI's.
    Patient(PatientEvent),
    /// A beds event (a site, a stay).
    Beds(BedEvent),
}

/// The virtual wards context as a [`Decider`].
#[derive(Debug, Clone, Copy)]
pub struct VirtualWards;

fn ward<'a>(loaded: &'a Loaded<VirtualWards>, id: &WardId) -> Option<&'a VirtualWardState> {
    match loaded.get(&VirtualWardStream::Ward(id.clone())) {
        Some(VirtualWardStreamState::Ward(state)) => Some(state),
        _ => None,
    }
}

fn admission(loaded: &Loaded<VirtualWards>, id: Option<AdmissionId>) -> Option<&OpenAdmission> {
    admission_state(loaded, id?)?.admission.as_ref()
}

fn admission_state(loaded: &Loaded<VirtualWards>, id: AdmissionId) -> Option<&AdmissionState> {
    match loaded.get(&VirtualWardStream::Admission(id)) {
        Some(VirtualWardStreamState::Admission(state)) => Some(state),
        _ => None,
    }
}

fn beds(loaded: &Loaded<VirtualWards>, stream: VirtualWardStream) -> Option<&BedStreamState> {
    match loaded.get(&stream) {
        Some(VirtualWardStreamState::Beds(state)) => Some(state),
        _ => None,
    }
}

impl Decider for VirtualWards {
    type Command = VirtualWardCommand;
    type Event = VirtualWardStreamEvent;
    type Stream = VirtualWardStream;
    type State = VirtualWardStreamState;
    type Error = VirtualWardError;

    const CONTEXT: &'static str = "virtualwards";
    const SCHEMA_VERSION: u32 = VirtualWardEvent::SCHEMA_VERSION;
    const CATEGORIES: &'static [&'static str] = &["virtualward", "vw"];

    fn command_name(command: &VirtualWardCommand) -> &'static str {
        match command {
            VirtualWardCommand::Configure { .. } => "ConfigureVirtualWard",
            VirtualWardCommand::Admit { .. } => "AdmitToVirtualWard",
            VirtualWardCommand::ChangePlan { .. } => "ChangeMonitoringPlan",
            VirtualWardCommand::Record { .. } => "RecordObservations",
            VirtualWardCommand::MarkReadingMissed { .. } => "MarkReadingMissed",
            VirtualWardCommand::Discharge { .. } => "DischargeFromVirtualWard",
        }
    }

    fn stream_name(stream: &VirtualWardStream) -> String {
        match stream {
            VirtualWardStream::Ward(id) => format!("virtualward-{id}"),
            VirtualWardStream::Admission(id) => format!("vw-admission-{id}"),
            VirtualWardStream::Beds(stream) => stream.name(),
            VirtualWardStream::Patient(nhs) => format!("patient-{nhs}"),
        }
    }

    fn stream_of(event: &VirtualWardStreamEvent) -> VirtualWardStream {
        match event {
            VirtualWardStreamEvent::VirtualWard(e) => e.stream(),
            VirtualWardStreamEvent::Beds(e) => VirtualWardStream::Beds(e.stream()),
            VirtualWardStreamEvent::Patient(e) => VirtualWardStream::Patient(e.nhs_number()),
        }
    }

    fn event_type(event: &VirtualWardStreamEvent) -> &'static str {
        match event {
            VirtualWardStreamEvent::VirtualWard(e) => e.event_type(),
            VirtualWardStreamEvent::Beds(e) => e.event_type(),
            VirtualWardStreamEvent::Patient(e) => e.event_type(),
        }
    }

    fn initial(stream: &VirtualWardStream) -> VirtualWardStreamState {
        match stream {
            VirtualWardStream::Ward(_) => VirtualWardStreamState::Ward(VirtualWardState::default()),
            VirtualWardStream::Admission(_) => VirtualWardStreamState::Admission(AdmissionState::default()),
            VirtualWardStream::Beds(stream) => VirtualWardStreamState::Beds(BedStreamState::initial(stream)),
            VirtualWardStream::Patient(_) => VirtualWardStreamState::Patient(PatientState::default()),
        }
    }

    fn evolve(state: &mut VirtualWardStreamState, event: &VirtualWardStreamEvent) {
        match (state, event) {
            (VirtualWardStreamState::Ward(w), VirtualWardStreamEvent::VirtualWard(e)) => w.evolve(e),
            (VirtualWardStreamState::Admission(a), VirtualWardStreamEvent::VirtualWard(e)) => a.evolve(e),
            (VirtualWardStreamState::Beds(b), VirtualWardStreamEvent::Beds(e)) => b.evolve(e),
            (VirtualWardStreamState::Patient(p), VirtualWardStreamEvent::Patient(e)) => p.evolve(e),
            _ => {}
        }
    }

    /// Configuring reads the ward and its site; admitting, the admission, the ward, the patient
    /// and (stepping down) the stay; every other command, the admission, then (discharging)
    /// its ward.
    fn streams(command: &VirtualWardCommand, loaded: &Loaded<Self>) -> Vec<VirtualWardStream> {
        match command {
            VirtualWardCommand::Configure { ward_id, site_id, .. } => {
                vec![
                    VirtualWardStream::Ward(ward_id.clone()),
                    VirtualWardStream::Beds(BedStream::Site(site_id.clone())),
                ]
            }
            VirtualWardCommand::Admit { admission_id, ward_id, nhs_number, route, .. } => {
                let mut streams = vec![
                    VirtualWardStream::Admission(*admission_id),
                    VirtualWardStream::Ward(ward_id.clone()),
                    VirtualWardStream::Patient(*nhs_number),
                ];
                if let AdmissionRoute::StepDown { stay_id } = route {
                    streams.push(VirtualWardStream::Beds(BedStream::Stay(*stay_id)));
                }
                streams
            }
            VirtualWardCommand::Discharge { admission_id, .. } => {
                let mut streams = vec![VirtualWardStream::Admission(*admission_id)];
                if let Some(a) = admission(loaded, Some(*admission_id)) {
                    streams.push(VirtualWardStream::Ward(a.ward_id.clone()));
                }
                streams
            }
            VirtualWardCommand::ChangePlan { admission_id, .. }
            | VirtualWardCommand::Record { admission_id, .. }
            | VirtualWardCommand::MarkReadingMissed { admission_id, .. } => {
                vec![VirtualWardStream::Admission(*admission_id)]
            }
        }
    }

    /// A virtual ward is its site's organisation's; an admission, its ward's.
    fn owners(loaded: &Loaded<Self>, command: &VirtualWardCommand) -> Vec<Owner> {
        match command {
            VirtualWardCommand::Configure { ward_id, site_id, .. } => {
                if let Some(config) = ward(loaded, ward_id).and_then(|w| w.config.as_ref()) {
                    return vec![Owner::Organisation(config.organisation.clone())];
                }
                match beds(loaded, VirtualWardStream::Beds(BedStream::Site(site_id.clone()))) {
                    Some(BedStreamState::Site(site)) if site.name.is_some() => {
                        vec![Owner::recorded(site.organisation.as_ref())]
                    }
                    _ => Vec::new(),
                }
            }
            VirtualWardCommand::Admit { ward_id, .. } => ward(loaded, ward_id)
                .and_then(|w| w.config.as_ref())
                .map(|c| vec![Owner::Organisation(c.organisation.clone())])
                .unwrap_or_default(),
            VirtualWardCommand::ChangePlan { .. }
            | VirtualWardCommand::Record { .. }
            | VirtualWardCommand::MarkReadingMissed { .. }
            | VirtualWardCommand::Discharge { .. } => admission(loaded, command.admission_id())
                .map(|a| vec![Owner::Organisation(a.organisation.clone())])
                .unwrap_or_default(),
        }
    }

    fn decide(
        loaded: &Loaded<Self>,
        command: &VirtualWardCommand,
        at: DateTime<Utc>,
    ) -> Result<Vec<VirtualWardStreamEvent>, VirtualWardError> {
        Ok(decide(loaded, command, at)?.into_iter().map(VirtualWardStreamEvent::VirtualWard).collect())
    }

    /// The ward configured; the admission (and its ward) for the rest; for readings, the ids
    /// of those recorded now (a duplicate is not among them).
    fn touched(_: &Loaded<Self>, events: &[VirtualWardStreamEvent]) -> Vec<String> {
        let mut touched: Vec<String> = Vec::new();
        for event in events {
            let VirtualWardStreamEvent::VirtualWard(event) = event else { continue };
            let id = match event {
                VirtualWardEvent::ObservationsRecorded { reading_id, .. } => reading_id.to_string(),
                VirtualWardEvent::VirtualWardConfigured { ward_id, .. }
                | VirtualWardEvent::VirtualWardChanged { ward_id, .. } => ward_id.to_string(),
                VirtualWardEvent::VirtualBedTaken { .. } | VirtualWardEvent::VirtualBedFreed { .. } => {
                    continue;
                }
                other => other.admission_id().map(|a| a.to_string()).unwrap_or_default(),
            };
            if !touched.contains(&id) {
                touched.push(id);
            }
        }
        touched
    }
}

/// The decision. See the module docs of [`super`] for the rules.
pub fn decide(
    loaded: &Loaded<VirtualWards>,
    command: &VirtualWardCommand,
    at: DateTime<Utc>,
) -> Result<Vec<VirtualWardEvent>, VirtualWardError> {
    match command {
        VirtualWardCommand::Configure { ward_id, site_id, name, pathway, beds: count } => {
            let state = ward(loaded, ward_id).cloned().unwrap_or_default();
            if let Some(config) = &state.config {
                if config.site_id != *site_id {
                    return Err(VirtualWardError::WardOnAnotherSite {
                        ward_id: ward_id.clone(),
                        site_id: config.site_id.clone(),
                    });
                }
                if usize::from(*count) < state.open.len() {
                    return Err(VirtualWardError::FewerBedsThanPatients {
                        ward_id: ward_id.clone(),
                        beds: *count,
                        occupied: state.open.len(),
                    });
                }
                if config.name == *name && config.pathway == *pathway && config.beds == *count {
                    return Ok(Vec::new());
                }
                return Ok(vec![VirtualWardEvent::VirtualWardChanged {
                    ward_id: ward_id.clone(),
                    name: name.clone(),
                    pathway: *pathway,
                    beds: *count,
                    at,
                }]);
            }
            let site = match beds(loaded, VirtualWardStream::Beds(BedStream::Site(site_id.clone()))) {
                Some(BedStreamState::Site(site)) if site.name.is_some() => site,
                _ => return Err(VirtualWardError::SiteNotFound { site_id: site_id.clone() }),
            };
            let organisation = site
                .organisation
                .clone()
                .ok_or_else(|| VirtualWardError::SiteOwnerUnknown { site_id: site_id.clone() })?;
            Ok(vec![VirtualWardEvent::VirtualWardConfigured {
                ward_id: ward_id.clone(),
                site_id: site_id.clone(),
                organisation,
                name: name.clone(),
                pathway: *pathway,
                beds: *count,
                at,
            }])
        }
        VirtualWardCommand::Admit { admission_id, ward_id, nhs_number, route, plan, by } => {
            if admission(loaded, Some(*admission_id)).is_some() {
                return Err(VirtualWardError::AdmissionAlreadyExists { admission_id: *admission_id });
            }
            let state = ward(loaded, ward_id);
            let config = state
                .and_then(|w| w.config.as_ref())
                .ok_or_else(|| VirtualWardError::VirtualWardNotFound { ward_id: ward_id.clone() })?;
            let open = state.map(|w| &w.open);
            if let Some((other, _)) = open.into_iter().flatten().find(|(_, nhs)| *nhs == nhs_number) {
                return Err(VirtualWardError::AlreadyOnWard {
                    ward_id: ward_id.clone(),
                    admission_id: *other,
                });
            }
            if open.map_or(0, |o| o.len()) >= usize::from(config.beds) {
                return Err(VirtualWardError::NoVirtualBedFree {
                    ward_id: ward_id.clone(),
                    beds: config.beds,
                });
            }
            let patient = match loaded.get(&VirtualWardStream::Patient(*nhs_number)) {
                Some(VirtualWardStreamState::Patient(p)) => p,
                _ => return Err(VirtualWardError::PatientNotFound),
            };
            let demographics = patient.demographics.as_ref().ok_or(VirtualWardError::PatientNotFound)?;
            if patient.date_of_death.is_some() {
                return Err(VirtualWardError::PatientDied);
            }
            if let AdmissionRoute::StepDown { stay_id } = route {
                let stay = match beds(loaded, VirtualWardStream::Beds(BedStream::Stay(*stay_id))) {
                    Some(BedStreamState::Stay(stay)) => stay.admission.as_ref(),
                    _ => None,
                };
                let stay = stay.ok_or(VirtualWardError::StayNotFound { stay_id: *stay_id })?;
                if stay.nhs_number != *nhs_number {
                    return Err(VirtualWardError::StayOfAnotherPatient { stay_id: *stay_id });
                }
            }
            Ok(vec![
                VirtualWardEvent::AdmittedToVirtualWard {
                    admission_id: *admission_id,
                    ward_id: ward_id.clone(),
                    organisation: config.organisation.clone(),
                    nhs_number: *nhs_number,
                    patient: demographics.name.clone(),
                    route: route.clone(),
                    plan: plan.clone(),
                    by: by.clone(),
                    at,
                    next_due: plan.missed_at(at, 0),
                },
                VirtualWardEvent::VirtualBedTaken {
                    ward_id: ward_id.clone(),
                    admission_id: *admission_id,
                    nhs_number: *nhs_number,
                    at,
                },
            ])
        }
        VirtualWardCommand::ChangePlan { admission_id, plan, by } => {
            let a = open_admission(loaded, *admission_id)?;
            if a.plan == *plan {
                return Ok(Vec::new());
            }
            Ok(vec![VirtualWardEvent::MonitoringPlanChanged {
                admission_id: *admission_id,
                plan: plan.clone(),
                by: by.clone(),
                at,
                next_due: plan.missed_at(a.since(), a.missed),
            }])
        }
        VirtualWardCommand::Record { admission_id, readings } => {
            let a = open_admission(loaded, *admission_id)?;
            let known = admission_state(loaded, *admission_id).map(|s| &s.readings);
            let mut seen: HashSet<_> = HashSet::new();
            let (mut since, mut latest_taken, mut next_due) = (a.since(), a.latest_taken, a.next_due);
            let mut events = Vec::new();
            for (index, reading) in readings.iter().enumerate() {
                if reading.taken_at > at + CLOCK_SKEW {
                    return Err(VirtualWardError::ReadingInTheFuture {
                        index,
                        reading_id: reading.reading_id,
                        taken_at: reading.taken_at,
                    });
                }
                if reading.taken_at < a.admitted_at - BEFORE_ADMISSION {
                    return Err(VirtualWardError::ReadingBeforeAdmission {
                        index,
                        reading_id: reading.reading_id,
                    });
                }
                if known.is_some_and(|k| k.contains(&reading.reading_id)) || !seen.insert(reading.reading_id)
                {
                    continue;
                }
                let latest = latest_taken.is_none_or(|l| reading.taken_at >= l);
                if latest {
                    latest_taken = Some(reading.taken_at);
                    since = since.max(reading.taken_at);
                    next_due = a.plan.missed_at(since, 0);
                }
                events.push(VirtualWardEvent::ObservationsRecorded {
                    admission_id: *admission_id,
                    reading_id: reading.reading_id,
                    taken_at: reading.taken_at,
                    source: reading.source,
                    observations: reading.observations,
                    spo2_scale: a.plan.spo2_scale,
                    news2: news2::score(&reading.observations, a.plan.spo2_scale),
                    latest,
                    at,
                    next_due,
                });
            }
            Ok(events)
        }
        VirtualWardCommand::MarkReadingMissed { admission_id, due } => {
            let a = admission(loaded, Some(*admission_id))
                .ok_or(VirtualWardError::AdmissionNotFound { admission_id: *admission_id })?;
            // Discharged, or a reading (or a plan change) moved the time on: nothing to do.
            if a.discharged.is_some() || a.next_due != *due {
                return Ok(Vec::new());
            }
            if at < *due {
                return Err(VirtualWardError::NotYetDue { due: *due });
            }
            let missed = a.missed.saturating_add(1);
            Ok(vec![VirtualWardEvent::ReadingMissed {
                admission_id: *admission_id,
                due: *due,
                missed,
                next_due: a.plan.missed_at(a.since(), missed),
            }])
        }
        VirtualWardCommand::Discharge { admission_id, outcome, note, by } => {
            let a = open_admission(loaded, *admission_id)?;
            Ok(vec![
                VirtualWardEvent::DischargedFromVirtualWard {
                    admission_id: *admission_id,
                    ward_id: a.ward_id.clone(),
                    outcome: *outcome,
                    note: note.clone(),
                    by: by.clone(),
                    at,
                },
                VirtualWardEvent::VirtualBedFreed {
                    ward_id: a.ward_id.clone(),
                    admission_id: *admission_id,
                    at,
                },
            ])
        }
    }
}

/// The admission, while the patient is on the virtual ward.
fn open_admission(
    loaded: &Loaded<VirtualWards>,
    id: AdmissionId,
) -> Result<&OpenAdmission, VirtualWardError> {
    let a = admission(loaded, Some(id)).ok_or(VirtualWardError::AdmissionNotFound { admission_id: id })?;
    if a.discharged.is_some() {
        return Err(VirtualWardError::Discharged { admission_id: id });
    }
    Ok(a)
}
