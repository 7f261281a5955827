//! Value objects of the beds context.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Empty after trimming.
    #[error("must not be empty")]
    Empty,
    /// Longer than allowed.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// Contains control characters.
    #[error("must not contain control characters")]
    ControlCharacters,
    /// Not a known value.
    #[error("{value} is not one of {expected}")]
    Unknown {
        /// The rejected value.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// Not written the way the value is written.
    #[error("must be {expected}")]
    Malformed {
        /// What is accepted.
        expected: &'static str,
    },
}

fn text(input: &str, max: usize) -> Result<String, ValueError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(ValueError::Empty);
    }
    if input.chars().count() > max {
        return Err(ValueError::TooLong { max });
    }
    if input.chars().any(char::is_control) {
        return Err(ValueError::ControlCharacters);
    }
    Ok(input.to_owned())
}

/// A short human-readable name (site, ward, bed label): 1–100 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Label(String);

impl Label {
    /// Parses a label.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        text(input, 100).map(Self)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A free-text note (reason details): 1–500 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Note(String);

impl Note {
    /// Parses a note.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        text(input, 500).map(Self)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! text_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = ValueError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
text_conversions!(Label, Note);

/// A patient's name as shown on the bed board.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PatientName {
    /// Given name(s).
    pub given: String,
    /// Family name.
    pub family: String,
}

impl PatientName {
    /// Parses given and family names (each 1–100 characters).
    pub fn parse(given: &str, family: &str) -> Result<Self, ValueError> {
        Ok(Self { given: Self::part(given)?, family: Self::part(family)? })
    }

    /// Parses one part of a name (given or family): 1–100 characters, trimmed.
    pub fn part(input: &str) -> Result<String, ValueError> {
        text(input, 100)
    }
}

impl fmt::Display for PatientName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.given, self.family)
    }
}

/// Where a bed is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BedStatus {
    /// Clean and free.
    Available,
    /// Held for an incoming patient.
    Reserved,
    /// A patient is in it.
    Occupied,
    /// Vacated, waiting for housekeeping.
    AwaitingCleaning,
    /// Out of use (infection control, maintenance, staffing).
    Blocked,
}

impl BedStatus {
    /// The upper-case name used in messages and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "AVAILABLE",
            Self::Reserved => "RESERVED",
            Self::Occupied => "OCCUPIED",
            Self::AwaitingCleaning => "AWAITING_CLEANING",
            Self::Blocked => "BLOCKED",
        }
    }
}

impl fmt::Display for BedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The discharge pathway (NHS England hospital discharge guidance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Pathway {
    /// 0: home, no new support.
    Home,
    /// 1: home with new support (home care, reablement).
    HomeWithSupport,
    /// 2: a rehabilitation or short-term bed.
    ShortTermBed,
    /// 3: a care home placement for long-term needs.
    CareHome,
}

impl Pathway {
    /// The pathway number, 0–3.
    pub fn number(self) -> u8 {
        match self {
            Self::Home => 0,
            Self::HomeWithSupport => 1,
            Self::ShortTermBed => 2,
            Self::CareHome => 3,
        }
    }
}

impl TryFrom<u8> for Pathway {
    type Error = ValueError;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            0 => Ok(Self::Home),
            1 => Ok(Self::HomeWithSupport),
            2 => Ok(Self::ShortTermBed),
            3 => Ok(Self::CareHome),
            other => Err(ValueError::Unknown { value: other.to_string(), expected: "0, 1, 2 or 3" }),
        }
    }
}

impl From<Pathway> for u8 {
    fn from(value: Pathway) -> Self {
        value.number()
    }
}

/// Where a patient went on discharge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DischargeDestination {
    /// Their usual place of residence.
    UsualResidence,
    /// Temporary residence (e.g. with family).
    TemporaryResidence,
    /// A residential care home.
    CareHome,
    /// A nursing home.
    NursingHome,
    /// A community or rehabilitation bed.
    CommunityBed,
    /// Another hospital.
    OtherHospital,
    /// A hospice.
    Hospice,
}

/// Why a bed is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BlockReason {
    /// Infection control or isolation; the bed needs cleaning when unblocked.
    InfectionControl,
    /// Broken equipment, estates work.
    Maintenance,
    /// Not enough staff to open it.
    Staffing,
}
