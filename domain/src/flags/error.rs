//! Why the flags context refuses a command.

use super::*;

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
