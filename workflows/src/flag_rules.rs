//! Flag rules, in the same engine as the other workflows: when an assessment section holding a
//! score a flag rule watches (a Clinical Frailty Scale answer, say) is signed off — not while it
//! is a draft, so a typo never reaches the shared record — careflow sends `ApplyFlagRule` for
//! the patient, and the flags context decides on the rule's current version
//! whether to raise the flag (naming the rule and its version), update the patient's active
//! one, or do nothing. The rules are data (`flagrule-<id>`), folded here in log order only to
//! know which questions are watched.

use std::collections::{BTreeMap, HashMap};

use careflow_domain::NhsNumber;
use careflow_domain::assessments::{Answer, AssessmentEvent, AssessmentId};
use careflow_domain::flags::{FlagRule, FlagRuleEvent};
use careflow_domain::{QuestionId, RuleId, SectionId};
use careflow_eventstore::{Filter, RecordedEvent};
use careflow_proto::flags::v1 as flags;

use crate::commands::{Ack, Command, command_id};
use crate::runner::Process;

/// The flag-rule process manager.
#[derive(Debug, Default)]
pub struct FlagRuleFlows {
    /// Every rule, as last set.
    rules: BTreeMap<RuleId, FlagRule>,
    /// Whose each assessment is.
    patients: HashMap<AssessmentId, NhsNumber>,
    /// Each section's latest version and the scores it holds.
    scores: HashMap<(AssessmentId, SectionId), (u32, BTreeMap<QuestionId, u8>)>,
}

impl FlagRuleFlows {
    /// The process, knowing nothing yet (the runner folds the log into it).
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the scores of a saved section.
    fn saved(&mut self, assessment: &AssessmentEvent) {
        if let AssessmentEvent::SectionSaved { assessment_id, section_id, version, answers, .. } = assessment
        {
            let scores = answers
                .iter()
                .filter_map(|(question, answer)| match answer {
                    Answer::Score(score) => Some((question.clone(), *score)),
                    _ => None,
                })
                .collect();
            self.scores.insert((*assessment_id, section_id.clone()), (*version, scores));
        }
    }

    /// The rules a signed-off section's scores call for.
    fn signed(&self, event: &RecordedEvent, assessment: &AssessmentEvent) -> Vec<Command> {
        let AssessmentEvent::SectionSignedOff { assessment_id, section_id, version, .. } = assessment else {
            return Vec::new();
        };
        let Some(nhs_number) = self.patients.get(assessment_id) else { return Vec::new() };
        let Some((saved, scores)) = self.scores.get(&(*assessment_id, section_id.clone())) else {
            return Vec::new();
        };
        if saved != version {
            return Vec::new();
        }
        self.rules
            .iter()
            .filter(|(_, rule)| rule.enabled)
            .filter_map(|(rule_id, rule)| scores.get(&rule.question).map(|score| (rule_id, rule, *score)))
            .map(|(rule_id, rule, score)| {
                Command::ApplyFlagRule(flags::ApplyFlagRuleRequest {
                    command_id: command_id(&event.id.to_string(), &format!("flag-rule/{rule_id}")),
                    nhs_number: nhs_number.to_string(),
                    rule_id: rule_id.to_string(),
                    score: u32::from(score),
                    reason: format!(
                        "{} {score} in assessment {assessment_id} (section {section_id}, signed off)",
                        rule.question
                    ),
                })
            })
            .collect()
    }
}

impl Process for FlagRuleFlows {
    fn name(&self) -> &'static str {
        "flag-rules"
    }

    fn filter(&self) -> Filter {
        Filter::categories(["flagrule", "assessment"])
    }

    fn handle(&mut self, event: &RecordedEvent, live: bool) -> Vec<Command> {
        match event.stream.category() {
            "flagrule" => {
                match event.decode::<FlagRuleEvent>() {
                    Ok(FlagRuleEvent::FlagRuleSet { rule_id, rule, .. }) => {
                        self.rules.insert(rule_id, rule);
                    }
                    Err(error) => tracing::warn!(%error, "a flag rule event careflow cannot read"),
                }
                Vec::new()
            }
            "assessment" => match event.decode::<AssessmentEvent>() {
                Ok(AssessmentEvent::AssessmentStarted { assessment_id, nhs_number, .. }) => {
                    self.patients.insert(assessment_id, nhs_number);
                    Vec::new()
                }
                Ok(saved @ AssessmentEvent::SectionSaved { .. }) => {
                    self.saved(&saved);
                    Vec::new()
                }
                Ok(signed @ AssessmentEvent::SectionSignedOff { .. }) if live => self.signed(event, &signed),
                Ok(_) => Vec::new(),
                Err(error) => {
                    tracing::warn!(%error, "an assessment event careflow cannot read");
                    Vec::new()
                }
            },
            _ => Vec::new(),
        }
    }

    fn acknowledged(&mut self, _: &Command, _: &Ack) {}

    fn refused(&mut self, command: &Command) {
        // A patient who died meanwhile, a rule since deleted: nothing to raise.
        tracing::info!(command = command.name(), "a flag rule was not applied");
    }
}
