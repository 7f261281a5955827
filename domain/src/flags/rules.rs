//! Flag rules as data: when a scored answer (of any assessment template that asks the question)
//! reaches a threshold, careflow raises a flag, or updates the patient's active one. Each rule
//! is kept on `flagrule-<id>`, every version of it; a flag a rule raised names the rule and its
//! version. The first rule: a Clinical Frailty Scale answer of 6 or more raises the frailty flag
//! (6 moderate, 7–9 severe, with their SNOMED CT codes).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{FlagKind, FrailtyScore, Severity};
use crate::beds::Label;
use crate::{OdsCode, QuestionId, RuleId};

/// A flag rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagRule {
    /// What it is, for people.
    pub name: Label,
    /// The scored question it watches, in whichever template asks it.
    pub question: QuestionId,
    /// The lowest score that raises the flag.
    pub at_least: u8,
    /// The flag it raises.
    pub kind: FlagKind,
    /// The flag's severity below `severe_from`.
    pub severity: Severity,
    /// From this score on, the flag is of high severity.
    pub severe_from: Option<u8>,
    /// When the flag is to be reviewed, in days from raising.
    pub review_in_days: Option<u16>,
    /// Whether it applies.
    pub enabled: bool,
}

/// What a rule says about one score: the flag to raise (or update), or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOutcome {
    /// The flag's kind.
    pub kind: FlagKind,
    /// Its frailty score, for a frailty flag.
    pub frailty_score: Option<FrailtyScore>,
    /// Its severity.
    pub severity: Severity,
}

impl FlagRule {
    /// Why this rule cannot work, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if self.kind == FlagKind::Frailty && !(6..=9).contains(&self.at_least) {
            return Some(
                "a frailty rule raises the flag from a Clinical Frailty Scale score of 6 to 9".into(),
            );
        }
        if self.severe_from.is_some_and(|s| s < self.at_least) {
            return Some("severe_from is below at_least".into());
        }
        None
    }

    /// What the rule says about `score` for its question.
    pub fn applies(&self, score: u8) -> Option<RuleOutcome> {
        if !self.enabled || score < self.at_least {
            return None;
        }
        let frailty_score = match self.kind {
            FlagKind::Frailty => Some(FrailtyScore::new(score).ok()?),
            _ => None,
        };
        let severity =
            if self.severe_from.is_some_and(|s| score >= s) { Severity::High } else { self.severity };
        Some(RuleOutcome { kind: self.kind, frailty_score, severity })
    }
}

/// The event of a rule stream, `flagrule-<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[allow(missing_docs)] // fields are named for what they hold
pub enum FlagRuleEvent {
    /// A rule was set: its first version or its next.
    FlagRuleSet {
        rule_id: RuleId,
        version: u32,
        rule: FlagRule,
        /// The organisation whose admin set it (only it sets the next version).
        #[serde(default)]
        organisation: Option<OdsCode>,
        at: DateTime<Utc>,
    },
}

impl FlagRuleEvent {
    /// The rule.
    pub fn rule_id(&self) -> &RuleId {
        match self {
            Self::FlagRuleSet { rule_id, .. } => rule_id,
        }
    }
}

/// A rule as folded: its latest version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagRuleState {
    /// The latest version (0: none yet).
    pub version: u32,
    /// The rule as set then.
    pub rule: Option<FlagRule>,
    /// The organisation that set its first version.
    pub owner: Option<OdsCode>,
}

impl FlagRuleState {
    /// `evolve`.
    pub fn evolve(&mut self, event: &FlagRuleEvent) {
        match event {
            FlagRuleEvent::FlagRuleSet { version, rule, organisation, .. } => {
                self.version = *version;
                self.rule = Some(rule.clone());
                if self.owner.is_none() {
                    self.owner.clone_from(organisation);
                }
            }
        }
    }
}

/// The rule careflow ships: Clinical Frailty Scale 6 or more raises the frailty flag, severe from
/// 7, reviewed after 90 days.
pub fn frailty_rule() -> Option<(RuleId, FlagRule)> {
    Some((
        RuleId::parse("cfs-frailty").ok()?,
        FlagRule {
            name: Label::parse("Clinical Frailty Scale 6 or more raises the frailty flag").ok()?,
            question: QuestionId::parse("clinical-frailty-scale").ok()?,
            at_least: 6,
            kind: FlagKind::Frailty,
            severity: Severity::Medium,
            severe_from: Some(7),
            review_in_days: Some(90),
            enabled: true,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frailty_rule_raises_from_6_moderate_then_severe() {
        let (_, rule) = frailty_rule().expect("the shipped rule");
        assert_eq!(rule.problem(), None);
        assert_eq!(rule.applies(5), None);
        let moderate = rule.applies(6).expect("6 raises");
        assert_eq!(
            (moderate.kind, moderate.frailty_score.map(FrailtyScore::get), moderate.severity),
            (FlagKind::Frailty, Some(6), Severity::Medium)
        );
        for score in 7..=9 {
            assert_eq!(rule.applies(score).map(|o| o.severity), Some(Severity::High), "{score}");
        }
        assert_eq!(rule.applies(10), None, "not a Clinical Frailty Scale score");
        let off = FlagRule { enabled: false, ..rule.clone() };
        assert_eq!(off.applies(8), None);
        let wrong = FlagRule { at_least: 4, ..rule };
        assert!(wrong.problem().is_some());
    }
}
