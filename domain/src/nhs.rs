//! The NHS number: 10 digits with a Modulus 11 check digit.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A valid NHS number. Cannot hold an invalid value; it is kept (and displayed, serialised and
/// stored) as its 10 digits.
///
/// [`NhsNumber::parse`] accepts the two ways people write one:
/// - 10 digits, `9434765919`;
/// - three groups of 3, 3 and 4 digits separated by single spaces, `943 476 5919` (how the NHS
///   displays it).
///
/// Whitespace around the number (spaces, tabs, a newline pasted from a form or a spreadsheet
/// cell) is ignored. Inside it only those two forms are accepted: other groupings
/// (`9434 765919`), double spaces, tabs, non-breaking spaces or hyphens between the groups are
/// refused, so a number is never guessed from a string that may hold something else.
///
/// Then the Modulus 11 check digit is checked: weights 10..2 on the first nine digits;
/// check = 11 − (sum mod 11); 11 becomes 0; 10 is never valid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NhsNumber([u8; 10]);

/// Why a string is not an NHS number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    /// Not exactly ten digits (spaces aside).
    #[error("an NHS number has exactly 10 digits")]
    Length,
    /// A character other than a digit or a space inside the number.
    #[error("an NHS number has only digits, optionally spaced as in 943 476 5919")]
    NotDigits,
    /// Ten digits, but spaced other than as 3, 3 and 4 digits separated by single spaces.
    #[error(
        "write an NHS number as 10 digits or as 3, 3 and 4 digits separated by single spaces (943 476 5919)"
    )]
    Grouping,
    /// The check digit does not match.
    #[error("the NHS number's check digit is wrong")]
    CheckDigit,
}

impl NhsNumber {
    /// Parses and checks an NHS number written as 10 digits or as `943 476 5919` (see the type's
    /// docs for exactly what is accepted).
    pub fn parse(input: &str) -> Result<Self, NhsNumberError> {
        let input = input.trim();
        let mut digits = [0u8; 10];
        let mut count = 0;
        for c in input.chars() {
            if c == ' ' {
                continue;
            }
            let digit = c.to_digit(10).ok_or(NhsNumberError::NotDigits)?;
            if count == 10 {
                return Err(NhsNumberError::Length);
            }
            digits[count] = digit as u8;
            count += 1;
        }
        if count != 10 {
            return Err(NhsNumberError::Length);
        }
        // Ten digits and nothing but spaces besides: none, or exactly at 3-3-4.
        let spaced = input.len() != 10;
        if spaced && !is_grouped(input.as_bytes()) {
            return Err(NhsNumberError::Grouping);
        }
        match check_digit(&digits) {
            Some(check) if check == digits[9] => Ok(Self(digits)),
            _ => Err(NhsNumberError::CheckDigit),
        }
    }

    /// Whether the number is in the 999 range reserved for testing.
    pub fn is_test_range(&self) -> bool {
        self.0[..3] == [9, 9, 9]
    }

    /// Completes nine leading digits with their check digit, if one exists (a sum that gives
    /// 10 has none). Handy for generating synthetic test numbers.
    pub fn from_first_nine(first_nine: u32) -> Option<Self> {
        if first_nine > 999_999_999 {
            return None;
        }
        let mut digits = [0u8; 10];
        let mut rest = first_nine;
        for slot in digits[..9].iter_mut().rev() {
            *slot = (rest % 10) as u8;
            rest /= 10;
        }
        digits[9] = check_digit(&digits)?;
        Some(Self(digits))
    }
}

/// Whether `input` (ten ASCII digits and some spaces) is `ddd ddd dddd`.
fn is_grouped(input: &[u8]) -> bool {
    input.len() == 12 && input[3] == b' ' && input[7] == b' '
}

/// The Modulus 11 check digit of the first nine digits, or `None` when it would be 10.
fn check_digit(digits: &[u8; 10]) -> Option<u8> {
    let sum: u32 = digits[..9].iter().zip((2..=10).rev()).map(|(&d, w)| u32::from(d) * w).sum();
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        check => Some(check as u8),
    }
}

impl FromStr for NhsNumber {
    type Err = NhsNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for NhsNumber {
    type Error = NhsNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<NhsNumber> for String {
    fn from(value: NhsNumber) -> Self {
        value.to_string()
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.0 {
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NhsNumber({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_valid_numbers_with_or_without_spaces() {
        // 943 476 5919 is the NHS Digital worked example.
        assert_eq!(NhsNumber::parse("9434765919").map(|n| n.to_string()), Ok("9434765919".into()));
        assert_eq!(NhsNumber::parse("943 476 5919").map(|n| n.to_string()), Ok("9434765919".into()));
        assert!(NhsNumber::parse("9990000018").is_ok_and(|n| n.is_test_range()));
    }

    #[test]
    fn accepts_the_usual_3_3_4_form_and_ignores_surrounding_whitespace() {
        let stored = |s: &str| NhsNumber::parse(s).map(|n| n.to_string());
        assert_eq!(stored("999 000 0018"), Ok("9990000018".into()));
        assert_eq!(stored("  943 476 5919\n"), Ok("9434765919".into()));
        assert_eq!(stored("\t9990000018 "), Ok("9990000018".into()));
        assert_eq!(stored("\u{a0}999 000 0018\r\n"), Ok("9990000018".into()));
        assert_eq!(NhsNumber::parse("999 000 0018"), NhsNumber::parse("9990000018"));
    }

    #[test]
    fn refuses_other_spacing_inside_the_number() {
        for spaced in [
            "9990 000018",
            "999 0000018",
            "9990000 018",
            "999  000 0018",
            "999 000  0018",
            "99 90 00 00 18",
            "9 9 9 0 0 0 0 0 1 8",
            "999 000 001 8",
        ] {
            assert_eq!(NhsNumber::parse(spaced), Err(NhsNumberError::Grouping), "{spaced:?}");
        }
        for separated in ["999\t000\t0018", "999\u{a0}000\u{a0}0018", "999-000-0018", "999 000\n0018"] {
            assert_eq!(NhsNumber::parse(separated), Err(NhsNumberError::NotDigits), "{separated:?}");
        }
        // The grouping is checked before the check digit, and a bad digit count before both.
        assert_eq!(NhsNumber::parse("999 000 0019"), Err(NhsNumberError::CheckDigit));
        assert_eq!(NhsNumber::parse("999 000 001"), Err(NhsNumberError::Length));
        assert_eq!(NhsNumber::parse("999 000 00180"), Err(NhsNumberError::Length));
    }

    #[test]
    fn rejects_wrong_check_digit_length_and_characters() {
        assert_eq!(NhsNumber::parse("9434765918"), Err(NhsNumberError::CheckDigit));
        assert_eq!(NhsNumber::parse("943476591"), Err(NhsNumberError::Length));
        assert_eq!(NhsNumber::parse("94347659190"), Err(NhsNumberError::Length));
        assert_eq!(NhsNumber::parse(""), Err(NhsNumberError::Length));
        assert_eq!(NhsNumber::parse("94347659x9"), Err(NhsNumberError::NotDigits));
        assert_eq!(NhsNumber::parse("９４３４７６５９１９"), Err(NhsNumberError::NotDigits));
    }

    #[test]
    fn a_check_of_ten_is_never_valid() {
        // 000000006: 6 × 2 = 12; 12 mod 11 = 1; 11 − 1 = 10, so no digit completes it.
        assert_eq!(NhsNumber::from_first_nine(6), None);
        for last in 0..=9 {
            assert_eq!(NhsNumber::parse(&format!("000000006{last}")), Err(NhsNumberError::CheckDigit));
        }
    }

    proptest! {
        #[test]
        fn generated_numbers_round_trip(first_nine in 0u32..=999_999_999) {
            if let Some(n) = NhsNumber::from_first_nine(first_nine) {
                prop_assert_eq!(NhsNumber::parse(&n.to_string()), Ok(n));
                prop_assert_eq!(n.to_string()[..9].parse::<u32>().ok(), Some(first_nine));
            }
        }

        #[test]
        fn the_3_3_4_form_and_surrounding_whitespace_give_the_same_number(
            rest in 0u32..=999_999,
            before in "[ \t\r\n]{0,3}",
            after in "[ \t\r\n]{0,3}",
        ) {
            // Synthetic numbers only: 999 then six digits, completed by their check digit.
            if let Some(n) = NhsNumber::from_first_nine(999_000_000 + rest) {
                let digits = n.to_string();
                let grouped = format!("{before}{} {} {}{after}", &digits[..3], &digits[3..6], &digits[6..]);
                prop_assert_eq!(NhsNumber::parse(&grouped), Ok(n));
                prop_assert_eq!(NhsNumber::parse(&format!("{before}{digits}{after}")), Ok(n));
            }
        }

        #[test]
        fn any_other_placement_of_spaces_is_refused(
            rest in 0u32..=999_999,
            // Which of the nine gaps between digits get a space (bit i: after digit i + 1).
            gaps in 1u16..512,
        ) {
            prop_assume!(gaps != (1 << 2) | (1 << 5));
            if let Some(n) = NhsNumber::from_first_nine(999_000_000 + rest) {
                let mut spaced = String::new();
                for (i, digit) in n.to_string().chars().enumerate() {
                    spaced.push(digit);
                    if i < 9 && gaps & (1 << i) != 0 {
                        spaced.push(' ');
                    }
                }
                prop_assert_eq!(NhsNumber::parse(&spaced), Err(NhsNumberError::Grouping), "{:?}", spaced);
            }
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,20}") {
            let _ = NhsNumber::parse(&s);
        }
    }
}
