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
//!
//! Flag rules are data, each on `flagrule-<id>` with every version ([`rules`]): careflow's
//! workflows send [`FlagCommand::ApplyRule`] when a watched score is signed off, and the decision
//! here raises the flag, updates the active one ([`FlagEvent::FlagRescored`]) or does nothing.

mod decide;
mod decider;
mod error;
pub mod rules;
#[cfg(test)]
mod scenarios;
mod values;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use decide::decide;
pub use decider::{FlagStream, FlagStreamEvent, FlagStreamState, Flags};
pub use error::FlagError;
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
