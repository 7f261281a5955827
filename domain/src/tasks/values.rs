//! Value objects of the tasks context: task ids, user ids, team kinds, priorities, task kinds,
//! links to the things a task is about, and who or what raised a task.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::beds::ValueError;
use crate::{BedId, OdsCode, RuleId, StayId, WardId};

/// A task: the same id from creation to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub Uuid);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A member of staff, as their identity provider names them (the token's subject): 1–128
/// printable characters without spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// Parses a user id.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(ValueError::Empty);
        }
        if input.chars().count() > 128 {
            return Err(ValueError::TooLong { max: 128 });
        }
        if input.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ValueError::ControlCharacters);
        }
        Ok(Self(input.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<UserId> for String {
    fn from(value: UserId) -> Self {
        value.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a team does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TeamKind {
    /// A hospital ward's nursing team.
    Ward,
    /// Adult social care (a council's hospital social work team, say).
    SocialCare,
    /// Housekeeping: cleaning beds between patients.
    Housekeeping,
    /// Occupational therapy and physiotherapy.
    Therapy,
    /// Community (district) nursing.
    CommunityNursing,
    /// A virtual ward (hospital at home).
    VirtualWard,
    /// A council's brokerage team.
    Brokerage,
    /// A care home or home-care agency.
    CareProvider,
    /// Anything else.
    Other,
}

impl TeamKind {
    /// The upper-case name used in messages and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ward => "WARD",
            Self::SocialCare => "SOCIAL_CARE",
            Self::Housekeeping => "HOUSEKEEPING",
            Self::Therapy => "THERAPY",
            Self::CommunityNursing => "COMMUNITY_NURSING",
            Self::VirtualWard => "VIRTUAL_WARD",
            Self::Brokerage => "BROKERAGE",
            Self::CareProvider => "CARE_PROVIDER",
            Self::Other => "OTHER",
        }
    }
}

/// How soon a task needs doing. Ordered most pressing first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Priority {
    /// Now.
    Immediate,
    /// Within hours.
    Urgent,
    /// In the normal course of work.
    Routine,
}

/// What kind of work a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskKind {
    /// Anything a person asks of a team.
    General,
    /// Complete a trusted assessment (discharge to assess).
    TrustedAssessment,
    /// Discharge a pathway 0 patient home today.
    DischargeHome,
    /// Clean a bed a patient has left.
    BedCleaning,
    /// Review the care plan of a patient with an end of life care plan, on admission.
    CarePlanReview,
    /// Respond to a virtual-ward patient's NEWS2 (its priority says how fast).
    News2Escalation,
    /// Contact a virtual-ward patient whose reading is overdue.
    MissedReading,
    /// Discharge a patient to the care placement agreed for them (brokerage), on its date.
    DischargeToCare,
}

impl TaskKind {
    /// The upper-case name used in messages and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::General => "GENERAL",
            Self::TrustedAssessment => "TRUSTED_ASSESSMENT",
            Self::DischargeHome => "DISCHARGE_HOME",
            Self::BedCleaning => "BED_CLEANING",
            Self::CarePlanReview => "CARE_PLAN_REVIEW",
            Self::News2Escalation => "NEWS2_ESCALATION",
            Self::MissedReading => "MISSED_READING",
            Self::DischargeToCare => "DISCHARGE_TO_CARE",
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a task is about, beyond its patient.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "link", content = "id", rename_all = "snake_case")]
pub enum TaskLink {
    /// A hospital stay.
    Stay(StayId),
    /// A bed.
    Bed(BedId),
    /// A ward.
    Ward(WardId),
    /// A trusted assessment.
    Assessment(Uuid),
    /// A care request (brokerage).
    CareRequest(Uuid),
    /// A virtual-ward admission.
    VirtualWardAdmission(Uuid),
}

/// Who or what raised a task.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum RaisedBy {
    /// A person.
    Person {
        /// Their user id.
        user_id: UserId,
        /// Their organisation.
        organisation: OdsCode,
    },
    /// A workflow rule, at the version that applied.
    Rule {
        /// The rule.
        rule: RuleId,
        /// Its version.
        version: u32,
    },
}

/// Who is acting on a task: a member of staff with the teams their token names, or careflow's
/// own workflows and clock (which act for every team).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TaskActor {
    /// A person.
    Person {
        /// Their user id.
        user_id: UserId,
        /// The teams their token says they belong to.
        teams: Vec<crate::TeamId>,
    },
    /// careflow's workflows and timers.
    System,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_printable_without_spaces() {
        assert_eq!(UserId::parse(" auth0|5f1c@nhs.net ").map(String::from), Ok("auth0|5f1c@nhs.net".into()));
        assert_eq!(UserId::parse(""), Err(ValueError::Empty));
        assert_eq!(UserId::parse("a b"), Err(ValueError::ControlCharacters));
        assert_eq!(UserId::parse(&"u".repeat(129)), Err(ValueError::TooLong { max: 128 }));
    }

    #[test]
    fn priorities_sort_most_pressing_first() {
        let mut all = vec![Priority::Routine, Priority::Immediate, Priority::Urgent];
        all.sort();
        assert_eq!(all, [Priority::Immediate, Priority::Urgent, Priority::Routine]);
    }
}
