//! Decoding the `metadata` column (JSON of [`Metadata`]) quickly.
//!
//! `$all` replays decode the metadata of every event, and `serde_json` with chrono's RFC 3339
//! parser was most of a replay's cost. The store writes the column itself, with
//! `serde_json::to_string(&Metadata)`, so nearly every value has one exact shape: the fields in
//! declaration order, absent options left out, no whitespace. [`decode`] reads that shape
//! directly and hands anything else (escaped strings, unknown fields, other date forms, …) to
//! `serde_json`, so it accepts and returns exactly what `serde_json::from_slice` would.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::{Actor, Metadata};

/// Decodes JSON of [`Metadata`].
pub(crate) fn decode(json: &[u8]) -> Result<Metadata, serde_json::Error> {
    match fast(json) {
        Some(metadata) => Ok(metadata),
        None => serde_json::from_slice(json),
    }
}

/// A cursor over the text of the usual shape; every method returns `None` on anything else.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    /// Consumes `literal` if the input continues with it.
    fn eat(&mut self, literal: &str) -> bool {
        match self.rest.strip_prefix(literal) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// A JSON string without escapes or control characters, after its opening quote; consumes
    /// the closing quote.
    fn plain_str(&mut self) -> Option<&'a str> {
        let (text, rest) = self.rest.split_once('"')?;
        // No short-circuit: a branch-free pass over a short string.
        if text.bytes().fold(false, |bad, b| bad | (b < 0x20) | (b == b'\\')) {
            return None;
        }
        self.rest = rest;
        Some(text)
    }

    /// A quoted UUID, after the opening quote.
    fn uuid(&mut self) -> Option<Uuid> {
        Uuid::try_parse(self.plain_str()?).ok()
    }
}

fn fast(json: &[u8]) -> Option<Metadata> {
    let mut c = Cursor { rest: std::str::from_utf8(json).ok()? };
    if !c.eat(r#"{"correlation_id":""#) {
        return None;
    }
    let correlation_id = c.uuid()?;
    let causation_id = if c.eat(r#","causation_id":""#) { Some(c.uuid()?) } else { None };
    let command_id = if c.eat(r#","command_id":""#) { Some(c.uuid()?) } else { None };
    let command_digest = if c.eat(r#","command_digest":""#) { Some(c.uuid()?) } else { None };
    let actor = if c.eat(r#","actor":{"user_id":""#) {
        let user_id = c.plain_str()?.to_owned();
        if !c.eat(r#","role":""#) {
            return None;
        }
        let role = c.plain_str()?.to_owned();
        if !c.eat(r#","organisation":""#) {
            return None;
        }
        let organisation = c.plain_str()?.to_owned();
        if !c.eat("}") {
            return None;
        }
        Some(Actor { user_id, role, organisation })
    } else {
        None
    };
    if !c.eat(r#","occurred_at":""#) {
        return None;
    }
    let occurred_at = utc_timestamp(c.plain_str()?)?;
    let traceparent = if c.eat(r#","traceparent":""#) { Some(c.plain_str()?.to_owned()) } else { None };
    if c.rest != "}" {
        return None;
    }
    Some(Metadata {
        correlation_id,
        causation_id,
        command_id,
        command_digest,
        actor,
        occurred_at,
        traceparent,
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, as chrono writes a `DateTime<Utc>` (no leap second).
fn utc_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    let digits = |from: usize, len: usize| -> Option<u32> {
        let field = b.get(from..from + len)?;
        field.iter().try_fold(0u32, |n, &d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, sep)| b.get(at) != Some(&sep)) {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    let mut nanos = 0;
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        let len = b.get(at + 1..)?.iter().take_while(|d| d.is_ascii_digit()).count();
        if !(1..=9).contains(&len) {
            return None;
        }
        nanos = digits(at + 1, len)? * 10u32.pow(9 - len as u32);
        at += 1 + len;
    }
    if b.get(at..) != Some(b"Z") || second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(date.and_hms_nano_opt(hour, minute, second, nanos)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample(nanos: u32) -> Metadata {
        Metadata {
            correlation_id: Uuid::now_v7(),
            causation_id: Some(Uuid::new_v4()),
            command_id: Some(Uuid::now_v7()),
            command_digest: Some(Uuid::new_v4()),
            actor: Some(Actor {
                user_id: "nurse.okafor".into(),
                role: "ward_nurse".into(),
                organisation: "RXA".into(),
            }),
            occurred_at: Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53).unwrap()
                + chrono::Duration::nanoseconds(i64::from(nanos)),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        }
    }

    /// Every variation decodes to what serde_json decodes, and the usual ones take the fast path.
    #[test]
    fn agrees_with_serde_json() {
        let mut cases = Vec::new();
        for nanos in [0, 1, 120_000_000, 123_456_000, 123_456_789, 999_999_999] {
            let full = sample(nanos);
            let mut bare = full.clone();
            bare.causation_id = None;
            bare.command_id = None;
            bare.command_digest = None;
            bare.actor = None;
            bare.traceparent = None;
            let mut some = full.clone();
            some.causation_id = None;
            some.traceparent = None;
            cases.extend([full, bare, some]);
        }
        let mut odd = sample(5);
        odd.actor = Some(Actor {
            user_id: "Ní \"Bhriain\" \\ \n".into(),
            role: "日本語 🏥".into(),
            organisation: String::new(),
        });
        odd.occurred_at = Utc.with_ymd_and_hms(-5, 1, 1, 0, 0, 0).unwrap();
        cases.push(odd);
        let mut far = sample(0);
        far.occurred_at = Utc.with_ymd_and_hms(12_345, 12, 31, 23, 59, 59).unwrap();
        cases.push(far);
        for (i, metadata) in cases.iter().enumerate() {
            let json = serde_json::to_vec(metadata).unwrap();
            let decoded = decode(&json).unwrap();
            assert_eq!(&decoded, metadata, "case {i}: {}", String::from_utf8_lossy(&json));
            assert_eq!(decoded, serde_json::from_slice::<Metadata>(&json).unwrap());
            if i < 18 {
                assert!(fast(&json).is_some(), "case {i} should take the fast path");
            }
        }
    }

    #[test]
    fn other_shapes_fall_back_or_fail_like_serde_json() {
        let id = "0190f5d2-7e1c-7abc-8def-0123456789ab";
        let inputs = [
            format!(r#"{{"occurred_at":"2025-03-14T09:26:53Z","correlation_id":"{id}"}}"#),
            format!(r#"{{ "correlation_id": "{id}", "occurred_at": "2025-03-14T09:26:53Z" }}"#),
            format!(r#"{{"correlation_id":"{id}","occurred_at":"2025-03-14T10:26:53+01:00"}}"#),
            format!(r#"{{"correlation_id":"{id}","occurred_at":"2025-03-14T09:26:53Z","extra":1}}"#),
            format!(r#"{{"correlation_id":"{id}","occurred_at":"2025-02-30T09:26:53Z"}}"#),
            format!(r#"{{"correlation_id":"{id}","occurred_at":"2025-03-14T09:26:60Z"}}"#),
            format!(r#"{{"correlation_id":"{id}","occurred_at":"2025-03-14T09:26:53.1234567890Z"}}"#),
            r#"{"correlation_id":"not-a-uuid","occurred_at":"2025-03-14T09:26:53Z"}"#.to_string(),
            format!(
                r#"{{"correlation_id":"{id}","actor":{{"user_id":"a","role":"b"}},"occurred_at":"2025-03-14T09:26:53Z"}}"#
            ),
            format!(r#"{{"correlation_id":"{id}","occurred_at":"2025-03-14T09:26:53Z"}}trailing"#),
            format!(r#"{{"correlation_id":"{id}","occurred_at":"2025-03-14T09:26:53Z""#),
            String::new(),
            "null".into(),
            "{\"correlation_id\":\"\u{7f}".into(),
        ];
        for input in inputs {
            let ours = decode(input.as_bytes()).map_err(|e| e.to_string());
            let theirs = serde_json::from_slice::<Metadata>(input.as_bytes()).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{input}");
        }
        for bytes in [&[0xff, 0xfe][..], b"{\"correlation_id\":\"\xff\"}"] {
            assert!(decode(bytes).is_err());
        }
    }
}
