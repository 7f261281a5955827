//! Value objects of the flags context: flag ids, kinds and their SNOMED CT codes, the frailty
//! score, severity, and who raised a flag.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OdsCode;

/// A flag: the same id from raising to resolving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FlagId(pub Uuid);

impl fmt::Display for FlagId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a flag warns of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlagKind {
    /// Has an end of life care plan.
    EndOfLifeCarePlan,
    /// Frail, with a Clinical Frailty Scale score of 6–9.
    Frailty,
    /// On the learning disability register.
    LearningDisability,
    /// A safeguarding concern.
    Safeguarding,
    /// At risk of falls.
    FallsRisk,
    /// Needs infection control precautions.
    InfectionControl,
}

impl FlagKind {
    /// Every kind.
    pub const ALL: [FlagKind; 6] = [
        FlagKind::EndOfLifeCarePlan,
        FlagKind::Frailty,
        FlagKind::LearningDisability,
        FlagKind::Safeguarding,
        FlagKind::FallsRisk,
        FlagKind::InfectionControl,
    ];

    /// The kind's name as stored and shown (`END_OF_LIFE_CARE_PLAN`).
    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::EndOfLifeCarePlan => "END_OF_LIFE_CARE_PLAN",
            FlagKind::Frailty => "FRAILTY",
            FlagKind::LearningDisability => "LEARNING_DISABILITY",
            FlagKind::Safeguarding => "SAFEGUARDING",
            FlagKind::FallsRisk => "FALLS_RISK",
            FlagKind::InfectionControl => "INFECTION_CONTROL",
        }
    }
}

impl fmt::Display for FlagKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SNOMED CT concept: code and display term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snomed {
    /// The concept id.
    pub code: &'static str,
    /// Its term.
    pub display: &'static str,
}

/// The SNOMED CT concept of a flag (DESIGN.md §7), where one is assigned: frailty depends on its
/// score (6 moderate, 7–9 severe). Safeguarding and infection control have no concept assigned
/// yet (a FHIR Flag then carries text only).
pub fn snomed(kind: FlagKind, frailty: Option<FrailtyScore>) -> Option<Snomed> {
    match kind {
        FlagKind::EndOfLifeCarePlan => {
            Some(Snomed { code: "713673000", display: "Has end of life care plan" })
        }
        FlagKind::Frailty => match frailty.map(FrailtyScore::get) {
            Some(6) => Some(Snomed { code: "925831000000107", display: "Moderate frailty" }),
            Some(_) => Some(Snomed { code: "925861000000102", display: "Severe frailty" }),
            None => None,
        },
        FlagKind::LearningDisability => {
            Some(Snomed { code: "416075005", display: "On learning disability register" })
        }
        FlagKind::FallsRisk => Some(Snomed { code: "129839007", display: "At risk for falls" }),
        FlagKind::Safeguarding | FlagKind::InfectionControl => None,
    }
}

/// A Clinical Frailty Scale score that warrants a frailty flag: 6 (moderately frail) to 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct FrailtyScore(u8);

impl FrailtyScore {
    /// The score, if it is 6 to 9.
    pub fn new(score: u8) -> Result<Self, String> {
        if (6..=9).contains(&score) {
            Ok(Self(score))
        } else {
            Err(format!("a frailty flag needs a Clinical Frailty Scale score of 6 to 9, not {score}"))
        }
    }

    /// The score.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for FrailtyScore {
    type Error = String;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<FrailtyScore> for u8 {
    fn from(value: FrailtyScore) -> Self {
        value.0
    }
}

/// How much a flag matters to whoever reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// Worth knowing.
    Low,
    /// Changes how care is given.
    Medium,
    /// Must be acted on.
    High,
}

/// Who or what raised a flag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum FlagSource {
    /// A person.
    Person {
        /// Their user id.
        user_id: String,
        /// Their organisation.
        organisation: OdsCode,
    },
    /// A workflow rule.
    Rule {
        /// The rule's name.
        rule: String,
        /// Its version.
        version: u32,
    },
}
