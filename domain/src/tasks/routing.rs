//! Routing rules as data: which team gets a task a workflow raises. An admin of the receiving
//! team's organisation sets them (each change is a new version, stored as an event), so a
//! council can say "pathway 1–3 discharges of patients living in BD1–BD9 come to our hospital
//! social work team" without a redeploy. Every routed task names the rule and the version that
//! routed it.
//!
//! A rule matches a task when the task's kind is the rule's, and each of the rule's conditions
//! that is set holds (an empty set is "any"). Of the enabled rules that match, the lowest
//! `rank` wins, then the lowest rule id, so routing is deterministic.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::TaskKind;
use crate::beds::{Label, Pathway, ValueError};
use crate::{OdsCode, RuleId, TeamId, WardId};

/// A postcode district: the outward code of a postcode (`BD7`, `LS1`, `EC1A`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct District(String);

impl District {
    /// Parses a district: 2–4 characters, a letter first, letters and digits, a digit in the
    /// second, third or fourth place.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let district = input.trim().to_uppercase();
        let ok = (2..=4).contains(&district.len())
            && district.is_ascii()
            && district.as_bytes()[0].is_ascii_alphabetic()
            && district.bytes().all(|b| b.is_ascii_alphanumeric())
            && district.bytes().skip(1).any(|b| b.is_ascii_digit());
        if ok {
            Ok(Self(district))
        } else {
            Err(ValueError::Unknown {
                value: "the value".into(),
                expected: "a postcode district such as BD7",
            })
        }
    }

    /// The district as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for District {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<District> for String {
    fn from(value: District) -> Self {
        value.0
    }
}

impl fmt::Display for District {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A routing rule: which team gets which workflow tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRule {
    /// What people call it.
    pub name: Label,
    /// The kind of task it routes.
    pub task_kind: TaskKind,
    /// The discharge pathways it applies to (empty: any).
    pub pathways: BTreeSet<Pathway>,
    /// The patient's postcode districts it applies to (empty: any, including unknown).
    pub districts: BTreeSet<District>,
    /// The organisations whose wards it applies to (empty: any).
    pub hospitals: BTreeSet<OdsCode>,
    /// The team that gets the task.
    pub team_id: TeamId,
    /// Precedence: the lowest rank of the matching rules wins.
    pub rank: u32,
    /// A disabled rule routes nothing.
    pub enabled: bool,
}

/// What a workflow knows of a task it is about to raise, for routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingFacts {
    /// The task's kind.
    pub task_kind: TaskKind,
    /// The discharge pathway, if the task comes from one.
    pub pathway: Option<Pathway>,
    /// The patient's postcode district, if known.
    pub district: Option<String>,
    /// The organisation whose ward the patient is on.
    pub hospital: Option<OdsCode>,
    /// The ward.
    pub ward: Option<WardId>,
}

impl RoutingRule {
    /// Whether the rule routes a task with these facts.
    pub fn matches(&self, facts: &RoutingFacts) -> bool {
        fn holds<T: Ord>(set: &BTreeSet<T>, value: Option<&T>) -> bool {
            set.is_empty() || value.is_some_and(|v| set.contains(v))
        }
        let district = facts.district.as_deref().and_then(|d| District::parse(d).ok());
        self.enabled
            && self.task_kind == facts.task_kind
            && holds(&self.pathways, facts.pathway.as_ref())
            && holds(&self.districts, district.as_ref())
            && holds(&self.hospitals, facts.hospital.as_ref())
    }
}

/// The rule that routes a task with `facts`, of `rules` (each with its id and version): the
/// matching rule of lowest rank, then lowest id.
pub fn route<'a>(
    rules: impl IntoIterator<Item = (&'a RuleId, u32, &'a RoutingRule)>,
    facts: &RoutingFacts,
) -> Option<(&'a RuleId, u32, &'a RoutingRule)> {
    rules
        .into_iter()
        .filter(|(_, _, rule)| rule.matches(facts))
        .min_by(|a, b| (a.2.rank, a.0).cmp(&(b.2.rank, b.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(rank: u32, districts: &[&str], pathways: &[u8]) -> RoutingRule {
        RoutingRule {
            name: Label::parse("rule").expect("label"),
            task_kind: TaskKind::TrustedAssessment,
            pathways: pathways.iter().map(|p| Pathway::try_from(*p).expect("pathway")).collect(),
            districts: districts.iter().map(|d| District::parse(d).expect("district")).collect(),
            hospitals: BTreeSet::new(),
            team_id: TeamId::parse(&format!("team-{rank}")).expect("team"),
            rank,
            enabled: true,
        }
    }

    fn facts(pathway: u8, district: Option<&str>) -> RoutingFacts {
        RoutingFacts {
            task_kind: TaskKind::TrustedAssessment,
            pathway: Some(Pathway::try_from(pathway).expect("pathway")),
            district: district.map(str::to_owned),
            hospital: None,
            ward: None,
        }
    }

    #[test]
    fn districts_are_outward_codes() {
        assert_eq!(District::parse(" bd7 ").map(String::from), Ok("BD7".into()));
        assert_eq!(District::parse("EC1A").map(String::from), Ok("EC1A".into()));
        for bad in ["", "B", "BD", "7BD", "BD7 1DP", "BD-7", "BDXXX"] {
            assert!(District::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_matching_rule_of_lowest_rank_routes() {
        let (a, b, c) = (
            RuleId::parse("a").expect("id"),
            RuleId::parse("b").expect("id"),
            RuleId::parse("c").expect("id"),
        );
        let bradford = rule(10, &["BD1", "BD7"], &[1, 2, 3]);
        let fallback = rule(100, &[], &[1, 2, 3]);
        let mut disabled = rule(1, &[], &[]);
        disabled.enabled = false;
        let rules = [(&a, 3, &bradford), (&b, 1, &fallback), (&c, 2, &disabled)];
        let routed = |f: RoutingFacts| route(rules.iter().copied(), &f).map(|(id, v, _)| (id.to_string(), v));
        assert_eq!(routed(facts(1, Some("bd7"))), Some(("a".into(), 3)));
        assert_eq!(routed(facts(3, Some("LS1"))), Some(("b".into(), 1)));
        assert_eq!(
            routed(facts(2, None)),
            Some(("b".into(), 1)),
            "no district: only a rule for any district"
        );
        assert_eq!(routed(facts(0, Some("BD7"))), None, "pathway 0 is not routed by these rules");
        let mut other_kind = facts(1, Some("BD7"));
        other_kind.task_kind = TaskKind::BedCleaning;
        assert_eq!(routed(other_kind), None);
    }
}
