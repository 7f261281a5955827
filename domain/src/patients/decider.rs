//! The patients context as a [`Decider`]: the streams a command reads (the patient's own and,
//! to know who cares for a patient who dissents, their open stay), and who may change a record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{PatientCommand, PatientError, PatientEvent, PatientState, Patients, decide};
use crate::beds::{BedEvent, BedStream};
use crate::decider::{Decider, Loaded, Owner};
use crate::{NhsNumber, OdsCode, StayId};

/// A stream a patients decision reads: the patient's MPI stream, and, to know who cares for a
/// patient who dissents, their open stay (the beds context's `inpatient-<nhs>` and `stay-<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PatientStream {
    /// `patient-<nhs>`.
    Patient(NhsNumber),
    /// `inpatient-<nhs>`: the patient's open stay, if any.
    Inpatient(NhsNumber),
    /// `stay-<id>`: the stay, for the organisation holding it.
    Stay(StayId),
}

/// An event of a stream a patients decision reads: the patient's own, or a beds event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PatientStreamEvent {
    /// Of `patient-<nhs>` (tried first: a beds event never has these types).
    Patient(PatientEvent),
    /// Of `inpatient-<nhs>` or `stay-<id>`.
    Beds(BedEvent),
}

/// The state of a stream a patients decision reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientStreamState {
    /// The MPI record.
    Patient(PatientState),
    /// The open stay.
    Inpatient(Option<StayId>),
    /// The organisation holding the stay, once admitted.
    Stay(Option<OdsCode>),
}

impl Loaded<Patients> {
    fn patient(&self, nhs: NhsNumber) -> Option<&PatientState> {
        match self.get(&PatientStream::Patient(nhs))? {
            PatientStreamState::Patient(patient) => Some(patient),
            _ => None,
        }
    }

    fn open_stay(&self, nhs: NhsNumber) -> Option<StayId> {
        match self.get(&PatientStream::Inpatient(nhs))? {
            PatientStreamState::Inpatient(stay) => *stay,
            _ => None,
        }
    }

    /// The organisations caring for the patient: their GP practice and the holder of their open
    /// stay.
    fn caring(&self, nhs: NhsNumber) -> Vec<OdsCode> {
        let gp = self.patient(nhs).and_then(|p| p.demographics.as_ref()).and_then(|d| d.gp_practice.clone());
        let stay = self.open_stay(nhs).and_then(|stay| match self.get(&PatientStream::Stay(stay))? {
            PatientStreamState::Stay(org) => org.clone(),
            _ => None,
        });
        gp.into_iter().chain(stay).collect()
    }
}

impl Decider for Patients {
    type Command = PatientCommand;
    type Event = PatientStreamEvent;
    type Stream = PatientStream;
    type State = PatientStreamState;
    type Error = PatientError;

    const CONTEXT: &'static str = "patients";
    const SCHEMA_VERSION: u32 = PatientEvent::SCHEMA_VERSION;
    const CATEGORIES: &'static [&'static str] = &["patient"];

    fn command_name(command: &PatientCommand) -> &'static str {
        match command {
            PatientCommand::Register { .. } => "RegisterPatient",
            PatientCommand::UpdateDemographics { .. } => "UpdatePatientDemographics",
            PatientCommand::RecordSharingDissent { .. } => "RecordSharingDissent",
            PatientCommand::WithdrawSharingDissent { .. } => "WithdrawSharingDissent",
            PatientCommand::RecordDeath { .. } => "RecordDeath",
        }
    }

    fn stream_name(stream: &PatientStream) -> String {
        match stream {
            PatientStream::Patient(nhs) => format!("patient-{nhs}"),
            PatientStream::Inpatient(nhs) => format!("inpatient-{nhs}"),
            PatientStream::Stay(stay) => format!("stay-{stay}"),
        }
    }

    fn stream_of(event: &PatientStreamEvent) -> PatientStream {
        match event {
            PatientStreamEvent::Patient(event) => PatientStream::Patient(event.nhs_number()),
            PatientStreamEvent::Beds(event) => match (event, event.stream()) {
                (BedEvent::Patient(event), _) => PatientStream::Patient(event.nhs_number()),
                (_, BedStream::Inpatient(nhs)) => PatientStream::Inpatient(nhs),
                (_, BedStream::Stay(stay)) => PatientStream::Stay(stay),
                // Streams this context never reads (it decides only patient events): a stream
                // name no event has.
                (_, BedStream::Patient(_) | BedStream::Site(_) | BedStream::Ward(_) | BedStream::Bed(_)) => {
                    PatientStream::Stay(StayId(uuid::Uuid::nil()))
                }
            },
        }
    }

    fn event_type(event: &PatientStreamEvent) -> &'static str {
        match event {
            PatientStreamEvent::Patient(event) => event.event_type(),
            PatientStreamEvent::Beds(event) => event.event_type(),
        }
    }

    fn initial(stream: &PatientStream) -> PatientStreamState {
        match stream {
            PatientStream::Patient(_) => PatientStreamState::Patient(PatientState::default()),
            PatientStream::Inpatient(_) => PatientStreamState::Inpatient(None),
            PatientStream::Stay(_) => PatientStreamState::Stay(None),
        }
    }

    fn evolve(state: &mut PatientStreamState, event: &PatientStreamEvent) {
        match (state, event) {
            (PatientStreamState::Patient(patient), PatientStreamEvent::Patient(event))
            | (PatientStreamState::Patient(patient), PatientStreamEvent::Beds(BedEvent::Patient(event))) => {
                patient.evolve(event)
            }
            (
                PatientStreamState::Inpatient(open),
                PatientStreamEvent::Beds(BedEvent::InpatientStayOpened { stay_id, .. }),
            ) => *open = Some(*stay_id),
            (
                PatientStreamState::Inpatient(open),
                PatientStreamEvent::Beds(BedEvent::InpatientStayClosed { .. }),
            ) => *open = None,
            (
                PatientStreamState::Stay(org),
                PatientStreamEvent::Beds(BedEvent::PatientAdmitted { organisation, .. }),
            ) => org.clone_from(organisation),
            _ => {}
        }
    }

    fn streams(command: &PatientCommand, loaded: &Loaded<Self>) -> Vec<PatientStream> {
        let nhs = command.nhs_number();
        let mut streams = vec![PatientStream::Patient(nhs), PatientStream::Inpatient(nhs)];
        streams.extend(loaded.open_stay(nhs).map(PatientStream::Stay));
        streams
    }

    /// The MPI is shared by every organisation caring for the patient: any organisation whose
    /// role may change patient records may act on it (the policy checks the role), unless the
    /// patient dissents from sharing: then only the organisations caring for them (their GP
    /// practice, the holder of their open stay) may change their record. Anyone may record a
    /// dissent: it only restricts.
    fn owners(loaded: &Loaded<Self>, command: &PatientCommand) -> Vec<Owner> {
        let nhs = command.nhs_number();
        let dissent = loaded.patient(nhs).is_some_and(|p| p.dissent);
        match command {
            PatientCommand::Register { .. } | PatientCommand::RecordSharingDissent { .. } => vec![Owner::New],
            PatientCommand::UpdateDemographics { .. }
            | PatientCommand::WithdrawSharingDissent { .. }
            | PatientCommand::RecordDeath { .. } => {
                vec![if dissent { Owner::AnyOf(loaded.caring(nhs)) } else { Owner::New }]
            }
        }
    }

    fn decide(
        loaded: &Loaded<Self>,
        command: &PatientCommand,
        at: DateTime<Utc>,
    ) -> Result<Vec<PatientStreamEvent>, PatientError> {
        let empty = PatientState::default();
        let patient = loaded.patient(command.nhs_number()).unwrap_or(&empty);
        Ok(decide(patient, command, at)?.into_iter().map(PatientStreamEvent::Patient).collect())
    }
}
