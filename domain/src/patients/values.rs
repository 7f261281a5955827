//! Value objects of the patients context: gender, postcode, date of birth.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::beds::ValueError;

/// Administrative gender, as FHIR and the NHS Personal Demographics Service record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Gender {
    /// Male.
    Male,
    /// Female.
    Female,
    /// Other.
    Other,
    /// Not known.
    Unknown,
}

impl Gender {
    /// Every gender, in the order proto and GraphQL list them.
    pub const ALL: [Gender; 4] = [Gender::Male, Gender::Female, Gender::Other, Gender::Unknown];

    /// The FHIR code (`male`, `female`, `other`, `unknown`).
    pub fn fhir_code(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
            Gender::Other => "other",
            Gender::Unknown => "unknown",
        }
    }
}

/// A UK postcode, normalised: upper case, one space before the inward code (`LS1 4AP`).
///
/// Accepts the outward code (2–4 characters: a letter, then letters and digits, with a digit
/// in second, third or fourth place) and the inward code (a digit and two letters), with any
/// spacing in between.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Postcode(String);

impl Postcode {
    /// Parses a postcode.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
        let invalid =
            || ValueError::Unknown { value: "the value".into(), expected: "a UK postcode such as LS1 4AP" };
        if compact.is_empty() {
            return Err(ValueError::Empty);
        }
        if !(5..=7).contains(&compact.len()) || !compact.is_ascii() {
            return Err(invalid());
        }
        let (outward, inward) = compact.split_at(compact.len() - 3);
        let inward_ok = {
            let b = inward.as_bytes();
            b[0].is_ascii_digit() && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphabetic()
        };
        let outward_ok = outward.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
            && outward.bytes().all(|b| b.is_ascii_alphanumeric())
            && outward.bytes().skip(1).any(|b| b.is_ascii_digit());
        if !(inward_ok && outward_ok) {
            return Err(invalid());
        }
        Ok(Self(format!("{outward} {inward}")))
    }

    /// The postcode district: the outward code (`LS1`), which is what anonymised views show.
    pub fn district(&self) -> &str {
        self.0.split_once(' ').map_or(&self.0, |(outward, _)| outward)
    }

    /// The postcode as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Postcode {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Postcode> for String {
    fn from(value: Postcode) -> Self {
        value.0
    }
}

impl fmt::Display for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcodes_are_normalised_and_checked() {
        for (input, expected, district) in [
            ("ls1 4ap", "LS1 4AP", "LS1"),
            ("SW1A1AA", "SW1A 1AA", "SW1A"),
            ("  m1   1ae ", "M1 1AE", "M1"),
            ("B33 8TH", "B33 8TH", "B33"),
            ("CR2 6XH", "CR2 6XH", "CR2"),
            ("DN55 1PT", "DN55 1PT", "DN55"),
        ] {
            let postcode = Postcode::parse(input).expect(input);
            assert_eq!((postcode.as_str(), postcode.district()), (expected, district));
        }
        for bad in
            ["", "LS1", "1S1 4AP", "LS1 44P", "LS1 4A", "LSXX 4AP", "LS1-4AP", "ŁS1 4AP", "LS12345 4AP"]
        {
            assert!(Postcode::parse(bad).is_err(), "{bad:?}");
        }
    }
}
