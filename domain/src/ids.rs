//! Identifiers of things careflow configures: organisations, sites, wards, beds, teams,
//! rules and assessment templates (their sections and questions); and hospital stays.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty, or longer than 64 characters.
    #[error("must be 1 to 64 characters long")]
    Length,
    /// A character other than ASCII letters, digits, `-`, `_` and `.`.
    #[error("may only contain letters, digits, '-', '_' and '.'")]
    Characters,
}

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an identifier: 1–64 of `[A-Za-z0-9._-]`.
            pub fn parse(input: &str) -> Result<Self, IdError> {
                let input = input.trim();
                if input.is_empty() || input.len() > 64 {
                    return Err(IdError::Length);
                }
                if !input.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
                    return Err(IdError::Characters);
                }
                Ok(Self(input.to_owned()))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
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

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

slug_id!(
    /// A hospital site, usually its ODS site code (e.g. `RXA01`).
    SiteId
);
slug_id!(
    /// A ward (e.g. `RXA01-AMU`).
    WardId
);
slug_id!(
    /// A bed (e.g. `RXA01-AMU-B07`).
    BedId
);
slug_id!(
    /// A team that works tasks (e.g. `RYC-HSWT`, a council's hospital social work team).
    TeamId
);
slug_id!(
    /// A workflow rule (routing or flag rule), e.g. `d2a-bradford`.
    RuleId
);
slug_id!(
    /// An assessment template (e.g. `reablement-trusted-assessor`); its versions share the id.
    TemplateId
);
slug_id!(
    /// A section of an assessment template (e.g. `mobility`).
    SectionId
);
slug_id!(
    /// A question of a section (e.g. `clinical-frailty-scale`).
    QuestionId
);
slug_id!(
    /// An organisation's ODS code (e.g. `RXA` for an acute trust, `RYC` for a community trust).
    OdsCode
);

/// A hospital stay: from admission to discharge.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StayId(pub Uuid);

impl fmt::Display for StayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for StayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StayId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_ids_accept_codes_and_reject_everything_else() {
        assert_eq!(BedId::parse(" RXA01-AMU-B07 ").map(|b| b.to_string()), Ok("RXA01-AMU-B07".into()));
        assert_eq!(WardId::parse(""), Err(IdError::Length));
        assert_eq!(WardId::parse(&"x".repeat(65)), Err(IdError::Length));
        assert_eq!(SiteId::parse("RXA 01"), Err(IdError::Characters));
        assert_eq!(SiteId::parse("bed/1"), Err(IdError::Characters));
    }
}
