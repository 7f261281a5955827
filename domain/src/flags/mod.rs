//! The flags context: what everyone caring for a patient must know at a glance — an end of life
//! care plan, frailty (with the Clinical Frailty Scale score), a learning disability,
//! safeguarding, falls risk, infection control.
//!
//! One stream per patient, `flags-<nhs>`, holding every flag raised for them, active and past.
//! A decision also reads the patient's MPI stream (`patient-<nhs>`): flags are raised only for
//! registered patients who are alive.
//!
//! Rules: one active flag per kind per patient; a frailty flag carries a Clinical Frailty Scale
//! score of 6–9 (6 moderately frail, 7–9 severely frail; DESIGN.md §4) and other kinds carry
//! none; review dates are not in the past; only an active flag is reviewed or resolved. Each
//! flag records its source: the person who raised it, or the rule (and its version) that did.

pub mod rules;
#[cfg(test)]
mod scenarios;
mod values;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use rules::{FlagRule, FlagRuleEvent, FlagRuleState, RuleOutcome};
pub use values::{FlagId, FlagKind, FlagSource, FrailtyScore, Severity, Snomed, snomed};

use crate::beds::Note;
use crate::decider::{Decider, Loaded, Owner, Refusal, RefusalKind};
use crate::patients::{PatientEvent, PatientState};
use crate::{NhsNumber, RuleId};

/// Every command of the flags context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum FlagCommand {
    /// Raise a flag.
    Raise {
        /// The patient.
        nhs_number: NhsNumber,
        /// The new flag's id.
        flag_id: FlagId,
        /// What it warns of.
        kind: FlagKind,
        /// The Clinical Frailty Scale score: for a frailty flag only, and required there.
        frailty_score: Option<FrailtyScore>,
        /// How much it matters.
        severity: Severity,
        /// Why it is raised.
        reason: Note,
        /// When it is to be reviewed.
        review_on: Option<NaiveDate>,
        /// Who raises it.
        source: FlagSource,
    },
    /// Review an active flag: it stands, with a new review date.
    Review {
        /// The patient.
        nhs_number: NhsNumber,
        /// The flag.
        flag_id: FlagId,
        /// The next review date.
        review_on: NaiveDate,
        /// What the review found.
        note: Option<Note>,
    },
    /// Resolve an active flag: it no longer applies.
    Resolve {
        /// The patient.
        nhs_number: NhsNumber,
        /// The flag.
        flag_id: FlagId,
        /// Why.
        reason: Note,
    },
    /// Set a flag rule: its first version, or its next.
    SetRule {
        /// The rule.
        rule_id: RuleId,
        /// What it says.
        rule: FlagRule,
        /// The organisation of the admin who sets it.
        organisation: crate::OdsCode,
    },
    /// A score the rule watches was recorded for the patient: the rule raises its flag, updates
    /// the patient's active one, or does nothing (below its threshold, disabled, unchanged).
    ApplyRule {
        /// The patient.
        nhs_number: NhsNumber,
        /// The rule.
        rule_id: RuleId,
        /// The score recorded.
        score: u8,
        /// The id a flag it raises gets.
        flag_id: FlagId,
        /// Where the score comes from (the assessment), for the flag's reason.
        reason: Note,
    },
}

impl FlagCommand {
    /// The patient the command is about (`None` for a rule).
    pub fn nhs_number(&self) -> Option<NhsNumber> {
        match self {
            Self::Raise { nhs_number, .. }
            | Self::Review { nhs_number, .. }
            | Self::Resolve { nhs_number, .. }
            | Self::ApplyRule { nhs_number, .. } => Some(*nhs_number),
            Self::SetRule { .. } => None,
        }
    }
}

/// Every event of the flags context, on `flags-<nhs>`. Serialized with its type name in `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[allow(missing_docs)] // fields are named for what they hold
pub enum FlagEvent {
    /// A flag was raised.
    FlagRaised {
        nhs_number: NhsNumber,
        flag_id: FlagId,
        kind: FlagKind,
        frailty_score: Option<FrailtyScore>,
        severity: Severity,
        reason: Note,
        review_on: Option<NaiveDate>,
        source: FlagSource,
        at: DateTime<Utc>,
    },
    /// A flag was reviewed and stands.
    FlagReviewed {
        nhs_number: NhsNumber,
        flag_id: FlagId,
        review_on: NaiveDate,
        note: Option<Note>,
        at: DateTime<Utc>,
    },
    /// A flag was resolved.
    FlagResolved { nhs_number: NhsNumber, flag_id: FlagId, reason: Note, at: DateTime<Utc> },
    /// An active frailty flag's score changed (a rule saw a new Clinical Frailty Scale score).
    FlagRescored {
        nhs_number: NhsNumber,
        flag_id: FlagId,
        frailty_score: FrailtyScore,
        severity: Severity,
        reason: Note,
        source: FlagSource,
        at: DateTime<Utc>,
    },
}

impl FlagEvent {
    /// The schema version of the events' data.
    pub const SCHEMA_VERSION: u32 = 1;

    /// The patient the event is about.
    pub fn nhs_number(&self) -> NhsNumber {
        match self {
            Self::FlagRaised { nhs_number, .. }
            | Self::FlagReviewed { nhs_number, .. }
            | Self::FlagResolved { nhs_number, .. }
            | Self::FlagRescored { nhs_number, .. } => *nhs_number,
        }
    }

    /// The event's type name, as stored.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::FlagRaised { .. } => "FlagRaised",
            Self::FlagReviewed { .. } => "FlagReviewed",
            Self::FlagResolved { .. } => "FlagResolved",
            Self::FlagRescored { .. } => "FlagRescored",
        }
    }
}

/// A flag as folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagState {
    /// What it warns of.
    pub kind: FlagKind,
    /// Its frailty score, for a frailty flag.
    pub frailty_score: Option<FrailtyScore>,
    /// How much it matters.
    pub severity: Severity,
    /// Why it was raised.
    pub reason: Note,
    /// When it is to be reviewed.
    pub review_on: Option<NaiveDate>,
    /// Who raised it.
    pub source: FlagSource,
    /// When it was raised.
    pub raised_at: DateTime<Utc>,
    /// When it was resolved, if it was.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Every flag of one patient, active and past.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientFlags {
    /// By id.
    pub flags: BTreeMap<FlagId, FlagState>,
}

impl PatientFlags {
    /// The active flag of a kind, if any.
    pub fn active(&self, kind: FlagKind) -> Option<(FlagId, &FlagState)> {
        self.flags.iter().find(|(_, f)| f.kind == kind && f.resolved_at.is_none()).map(|(id, f)| (*id, f))
    }

    /// `evolve`: folds one flag event in.
    pub fn evolve(&mut self, event: &FlagEvent) {
        match event {
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
                self.flags.insert(
                    *flag_id,
                    FlagState {
                        kind: *kind,
                        frailty_score: *frailty_score,
                        severity: *severity,
                        reason: reason.clone(),
                        review_on: *review_on,
                        source: source.clone(),
                        raised_at: *at,
                        resolved_at: None,
                    },
                );
            }
            FlagEvent::FlagReviewed { flag_id, review_on, .. } => {
                if let Some(flag) = self.flags.get_mut(flag_id) {
                    flag.review_on = Some(*review_on);
                }
            }
            FlagEvent::FlagResolved { flag_id, at, .. } => {
                if let Some(flag) = self.flags.get_mut(flag_id) {
                    flag.resolved_at = Some(*at);
                }
            }
            FlagEvent::FlagRescored { flag_id, frailty_score, severity, reason, source, .. } => {
                if let Some(flag) = self.flags.get_mut(flag_id) {
                    flag.frailty_score = Some(*frailty_score);
                    flag.severity = *severity;
                    flag.reason = reason.clone();
                    flag.source = source.clone();
                }
            }
        }
    }
}

/// A command the flags context refuses. Nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// The patient is not in the MPI.
    #[error("patient {nhs_number} is not registered")]
    PatientNotRegistered {
        /// The patient.
        nhs_number: NhsNumber,
    },
    /// The patient has died.
    #[error("patient {nhs_number} has died: no new flags are raised")]
    PatientDied {
        /// The patient.
        nhs_number: NhsNumber,
    },
    /// A flag of this kind is active already.
    #[error("patient {nhs_number} already has an active {kind} flag ({flag_id})")]
    AlreadyActive {
        /// The patient.
        nhs_number: NhsNumber,
        /// The kind.
        kind: FlagKind,
        /// The active flag.
        flag_id: FlagId,
    },
    /// A flag with this id exists.
    #[error("flag {flag_id} already exists")]
    FlagExists {
        /// The flag.
        flag_id: FlagId,
    },
    /// No such flag for the patient.
    #[error("flag {flag_id} does not exist for patient {nhs_number}")]
    FlagNotFound {
        /// The patient.
        nhs_number: NhsNumber,
        /// The flag.
        flag_id: FlagId,
    },
    /// The flag was resolved.
    #[error("flag {flag_id} is RESOLVED: cannot {action}")]
    Resolved {
        /// The flag.
        flag_id: FlagId,
        /// What was attempted.
        action: &'static str,
    },
    /// A frailty flag without its score, or a score on another kind.
    #[error("{0}")]
    FrailtyScore(&'static str),
    /// A review date in the past.
    #[error("review_on {date} is in the past")]
    ReviewInThePast {
        /// The date given.
        date: NaiveDate,
    },
    /// A rule that cannot work.
    #[error("the rule cannot work: {0}")]
    InvalidRule(String),
    /// No such rule.
    #[error("flag rule {rule_id} does not exist")]
    RuleNotFound {
        /// The rule.
        rule_id: RuleId,
    },
}

impl Refusal for FlagError {
    fn kind(&self) -> RefusalKind {
        match self {
            FlagError::PatientNotRegistered { .. }
            | FlagError::FlagNotFound { .. }
            | FlagError::RuleNotFound { .. } => RefusalKind::NotFound,
            FlagError::FlagExists { .. } => RefusalKind::AlreadyExists,
            FlagError::PatientDied { .. }
            | FlagError::AlreadyActive { .. }
            | FlagError::Resolved { .. }
            | FlagError::FrailtyScore(_)
            | FlagError::ReviewInThePast { .. }
            | FlagError::InvalidRule(_) => RefusalKind::Precondition,
        }
    }

    fn violations(&self) -> Vec<(String, String)> {
        match self {
            FlagError::InvalidRule(problem) => vec![("rule".to_owned(), problem.clone())],
            _ => Vec::new(),
        }
    }
}

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

fn review_date(date: Option<NaiveDate>, at: DateTime<Utc>) -> Result<(), FlagError> {
    match date {
        Some(date) if date < at.date_naive() => Err(FlagError::ReviewInThePast { date }),
        _ => Ok(()),
    }
}

/// Decides a flags command on the patient's MPI record and flags, and the rule it names (for
/// [`FlagCommand::ApplyRule`] and [`FlagCommand::SetRule`]; the default state otherwise).
pub fn decide(
    patient: &PatientState,
    flags: &PatientFlags,
    rule: &FlagRuleState,
    command: &FlagCommand,
    at: DateTime<Utc>,
) -> Result<Vec<FlagStreamEvent>, FlagError> {
    if let FlagCommand::SetRule { rule_id, rule: new, organisation } = command {
        if let Some(problem) = new.problem() {
            return Err(FlagError::InvalidRule(problem));
        }
        if rule.rule.as_ref() == Some(new) {
            return Ok(Vec::new());
        }
        let set = FlagRuleEvent::FlagRuleSet {
            rule_id: rule_id.clone(),
            version: rule.version + 1,
            rule: new.clone(),
            organisation: Some(organisation.clone()),
            at,
        };
        return Ok(vec![FlagStreamEvent::Rule(set)]);
    }
    // Every other command names a patient.
    let Some(nhs_number) = command.nhs_number() else { return Ok(Vec::new()) };
    let live = |flag_id: FlagId, action| {
        let flag = flags.flags.get(&flag_id).ok_or(FlagError::FlagNotFound { nhs_number, flag_id })?;
        if flag.resolved_at.is_some() { Err(FlagError::Resolved { flag_id, action }) } else { Ok(flag) }
    };
    let events = match command {
        FlagCommand::Raise { flag_id, kind, frailty_score, severity, reason, review_on, source, .. } => {
            if patient.demographics.is_none() {
                return Err(FlagError::PatientNotRegistered { nhs_number });
            }
            if patient.date_of_death.is_some() {
                return Err(FlagError::PatientDied { nhs_number });
            }
            if flags.flags.contains_key(flag_id) {
                return Err(FlagError::FlagExists { flag_id: *flag_id });
            }
            match (kind, frailty_score) {
                (FlagKind::Frailty, None) => {
                    return Err(FlagError::FrailtyScore(
                        "a frailty flag needs its Clinical Frailty Scale score",
                    ));
                }
                (FlagKind::Frailty, Some(_)) | (_, None) => {}
                (_, Some(_)) => {
                    return Err(FlagError::FrailtyScore("only a frailty flag has a frailty score"));
                }
            }
            if let Some((active, _)) = flags.active(*kind) {
                return Err(FlagError::AlreadyActive { nhs_number, kind: *kind, flag_id: active });
            }
            review_date(*review_on, at)?;
            vec![FlagEvent::FlagRaised {
                nhs_number,
                flag_id: *flag_id,
                kind: *kind,
                frailty_score: *frailty_score,
                severity: *severity,
                reason: reason.clone(),
                review_on: *review_on,
                source: source.clone(),
                at,
            }]
        }
        FlagCommand::Review { flag_id, review_on, note, .. } => {
            live(*flag_id, "review it")?;
            review_date(Some(*review_on), at)?;
            vec![FlagEvent::FlagReviewed {
                nhs_number,
                flag_id: *flag_id,
                review_on: *review_on,
                note: note.clone(),
                at,
            }]
        }
        FlagCommand::Resolve { flag_id, reason, .. } => {
            live(*flag_id, "resolve it")?;
            vec![FlagEvent::FlagResolved { nhs_number, flag_id: *flag_id, reason: reason.clone(), at }]
        }
        FlagCommand::ApplyRule { rule_id, score, flag_id, reason, .. } => {
            let (Some(rule), version) = (rule.rule.as_ref(), rule.version) else {
                return Err(FlagError::RuleNotFound { rule_id: rule_id.clone() });
            };
            let Some(outcome) = rule.applies(*score) else { return Ok(Vec::new()) };
            let source = FlagSource::Rule { rule: rule_id.to_string(), version };
            if patient.date_of_death.is_some() {
                return Err(FlagError::PatientDied { nhs_number });
            }
            match flags.active(outcome.kind) {
                // The patient has the flag: a frailty flag follows the new score.
                Some((active, flag)) => match outcome.frailty_score {
                    Some(frailty_score)
                        if flag.frailty_score != Some(frailty_score) || flag.severity != outcome.severity =>
                    {
                        vec![FlagEvent::FlagRescored {
                            nhs_number,
                            flag_id: active,
                            frailty_score,
                            severity: outcome.severity,
                            reason: reason.clone(),
                            source,
                            at,
                        }]
                    }
                    _ => Vec::new(),
                },
                None => {
                    if patient.demographics.is_none() {
                        return Err(FlagError::PatientNotRegistered { nhs_number });
                    }
                    if patient.date_of_death.is_some() {
                        return Err(FlagError::PatientDied { nhs_number });
                    }
                    if flags.flags.contains_key(flag_id) {
                        // Raised by this rule before and resolved since: not raised again by
                        // the same score.
                        return Ok(Vec::new());
                    }
                    let review_on =
                        rule.review_in_days.map(|days| at.date_naive() + chrono::Days::new(u64::from(days)));
                    vec![FlagEvent::FlagRaised {
                        nhs_number,
                        flag_id: *flag_id,
                        kind: outcome.kind,
                        frailty_score: outcome.frailty_score,
                        severity: outcome.severity,
                        reason: reason.clone(),
                        review_on,
                        source,
                        at,
                    }]
                }
            }
        }
        // Decided above.
        FlagCommand::SetRule { .. } => Vec::new(),
    };
    Ok(events.into_iter().map(FlagStreamEvent::Flag).collect())
}

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
