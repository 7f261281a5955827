//! Synthetic patients: NHS numbers from the 999 test range (never a real person's) with a valid
//! Modulus 11 check digit, invented names, dates of birth and postcodes. Pure and
//! deterministic: the same run prefix gives the same people.

/// First nine digits of the 999 range start here; the range holds a million of them.
const RANGE_START: u32 = 999_000_000;
const RANGE_LEN: u32 = 1_000_000;

/// The check digit of an NHS number whose first nine digits are `first_nine`, if it has one
/// (weights 10..2; 11 − (sum mod 11); 11 becomes 0; 10 means the nine digits are never used).
pub fn check_digit(first_nine: u32) -> Option<u32> {
    let digits: Vec<u32> = format!("{first_nine:09}").bytes().map(|b| u32::from(b - b'0')).collect();
    if digits.len() != 9 {
        return None;
    }
    let sum: u32 = digits.iter().zip((2..=10).rev()).map(|(d, w)| d * w).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        check => Some(check),
    }
}

/// Whether `number` is 10 digits with a valid check digit.
#[cfg(test)]
pub fn is_valid(number: &str) -> bool {
    number.len() == 10
        && number.bytes().all(|b| b.is_ascii_digit())
        && number[..9].parse::<u32>().ok().and_then(check_digit).map(|c| c.to_string())
            == Some(number[9..].into())
}

/// Hands out distinct 999-range NHS numbers, starting at a place chosen by the run's prefix so
/// that runs with different prefixes rarely meet.
#[derive(Debug, Clone)]
pub struct NhsNumbers {
    next: u32,
    issued: u32,
}

impl NhsNumbers {
    /// Numbers for the run `prefix`.
    pub fn for_prefix(prefix: &str) -> Self {
        Self { next: fnv1a(prefix.as_bytes()) % RANGE_LEN, issued: 0 }
    }

    /// The next valid number, or `None` once the whole range has been handed out.
    pub fn next_number(&mut self) -> Option<String> {
        while self.issued < RANGE_LEN {
            let first_nine = RANGE_START + self.next;
            self.next = (self.next + 1) % RANGE_LEN;
            self.issued += 1;
            if let Some(check) = check_digit(first_nine) {
                return Some(format!("{first_nine}{check}"));
            }
        }
        None
    }
}

/// FNV-1a: a small stable hash (the same on every machine and release).
pub fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

const GIVEN: [&str; 24] = [
    "Ada",
    "Bertram",
    "Cordelia",
    "Desmond",
    "Edwina",
    "Fenella",
    "Gideon",
    "Hester",
    "Ignatius",
    "Jocasta",
    "Leopold",
    "Marigold",
    "Nesbit",
    "Ottoline",
    "Percival",
    "Queenie",
    "Rupert",
    "Sybil",
    "Thaddeus",
    "Ursula",
    "Vernon",
    "Winifred",
    "Ambrose",
    "Clementine",
];

const FAMILY: [&str; 24] = [
    "Ashdown",
    "Brackenbury",
    "Cotterill",
    "Dunstable",
    "Eversleigh",
    "Fairweather",
    "Gristwood",
    "Hollingworth",
    "Ingleby",
    "Jessop",
    "Kettlewell",
    "Langstroth",
    "Mossop",
    "Netherwood",
    "Oddie",
    "Pickersgill",
    "Quarmby",
    "Rushworth",
    "Sowerby",
    "Thwaite",
    "Umpleby",
    "Varley",
    "Wadsworth",
    "Yeadon",
];

const POSTCODES: [&str; 8] =
    ["LS6 2QB", "LS7 3JB", "LS8 1AA", "BD7 1DP", "BD9 4RT", "HX1 2TT", "HX3 5AX", "WF1 3LP"];

/// An invented person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// 999-range NHS number.
    pub nhs_number: String,
    /// Given name.
    pub given_name: &'static str,
    /// Family name.
    pub family_name: &'static str,
    /// Date of birth, `YYYY-MM-DD`, between 1925 and 1964.
    pub date_of_birth: String,
    /// `MALE` or `FEMALE` (the GraphQL enum).
    pub gender: &'static str,
    /// A postcode.
    pub postcode: &'static str,
}

/// The `n`th invented person of a run, with NHS number `nhs_number`.
pub fn person(n: usize, nhs_number: String) -> Person {
    let given = GIVEN[n % GIVEN.len()];
    let family = FAMILY[(n / GIVEN.len() + n * 7) % FAMILY.len()];
    let year = 1925 + (n * 13) % 40;
    let month = 1 + (n * 5) % 12;
    let day = 1 + (n * 11) % 28;
    Person {
        nhs_number,
        given_name: given,
        family_name: family,
        date_of_birth: format!("{year}-{month:02}-{day:02}"),
        gender: if n.is_multiple_of(2) { "FEMALE" } else { "MALE" },
        postcode: POSTCODES[n % POSTCODES.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_match_known_test_numbers() {
        // Numbers the end-to-end tests use, and one from the NHS's own examples.
        for valid in ["9990000018", "9990000026", "9990000034", "9990000042", "9990000050", "9434765919"] {
            assert!(is_valid(valid), "{valid}");
        }
        for invalid in ["9990000019", "999000001", "99900000180", "999000001x", "9434765918"] {
            assert!(!is_valid(invalid), "{invalid}");
        }
        // 10 as the check digit: these nine digits are never issued.
        assert_eq!(check_digit(999_000_000), None);
    }

    #[test]
    fn numbers_are_distinct_valid_and_in_the_test_range() {
        let mut numbers = NhsNumbers::for_prefix("RUN1");
        let issued: Vec<String> = (0..5000).map(|_| numbers.next_number().unwrap()).collect();
        let distinct: std::collections::BTreeSet<&String> = issued.iter().collect();
        assert_eq!(distinct.len(), issued.len());
        assert!(issued.iter().all(|n| n.starts_with("999") && is_valid(n)));
        // The same prefix gives the same numbers; another starts elsewhere.
        assert_eq!(NhsNumbers::for_prefix("RUN1").next_number(), issued.first().cloned());
        assert_ne!(NhsNumbers::for_prefix("RUN2").next_number(), issued.first().cloned());
    }

    #[test]
    fn the_range_runs_out_rather_than_repeating() {
        let mut numbers = NhsNumbers { next: RANGE_LEN - 3, issued: RANGE_LEN - 3 };
        let rest: Vec<String> = std::iter::from_fn(|| numbers.next_number()).collect();
        assert!(rest.len() <= 3, "{rest:?}");
        assert_eq!(numbers.next_number(), None);
    }

    #[test]
    fn people_are_plausible() {
        let p = person(3, "9990000018".into());
        assert_eq!(p.given_name, "Desmond");
        assert!(p.date_of_birth.len() == 10 && p.date_of_birth.starts_with("19"));
        assert!(chrono::NaiveDate::parse_from_str(&p.date_of_birth, "%Y-%m-%d").is_ok());
    }
}
