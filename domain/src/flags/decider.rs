//! The flags context as a [`Decider`]: its streams, what each command reads, and whose the
//! things it touches are.

use super::*;

/// A stream a flags decision reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagStream {
    /// `flags-<nhs>`: the patient's flags.
    Flags(NhsNumber),
    /// `patient-<nhs>`: the patient in the MPI (read only).
    Patient(NhsNumber),
    /// `flagrule-<id>`: a flag rule, every version of it.
    Rule(RuleId),
}

/// The state of a stream a flags decision reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagStreamState {
    /// The patient's flags.
    Flags(PatientFlags),
    /// The patient in the MPI.
    Patient(PatientState),
    /// A flag rule.
    Rule(FlagRuleState),
}

/// An event on a stream a flags decision reads. Stored as the event itself (its `type` tells
/// which), so this enum is untagged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FlagStreamEvent {
    /// A flags event.
    Flag(FlagEvent),
    /// A patients (MPI) event.
    Patient(PatientEvent),
    /// A flag rule's event.
    Rule(FlagRuleEvent),
}

/// The flags context as a [`Decider`].
#[derive(Debug, Clone, Copy)]
pub struct Flags;

impl Decider for Flags {
    type Command = FlagCommand;
    type Event = FlagStreamEvent;
    type Stream = FlagStream;
    type State = FlagStreamState;
    type Error = FlagError;

    const CONTEXT: &'static str = "flags";
    const SCHEMA_VERSION: u32 = FlagEvent::SCHEMA_VERSION;
    const CATEGORIES: &'static [&'static str] = &["flags", "flagrule"];

    fn command_name(command: &FlagCommand) -> &'static str {
        match command {
            FlagCommand::Raise { .. } => "RaiseFlag",
            FlagCommand::Review { .. } => "ReviewFlag",
            FlagCommand::Resolve { .. } => "ResolveFlag",
            FlagCommand::SetRule { .. } => "SetFlagRule",
            FlagCommand::ApplyRule { .. } => "ApplyFlagRule",
        }
    }

    fn stream_name(stream: &FlagStream) -> String {
        match stream {
            FlagStream::Flags(nhs) => format!("flags-{nhs}"),
            FlagStream::Patient(nhs) => format!("patient-{nhs}"),
            FlagStream::Rule(rule) => format!("flagrule-{rule}"),
        }
    }

    fn stream_of(event: &FlagStreamEvent) -> FlagStream {
        match event {
            FlagStreamEvent::Flag(e) => FlagStream::Flags(e.nhs_number()),
            FlagStreamEvent::Patient(e) => FlagStream::Patient(e.nhs_number()),
            FlagStreamEvent::Rule(e) => FlagStream::Rule(e.rule_id().clone()),
        }
    }

    fn event_type(event: &FlagStreamEvent) -> &'static str {
        match event {
            FlagStreamEvent::Flag(e) => e.event_type(),
            FlagStreamEvent::Patient(e) => e.event_type(),
            FlagStreamEvent::Rule(FlagRuleEvent::FlagRuleSet { .. }) => "FlagRuleSet",
        }
    }

    fn initial(stream: &FlagStream) -> FlagStreamState {
        match stream {
            FlagStream::Flags(_) => FlagStreamState::Flags(PatientFlags::default()),
            FlagStream::Patient(_) => FlagStreamState::Patient(PatientState::default()),
            FlagStream::Rule(_) => FlagStreamState::Rule(FlagRuleState::default()),
        }
    }

    fn evolve(state: &mut FlagStreamState, event: &FlagStreamEvent) {
        match (state, event) {
            (FlagStreamState::Flags(flags), FlagStreamEvent::Flag(e)) => flags.evolve(e),
            (FlagStreamState::Patient(patient), FlagStreamEvent::Patient(e)) => patient.evolve(e),
            (FlagStreamState::Rule(rule), FlagStreamEvent::Rule(e)) => rule.evolve(e),
            (FlagStreamState::Flags(_), FlagStreamEvent::Patient(_) | FlagStreamEvent::Rule(_))
            | (FlagStreamState::Patient(_), FlagStreamEvent::Flag(_) | FlagStreamEvent::Rule(_))
            | (FlagStreamState::Rule(_), FlagStreamEvent::Flag(_) | FlagStreamEvent::Patient(_)) => {}
        }
    }

    fn streams(command: &FlagCommand, _: &Loaded<Self>) -> Vec<FlagStream> {
        match command {
            FlagCommand::SetRule { rule_id, .. } => vec![FlagStream::Rule(rule_id.clone())],
            FlagCommand::ApplyRule { nhs_number, rule_id, .. } => vec![
                FlagStream::Flags(*nhs_number),
                FlagStream::Patient(*nhs_number),
                FlagStream::Rule(rule_id.clone()),
            ],
            FlagCommand::Raise { nhs_number, .. }
            | FlagCommand::Review { nhs_number, .. }
            | FlagCommand::Resolve { nhs_number, .. } => {
                vec![FlagStream::Flags(*nhs_number), FlagStream::Patient(*nhs_number)]
            }
        }
    }

    /// Flags are part of the shared record: any organisation whose role may raise flags may
    /// (the policy checks the role); rules are careflow's own configuration, set by admins.
    /// Flags are part of the shared record: any organisation whose role may raise flags may
    /// (the policy checks the role). A rule is the organisation's that set it first.
    fn owners(loaded: &Loaded<Self>, command: &FlagCommand) -> Vec<Owner> {
        match command {
            FlagCommand::SetRule { rule_id, .. } => match loaded.get(&FlagStream::Rule(rule_id.clone())) {
                Some(FlagStreamState::Rule(FlagRuleState { owner: Some(owner), .. })) => {
                    vec![Owner::Organisation(owner.clone())]
                }
                _ => vec![Owner::New],
            },
            FlagCommand::Raise { .. }
            | FlagCommand::Review { .. }
            | FlagCommand::Resolve { .. }
            | FlagCommand::ApplyRule { .. } => vec![Owner::New],
        }
    }

    fn decide(
        loaded: &Loaded<Self>,
        command: &FlagCommand,
        at: DateTime<Utc>,
    ) -> Result<Vec<FlagStreamEvent>, FlagError> {
        let (no_patient, no_flags, no_rule) =
            (PatientState::default(), PatientFlags::default(), FlagRuleState::default());
        let nhs = command.nhs_number();
        let patient = match nhs.and_then(|n| loaded.get(&FlagStream::Patient(n))) {
            Some(FlagStreamState::Patient(patient)) => patient,
            _ => &no_patient,
        };
        let flags = match nhs.and_then(|n| loaded.get(&FlagStream::Flags(n))) {
            Some(FlagStreamState::Flags(flags)) => flags,
            _ => &no_flags,
        };
        let rule_id = match command {
            FlagCommand::SetRule { rule_id, .. } | FlagCommand::ApplyRule { rule_id, .. } => {
                Some(rule_id.clone())
            }
            FlagCommand::Raise { .. } | FlagCommand::Review { .. } | FlagCommand::Resolve { .. } => None,
        };
        let rule = match rule_id.and_then(|id| loaded.get(&FlagStream::Rule(id))) {
            Some(FlagStreamState::Rule(rule)) => rule,
            _ => &no_rule,
        };
        decide(patient, flags, rule, command, at)
    }
}
